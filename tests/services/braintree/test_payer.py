"""Finding the paying person: by email, by `braintree_customer_id`, or from Braintree's API."""

from __future__ import annotations

import pytest

from app.services.braintree.people import person_holds
from app.services.braintree.transforms import Payer
from tests.e2e.conftest import Harness
from tests.services.braintree.support import (
    FakeBraintreeApi,
    add_person,
    assert_has,
    attio_calls,
    post_fixture,
)

CHARGE = "subscription_charged_successfully"


def test_person_found_by_customer_id_when_the_notification_has_no_email(
    harness: Harness, braintree_api: FakeBraintreeApi
) -> None:
    person_id = add_person(harness, "ada@example.com", "cust_31fz")
    post_fixture(
        harness,
        CHARGE,
        **{"<id>sub_7kq2mv</id>": "<id>sub_noemail</id>", "<email>ada@example.com</email>": ""},
    )
    assert harness.records("subscriptions")[0]["values"]["person"] == person_id
    assert harness.records("payments")[0]["values"]["person"] == person_id
    assert len(harness.records("people")) == 1
    assert attio_calls(harness, "read")["people"] == 1
    assert attio_calls(harness, "write").get("people") is None
    # Only the customer's summary (docs/revenue.md): the customer Braintree does not know.
    assert braintree_api.calls == ["customer:cust_31fz"]


def test_an_unknown_customer_is_fetched_from_braintree(
    harness: Harness, braintree_api: FakeBraintreeApi
) -> None:
    braintree_api.payment_methods["pm_grace01"] = "cust_gh01"
    braintree_api.add_customer(
        "cust_gh01", email="grace@example.com", first_name="Grace", last_name="Hopper"
    )
    post_fixture(harness, "subscription_canceled")  # no transactions: no customer in it
    (person,) = harness.records("people")
    assert_has(
        person["values"],
        {
            "email_addresses": ["grace@example.com"],
            "name": "Grace Hopper",
            "braintree_customer_id": "cust_gh01",
        },
    )
    assert_has(
        harness.records("subscriptions")[0]["values"],
        {"person": person["record_id"], "status": "Canceled"},
    )
    # The customer is read for the person, then with their transactions for their summary.
    assert braintree_api.calls == [
        "payment_method:pm_grace01",
        "customer:cust_gh01",
        "customer:cust_gh01",
        "transaction_search_ids",
    ]


def test_a_customer_without_email_creates_no_person(
    harness: Harness, braintree_api: FakeBraintreeApi
) -> None:
    braintree_api.payment_methods["pm_grace01"] = "cust_gh01"
    braintree_api.add_customer("cust_gh01", first_name="Grace")
    post_fixture(harness, "subscription_canceled")
    assert harness.records("people") == []
    assert_has(
        harness.records("subscriptions")[0]["values"],
        {"person": None, "braintree_customer_id": "cust_gh01"},
    )


def test_a_linked_person_costs_no_lookup(harness: Harness, braintree_api: FakeBraintreeApi) -> None:
    post_fixture(harness, CHARGE)
    harness.sandbox.requests.clear()
    braintree_api.calls.clear()
    post_fixture(harness, "subscription_went_past_due")  # no customer data: the link stays
    # Only the subscription: the services catalogue is cached for the process.
    assert attio_calls(harness, "read") == {"subscriptions": 1}
    # The linked customer id is enough for the summary's read (Braintree does not know them).
    assert braintree_api.calls == ["customer:cust_31fz"]
    person_id = harness.records("people")[0]["record_id"]
    assert harness.records("subscriptions")[0]["values"]["person"] == person_id


def test_a_changed_email_keeps_the_customers_person(harness: Harness) -> None:
    person_id = add_person(harness, "ada@old.example", "cust_31fz")
    post_fixture(harness, CHARGE)  # cust_31fz now pays as ada@example.com
    (person,) = harness.records("people")
    assert person["record_id"] == person_id
    assert harness.records("subscriptions")[0]["values"]["person"] == person_id
    assert harness.records("payments")[0]["values"]["person"] == person_id


def test_an_invalid_email_is_not_written(harness: Harness) -> None:
    post_fixture(harness, CHARGE, **{"ada@example.com": "ada at example"})
    assert harness.records("people") == []  # no email, no person
    assert_has(
        harness.records("subscriptions")[0]["values"],
        {"person": None, "braintree_customer_id": "cust_31fz"},
    )


def _person(email: str, customer_id: str | None, first: str | None, last: str | None) -> dict:
    values: dict = {
        "email_addresses": [
            {"attribute_type": "email-address", "email_address": email, "active_until": None}
        ],
        "braintree_customer_id": (
            [{"attribute_type": "text", "value": customer_id, "active_until": None}]
            if customer_id
            else []
        ),
        "name": (
            [
                {
                    "attribute_type": "personal-name",
                    "first_name": first,
                    "last_name": last,
                    "full_name": f"{first} {last}",
                    "active_until": None,
                }
            ]
            if first or last
            else []
        ),
    }
    return {"id": {"record_id": "p1"}, "values": values}


@pytest.mark.parametrize(
    ("person", "payer", "holds"),
    [
        (("a@x.io", "c1", "Ada", "L"), ("c1", "a@x.io", "Ada", "L"), True),
        (("A@X.io", "c1", "Ada", "L"), ("c1", "a@x.io", "Ada", "L"), True),  # emails: any case
        (("a@x.io", "c1", "Ada", "L"), ("c1", "a@x.io", None, None), True),  # no name to give
        (("a@x.io", None, "Ada", "L"), ("c1", "a@x.io", "Ada", "L"), False),  # id missing
        (("a@x.io", "c0", "Ada", "L"), ("c1", "a@x.io", "Ada", "L"), False),  # another id
        (("a@x.io", "c1", "Ada", "L"), ("c1", "a@x.io", "Augusta", "L"), False),  # renamed
        (("a@x.io", "c1", None, None), ("c1", "a@x.io", "Ada", "L"), False),  # no name yet
        (("b@x.io", "c1", "Ada", "L"), ("c1", "a@x.io", "Ada", "L"), False),  # another email
    ],
)
def test_person_holds_what_the_payer_would_write(
    person: tuple[str, str | None, str | None, str | None],
    payer: tuple[str | None, str, str | None, str | None],
    holds: bool,
) -> None:
    assert person_holds(_person(*person), Payer(*payer)) is holds
