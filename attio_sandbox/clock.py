"""Attio's timestamp and date formats.

Attio writes timestamps in UTC with nanosecond precision (`2023-01-01T15:00:00.000000000Z`).
Canonical strings of that fixed width sort chronologically, so the sandbox stores, compares and
sorts timestamps as those strings.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_ISO = re.compile(
    r"^(?P<year>\d{4})"
    r"(?:-(?P<month>\d{2})"
    r"(?:-(?P<day>\d{2})"
    r"(?:[T ](?P<hour>\d{2})"
    r"(?::(?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?)?)?)?)?)?"
    r"(?P<zone>Z|[+-]\d{2}(?::?\d{2})?)?$"
)


def _format(moment: datetime, nanos: int) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def now_timestamp() -> str:
    moment = datetime.now(UTC)
    return _format(moment, moment.microsecond * 1000)


def _parse(text: str) -> tuple[datetime, int]:
    """(UTC moment without sub-seconds, nanoseconds)."""
    match = _ISO.match(text.strip())
    if not match:
        raise ValueError(f"not an ISO 8601 date or timestamp: {text!r}")
    parts = match.groupdict()
    moment = datetime(
        int(parts["year"]),
        int(parts["month"] or 1),
        int(parts["day"] or 1),
        int(parts["hour"] or 0),
        int(parts["minute"] or 0),
        int(parts["second"] or 0),
        tzinfo=UTC,
    )
    nanos = int((parts["fraction"] or "0").ljust(9, "0"))
    zone = parts["zone"]
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        moment -= sign * offset
    return moment, nanos


def parse_timestamp(text: str) -> str:
    """Any ISO 8601 form, partial values expanded and UTC assumed, as Attio's canonical string."""
    moment, nanos = _parse(text)
    return _format(moment, nanos)


def parse_date(text: str) -> str:
    """`YYYY-MM-DD`; a time is dropped, after converting to UTC if a zone was given."""
    moment, _ = _parse(text)
    return moment.strftime("%Y-%m-%d")
