"""Reading Attio's value shapes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.clients.attio.values import parse_timestamp


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
