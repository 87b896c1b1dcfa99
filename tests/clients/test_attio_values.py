"""Reading Attio's value shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.clients.attio.values import (
    amount,
    compact,
    current_values,
    first_value,
    parse_timestamp,
    read_timestamp,
    record_id,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2023-01-01T15:00:00.000000000Z", datetime(2023, 1, 1, 15, tzinfo=UTC)),
        ("2023-01-01T15:00:00.123456789Z", datetime(2023, 1, 1, 15, 0, 0, 123456, tzinfo=UTC)),
        ("2023-01-01T15:00:00Z", datetime(2023, 1, 1, 15, tzinfo=UTC)),
        ("2023-01-01T15:00:00.5+00:00", datetime(2023, 1, 1, 15, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_parse_timestamp_keeps_the_zone(raw: str, expected: datetime) -> None:
    parsed = parse_timestamp(raw)
    assert parsed == expected
    assert parsed.tzinfo is not None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("  ", None),
        (250, Decimal("250.0000")),
        ("12.34567", Decimal("12.3457")),  # Attio keeps four places
        (-99_999_999_999, Decimal("-99999999999.0000")),
    ],
)
def test_amount_at_attio_precision(value: object, expected: Decimal | None) -> None:
    assert amount(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        1e29,
        "1e29",
        10**11,
        pytest.param(10**4299, id="4300-digit-integer"),
        float("nan"),
        float("inf"),
        "NaN",
        "-Infinity",
        "sNaN",
        "1,5",
        True,
        [1],
    ],
)
def test_amount_refuses_what_attio_cannot_hold(value: object) -> None:
    with pytest.raises(ValueError):
        amount(value)


_ACTOR = {"type": "api-token", "id": "tok"}


def _value(attribute_type: str, **fields: object) -> dict[str, object]:
    return {
        "active_from": "2026-01-01T00:00:00.000000000Z",
        "active_until": None,
        "created_by_actor": _ACTOR,
        "attribute_type": attribute_type,
        **fields,
    }


_RECORD = {
    "id": {"workspace_id": "ws", "object_id": "obj", "record_id": "rec-1"},
    "created_at": "2026-01-01T00:00:00.000000000Z",
    "web_url": "https://app.attio.com/x",
    "values": {
        "text": [_value("text", value="sub_1")],
        "select": [_value("select", option={"id": {"option_id": "o1"}, "title": "Active"})],
        "status": [_value("status", status={"id": {"status_id": "s1"}, "title": "Open"})],
        "currency": [_value("currency", currency_value=12.5, currency_code="USD")],
        "number": [_value("number", value=3)],
        "reference": [_value("record-reference", target_object="people", target_record_id="p1")],
        "emails": [
            _value("email-address", email_address="a@example.com"),
            _value("email-address", email_address="b@example.com"),
        ],
        "name": [_value("personal-name", first_name="Ada", last_name="L", full_name="Ada L")],
        "phone": [_value("phone-number", original_phone_number="+15550100")],
        "replaced": [
            {**_value("text", value="old"), "active_until": "2026-02-01T00:00:00.000000000Z"},
            _value("text", value="new"),
        ],
        "history_only": [
            {**_value("text", value="gone"), "active_until": "2026-02-01T00:00:00.000000000Z"}
        ],
        "empty": [],
    },
}


@pytest.mark.parametrize(
    ("attribute", "expected"),
    [
        ("text", ["sub_1"]),
        ("select", ["Active"]),
        ("status", ["Open"]),
        ("currency", [Decimal("12.5")]),
        ("number", [3]),
        ("reference", ["p1"]),
        ("emails", ["a@example.com", "b@example.com"]),
        ("name", ["Ada L"]),
        ("phone", ["+15550100"]),
        ("replaced", ["new"]),
        ("history_only", []),
        ("empty", []),
        ("absent", []),
    ],
)
def test_a_compact_record_reads_as_the_full_one(attribute: str, expected: list[object]) -> None:
    held = compact(_RECORD)
    assert current_values(_RECORD, attribute) == expected
    assert current_values(held, attribute) == expected
    assert first_value(held, attribute) == first_value(_RECORD, attribute)
    assert current_values(compact(held), attribute) == expected  # compacting again is a no-op


def test_compact_keeps_the_id_and_only_the_attributes_asked_for() -> None:
    held = compact(_RECORD, {"text", "reference", "history_only"})
    assert record_id(held) == "rec-1"
    assert held == {
        "id": {"record_id": "rec-1"},
        "values": {"text": ("sub_1",), "reference": ("p1",)},
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-12-07T10:00:00Z", datetime(2026, 12, 7, 10, tzinfo=UTC)),
        ("2026-12-07T10:00:00", datetime(2026, 12, 7, 10, tzinfo=UTC)),  # naive: UTC
        ("2026-12-07T10:00:00.123456789+00:00", datetime(2026, 12, 7, 10, 0, 0, 123456, UTC)),
        ("not a time", None),  # a bookkeeping record edited by hand
        ("", None),
        (None, None),
        (1700000000, None),
    ],
)
def test_read_timestamp_takes_what_the_bridge_wrote_and_nothing_else(
    raw: object, expected: datetime | None
) -> None:
    assert read_timestamp(raw) == expected
