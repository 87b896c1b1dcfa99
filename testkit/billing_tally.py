"""What a billing day left in Attio, against what it should have left: a pure tally.

A charge is done when its three records (person, subscription, payment) are in Attio. One that
is not done yet is still owed, not lost, while its sender has not been answered 2xx (it will
redeliver) or the ledger holds its event as `failed` (retry-due will replay it) or `dead` (an
operator can replay it). Only what is missing with none of those is lost.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.events.sources.zoho_sync import item_id_from_key
from app.schema import PAYMENT_KEY, PERSON_KEY, SERVICE_KEY, SUBSCRIPTION_KEY

# Each object the billing day fills, and the attribute that identifies its records.
UNIQUE_KEYS = {
    "people": PERSON_KEY,
    "subscriptions": SUBSCRIPTION_KEY,
    "payments": PAYMENT_KEY,
    "services": SERVICE_KEY,
}
OWED_STATUSES = frozenset({"failed", "dead"})  # the ledger still holds the work


@dataclass(frozen=True)
class Charge:
    """One delivery and the unique keys of the records it must leave (slug -> key value)."""

    event_keys: tuple[str, ...]
    records: Mapping[str, str]


@dataclass
class Tally:
    unacknowledged: int = 0  # deliveries never answered 2xx
    missing: dict[str, int] = field(default_factory=dict)  # expected records absent, per object
    duplicated: dict[str, int] = field(default_factory=dict)  # records beyond one per key
    ledger: dict[str, int] = field(default_factory=dict)  # bridge_events records by status
    owed: int = 0  # incomplete, but a sender or the ledger still holds it
    lost: int = 0  # incomplete, acknowledged, and in no ledger record that asks for work

    @property
    def complete(self) -> bool:
        return not any(self.missing.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "unacknowledged": self.unacknowledged,
            "missing": self.missing,
            "duplicated": self.duplicated,
            "ledger": self.ledger,
            "owed": self.owed,
            "lost": self.lost,
        }


def key_values(row: Mapping[str, Any], attribute: str) -> list[str]:
    """A plain record's values of one attribute (`/_sandbox` lists multiselect ones)."""
    value = row.get("values", {}).get(attribute)
    items = value if isinstance(value, list) else [value]
    return [str(item) for item in items if item is not None]


def ledger_statuses(rows: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """event_key -> status of each `bridge_events` record (select values are under `values`)."""
    statuses = {}
    for row in rows:
        keys = key_values(row, "event_key")
        status = row.get("values", {}).get("status")
        if keys and isinstance(status, str):
            statuses[keys[0]] = status
    return statuses


def tally(
    charges: Sequence[Charge],
    acknowledged: Collection[int],
    services: Collection[str],
    records: Mapping[str, Sequence[Mapping[str, Any]]],
    ledger_rows: Sequence[Mapping[str, Any]],
) -> Tally:
    """Compare Attio's records (`/_sandbox` plain rows per object) with the charges and the
    Zoho item ids the day should have written; `acknowledged` holds charge indexes."""
    present: dict[str, Counter[str]] = {}
    for slug, attribute in UNIQUE_KEYS.items():
        present[slug] = Counter(
            k for row in records.get(slug, ()) for k in key_values(row, attribute)
        )
    statuses = ledger_statuses(ledger_rows)
    owed_keys = {key for key, status in statuses.items() if status in OWED_STATUSES}
    owed_items = {item_id_from_key(key) for key in owed_keys} - {None}

    result = Tally(
        unacknowledged=len(charges) - len(set(acknowledged) & set(range(len(charges)))),
        ledger=dict(sorted(Counter(statuses.values()).items())),
    )
    expected: dict[str, set[str]] = {slug: set() for slug in UNIQUE_KEYS}
    expected["services"] = set(services)
    for index, charge in enumerate(charges):
        wanted = charge.records
        for slug, key in wanted.items():
            expected[slug].add(key)
        if all(present[slug][key] for slug, key in wanted.items()):
            continue
        if index not in acknowledged or owed_keys.intersection(charge.event_keys):
            result.owed += 1
        else:
            result.lost += 1
    for item in expected["services"]:
        if not present["services"][item]:
            if item in owed_items:
                result.owed += 1
            else:
                result.lost += 1
    for slug, keys in expected.items():
        result.missing[slug] = sum(1 for key in keys if not present[slug][key])
        result.duplicated[slug] = sum(count - 1 for count in present[slug].values() if count > 1)
    return result
