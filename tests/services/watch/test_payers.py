"""The people a ledger alert's task links: each failed Braintree entry's payer, found as a
replay parses the stored request (webhooks) or from Braintree (failed sync records)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from app.clients.attio import AttioClient
from app.clients.attio.values import record_id
from app.clients.braintree import BraintreeClient
from app.events.ledger import Ledger
from app.events.model import RawRequest
from app.events.sources import BraintreeSource
from app.events.sources.braintree_sync import braintree_sync_failure_event
from app.schema import BRIDGE_EVENTS, PEOPLE
from app.services.doctor.report import Status
from app.services.watch import runtime
from app.signatures import BraintreeWebhookVerifier
from testkit.braintree_api import BraintreeData, braintree_api, sdk_gateway
from testkit.signing import BRAINTREE_TEST_CREDENTIALS, braintree_fixture, braintree_form_body
from tests.services.watch.conftest import context, settings

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
SOURCE = BraintreeSource(BraintreeWebhookVerifier(**BRAINTREE_TEST_CREDENTIALS))


@pytest.fixture
def braintree() -> Iterator[tuple[BraintreeData, BraintreeClient]]:
    data = BraintreeData()
    # The owner of the past-due subscription's payment method (the fixture names no customer).
    data.add_customer("cus_grace", "grace@example.com", "Grace", "Hopper", token="pm_4hd8x2")
    data.add_customer("cus_alan", "alan@example.com", "Alan", "Turing")
    data.add_transaction("txn_alan", "cus_alan", created_at=NOW - timedelta(days=1))
    with braintree_api(data) as port:
        yield data, BraintreeClient(sdk_gateway(port), retry_delay=0)


async def person(attio: AttioClient, email: str, customer_id: str) -> str:
    record = await attio.assert_record(
        PEOPLE,
        matching_attribute="email_addresses",
        values={"email_addresses": [email], "braintree_customer_id": customer_id},
    )
    return record_id(record)


async def dead_webhook(attio: AttioClient, name: str, **keys: str) -> str:
    """A Braintree delivery ledgered dead, as the processor writes it."""
    raw = RawRequest(body=braintree_form_body(*braintree_fixture(name, **keys)).decode())
    signed = braintree_form_body(*braintree_fixture(name))
    (event,) = await SOURCE.events_from(RawRequest(body=signed.decode()))
    event = event.model_copy(update={"raw": raw})  # a forged body keeps the genuine key
    entry = await Ledger(attio).record_failure(event, "boom", permanent=True, previous=None)
    return entry.record_id


async def test_a_dead_entry_links_its_payer_found_as_a_replay_parses_it(
    attio: AttioClient, braintree: tuple[BraintreeData, BraintreeClient]
) -> None:
    _data, client = braintree
    ada = await person(attio, "ada@example.com", "cust_31fz")
    grace = await person(attio, "grace@example.com", "cus_grace")
    alan = await person(attio, "alan@example.com", "cus_alan")
    # The customer is on the charge's transactions: no Braintree read.
    charge = await dead_webhook(attio, "subscription_charged_unsuccessfully")
    # No customer in the notification: its payment method's owner, one Braintree read.
    past_due = await dead_webhook(attio, "subscription_went_past_due")
    # A failed sync record names its transaction, read from Braintree.
    sync = braintree_sync_failure_event(kind="transaction", object_id="txn_alan")
    failed = await Ledger(attio).record_failure(sync, "boom", permanent=True, previous=None)
    ctx = context(attio, settings(), now=NOW, braintree=client)
    ctx.braintree_source = SOURCE
    check = await runtime.ledger_dead(ctx)
    assert check.status is Status.fail
    assert set(check.links) == {
        (BRIDGE_EVENTS, rid) for rid in (charge, past_due, failed.record_id)
    }
    # The payers are read only when an alert task is created.
    payers = await ctx.more_links["ledger dead"]()
    assert set(payers) == {(PEOPLE, ada), (PEOPLE, grace), (PEOPLE, alan)}


async def test_an_entry_that_does_not_verify_or_has_no_person_links_the_entry_alone(
    attio: AttioClient, braintree: tuple[BraintreeData, BraintreeClient]
) -> None:
    _data, client = braintree
    await person(attio, "ada@example.com", "cust_31fz")
    # Edited in Attio: the stored request no longer verifies, so it names nobody.
    forged = await dead_webhook(
        attio, "subscription_charged_unsuccessfully", private_key="not-the-merchant-key"
    )
    # Verified, but the payer is not in Attio.
    unknown = await dead_webhook(attio, "transaction_settled")
    ctx = context(attio, settings(), now=NOW, braintree=client)
    ctx.braintree_source = SOURCE
    check = await runtime.ledger_dead(ctx)
    assert check.status is Status.fail
    assert set(check.links) == {(BRIDGE_EVENTS, forged), (BRIDGE_EVENTS, unknown)}
    assert await ctx.more_links["ledger dead"]() == ()


async def test_stuck_entries_link_their_payers_too(
    attio: AttioClient, braintree: tuple[BraintreeData, BraintreeClient]
) -> None:
    _data, client = braintree
    ada = await person(attio, "ada@example.com", "cust_31fz")
    day_ago = NOW - timedelta(hours=25)
    signed = braintree_form_body(*braintree_fixture("subscription_charged_unsuccessfully"))
    (event,) = await SOURCE.events_from(RawRequest(body=signed.decode()))
    entry = await Ledger(attio, clock=lambda: day_ago).record_failure(
        event, "boom", permanent=False, previous=None
    )
    ctx = context(attio, settings(), now=NOW, braintree=client)
    ctx.braintree_source = SOURCE
    check = await runtime.ledger_stuck(ctx)
    assert check.status is Status.warn
    assert check.links == ((BRIDGE_EVENTS, entry.record_id),)
    assert await ctx.more_links["ledger stuck"]() == ((PEOPLE, ada),)
