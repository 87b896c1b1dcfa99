"""`app.clients.braintree`: SDK reads off the loop, "not found" as None, built from settings."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pytest
from braintree.exceptions.authentication_error import AuthenticationError
from braintree.exceptions.not_found_error import NotFoundError

from app.clients.braintree import BraintreeClient, BraintreeRejectedError
from app.timing import RequestTiming, current_timing
from tests.e2e.conftest import bridge_settings
from tests.services.braintree.conftest import braintree_api
from tests.services.braintree.support import FakeBraintreeApi

__all__ = ["braintree_api"]  # the fake Braintree API, for every test here


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


async def test_the_real_sdk_path_against_the_fake_api(braintree_api: FakeBraintreeApi) -> None:
    """The SDK's request, XML parsing and 404 mapping, with only its HTTP call replaced."""
    client = BraintreeClient.from_settings(bridge_settings())
    assert client is not None
    braintree_api.add_customer("c1", email="a@b.co", first_name="Ada", last_name="L")
    braintree_api.payment_methods["pm1"] = "c1"
    braintree_api.add_transaction("t1", {"id": "c1", "email": "a@b.co"})
    customer = await client.find_customer("c1")
    assert (customer.id, customer.email, customer.first_name) == ("c1", "a@b.co", "Ada")
    assert await client.customer_id_for_payment_method("pm1") == "c1"
    assert (await client.find_transaction("t1")).customer_details.email == "a@b.co"
    assert await client.find_customer("c2") is None
    assert braintree_api.calls == [
        "customer:c1",
        "payment_method:pm1",
        "transaction:t1",
        "customer:c2",
    ]


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
