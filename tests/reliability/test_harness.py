"""The reliability run's own parts, fast: its events, its expectations and its checks.

A fault-injection run only proves something if its events are what the bridge expects, its
expectations are "the newest value" and its checks fail when Attio holds anything else.
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import braintree
import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.bridge import build_sources
from app.config import Settings
from app.events.model import RawRequest, Source
from testkit.braintree_api import BraintreeData, braintree_api
from testkit.senders import RedeliveryPolicy, Senders
from testkit.settings import make_settings
from testkit.signing import BRAINTREE_TEST_CREDENTIALS
from testkit.verify import Snapshot, check_ledger, check_records, instant
from testkit.world import AttioIds, Effect, ExpectedRecord, World, attio_events, build_world

WORLD = build_world(300, seed=3)
IDS = AttioIds(
    workspace_id="ws",
    objects={"people": "obj-people", "subscriptions": "obj-subscriptions"},
    attributes={
        "people": {"name": "attr-name", "job_title": "attr-job"},
        "subscriptions": {"status": "attr-status"},
    },
    people=["person-1", "person-2"],
    own_actor_id="bridge-token",
)


# -- the events ------------------------------------------------------------------------------


def test_the_world_is_reproducible_and_about_the_size_asked() -> None:
    def requests(world: World) -> list[tuple[str, bytes]]:
        # The SDK's own samples carry the current time; everything else is fixed by the seed.
        return [(d.label, d.body if d.event_keys else b"") for d in world.deliveries([])]

    assert requests(build_world(300, seed=3)) == requests(WORLD)
    assert 250 <= len(requests(WORLD)) + WORLD.attio_count <= 320
    sources = {d.source for d in WORLD.deliveries([])}
    assert sources == {"braintree", "zoho"}


def test_each_entitys_events_have_strictly_increasing_times() -> None:
    for timeline in WORLD.timelines:
        last: dict[tuple[str, str], datetime] = {}
        for notification in timeline.notifications:
            for effect in notification.effects:
                if effect.obj == "people":
                    continue  # a person is shared by subscriptions, and only holds facts
                key = (effect.obj, effect.key)
                assert key not in last or effect.at > last[key], timeline.entity
                last[key] = effect.at


def test_some_events_are_delivered_out_of_order_and_some_twice() -> None:
    deliveries = WORLD.deliveries([])
    position = {d.event_keys: i for i, d in reversed(list(enumerate(deliveries)))}
    overtaken = 0
    for timeline in WORLD.timelines:
        keys = [n.delivery.event_keys for n in timeline.notifications]
        overtaken += sum(position[a] > position[b] for a, b in itertools.pairwise(keys))
    assert overtaken > 10
    assert len(deliveries) > len({d.body for d in deliveries})


def _settings() -> Settings:
    return make_settings("http://attio.test", zoho_crm=False, admin_token=None)


async def test_every_delivery_verifies_and_carries_the_event_keys_expected() -> None:
    """The bridge's own sources accept every request, and name its events as the run does."""
    sources, _ = build_sources(_settings())
    deliveries = [*WORLD.deliveries([]), *attio_events(IDS, 20, random.Random(1))]
    for delivery in deliveries:
        url = urlsplit(delivery.path)
        raw = RawRequest(
            body=delivery.body.decode(),
            headers={name.lower(): value for name, value in delivery.headers.items()},
            query=url.query,
            path=url.path,
        )
        events = await sources[Source(delivery.source)].events_from(raw)
        if delivery.event_keys:
            assert tuple(e.event_key for e in events) == delivery.event_keys, delivery.label
        assert events[0].event_type in delivery.label


# -- the expectations ------------------------------------------------------------------------


def test_each_attribute_holds_the_value_of_the_newest_event_that_carries_it() -> None:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    record = ExpectedRecord()
    newer = Effect("payments", "t", t0 + timedelta(days=2), "b", state={"status": "settled"})
    dispute = Effect("payments", "t", t0 + timedelta(days=9), "d", state={"dispute_status": "open"})
    older = Effect("payments", "t", t0, "a", state={"status": "submitted"}, facts={"amount": 1})
    for effect in (newer, dispute, older):  # delivered out of order
        record.apply(effect)
    assert record.values == {"status": "settled", "dispute_status": "open", "amount": 1}


def test_subscriptions_must_name_their_newest_notification() -> None:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    record = ExpectedRecord()
    record.apply(Effect("subscriptions", "s", t0 + timedelta(days=1), "late", stamps=True))
    record.apply(Effect("subscriptions", "s", t0, "early", stamps=True))
    assert record.values["last_event_kind"] == "late"


# -- the checks ------------------------------------------------------------------------------


def _attio_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000000000Z")


def _plain(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return _attio_time(value)
    return ids.get(value, value) if isinstance(value, str) else value


def perfect_snapshot() -> dict[str, list[dict[str, Any]]]:
    """What Attio would hold if the bridge were flawless, in the sandbox's plain form."""
    keys = {"people": "email_addresses", "services": "zoho_item_id"}
    keys |= {"subscriptions": "braintree_subscription_id", "payments": "braintree_transaction_id"}
    wanted = {obj: sorted(WORLD.expected.keys(obj)) for obj in keys}
    wanted["people"] = sorted(set(wanted["people"]) | set(WORLD.crm_people))
    ids = {key: f"rec-{obj}-{key}" for obj, obj_keys in wanted.items() for key in obj_keys}
    records: dict[str, list[dict[str, Any]]] = {}
    for obj, obj_keys in wanted.items():
        rows = []
        for key in obj_keys:
            expected = WORLD.expected.records.get(obj, {}).get(key)
            values = {s: _plain(v, ids) for s, v in (expected.values if expected else {}).items()}
            values[keys[obj]] = [key] if obj == "people" else key
            rows.append({"record_id": ids[key], "values": values})
        records[obj] = rows
    return records


def problems_in(records: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
    return check_records(WORLD.expected, Snapshot(records), WORLD.crm_people).by_kind


def test_a_flawless_attio_passes() -> None:
    assert problems_in(perfect_snapshot()) == {}


def test_an_older_value_is_caught() -> None:
    records = perfect_snapshot()
    payment = next(r for r in records["payments"] if r["values"].get("status") == "settled")
    payment["values"]["status"] = "submitted_for_settlement"
    assert list(problems_in(records)) == ["not the newest value"]


def test_a_reference_to_the_wrong_person_is_caught() -> None:
    records = perfect_snapshot()
    subscription = next(r for r in records["subscriptions"] if r["values"].get("person"))
    others = [r for r in records["people"] if r["record_id"] != subscription["values"]["person"]]
    subscription["values"]["person"] = others[0]["record_id"]
    assert list(problems_in(records)) == ["not the newest value"]


def test_a_duplicate_and_a_missing_record_are_caught() -> None:
    records = perfect_snapshot()
    records["subscriptions"].append(dict(records["subscriptions"][0], record_id="rec-copy"))
    records["services"].pop()
    assert set(problems_in(records)) == {"duplicate record", "missing record"}


def test_timestamps_compare_as_instants() -> None:
    assert instant("2024-05-02T10:15:00.123456789Z") == datetime(
        2024, 5, 2, 10, 15, 0, 123456, tzinfo=UTC
    )
    assert instant("2024-05-02T12:15:00+02:00") == datetime(2024, 5, 2, 10, 15, tzinfo=UTC)


def test_the_ledger_check_wants_recorded_events_in_bridge_events_and_none_left_failed() -> None:
    delivery = next(d for d in WORLD.deliveries([]) if d.event_keys)
    answer = {"events": 1, "processed": 0, "ignored": 0, "recorded": 1}
    missing = check_ledger([], [delivery], {0: answer})
    assert list(missing.by_kind) == ["recorded but not in bridge_events"]
    row = {"values": {"event_key": delivery.event_keys[0], "status": "failed", "attempts": 1}}
    left = check_ledger([row], [delivery], {0: answer})
    assert list(left.by_kind) == ["ledger record left failed"]
    row["values"]["status"] = "replayed"
    assert not check_ledger([row], [delivery], {0: answer})


# -- the senders and Braintree's API ---------------------------------------------------------


def flaky_app(failures: int) -> tuple[FastAPI, list[bytes]]:
    """Answers 503 to the first `failures` sends of each body, then 200."""
    app = FastAPI()
    received: list[bytes] = []

    @app.post("/webhooks/{provider}")
    async def webhook(request: Request) -> JSONResponse:
        body = await request.body()
        received.append(body)
        if received.count(body) <= failures:
            return JSONResponse({"error": "busy"}, status_code=503)
        return JSONResponse({"events": 1, "processed": 1, "ignored": 0, "recorded": 0})

    return app, received


async def test_senders_redeliver_the_same_bytes_until_a_2xx_and_then_stop() -> None:
    deliveries = WORLD.deliveries([])[:20]
    distinct = {d.body for d in deliveries}
    app, received = flaky_app(failures=2)
    senders = Senders(
        "http://bridge",
        deliveries,
        concurrency=4,
        deadline_seconds=60,
        policy=RedeliveryPolicy(base_seconds=0.01, cap_seconds=0.02),
        transport=httpx.ASGITransport(app=app),
    )
    report = await senders.run()
    assert report.acknowledged == len(deliveries) and not report.abandoned
    assert set(received) == distinct
    assert report.redelivered == report.statuses["503"]
    assert all(received.count(body) >= 3 for body in distinct)


async def test_senders_give_up_after_max_attempts_and_report_the_loss() -> None:
    app, _ = flaky_app(failures=100)
    senders = Senders(
        "http://bridge",
        WORLD.deliveries([])[:2],
        concurrency=2,
        deadline_seconds=60,
        policy=RedeliveryPolicy(base_seconds=0.001, cap_seconds=0.001, max_attempts=3),
        transport=httpx.ASGITransport(app=app),
    )
    report = await senders.run()
    assert sorted(report.abandoned) == [0, 1]
    assert report.attempts == 6


def test_the_braintree_stand_in_answers_the_official_sdk() -> None:
    data = BraintreeData(**WORLD.braintree_data())
    customer = WORLD.customers[0]
    transaction_id = next(iter(WORLD.transactions))
    with braintree_api(data) as port:
        environment = braintree.Environment(
            "development", "localhost", str(port), "http://auth.invalid", False, None
        )
        creds = BRAINTREE_TEST_CREDENTIALS
        gateway = braintree.BraintreeGateway(
            braintree.Configuration(
                environment,
                merchant_id=creds["merchant_id"],
                public_key=creds["public_key"],
                private_key=creds["private_key"],
            )
        )
        assert gateway.customer.find(customer.id).email == customer.email
        method = gateway.payment_method.find(customer.token)
        assert method.customer_id == customer.id
        found = gateway.transaction.find(transaction_id)
        assert found.customer_details.email == WORLD.transactions[transaction_id][0].email
        with pytest.raises(braintree.exceptions.NotFoundError):
            gateway.customer.find("nobody")
        result = gateway.customer.update(customer.id, {"phone": "+1 555 0100"})
    assert result.is_success
    assert data.updates == [(customer.id, {"phone": "+1 555 0100"})]
