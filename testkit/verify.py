"""Checking what Attio holds after a run against what the delivered events require.

- every entity has exactly one record, found by its unique key, and no record lacks its key;
- every attribute an event carries holds the value of the newest event carrying it;
- every event answered as "recorded" is in `bridge_events`, and nothing is left failed or dead.

Values come from the sandbox's plain listing (`/_sandbox/objects/<object>/records`): selects
as titles, currencies and numbers as numbers, timestamps as Attio's nanosecond strings and
references as record ids, which are mapped back to the target's unique key.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from testkit.world import Delivery, Expected

OBJECTS = ("people", "services", "subscriptions", "payments")
UNIQUE_KEYS = {
    "people": "email_addresses",
    "services": "zoho_item_id",
    "subscriptions": "braintree_subscription_id",
    "payments": "braintree_transaction_id",
    "bridge_events": "event_key",
}
REFERENCES = {"person": "people", "subscription": "subscriptions", "service": "services"}
MAX_LISTED = 15  # problems of one kind listed in full; the rest are counted

_TIMESTAMP = re.compile(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$")

Records = Mapping[str, Sequence[dict[str, Any]]]


def instant(value: Any) -> datetime | None:
    """Attio's `2024-05-02T10:15:00.000000000Z` (nanoseconds) as an aware datetime."""
    if not isinstance(value, str) or not (match := _TIMESTAMP.match(value)):
        return None
    base, fraction, zone = match.groups()
    fraction = (fraction or ".0")[:7]  # Python keeps microseconds
    moment = datetime.fromisoformat(base + fraction + ("+00:00" if zone in (None, "Z") else zone))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def key_of(obj: str, record: dict[str, Any]) -> str | None:
    value = record["values"].get(UNIQUE_KEYS[obj])
    if isinstance(value, list):
        value = value[0] if value else None
    return value or None


@dataclass
class Snapshot:
    records: Records

    def __post_init__(self) -> None:
        # Record id -> unique key, to compare references by what they point at.
        self.keys_by_id = {
            row["record_id"]: key_of(obj, row) for obj in OBJECTS for row in self.records[obj]
        }

    def grouped(self, obj: str) -> dict[str | None, list[dict[str, Any]]]:
        groups: dict[str | None, list[dict[str, Any]]] = {}
        for row in self.records[obj]:
            groups.setdefault(key_of(obj, row), []).append(row)
        return groups

    def same(self, slug: str, expected: Any, actual: Any) -> bool:
        if isinstance(actual, list):  # multiselect (emails): the expected value is one of them
            return expected in actual if expected is not None else not actual
        if expected is None:
            return actual in (None, "")
        if actual is None:
            return False
        if slug in REFERENCES:
            return self.keys_by_id.get(actual) == expected
        if isinstance(expected, Decimal):
            return _decimal(actual) == expected
        if isinstance(expected, datetime):
            return instant(actual) == expected
        if isinstance(expected, int):
            return _decimal(actual) == expected
        return actual == expected


class Problems:
    """Problems by kind (each listed up to MAX_LISTED times), counted by group within a kind."""

    def __init__(self) -> None:
        self.by_kind: dict[str, list[str]] = {}
        self.groups: dict[str, Counter[str]] = {}

    def add(self, kind: str, detail: str, group: str | None = None) -> None:
        self.by_kind.setdefault(kind, []).append(detail)
        if group is not None:
            self.groups.setdefault(kind, Counter())[group] += 1

    def merge(self, other: Problems) -> None:
        for kind, details in other.by_kind.items():
            self.by_kind.setdefault(kind, []).extend(details)
        for kind, counts in other.groups.items():
            self.groups.setdefault(kind, Counter()).update(counts)

    def lines(self, limit: int | None = MAX_LISTED) -> list[str]:
        """A summary per kind and its first `limit` details (all of them with None)."""
        lines = []
        for kind, details in self.by_kind.items():
            groups = self.groups.get(kind)
            shown = (
                f" ({', '.join(f'{g}: {n}' for g, n in groups.most_common())})" if groups else ""
            )
            lines.append(f"{kind}: {len(details)}{shown}")
            shown_details = details if limit is None else details[:limit]
            lines += [f"  - {detail}" for detail in shown_details]
            if len(shown_details) < len(details):
                lines.append(f"  ... and {len(details) - len(shown_details)} more")
        return lines

    def __bool__(self) -> bool:
        return bool(self.by_kind)


def check_records(expected: Expected, snapshot: Snapshot, crm_people: Iterable[str]) -> Problems:
    problems = Problems()
    for obj in OBJECTS:
        groups = snapshot.grouped(obj)
        if keyless := groups.pop(None, []):
            problems.add("record without its unique key", f"{obj}: {len(keyless)} record(s)")
        for key, rows in groups.items():
            if len(rows) > 1:
                problems.add("duplicate record", f"{obj} {key}: {len(rows)} records")
        wanted = expected.keys(obj) | (set(crm_people) if obj == "people" else set())
        for key in sorted(wanted - groups.keys()):
            problems.add("missing record", f"{obj} {key}")
        for key in sorted(groups.keys() - wanted):
            problems.add("unexpected record", f"{obj} {key}")
        for key, record in expected.records.get(obj, {}).items():
            if rows := groups.get(key):
                _check_values(problems, snapshot, obj, key, record.values, rows[0]["values"])
    _check_service_links(problems, snapshot)
    return problems


def _check_values(
    problems: Problems,
    snapshot: Snapshot,
    obj: str,
    key: str,
    expected: Mapping[str, Any],
    actual: Mapping[str, Any],
) -> None:
    for slug, value in expected.items():
        held = actual.get(slug)
        if not snapshot.same(slug, value, held):
            shown = snapshot.keys_by_id.get(held, held) if slug in REFERENCES else held
            problems.add(
                "not the newest value",
                f"{obj} {key}: {slug} = {shown!r}, expected {value!s}",
                group=f"{obj}.{slug}",
            )


def _check_service_links(problems: Problems, snapshot: Snapshot) -> None:
    """A subscription's service, when linked, is the Zoho item whose SKU is its plan id.

    Whether it is linked depends on timing (the item may arrive after the subscription's last
    notification), so only a wrong link is a problem.
    """
    skus = {row["record_id"]: row["values"].get("sku") for row in snapshot.records["services"]}
    for row in snapshot.records["subscriptions"]:
        service = row["values"].get("service")
        if service and skus.get(service) != row["values"].get("plan_id"):
            problems.add(
                "wrong service link",
                f"subscription {key_of('subscriptions', row)}: plan "
                f"{row['values'].get('plan_id')} linked to SKU {skus.get(service)}",
            )


def linked_services(snapshot: Snapshot) -> int:
    return sum(1 for row in snapshot.records["subscriptions"] if row["values"].get("service"))


def check_ledger(
    ledger: Sequence[dict[str, Any]],
    deliveries: Sequence[Delivery],
    answers: Mapping[int, dict[str, Any]],
) -> Problems:
    """Every event is processed or in the ledger; nothing is left failed, none is dead."""
    problems = Problems()
    rows = {row["values"].get("event_key"): row["values"] for row in ledger}
    for key, values in rows.items():
        if values.get("status") in ("failed", "dead"):
            problems.add(
                f"ledger record left {values.get('status')}",
                f"{key} after {values.get('attempts')} attempt(s): {values.get('error')}",
            )
    for index, answer in answers.items():
        delivery = deliveries[index]
        counted = sum(int(answer.get(o, 0)) for o in ("processed", "ignored", "recorded"))
        if counted != answer.get("events"):
            problems.add("answer does not add up", f"{delivery.label}: {answer}")
        if delivery.event_keys and answer.get("events") != len(delivery.event_keys):
            problems.add("events lost in parsing", f"{delivery.label}: {answer}")
        recorded = int(answer.get("recorded", 0))
        found = sum(1 for key in delivery.event_keys if key in rows)
        if recorded and delivery.event_keys and found < recorded:
            problems.add("recorded but not in bridge_events", f"{delivery.label}: {answer}")
    return problems


def ledger_counts(ledger: Sequence[dict[str, Any]]) -> Counter[str]:
    return Counter(str(row["values"].get("status")) for row in ledger)
