"""Reading Attio's value shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.clients.attio.values import amount, parse_timestamp


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
