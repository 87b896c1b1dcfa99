"""`BillingCatalogue`: plans and merchant-account currencies through the real SDK, cached."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.clients.braintree import BraintreeClient
from app.services.braintree.billing_catalogue import BillingCatalogue, subscriptions_of
from testkit.braintree_api import BraintreeData, sdk_gateway
from testkit.braintree_api import braintree_api as stand_in
from tests.services.braintree.revenue_support import RATES, TODAY


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def braintree_api() -> None:
    """Instead of the package's SDK-level fake: these tests use the stand-in on loopback."""


@pytest.fixture
def account() -> Iterator[tuple[BraintreeData, BraintreeClient]]:
    data = BraintreeData()
    data.seed_catalogue()
    with stand_in(data) as port:
        yield data, BraintreeClient(sdk_gateway(port), retry_delay=0.0)


async def test_one_read_serves_until_stale(account: tuple[BraintreeData, BraintreeClient]) -> None:
    data, client = account
    clock = Clock()
    catalogue = BillingCatalogue(client, ttl=900, retry_after=60, clock=clock)
    first = await catalogue.catalogue(["pro-annual"])
    assert first.plans["pro-annual"].billing_frequency == 12
    assert first.currencies == {"main": "USD", "acme_eur": "EUR"}
    clock.now = 899
    await catalogue.catalogue(["solo-monthly"])
    assert data.calls["GET plans"] == 1 and data.calls["GET merchant_accounts"] == 1
    clock.now = 900
    await catalogue.catalogue()
    assert data.calls["GET plans"] == 2


async def test_an_unknown_plan_reads_again_at_most_once_a_minute(
    account: tuple[BraintreeData, BraintreeClient],
) -> None:
    data, client = account
    clock = Clock()
    catalogue = BillingCatalogue(client, ttl=900, retry_after=60, clock=clock)
    await catalogue.catalogue()
    data.add_plan("new-plan", "10.00", billing_frequency=3)
    clock.now = 30
    assert "new-plan" not in (await catalogue.catalogue(["new-plan"])).plans
    clock.now = 61
    assert (await catalogue.catalogue(["new-plan"])).plans["new-plan"].billing_frequency == 3
    clock.now = 130
    await catalogue.catalogue(["retired"])
    await catalogue.catalogue(["retired"])
    assert data.calls["GET plans"] == 3  # one re-read for the plan nobody lists, not one per ask


async def test_a_customers_summary_from_the_sdks_objects(
    account: tuple[BraintreeData, BraintreeClient],
) -> None:
    data, client = account
    created = datetime(2026, 11, 1, tzinfo=UTC)
    data.add_customer("c1", email="ana@acme.io", token="tok1")
    data.add_subscription("eu", "tok1", plan_id="pro-annual", price="1200.00",
                          created_at=created, merchant_account_id="acme_eur")  # fmt: skip
    data.add_transaction("t1", "c1", "1200.00", created_at=created + timedelta(days=1),
                         subscription_id="eu", status="settled")  # fmt: skip
    data.refund_transaction("r1", "t1", at=created + timedelta(days=3), amount="120.00")
    subscriptions = subscriptions_of(await client.find_customer("c1"))
    transactions = await client.customer_transactions("c1")
    assert [t.id for t in transactions] == ["t1", "r1"]
    summary, (revenue,) = await BillingCatalogue(client).summarize(
        subscriptions, transactions, today=TODAY, reporting_currency="USD", rates=RATES
    )
    assert (revenue.mrr_native, revenue.currency_code, revenue.mrr) == (
        Decimal("100"),
        "EUR",
        Decimal("110"),
    )
    # 1,200 EUR paid, 120 refunded: 1,080 EUR at 1.1.
    assert summary.billing_status == "active" and summary.lifetime_paid == Decimal("1188")
