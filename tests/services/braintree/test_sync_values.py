"""The sync's pure comparisons, table-style: what a run would write over a record read back.

Wanted values are in Attio's input shapes (as the transforms build them); records are in its
output shapes (value objects), so each row checks one shape pairing the sync relies on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.clients.attio.values import Record, Values, changed_slugs, same_value
from app.schema.definitions import DISPUTE_STAMP, PAYMENT_KEY
from app.services.braintree.ordering import STAMPS
from app.services.braintree.sync.plans import SYNC_KIND, state_part
from app.services.braintree.transforms import PAYMENT_FACTS

T1 = datetime(2024, 5, 2, 10, 15, tzinfo=UTC)
T2 = datetime(2024, 6, 2, 10, 15, tzinfo=UTC)
T1_STORED = "2024-05-02T10:15:00.000000000Z"  # Attio's nanosecond form
T2_STORED = "2024-06-02T10:15:00.000000000Z"


def value(kind: str, **fields: Any) -> dict[str, Any]:
    return {"attribute_type": kind, "active_from": T1_STORED, "active_until": None, **fields}


def text(v: Any) -> dict[str, Any]:
    return value("text", value=v)


def record(**values: list[dict[str, Any]]) -> Record:
    return {"id": {"record_id": "rec-1"}, "values": values}


PERSON = {"target_object": "people", "target_record_id": "person-1"}


@pytest.mark.parametrize(
    ("wanted", "stored", "same"),
    [
        # text and option titles
        ("settled", [text("settled")], True),
        ("settled", [text("voided")], False),
        ("Active", [value("select", option={"title": "Active"})], True),
        ("Active", [value("status", status={"title": "Canceled"})], False),
        # amounts: a decimal string against Attio's currency or number value
        ("49.00", [value("currency", currency_value=49)], True),
        ("49.00", [value("currency", currency_value=49.0)], True),
        ("49.50", [value("currency", currency_value=49.5)], True),
        ("49.00", [value("currency", currency_value=48.99)], False),
        ("not a number", [value("currency", currency_value=49)], False),
        # integers and floats compare by number
        (3, [value("number", value=3.0)], True),
        (3, [value("number", value=4)], False),
        # booleans by identity: a truthy number is not a checkbox's True
        (True, [value("checkbox", value=True)], True),
        (False, [value("checkbox", value=True)], False),
        (1, [value("checkbox", value=True)], False),
        # timestamps by instant, whatever the precision or zone notation
        ("2024-05-02T10:15:00+00:00", [value("timestamp", value=T1_STORED)], True),
        ("2024-05-02T12:15:00+02:00", [value("timestamp", value=T1_STORED)], True),
        ("2024-05-02T10:15:01+00:00", [value("timestamp", value=T1_STORED)], False),
        # dates by their text
        ("2024-05-02", [value("date", value="2024-05-02")], True),
        ("2024-05-03", [value("date", value="2024-05-02")], False),
        # references by target record
        ([PERSON], [value("record-reference", target_record_id="person-1")], True),
        ([PERSON], [value("record-reference", target_record_id="person-2")], False),
        ([PERSON], [], False),
        # clearing: the same only when nothing is held
        ([], [], True),
        (None, [], True),
        ([], [value("record-reference", target_record_id="person-1")], False),
        (None, [text("x")], False),
        # a name by its full name
        (
            [{"first_name": "Ada", "last_name": "Lovelace", "full_name": "Ada Lovelace"}],
            [value("personal-name", full_name="Ada Lovelace")],
            True,
        ),
        (
            [{"first_name": "Ada", "last_name": "King", "full_name": "Ada King"}],
            [value("personal-name", full_name="Ada Lovelace")],
            False,
        ),
        # email addresses: each wanted one held, in any case, others may be there too
        (
            ["Ada@Example.com"],
            [
                value("email-address", email_address="ada@example.com"),
                value("email-address", email_address="ada@work.example"),
            ],
            True,
        ),
        (["new@example.com"], [value("email-address", email_address="ada@example.com")], False),
        # nothing held yet
        ("settled", [], False),
        (0, [], False),
    ],
)
def test_same_value(wanted: Any, stored: list[dict[str, Any]], same: bool) -> None:
    assert same_value(wanted, record(attr=stored), "attr") is same


def test_same_value_ignores_values_no_longer_active() -> None:
    old = {**text("settled"), "active_until": T2_STORED}
    assert not same_value("settled", record(attr=[old]), "attr")
    assert same_value(None, record(attr=[old]), "attr")


@pytest.mark.parametrize(
    ("wanted", "same"), [("settled", False), (None, True), ([], True), ([PERSON], False)]
)
def test_same_value_without_a_record(wanted: Any, same: bool) -> None:
    assert same_value(wanted, None, "attr") is same


SETTLED = record(
    braintree_transaction_id=[text("txn_1")],
    status=[text("settled")],
    amount=[value("currency", currency_value=49)],
    last_event_kind=[text("transaction_settled")],
    last_event_at=[value("timestamp", value=T1_STORED)],
)


@pytest.mark.parametrize(
    ("values", "existing", "changed"),
    [
        # in step: nothing to write
        ({"status": "settled", "amount": "49.00"}, SETTLED, ()),
        # stamps alone never make a write
        ({"status": "settled", "last_event_kind": SYNC_KIND}, SETTLED, ()),
        ({"last_event_at": "2024-06-02T10:15:00+00:00"}, SETTLED, ()),
        ({DISPUTE_STAMP: "2024-06-02T10:15:00+00:00"}, SETTLED, ()),
        # what differs, in the order given
        ({"status": "voided", "amount": "48.00"}, SETTLED, ("status", "amount")),
        ({"amount": "48.00", "status": "voided"}, SETTLED, ("amount", "status")),
        ({"status": "settled", "disbursement_date": "2024-05-03"}, SETTLED, ("disbursement_date",)),
        # clearing what is set is a change; clearing what is empty is not
        ({"settled_at": []}, SETTLED, ()),
        ({"status": []}, SETTLED, ("status",)),
        # no record yet: every non-empty value is a change
        (
            {"braintree_transaction_id": "txn_1", "status": "settled", "settled_at": None},
            None,
            ("braintree_transaction_id", "status"),
        ),
        ({}, None, ()),
    ],
)
def test_changed_slugs(values: Values, existing: Record | None, changed: tuple[str, ...]) -> None:
    assert changed_slugs(values, existing, ignore=STAMPS) == changed


def test_changed_slugs_with_other_ignores() -> None:
    values = {"status": "voided", "last_event_kind": "sync"}
    assert changed_slugs(values, SETTLED, ignore=()) == ("status", "last_event_kind")
    assert changed_slugs(values, SETTLED, ignore={"status"} | STAMPS) == ()


def payment(status: str, stamp: str | None, **values: list[dict[str, Any]]) -> Record:
    """A payment as read back, stamped (or not) by `last_event_at`."""
    stamped = {"last_event_at": [value("timestamp", value=stamp)]} if stamp else {}
    return record(
        braintree_transaction_id=[text("txn_1")], status=[text(status)], **stamped, **values
    )


STATE = {"braintree_transaction_id": "txn_1", "status": "settled", "amount": "49.00"}


@pytest.mark.parametrize(
    ("existing", "moment", "expected"),
    [
        # no record: the whole state, stamped with the run's kind and the object's clock
        (
            None,
            T2,
            {**STATE, "last_event_kind": SYNC_KIND, "last_event_at": T2.isoformat()},
        ),
        # an older record that differs: the state, stamped
        (
            payment("submitted_for_settlement", T1_STORED),
            T2,
            {**STATE, "last_event_kind": SYNC_KIND, "last_event_at": T2.isoformat()},
        ),
        # the same instant is not stale (a redelivery of the same state may rewrite it)
        (
            payment("submitted_for_settlement", T1_STORED),
            T1,
            {**STATE, "last_event_kind": SYNC_KIND, "last_event_at": T1.isoformat()},
        ),
        # unstamped record (written before stamps existed): newer by definition
        (
            payment("submitted_for_settlement", None),
            T1,
            {**STATE, "last_event_kind": SYNC_KIND, "last_event_at": T1.isoformat()},
        ),
        # in step already: nothing, however new the snapshot
        (payment("settled", T1_STORED, amount=[value("currency", currency_value=49)]), T2, {}),
        # newer state in Attio (a webhook's): only the facts it lacks, never the state
        (payment("voided", T2_STORED), T1, {"amount": "49.00"}),
        (payment("voided", T2_STORED, amount=[value("currency", currency_value=48)]), T1, {}),
        # a snapshot without a clock cannot prove it is newer than stamped state
        (payment("voided", T1_STORED), None, {"amount": "49.00"}),
        # ... but over an unstamped record it writes, without a time stamp
        (payment("voided", None), None, {**STATE, "last_event_kind": SYNC_KIND}),
    ],
)
def test_state_part(existing: Record | None, moment: datetime | None, expected: Values) -> None:
    assert state_part(STATE, existing, moment, key=PAYMENT_KEY, facts=PAYMENT_FACTS) == expected


DISPUTE = {"dispute_id": "dp_1", "dispute_status": "won"}


def disputed(status: str, stamp: str | None) -> Record:
    """A payment with a dispute, stamped (or not) by the dispute's own clock."""
    stamped = {DISPUTE_STAMP: [value("timestamp", value=stamp)]} if stamp else {}
    return record(
        dispute_id=[text("dp_1")],
        dispute_status=[text(status)],
        # the payment's own stamp is newer: it does not rule the dispute's state
        last_event_at=[value("timestamp", value=T2_STORED)],
        **stamped,
    )


@pytest.mark.parametrize(
    ("existing", "moment", "expected"),
    [
        (None, T1, {**DISPUTE, DISPUTE_STAMP: T1.isoformat()}),
        (disputed("open", T1_STORED), T2, {**DISPUTE, DISPUTE_STAMP: T2.isoformat()}),
        (disputed("open", None), T1, {**DISPUTE, DISPUTE_STAMP: T1.isoformat()}),
        (disputed("won", T1_STORED), T2, {}),
        # the dispute's stamp is newer: its state stays (dispute ids are not payment facts)
        (disputed("lost", T2_STORED), T1, {}),
        # no clock, no stamp written; the state goes over an unstamped dispute
        (disputed("open", None), None, DISPUTE),
    ],
)
def test_state_part_on_another_stamp(
    existing: Record | None, moment: datetime | None, expected: Values
) -> None:
    part = state_part(
        DISPUTE, existing, moment, key=PAYMENT_KEY, facts=PAYMENT_FACTS, stamp=DISPUTE_STAMP
    )
    assert part == expected
