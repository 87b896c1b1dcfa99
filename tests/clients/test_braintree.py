"""`app.clients.braintree`: SDK reads off the loop, "not found" as None, built from settings."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import braintree
import pytest
import structlog
from braintree.exceptions.authentication_error import AuthenticationError
from braintree.exceptions.not_found_error import NotFoundError
from braintree.exceptions.service_unavailable_error import ServiceUnavailableError
from braintree.util.constants import Constants

from app.clients.braintree import (
    TRANSACTION_CHANGE_FIELDS,
    BraintreeClient,
    BraintreeRejectedError,
)
from app.timing import RequestTiming, current_timing
from testkit.braintree_api import BraintreeData, sdk_gateway
from testkit.braintree_api import braintree_api as stand_in
from tests.e2e.conftest import bridge_settings


class FakeFinder:
    """One SDK sub-gateway (`customer`, `transaction`, `payment_method`) with a `find`."""

    def __init__(self, found: dict[str, Any]) -> None:
        self.found = found
        self.threads: list[int] = []

    def find(self, key: str) -> Any:
        self.threads.append(threading.get_ident())
        if key == "boom":
            raise AuthenticationError()
        if key not in self.found:
            raise NotFoundError(f"{key} not found")
        return self.found[key]


def fake_gateway() -> SimpleNamespace:
    return SimpleNamespace(
        customer=FakeFinder({"c1": SimpleNamespace(id="c1", email="a@b.co")}),
        transaction=FakeFinder({"t1": SimpleNamespace(id="t1")}),
        payment_method=FakeFinder({"pm1": SimpleNamespace(token="pm1", customer_id="c1")}),
    )


async def test_calls_run_in_a_worker_thread() -> None:
    gateway = fake_gateway()
    client = BraintreeClient(gateway)  # type: ignore[arg-type]
    customer = await client.find_customer("c1")
    assert customer.email == "a@b.co"
    assert gateway.customer.threads and gateway.customer.threads[0] != threading.get_ident()


async def test_not_found_is_none_and_other_errors_propagate() -> None:
    client = BraintreeClient(fake_gateway())  # type: ignore[arg-type]
    assert await client.find_customer("nobody") is None
    assert await client.find_transaction("nothing") is None
    assert await client.customer_id_for_payment_method("gone") is None
    assert await client.customer_id_for_payment_method("pm1") == "c1"
    assert (await client.find_transaction("t1")).id == "t1"
    with pytest.raises(AuthenticationError):
        await client.find_customer("boom")


def test_from_settings() -> None:
    assert BraintreeClient.from_settings(bridge_settings(BRAINTREE_PRIVATE_KEY="changeme")) is None
    assert BraintreeClient.from_settings(bridge_settings()) is not None


async def test_the_real_sdk_path_against_the_stand_in() -> None:
    """The SDK's request, XML parsing and 404 mapping against Braintree's stand-in on loopback."""
    data = BraintreeData()
    data.add_customer("c1", email="a@b.co", first_name="Ada", last_name="L", token="pm1")
    data.add_transaction("t1", "c1", created_at=datetime(2026, 3, 1, tzinfo=UTC))
    with stand_in(data) as port:
        client = BraintreeClient(sdk_gateway(port))
        customer = await client.find_customer("c1")
        assert (customer.id, customer.email, customer.first_name) == ("c1", "a@b.co", "Ada")
        assert await client.customer_id_for_payment_method("pm1") == "c1"
        assert (await client.find_transaction("t1")).customer_details.email == "a@b.co"
        assert await client.find_customer("c2") is None
    assert data.calls == {"GET customer": 2, "GET payment_method": 1, "GET transaction": 1}


class FakeCustomers:
    """The SDK's `customer` gateway for updates: results shaped like the SDK's."""

    def __init__(self) -> None:
        self.updates: list[tuple[str, dict[str, str]]] = []

    def update(self, customer_id: str, changes: dict[str, str]) -> SimpleNamespace:
        self.updates.append((customer_id, changes))
        if "@" not in changes.get("email", "@"):
            return SimpleNamespace(is_success=False, message="Email is an invalid format.")
        return SimpleNamespace(is_success=True)


async def test_update_customer_and_a_refused_change() -> None:
    customers = FakeCustomers()
    client = BraintreeClient(SimpleNamespace(customer=customers))  # type: ignore[arg-type]
    await client.update_customer("c1", {"last_name": "Lovelace"})
    assert customers.updates == [("c1", {"last_name": "Lovelace"})]
    with pytest.raises(BraintreeRejectedError, match="invalid format") as refused:
        await client.update_customer("c1", {"email": "nope"})
    assert refused.value.status_code == 422  # permanent for the ledger: no retry can fix it


async def test_sdk_calls_count_as_a_braintree_wait_of_the_request_served() -> None:
    timing = RequestTiming()
    current_timing.set(timing)  # as the request middleware does
    await BraintreeClient(fake_gateway()).find_customer("c1")  # type: ignore[arg-type]
    assert set(timing.waits) == {"braintree"}
    assert timing.waits["braintree"] > 0


# -- the reconciliation's searches: the SDK's own search code against the loopback stand-in --

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CREDENTIALS = ("test_public_key", "test_private_key")


@pytest.fixture
def account() -> Iterator[tuple[BraintreeData, BraintreeClient]]:
    """The stand-in on loopback, and a client whose SDK gateways point at it."""
    data = BraintreeData(credentials=CREDENTIALS)
    with stand_in(data) as port:
        yield data, BraintreeClient(sdk_gateway(port, CREDENTIALS), sdk_gateway(port, CREDENTIALS))


async def collect(pages: AsyncIterator[list[Any]]) -> list[list[Any]]:
    return [page async for page in pages]


def ids(pages: list[list[Any]]) -> list[str]:
    return [item.id for page in pages for item in page]


def one_customer(data: BraintreeData) -> None:
    data.add_customer("cus_1", email="ada@example.com", first_name="Ada", token="tok_1")


MANY = 120  # more than two pages of 50
SUBSCRIPTION_IDS = [f"sub_{n:03d}" for n in range(MANY)]
TRANSACTION_IDS = [f"txn_{n:03d}" for n in range(MANY)]


def many(data: BraintreeData, *, subscriptions: bool = True, transactions: bool = False) -> None:
    """One customer's `MANY` subscriptions and/or transactions (a minute apart from T0)."""
    one_customer(data)
    for n in range(MANY):
        if subscriptions:
            data.add_subscription(SUBSCRIPTION_IDS[n], "tok_1", created_at=T0)
        if transactions:
            data.add_transaction(TRANSACTION_IDS[n], "cus_1", created_at=T0 + timedelta(minutes=n))


async def test_every_subscription_of_every_status(
    account: tuple[BraintreeData, BraintreeClient],
) -> None:
    data, client = account
    one_customer(data)
    statuses = Constants.get_all_constant_values_from_class(braintree.Subscription.Status)
    for n, status in enumerate(statuses):
        data.add_subscription(f"sub_{n}", "tok_1", created_at=T0, status=status)
    data.add_transaction("txn_1", "cus_1", created_at=T0, subscription_id="sub_0")

    pages = await collect(client.iter_subscriptions())

    found = {s.id: s for page in pages for s in page}
    assert {s.status for s in found.values()} == set(statuses)
    first = found["sub_0"]
    assert isinstance(first, braintree.Subscription)
    assert (first.plan_id, first.price, first.balance) == ("pro-monthly", Decimal("49.00"), 0)
    assert first.next_billing_date == date(2026, 4, 1)
    assert (first.failure_count, first.payment_method_token) == (0, "tok_1")
    assert [t.id for t in first.transactions] == ["txn_1"]
    assert first.transactions[0].customer_details.email == "ada@example.com"
    assert data.calls["POST subscription_search_ids"] == 1
    assert data.calls["POST subscription_search"] == 1


async def test_active_subscriptions_are_counted_with_one_search_ids_call(
    account: tuple[BraintreeData, BraintreeClient],
) -> None:
    data, client = account
    one_customer(data)
    for n, status in enumerate(["Active", "Active", "Canceled", "Past Due", "Active"]):
        data.add_subscription(f"sub_{n}", "tok_1", created_at=T0, status=status)
    assert await client.count_active_subscriptions() == 3
    assert data.calls["POST subscription_search_ids"] == 1
    assert data.calls["POST subscription_search"] == 0


async def test_pages_of_50_after_one_search_ids_call(
    account: tuple[BraintreeData, BraintreeClient],
) -> None:
    data, client = account
    many(data, transactions=True)

    subscriptions = await collect(client.iter_subscriptions())
    transactions = await collect(client.iter_transactions(None))

    assert [len(page) for page in subscriptions] == [50, 50, 20]
    assert ids(subscriptions) == SUBSCRIPTION_IDS
    assert [len(page) for page in transactions] == [50, 50, 20]
    assert sorted(ids(transactions)) == TRANSACTION_IDS
    assert data.calls["POST subscription_search_ids"] == 1
    assert data.calls["POST subscription_search"] == 3
    assert data.calls["POST transaction_search_ids"] == 1
    assert data.calls["POST transaction_search"] == 3


# Each status change and the timestamp the SDK's search finds it by.
STATUS_CHANGES = [
    ("settled", "settled_at"),
    ("voided", "voided_at"),
    ("settlement_declined", "no searchable timestamp: by status"),
    ("settlement_failed", "no searchable timestamp: by status"),
    ("settling", "no searchable timestamp: by status"),
]


@pytest.mark.parametrize(("status", "found_by"), STATUS_CHANGES)
async def test_a_transaction_changed_after_since_is_found(
    account: tuple[BraintreeData, BraintreeClient], status: str, found_by: str
) -> None:
    data, client = account
    one_customer(data)
    data.add_transaction("txn_old", "cus_1", created_at=T0 - timedelta(days=3))
    data.add_transaction("txn_changed", "cus_1", created_at=T0 - timedelta(days=3))
    data.set_transaction_status("txn_changed", status, T0 + timedelta(hours=1))

    found = ids(await collect(client.iter_transactions(T0)))

    assert found == ["txn_changed"], found_by
    changed = await client.find_transaction("txn_changed")
    assert changed.status == status
    assert changed.status_history[-1].timestamp == datetime(2026, 3, 1, 13, 0)


@pytest.mark.parametrize(
    "status",
    ["authorized", "submitted_for_settlement", "processor_declined", "gateway_rejected", "failed"],
)
async def test_a_transaction_created_after_since_is_found_once(
    account: tuple[BraintreeData, BraintreeClient], status: str
) -> None:
    data, client = account
    one_customer(data)
    data.add_transaction("txn_before", "cus_1", created_at=T0 - timedelta(seconds=1))
    data.add_transaction("txn_new", "cus_1", created_at=T0, status=status)

    pages = await collect(client.iter_transactions(T0))

    assert ids(pages) == ["txn_new"]  # matched by created_at and its status's *_at: once
    assert isinstance(pages[0][0], braintree.Transaction)
    assert pages[0][0].status == status


async def test_since_in_another_timezone_is_the_same_instant(
    account: tuple[BraintreeData, BraintreeClient],
) -> None:
    data, client = account
    one_customer(data)
    data.add_transaction("txn_1", "cus_1", created_at=T0)
    berlin = T0.astimezone(timezone(timedelta(hours=1)))
    assert ids(await collect(client.iter_transactions(berlin))) == ["txn_1"]
    after = (T0 + timedelta(seconds=1)).astimezone(timezone(timedelta(hours=1)))
    assert ids(await collect(client.iter_transactions(after))) == []


async def test_a_window_of_many_transactions_keeps_pages_of_50(
    account: tuple[BraintreeData, BraintreeClient],
) -> None:
    data, client = account
    many(data, subscriptions=False, transactions=True)
    data.add_transaction("txn_old", "cus_1", created_at=T0 - timedelta(days=90))

    pages = await collect(client.iter_transactions(T0))

    assert [len(page) for page in pages] == [50, 50, 20]
    assert sorted(ids(pages)) == TRANSACTION_IDS
    searches = len(TRANSACTION_CHANGE_FIELDS) + 1  # each timestamp, then the untimed statuses
    assert data.calls["POST transaction_search_ids"] == searches + 1  # + the distinct ids
    assert data.calls["POST transaction_search"] == 3


async def test_disputes_received_or_changed_since(
    account: tuple[BraintreeData, BraintreeClient],
) -> None:
    data, client = account
    one_customer(data)
    for n in range(25):
        data.add_transaction(f"txn_{n}", "cus_1", created_at=T0 - timedelta(days=60))
        data.add_dispute(f"dp_{n}", f"txn_{n}", received_date=date(2026, 2, 1))
    data.add_dispute("dp_new", "txn_0", received_date=date(2026, 3, 1))
    data.set_dispute_status("dp_3", "won", T0 + timedelta(hours=2))

    every = await collect(client.iter_disputes(None))
    recent = await collect(client.iter_disputes(T0))

    assert sorted(ids(every)) == sorted([f"dp_{n}" for n in range(25)] + ["dp_new"])
    assert sorted(ids(recent)) == ["dp_3", "dp_new"]
    won = next(d for page in recent for d in page if d.id == "dp_3")
    assert isinstance(won, braintree.Dispute)
    assert (won.status, won.kind, won.reason, won.amount) == ("won", "chargeback", "fraud", 49)
    assert won.transaction.id == "txn_3"
    assert [h.status for h in won.status_history] == ["open", "won"]
    assert won.reply_by_date == date(2026, 2, 8)
    # 26 disputes in pages of 10 (3 calls); then one page per date criterion.
    assert data.calls["POST dispute_search"] == 3 + 2


async def test_find_one_subscription_or_dispute_and_404s(
    account: tuple[BraintreeData, BraintreeClient],
) -> None:
    data, client = account
    one_customer(data)
    data.add_subscription("sub_1", "tok_1", created_at=T0)
    data.add_transaction("txn_1", "cus_1", created_at=T0, subscription_id="sub_1")
    data.add_dispute("dp_1", "txn_1", received_date=date(2026, 3, 2))
    data.cancel_subscription("sub_1", T0 + timedelta(days=1))

    subscription = await client.find_subscription("sub_1")
    dispute = await client.find_dispute("dp_1")

    assert subscription.status == "Canceled"
    assert [e.status for e in subscription.status_history] == ["Active", "Canceled"]
    assert subscription.transactions[0].subscription_id == "sub_1"
    assert dispute.status == "open"
    assert await client.find_subscription("sub_none") is None
    assert await client.find_dispute("dp_none") is None
    assert data.calls["GET subscription"] == 2
    assert data.calls["GET dispute"] == 2


async def test_refused_keys_fail_every_search() -> None:
    data = BraintreeData(credentials=CREDENTIALS)
    with stand_in(data) as port:
        client = BraintreeClient(sdk_gateway(port, ("test_public_key", "wrong")))
        with pytest.raises(AuthenticationError):
            await collect(client.iter_subscriptions())
        with pytest.raises(AuthenticationError):
            await collect(client.iter_transactions(T0))
        with pytest.raises(AuthenticationError):
            await collect(client.iter_disputes(None))
        with pytest.raises(AuthenticationError):
            await client.find_subscription("sub_1")


async def test_a_failed_page_is_fetched_again_and_nothing_twice() -> None:
    data = BraintreeData()
    many(data)
    data.fail("POST subscription_search", 503)  # the first page
    data.fail("POST subscription_search_ids", 429)  # the search itself, once
    with stand_in(data) as port:
        client = BraintreeClient(sdk_gateway(port), retry_delay=0)
        pages = await collect(client.iter_subscriptions())
        data.calls.clear()
        # The first page fails, then the second: each time, the ids not yet read are searched
        # again (the SDK's iterator cannot resume).
        data.fail("POST subscription_search", 503, times=1)
        iterator = client.iter_subscriptions()
        first = await anext(iterator)
        data.fail("POST subscription_search", 503, times=1)
        rest = await collect(iterator)

    assert ids(pages) == SUBSCRIPTION_IDS
    assert ids([first, *rest]) == SUBSCRIPTION_IDS
    # ids, failed page 1, ids of all 120, page 1; failed page 2, ids of the 70 left, 2 pages.
    assert data.calls["POST subscription_search_ids"] == 3
    assert data.calls["POST subscription_search"] == 5


async def test_a_failure_that_lasts_is_raised() -> None:
    data = BraintreeData()
    one_customer(data)
    data.add_transaction("txn_1", "cus_1", created_at=T0)
    data.add_dispute("dp_1", "txn_1", received_date=date(2026, 3, 1))
    data.fail("POST transaction_search", 503, times=4)
    data.fail("POST dispute_search", 429, times=1)
    with stand_in(data) as port:
        client = BraintreeClient(sdk_gateway(port), retry_delay=0)
        with pytest.raises(ServiceUnavailableError):
            await collect(client.iter_transactions(None))
        assert ids(await collect(client.iter_disputes(None))) == ["dp_1"]
    assert data.calls["POST transaction_search"] == 4
    assert data.calls["POST dispute_search"] == 2


async def test_search_retries_go_through_the_shared_policy_and_wait_longer_each_time() -> None:
    data = BraintreeData()
    one_customer(data)
    data.add_transaction("txn_1", "cus_1", created_at=T0)
    data.fail("POST transaction_search", 503, times=3)
    with stand_in(data) as port:
        client = BraintreeClient(sdk_gateway(port), retry_delay=0.001)
        with structlog.testing.capture_logs() as logs:
            assert ids(await collect(client.iter_transactions(None))) == ["txn_1"]
    retries = [line for line in logs if line["event"] == "braintree.search.retry"]
    assert [line["attempt"] for line in retries] == [1, 2, 3]
    assert {line["search"] for line in retries} == {"transactions"}
    assert {line["error_class"] for line in retries} == {"ServiceUnavailableError"}
    assert [line["wait_seconds"] for line in retries] == [0.001, 0.002, 0.003]


async def test_a_caller_may_stop_after_any_page(
    account: tuple[BraintreeData, BraintreeClient],
) -> None:
    data, client = account
    many(data)
    pages = client.iter_subscriptions()
    first = await anext(pages)
    await pages.aclose()  # the page read ahead is dropped
    assert len(first) == 50
    assert data.calls["POST subscription_search"] <= 2
