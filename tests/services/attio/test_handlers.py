"""Attio record events end to end: CRM edits reach Braintree, merges keep billing links."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from app.services.attio.transforms import customer_changes, customer_fields
from testkit.signing import attio_signed_headers
from tests.e2e.conftest import ADMIN_TOKEN, Harness, start_harness

ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


class FakeBraintree:
    """Braintree customers in memory, faked at the bridge's client boundary."""

    def __init__(self, **customers: dict[str, str]) -> None:
        self.customers = {
            cid: SimpleNamespace(id=cid, **fields) for cid, fields in customers.items()
        }
        self.updates: list[tuple[str, dict[str, str]]] = []
        self.finds = 0

    async def find_customer(self, customer_id: str) -> Any | None:
        self.finds += 1
        return self.customers.get(customer_id)

    async def update_customer(self, customer_id: str, changes: dict[str, str]) -> None:
        self.updates.append((customer_id, changes))
        for field, value in changes.items():
            setattr(self.customers[customer_id], field, value)

    # Reads the Braintree service may make; no customer data beyond `customers`.
    async def find_transaction(self, _id: str) -> None:
        return None

    async def customer_id_for_payment_method(self, _token: str) -> None:
        return None


@pytest.fixture
def braintree() -> FakeBraintree:
    return FakeBraintree(
        cust_1={"first_name": "Ada", "last_name": "Byron", "email": "ada@example.com"},
        cust_2={"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com"},
    )


@pytest.fixture
def h(braintree: FakeBraintree) -> Iterator[Harness]:
    yield from start_harness(braintree=braintree)


def run(h: Harness, make) -> Any:
    async def go():
        async with h.attio_client() as attio:
            return await make(attio)

    return asyncio.run(go())


def person(h: Harness, email: str, first: str, last: str, customer_id: str | None = None) -> str:
    values: dict[str, Any] = {
        "email_addresses": [email],
        "name": [{"first_name": first, "last_name": last, "full_name": f"{first} {last}"}],
    }
    if customer_id:
        values["braintree_customer_id"] = customer_id
    record = run(
        h,
        lambda a: a.assert_record("people", matching_attribute="email_addresses", values=values),
    )
    return record["id"]["record_id"]


def billing(h: Harness, obj: str, key: str, key_value: str, person_id: str, cid: str) -> str:
    values = {
        key: key_value,
        "braintree_customer_id": cid,
        "person": [{"target_object": "people", "target_record_id": person_id}],
    }
    record = run(h, lambda a: a.assert_record(obj, matching_attribute=key, values=values))
    return record["id"]["record_id"]


def ids(h: Harness, obj: str, attribute: str | None = None) -> tuple[str, str | None]:
    async def look(attio):
        object_id = (await attio.get_object(obj))["id"]["object_id"]
        if attribute is None:
            return object_id, None
        attributes = await attio.list_attributes(obj)
        return object_id, next(
            a["id"]["attribute_id"] for a in attributes if a["api_slug"] == attribute
        )

    return run(h, look)


def deliver(h: Harness, event: dict[str, Any], key: str) -> dict:
    body = json.dumps({"webhook_id": "wh", "events": [event]}).encode()
    headers = {**attio_signed_headers(body), "Idempotency-Key": key}
    response = h.client.post("/webhooks/attio", content=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def human(event_type: str, object_id: str, record_id: str, **extra: Any) -> dict[str, Any]:
    event_ids = {"workspace_id": "ws", "object_id": object_id, "record_id": record_id}
    attribute_id = extra.pop("attribute_id", None)
    if attribute_id:
        event_ids["attribute_id"] = attribute_id
    return {
        "event_type": event_type,
        "id": event_ids,
        "actor": {"type": "workspace-member", "id": "member-1"},
        **extra,
    }


def merged_event(people_id: str, survivor: str, duplicate: str) -> dict[str, Any]:
    """Attio's `record.merged`: the survivor in `id`, the merged-away record beside it."""
    return human(
        "record.merged",
        people_id,
        survivor,
        duplicate_object_id=people_id,
        duplicate_record_id=duplicate,
    )


def rename(h: Harness, record_id: str, first: str, last: str) -> None:
    name = [{"first_name": first, "last_name": last, "full_name": f"{first} {last}"}]
    run(h, lambda a: a.update_record("people", record_id, {"name": name}))


# -- pure transforms -------------------------------------------------------------------------


def test_customer_changes_only_fields_attio_has_and_braintree_differs() -> None:
    customer = SimpleNamespace(first_name="Ada", last_name="Byron", email=None, phone="+1")
    wanted = {"first_name": "Ada", "last_name": "Lovelace", "email": "a@x", "phone": None}
    assert customer_changes(wanted, customer) == {"last_name": "Lovelace", "email": "a@x"}


def test_customer_fields_from_a_person_record() -> None:
    record = {
        "values": {
            "name": [{"first_name": "Ada", "last_name": "L", "active_until": None}],
            "email_addresses": [
                {"attribute_type": "email-address", "email_address": "a@x", "active_until": None}
            ],
        }
    }
    assert customer_fields(record, "Acme") == {
        "first_name": "Ada",
        "last_name": "L",
        "email": "a@x",
        "phone": None,
        "company": "Acme",
    }


# -- CRM edits reach Braintree ---------------------------------------------------------------


def test_name_change_reaches_the_braintree_customer_once(
    h: Harness, braintree: FakeBraintree
) -> None:
    ada = person(h, "ada@example.com", "Ada", "Byron", "cust_1")
    people_id, name_id = ids(h, "people", "name")
    rename(h, ada, "Ada", "Lovelace")
    event = human("record.updated", people_id, ada, attribute_id=name_id)
    deliver(h, event, "k1")
    deliver(h, event, "k1")  # a redelivery
    assert braintree.updates == [("cust_1", {"last_name": "Lovelace"})]


def test_unchanged_update_makes_no_braintree_call(h: Harness, braintree: FakeBraintree) -> None:
    ada = person(h, "ada@example.com", "Ada", "Byron", "cust_1")
    people_id, name_id = ids(h, "people", "name")
    deliver(h, human("record.updated", people_id, ada, attribute_id=name_id), "k1")
    assert braintree.updates == []


def test_irrelevant_attribute_costs_no_braintree_lookup(
    h: Harness, braintree: FakeBraintree
) -> None:
    ada = person(h, "ada@example.com", "Ada", "Lovelace", "cust_1")
    people_id, job_id = ids(h, "people", "job_title")
    deliver(h, human("record.updated", people_id, ada, attribute_id=job_id), "k1")
    assert braintree.finds == 0


def test_people_without_a_customer_id_are_left_alone(h: Harness, braintree: FakeBraintree) -> None:
    someone = person(h, "x@example.com", "X", "Y")
    people_id, _ = ids(h, "people")
    deliver(h, human("record.created", people_id, someone), "k1")
    assert braintree.finds == 0 and braintree.updates == []


# -- merges ----------------------------------------------------------------------------------


def billing_people(h: Harness) -> dict[str, str]:
    rows = h.records("subscriptions") + h.records("payments")
    return {
        row["values"].get("braintree_subscription_id")
        or row["values"]["braintree_transaction_id"]: row["values"]["person"]
        for row in rows
    }


def person_customer(h: Harness, record_id: str) -> str | None:
    row = next(r for r in h.records("people") if r["record_id"] == record_id)
    return row["values"]["braintree_customer_id"]


def test_merge_older_shape_repoints_billing_and_moves_the_customer_id(h: Harness) -> None:
    original = person(h, "ada@example.com", "Ada", "Lovelace")
    duplicate = person(h, "ada@work.example", "Ada", "L", "cust_1")
    billing(h, "subscriptions", "braintree_subscription_id", "sub_1", duplicate, "cust_1")
    billing(h, "payments", "braintree_transaction_id", "txn_1", duplicate, "cust_1")
    # Attio's older merge: the duplicate's values are copied into the original, then the
    # duplicate is deleted (which drops the references to it).
    run(h, lambda a: a.delete_record("people", duplicate))
    run(h, lambda a: a.update_record("people", original, {"braintree_customer_id": "cust_1"}))
    people_id, _ = ids(h, "people")
    event = merged_event(people_id, original, duplicate)
    deliver(h, event, "m1")
    assert billing_people(h) == {"sub_1": original, "txn_1": original}
    assert person_customer(h, original) == "cust_1"
    writes = h.sandbox.requests.count(kind="write")
    deliver(h, event, "m1")  # redelivered: nothing left to change
    assert h.sandbox.requests.count(kind="write") == writes


def test_merge_newer_shape_two_events_onto_a_new_record(h: Harness) -> None:
    first = person(h, "ada@example.com", "Ada", "Lovelace", "cust_1")
    second = person(h, "ada@work.example", "Ada", "L")
    billing(h, "subscriptions", "braintree_subscription_id", "sub_1", first, "cust_1")
    billing(h, "payments", "braintree_transaction_id", "txn_1", second, "cust_1")
    merged = person(h, "ada@new.example", "Ada", "Lovelace")
    people_id, _ = ids(h, "people")
    for n, duplicate in enumerate((first, second)):
        event = merged_event(people_id, merged, duplicate)
        deliver(h, event, f"m{n}")
    assert billing_people(h) == {"sub_1": merged, "txn_1": merged}
    assert person_customer(h, merged) == "cust_1"
    assert person_customer(h, first) is None  # the unique id moved, not copied


def test_merge_of_two_paying_people_is_flagged_not_guessed(h: Harness) -> None:
    a = person(h, "ada@example.com", "Ada", "Lovelace", "cust_1")
    b = person(h, "grace@example.com", "Grace", "Hopper", "cust_2")
    people_id, _ = ids(h, "people")
    deliver(h, human("record.merged", people_id, a, duplicate_record_id=b), "m1")
    (entry,) = h.records("bridge_events")
    assert entry["values"]["status"] == "needs_attention"
    assert "two Braintree customers" in entry["values"]["error"]


def attio_merge(h: Harness, primary: str, other: str) -> tuple[str, list[dict[str, Any]]]:
    """Merge as Attio does now: a new record, both originals unreadable, two events."""
    merged = h.sandbox.store.merge_records("people", primary, other, mode="new-record")
    people_id, _ = ids(h, "people")
    events = [merged_event(people_id, merged.id, original) for original in (primary, other)]
    return merged.id, events


def test_new_record_merge_of_two_paying_people_is_flagged_with_both_customer_ids(
    h: Harness,
) -> None:
    a = person(h, "ada@example.com", "Ada", "Lovelace", "cust_1")
    b = person(h, "grace@example.com", "Grace", "Hopper", "cust_2")
    billing(h, "subscriptions", "braintree_subscription_id", "sub_1", a, "cust_1")
    billing(h, "payments", "braintree_transaction_id", "txn_2", b, "cust_2")
    merged, events = attio_merge(h, a, b)
    for n, event in enumerate(events):
        deliver(h, event, f"m{n}")
    assert billing_people(h) == {"sub_1": merged, "txn_2": merged}
    assert person_customer(h, merged) == "cust_1"  # the primary's value, as Attio keeps it
    flagged = [r["values"] for r in h.records("bridge_events")]
    assert flagged and {entry["status"] for entry in flagged} == {"needs_attention"}
    assert all("cust_1" in entry["error"] and "cust_2" in entry["error"] for entry in flagged)


def test_merge_in_progress_is_retried_never_dead(h: Harness) -> None:
    a = person(h, "ada@example.com", "Ada", "Lovelace", "cust_1")
    b = person(h, "ada@work.example", "Ada", "L")
    billing(h, "payments", "braintree_transaction_id", "txn_1", b, "cust_1")
    h.sandbox.store.merge_in_progress_seconds = 3600.0
    merged, events = attio_merge(h, a, b)
    deliver(h, events[1], "m1")
    (entry,) = h.records("bridge_events")
    assert entry["values"]["status"] == "failed"  # transient, on the retry schedule
    assert entry["values"]["error"].startswith("AttioMergeInProgressError")

    h.sandbox.store.merging_until.clear()  # Attio has finished the merge
    result = h.client.post(
        f"/admin/events/{entry['values']['event_key']}/replay", headers=ADMIN_HEADERS
    )
    assert result.json()["status"] == "replayed", result.text
    assert billing_people(h) == {"txn_1": merged}


# -- deletions and edits of records owned elsewhere ------------------------------------------


def test_deleted_paying_person_leaves_a_needs_attention_record(
    h: Harness, braintree: FakeBraintree
) -> None:
    ada = person(h, "ada@example.com", "Ada", "Lovelace", "cust_1")
    billing(h, "subscriptions", "braintree_subscription_id", "sub_1", ada, "cust_1")
    people_id, _ = ids(h, "people")
    deliver(h, human("record.deleted", people_id, ada), "d1")
    (entry,) = h.records("bridge_events")
    assert entry["values"]["status"] == "needs_attention"
    assert "nothing was deleted in Braintree" in entry["values"]["error"]
    assert braintree.updates == []


def test_replays_of_one_deletion_with_new_idempotency_keys_leave_one_record(
    h: Harness, braintree: FakeBraintree
) -> None:
    ada = person(h, "ada@example.com", "Ada", "Lovelace", "cust_1")
    billing(h, "subscriptions", "braintree_subscription_id", "sub_1", ada, "cust_1")
    people_id, _ = ids(h, "people")
    for key in ("d1", "d2", "d3", "d4", "d5"):  # the header is not signed: anyone can change it
        deliver(h, human("record.deleted", people_id, ada), key)
    (entry,) = h.records("bridge_events")
    assert entry["values"]["status"] == "needs_attention"


def test_subscription_losing_its_person_is_flagged(h: Harness) -> None:
    ada = person(h, "ada@example.com", "Ada", "Lovelace", "cust_1")
    sub = billing(h, "subscriptions", "braintree_subscription_id", "sub_1", ada, "cust_1")
    run(h, lambda a: a.update_record("subscriptions", sub, {"person": []}))
    subscriptions_id, person_attribute = ids(h, "subscriptions", "person")
    deliver(h, human("record.updated", subscriptions_id, sub, attribute_id=person_attribute), "u1")
    (entry,) = h.records("bridge_events")
    assert entry["values"]["status"] == "needs_attention"


def test_human_edit_of_a_service_writes_nothing(h: Harness) -> None:
    service = run(
        h,
        lambda a: a.assert_record(
            "services", matching_attribute="zoho_item_id", values={"zoho_item_id": "1"}
        ),
    )["id"]["record_id"]
    services_id, name_id = ids(h, "services", "name")
    h.sandbox.requests.clear()
    deliver(h, human("record.updated", services_id, service, attribute_id=name_id), "s1")
    assert h.sandbox.requests.count(kind="write") == 0


# -- without a `payments` object -------------------------------------------------------------


@pytest.fixture
def folded(braintree: FakeBraintree) -> Iterator[Harness]:
    yield from start_harness({"ATTIO_PAYMENTS_OBJECT": "false"}, max_objects=5, braintree=braintree)


def test_merge_without_a_payments_object_repoints_subscriptions(folded: Harness) -> None:
    original = person(folded, "ada@example.com", "Ada", "Lovelace")
    duplicate = person(folded, "ada@work.example", "Ada", "L", "cust_1")
    billing(folded, "subscriptions", "braintree_subscription_id", "sub_1", duplicate, "cust_1")
    people_id, _ = ids(folded, "people")
    event = merged_event(people_id, original, duplicate)
    deliver(folded, event, "m1")
    (subscription,) = folded.records("subscriptions")
    assert subscription["values"]["person"] == original
    assert folded.records("bridge_events") == []  # no read of a `payments` object failed


def test_deleted_paying_person_without_a_payments_object(folded: Harness) -> None:
    ada = person(folded, "ada@example.com", "Ada", "Lovelace", "cust_1")
    billing(folded, "subscriptions", "braintree_subscription_id", "sub_1", ada, "cust_1")
    people_id, _ = ids(folded, "people")
    deliver(folded, human("record.deleted", people_id, ada), "d1")
    (entry,) = folded.records("bridge_events")
    assert entry["values"]["status"] == "needs_attention"
    assert "subscriptions:cust_1" in entry["values"]["error"]
