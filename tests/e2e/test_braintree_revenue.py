"""Billing summaries end to end: Braintree notifications through the real SDK, the Braintree
stand-in on loopback answering the bridge's reads, the Attio sandbox linking people to
companies by e-mail domain (docs/revenue.md)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.bridge import Bridge
from app.clients.attio import AttioClient, AttioValidationError
from app.clients.attio.values import first_value
from app.clients.braintree import BraintreeClient
from app.events.model import RawRequest, Source, WebhookEvent
from app.main import create_app
from app.services.braintree.summary import mrr_mismatches
from app.services.fx import ExchangeRates
from testkit.braintree_api import BraintreeData, braintree_api, sdk_gateway, subscription_xml
from testkit.signing import braintree_form_body, braintree_signed_xml
from tests.conftest import make_sandbox
from tests.e2e.conftest import bridge_on_sandbox, bridge_settings

NOW = datetime.now(UTC).replace(microsecond=0)
LAYOUTS = [pytest.param("true", id="payments-object"), pytest.param("false", id="folded")]


@dataclass
class World:
    data: BraintreeData
    sandbox_app: FastAPI
    bridge: Bridge
    attio: AttioClient

    def writes(self) -> int:
        """Writes to records (the bridge's own event ledger aside)."""
        log = self.sandbox_app.state.sandbox.requests
        return sum(
            log.count(kind="write", path_regex=f"/objects/{obj}/")
            for obj in ("people", "companies", "subscriptions", "payments")
        )

    async def notify(self, kind: str, subscription_id: str, *, at: datetime = NOW) -> None:
        subject = subscription_xml(self.data.subscriptions[subscription_id], self.data.transactions)
        xml = (
            f'<notification><kind>{kind}</kind><timestamp type="datetime">'
            f"{at.strftime('%Y-%m-%dT%H:%M:%SZ')}</timestamp>"
            f"<subject>{subject}</subject></notification>"
        )
        body = braintree_form_body(*braintree_signed_xml(xml.encode()))
        (event,) = await self.bridge.sources[Source.braintree].events_from(
            RawRequest(body=body.decode(), path="webhooks/braintree")
        )
        await self.bridge.processor.process(event)

    async def attio_edit(self, obj: str, record_id: str, attribute: str) -> None:
        """Attio's `record.updated` webhook for a person's edit in the CRM (ids only)."""
        schema = {o["api_slug"]: o["id"]["object_id"] for o in await self.attio.list_objects()}
        attributes = await self.attio.list_attributes(obj)
        attribute_id = next(
            a["id"]["attribute_id"] for a in attributes if a["api_slug"] == attribute
        )
        ids = {"object_id": schema[obj], "record_id": record_id, "attribute_id": attribute_id}
        payload = {"event_type": "record.updated", "id": ids, "actor": {"type": "workspace-member"}}
        event = WebhookEvent(
            source=Source.attio,
            event_type="record.updated",
            event_key=f"attio:{record_id}:{attribute}:{len(self.data.transactions)}",
            payload=payload,
            raw=RawRequest(body=json.dumps(payload)),
        )
        await self.bridge.processor.process(event)

    async def values(self, obj: str, key: str) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        async for record in self.attio.iter_records(obj):
            values = {slug: first_value(record, slug) for slug in record["values"]}
            values["record_id"] = record["id"]["record_id"]
            found[str(values[key])] = values
        return found


@pytest.fixture
def stand_in() -> Iterator[tuple[BraintreeData, BraintreeClient]]:
    data = BraintreeData()
    data.seed_catalogue()
    with braintree_api(data) as port:
        yield data, BraintreeClient(sdk_gateway(port))


@asynccontextmanager
async def world_for(
    stand_in: tuple[BraintreeData, BraintreeClient], payments_object: str = "true"
) -> AsyncIterator[World]:
    data, client = stand_in
    async with bridge_on_sandbox(client, payments_object) as (sandbox_app, attio, bridge):
        bridge.braintree_service.companies.delay = 0  # at once: each test counts its writes
        yield World(data, sandbox_app, bridge, attio)


def charge(data: BraintreeData, subscription_id: str, txn: str, amount: str, at: datetime) -> None:
    customer = data.payment_methods[data.subscriptions[subscription_id]["payment_method_token"]]
    data.add_transaction(txn, customer, amount, created_at=at, subscription_id=subscription_id)
    data.settle_transaction(txn, at)


def seed_acme(data: BraintreeData) -> None:
    """Ana (five subscriptions: monthly USD, annual EUR, a trial, past due, cancelled and
    refunded), Ben (one monthly plan) and Cleo (a trial), all of acme.io."""
    for name in ("ana", "ben", "cleo"):
        data.add_customer(f"cus_{name}", f"{name}@acme.io", name.title(), "Acme", f"pm_{name}")
    month, year = NOW - timedelta(days=10), NOW - timedelta(days=40)
    data.add_subscription("sub_m", "pm_ana", "solo-monthly", "19.00", created_at=month)
    charge(data, "sub_m", "txn_m", "19.00", month)
    data.add_subscription(
        "sub_y", "pm_ana", "pro-annual", "1200.00", created_at=year, merchant_account_id="acme_eur"
    )
    charge(data, "sub_y", "txn_y", "1200.00", year)
    data.add_subscription("sub_t", "pm_ana", "solo-monthly", "19.00", created_at=NOW, trial_days=14)
    data.add_subscription("sub_pd", "pm_ana", "pro-monthly", "49.00", created_at=month)
    data.set_subscription_status("sub_pd", "Past Due", NOW - timedelta(days=1))
    old = datetime(2025, 1, 10, 12, tzinfo=UTC)
    data.add_subscription("sub_c", "pm_ana", "pro-monthly", "49.00", created_at=old)
    charge(data, "sub_c", "txn_c", "49.00", old)
    data.refund_transaction("ref_c", "txn_c", at=old + timedelta(days=3))
    data.cancel_subscription("sub_c", old + timedelta(days=20))
    data.add_subscription("sub_b", "pm_ben", "pro-monthly", "49.00", created_at=month)
    charge(data, "sub_b", "txn_b", "49.00", month)
    data.add_subscription(
        "sub_cl", "pm_cleo", "solo-monthly", "19.00", created_at=NOW, trial_days=7
    )


NOTIFICATIONS = [
    ("subscription_charged_successfully", "sub_m"),
    ("subscription_charged_successfully", "sub_y"),
    ("subscription_went_active", "sub_t"),
    ("subscription_went_past_due", "sub_pd"),
    ("subscription_canceled", "sub_c"),
    ("subscription_charged_successfully", "sub_b"),
    ("subscription_went_active", "sub_cl"),
]


def usd(amount: str, currency: str) -> Decimal:
    return ExchangeRates().convert(Decimal(amount), currency, "USD", NOW.date())


@pytest.mark.parametrize("layout", LAYOUTS)
async def test_a_company_of_three_people_summed_from_webhooks(stand_in, layout: str) -> None:
    async with world_for(stand_in, layout) as world:
        seed_acme(world.data)
        for kind, subscription_id in NOTIFICATIONS:
            await world.notify(kind, subscription_id)

        subscriptions = await world.values("subscriptions", "braintree_subscription_id")
        people = await world.values("people", "braintree_customer_id")
        ana, ben, cleo = people["cus_ana"], people["cus_ben"], people["cus_cleo"]
        annual = usd("100", "EUR")  # 1,200 EUR a year
        assert Decimal(str(subscriptions["sub_y"]["mrr"])) == annual.quantize(Decimal("0.0001"))
        assert subscriptions["sub_y"]["currency_code"] == "EUR"
        assert subscriptions["sub_y"]["billing_frequency_months"] == 12
        assert subscriptions["sub_t"]["in_trial"] is True
        assert Decimal(str(subscriptions["sub_t"]["mrr"])) == 0
        assert Decimal(str(subscriptions["sub_c"]["mrr"])) == 0

        assert ana["billing_status"] == "past_due"
        assert ana["active_subscriptions"] == 4  # m, y, the trial and the past-due one
        assert ana["customer_since"] == "2025-01-10"
        # 19 + 1,200 EUR + 49 - 49 refunded
        assert Decimal(str(ana["lifetime_paid"])) == (Decimal(19) + usd("1200", "EUR")).quantize(
            Decimal("0.0001")
        )
        assert ben["billing_status"] == "active" and Decimal(str(ben["mrr"])) == 49
        assert cleo["billing_status"] == "trialing" and Decimal(str(cleo["mrr"])) == 0

        # The check: every person's mrr is the sum of their subscriptions'.
        totals = {cid: _amount(p["mrr"]) for cid, p in people.items()}
        parts = [(s["braintree_customer_id"], _amount(s["mrr"])) for s in subscriptions.values()]
        assert mrr_mismatches(totals, parts) == []

        companies = await world.values("companies", "domains")
        acme = companies["acme.io"]
        assert {ana["company"], ben["company"], cleo["company"]} == {acme["record_id"]}
        assert acme["paying_people"] == 2
        assert acme["billing_status"] == "past_due"
        assert acme["active_subscriptions"] == 6
        company_parts = [(acme["record_id"], _amount(p["mrr"])) for p in people.values()]
        assert mrr_mismatches({acme["record_id"]: _amount(acme["mrr"])}, company_parts) == []

        # Redelivered, replayed, out of order: recomputed, never counted twice; no write.
        before = world.writes()
        for kind, subscription_id in reversed(NOTIFICATIONS):
            await world.notify(kind, subscription_id, at=NOW - timedelta(days=2))
        assert world.writes() == before
        assert await world.values("people", "braintree_customer_id") == people


@pytest.mark.parametrize(("layout", "budget"), [("true", 4), ("false", 3)])
async def test_writes_per_charge_for_a_new_and_a_returning_customer(
    stand_in, layout: str, budget: int
) -> None:
    async with world_for(stand_in, layout) as world:
        data = world.data
        data.add_customer("cus_new", "new@initech.io", "New", "Customer", "pm_new")
        data.add_subscription("sub_n", "pm_new", "pro-monthly", "49.00", created_at=NOW)
        charge(data, "sub_n", "txn_n1", "49.00", NOW)
        await world.notify("subscription_charged_successfully", "sub_n")
        # person (with the summary), subscription, payment (full layout), company
        assert world.writes() == budget

        before = world.writes()
        later = NOW + timedelta(minutes=5)
        charge(data, "sub_n", "txn_n2", "49.00", later)
        await world.notify("subscription_charged_successfully", "sub_n", at=later)
        # The subscription (and payment) write, one more for the person's summary, and the
        # company's sum (coalesced in production: at most one per company per few seconds).
        assert world.writes() - before == budget

        people = await world.values("people", "braintree_customer_id")
        assert Decimal(str(people["cus_new"]["lifetime_paid"])) == 98


@pytest.mark.parametrize("history", [True, False], ids=["history", "history-refused"])
async def test_a_person_who_moves_company_counts_on_the_new_one_only(
    stand_in, monkeypatch: pytest.MonkeyPatch, history: bool
) -> None:
    async with world_for(stand_in) as world:
        if not history:  # Attio refuses the history (400): the company joined is still right

            async def refused(*_args: Any) -> None:
                raise AttioValidationError("no historic values", attio_status=400)

            monkeypatch.setattr(world.attio, "value_history", refused)
        world.data.add_customer("cus_ben", "ben@acme.io", "Ben", "Acme", "pm_ben")
        month = NOW - timedelta(days=10)
        world.data.add_subscription("sub_b", "pm_ben", "pro-monthly", "49.00", created_at=month)
        charge(world.data, "sub_b", "txn_b", "49.00", month)
        await world.notify("subscription_charged_successfully", "sub_b")
        acme = (await world.values("companies", "domains"))["acme.io"]
        assert acme["paying_people"] == 1 and _amount(acme["mrr"]) == 49
        # Ben is linked to another company by hand (or by a merge) in Attio.
        globex = await world.attio.assert_record(
            "companies", matching_attribute="domains", values={"domains": ["globex.io"]}
        )
        ben = (await world.values("people", "braintree_customer_id"))["cus_ben"]
        await world.attio.update_record(
            "people",
            ben["record_id"],
            {"company": [{"target_object": "companies", "target_record_id": _id(globex)}]},
        )
        # Attio's webhook names the attribute; the company left comes from its history.
        await world.attio_edit("people", ben["record_id"], "company")
        companies = await world.values("companies", "domains")
        assert companies["globex.io"]["paying_people"] == 1
        assert _amount(companies["globex.io"]["mrr"]) == 49
        assert companies["acme.io"]["paying_people"] == (0 if history else 1)
        # The sync agrees, or heals the company left when its history was refused.
        before = world.writes()
        await sync(world)
        assert world.writes() == before + (0 if history else 1)
        companies = await world.values("companies", "domains")
        assert companies["acme.io"]["paying_people"] == 0
        assert _amount(companies["acme.io"]["mrr"]) == 0
        assert companies["acme.io"]["billing_status"] is None


async def test_an_edit_of_another_attribute_recounts_no_company(stand_in) -> None:
    async with world_for(stand_in) as world:
        world.data.add_customer("cus_ben", "ben@acme.io", "Ben", "Acme", "pm_ben")
        world.data.add_subscription("sub_b", "pm_ben", "pro-monthly", "49.00", created_at=NOW)
        charge(world.data, "sub_b", "txn_b", "49.00", NOW)
        await world.notify("subscription_charged_successfully", "sub_b")
        ben = (await world.values("people", "braintree_customer_id"))["cus_ben"]
        log = world.sandbox_app.state.sandbox.requests
        before = log.count(path_regex="/attributes/company/values")
        await world.attio_edit("people", ben["record_id"], "job_title")
        assert log.count(path_regex="/attributes/company/values") == before


async def test_company_writes_coalesce_and_are_flushed_at_shutdown(stand_in) -> None:
    async with world_for(stand_in) as world:
        seed_acme(world.data)
        rollup = world.bridge.braintree_service.companies
        rollup.delay = 60.0  # a burst: nothing is written until the delay or the shutdown
        for kind, subscription_id in NOTIFICATIONS:
            await world.notify(kind, subscription_id)
        log = world.sandbox_app.state.sandbox.requests
        assert log.count(kind="write", path_regex="/objects/companies/") == 0
        await world.bridge.braintree_service.aclose()
        assert log.count(kind="write", path_regex="/objects/companies/") == 1
        acme = (await world.values("companies", "domains"))["acme.io"]
        assert acme["paying_people"] == 2


def _id(record: dict[str, Any]) -> str:
    return str(record["id"]["record_id"])


def _amount(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


# -- through the sync -------------------------------------------------------------------------


async def sync(world: World, **options: Any) -> Any:
    run = await world.bridge.braintree_service.run_sync(**options)
    assert run.report is not None and run.report.ok, run.error
    return run.report


@pytest.mark.parametrize("layout", LAYOUTS)
async def test_the_sync_computes_every_summary_and_heals_a_lost_notification(
    stand_in, layout: str
) -> None:
    async with world_for(stand_in, layout) as world:
        seed_acme(world.data)
        await sync(world)
        # The backfill writes each person once, their summary in that write.
        log = world.sandbox_app.state.sandbox.requests
        assert log.count(kind="write", path_regex="/objects/people/") == 3
        people = await world.values("people", "braintree_customer_id")
        ana, ben, cleo = people["cus_ana"], people["cus_ben"], people["cus_cleo"]
        assert (ana["billing_status"], ben["billing_status"]) == ("past_due", "active")
        assert cleo["billing_status"] == "trialing"
        assert ana["active_subscriptions"] == 4 and ana["customer_since"] == "2025-01-10"
        lifetime = (Decimal(19) + usd("1200", "EUR")).quantize(Decimal("0.0001"))
        assert _amount(ana["lifetime_paid"]) == lifetime
        acme = (await world.values("companies", "domains"))["acme.io"]
        assert acme["paying_people"] == 2 and acme["active_subscriptions"] == 6
        check = await world.bridge.braintree_service.verify_mrr()
        assert check.ok and (check.people, check.companies) == (3, 1), check.mismatches

        # Nothing changed: the next run writes nothing.
        before = world.writes()
        assert (await sync(world)).counts.writes == 0
        assert world.writes() == before

        # Ben cancels, and the notification is lost: a dry run lists what differs, the run
        # writes it (his subscription, his summary, the company's).
        world.data.cancel_subscription("sub_b", NOW)
        dry = await sync(world, dry_run=True)
        planned = {(change.obj, change.key) for change in dry.plan}
        assert {("subscriptions", "sub_b"), ("people", "cus_ben")} <= planned
        assert any(change.obj == "companies" for change in dry.plan)
        assert world.writes() == before
        await sync(world)
        people = await world.values("people", "braintree_customer_id")
        assert people["cus_ben"]["billing_status"] == "cancelled"
        assert _amount(people["cus_ben"]["mrr"]) == 0
        acme = (await world.values("companies", "domains"))["acme.io"]
        assert acme["paying_people"] == 1
        assert (await world.bridge.braintree_service.verify_mrr()).ok


async def test_verify_reports_a_sum_that_does_not_hold(stand_in) -> None:
    async with world_for(stand_in) as world:
        seed_acme(world.data)
        await sync(world)
        ben = (await world.values("people", "braintree_customer_id"))["cus_ben"]
        await world.attio.update_record("people", ben["record_id"], {"mrr": "50"})
        check = await world.bridge.braintree_service.verify_mrr()
        assert not check.ok
        assert any(m.startswith(f"person {ben['record_id']}: mrr 50") for m in check.mismatches)
        assert any(m.startswith("company ") for m in check.mismatches)
        assert "2 mismatches" in check.line()


async def test_a_plan_the_bridge_cannot_read_leaves_mrr_unset_and_says_so(stand_in) -> None:
    async with world_for(stand_in) as world:
        data = world.data
        data.add_customer("cus_old", "old@initech.io", "Old", "Plan", "pm_old")
        data.add_subscription("sub_old", "pm_old", "legacy-2019", "30.00", created_at=NOW)
        charge(data, "sub_old", "txn_old", "30.00", NOW)
        await world.notify("subscription_charged_successfully", "sub_old")
        subscription = (await world.values("subscriptions", "braintree_subscription_id"))["sub_old"]
        person = (await world.values("people", "braintree_customer_id"))["cus_old"]
        assert subscription["mrr"] is None and person["mrr"] is None  # never a guess
        assert person["billing_status"] == "active" and _amount(person["lifetime_paid"]) == 30
        (entry,) = (await world.values("bridge_events", "event_key")).values()
        assert entry["status"] == "needs_attention"
        assert "sub_old" in entry["error"] and "legacy-2019" in entry["error"]


def test_start_up_reads_the_rates_and_the_company_delay() -> None:
    settings = bridge_settings(COMPANY_SUMMARY_DELAY_SECONDS="7.5")
    sandbox_app = make_sandbox()
    app = create_app(settings, attio_transport=httpx.ASGITransport(app=sandbox_app))
    service = app.state.bridge.braintree_service
    assert service.companies.delay == 7.5
    assert not service.billing.rates_loaded
    with TestClient(app):  # runs the lifespan: the first notification finds the table read
        assert service.billing.rates_loaded


async def test_without_redis_company_recomputes_wait_while_deliveries_are_in_flight(
    stand_in,
) -> None:
    async with world_for(stand_in) as world:
        admission = world.bridge.processor.admission
        assert admission is not None
        rollup = world.bridge.braintree_service.companies
        assert not await rollup.busy()
        admission.in_flight = 1
        assert await rollup.busy()
