"""What a billing day left in Attio, against what it should have left: a pure tally.

A charge is done when its three records (person, subscription, payment) are in Attio carrying
the values the charge leaves (a returning customer's person and subscription are there before
their charge: only the values say it was applied). One that is not done yet is still owed, not
lost, while its sender has not been answered 2xx (it will redeliver) or the ledger holds its
event as `failed` (retry-due will replay it) or `dead` (an operator can replay it). Only what
is missing with none of those is lost.

The companies the day's people work at must carry their sums too (the values the world says,
found by domain); `company_mismatches` checks, from Attio alone, that each company's `mrr` and
`paying_people` are the sums over the people Attio links to it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from app.events.sources.zoho_sync import item_id_from_key
from app.schema import COMPANY_KEY, PAYMENT_KEY, PERSON_KEY, SERVICE_KEY, SUBSCRIPTION_KEY

# Each object the billing day fills, and the attribute that identifies its records.
UNIQUE_KEYS = {
    "people": PERSON_KEY,
    "subscriptions": SUBSCRIPTION_KEY,
    "payments": PAYMENT_KEY,
    "services": SERVICE_KEY,
    "companies": COMPANY_KEY,
}
CENT = Decimal("0.005")  # amounts within half a cent are the same amount
OWED_STATUSES = frozenset({"failed", "dead"})  # the ledger still holds the work


@dataclass(frozen=True)
class Charge:
    """One delivery, the unique keys of the records it must leave (slug -> key value) and
    values those records must carry (slug -> attribute -> value; amounts compared to the cent)."""

    event_keys: tuple[str, ...]
    records: Mapping[str, str]
    values: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass
class Tally:
    unacknowledged: int = 0  # deliveries never answered 2xx
    missing: dict[str, int] = field(default_factory=dict)  # expected records absent, per object
    duplicated: dict[str, int] = field(default_factory=dict)  # records beyond one per key
    ledger: dict[str, int] = field(default_factory=dict)  # bridge_events records by status
    owed: int = 0  # incomplete, but a sender or the ledger still holds it
    lost: int = 0  # incomplete, acknowledged, and in no ledger record that asks for work
    # Expected records present without the values the day leaves, per object (none: not listed).
    stale: dict[str, int] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not any(self.missing.values()) and not any(self.stale.values())

    @property
    def charges_complete(self) -> bool:
        """Every charge's records and the Zoho items are in: `complete` but for companies."""
        behind = {**self.missing, **self.stale}
        return not any(n for slug, n in behind.items() if slug != "companies")

    def as_dict(self) -> dict[str, Any]:
        return {
            "unacknowledged": self.unacknowledged,
            "missing": self.missing,
            "duplicated": self.duplicated,
            "stale": self.stale,
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


def same_value(actual: Any, wanted: Any) -> bool:
    """A plain record's value against an expected one; numbers to the cent."""
    if isinstance(wanted, int | float | Decimal) and not isinstance(wanted, bool):
        try:
            return abs(Decimal(str(actual)) - Decimal(str(wanted))) < CENT
        except (InvalidOperation, ValueError):
            return False
    return bool(actual == wanted)


def carries(rows: Sequence[Mapping[str, Any]], wanted: Mapping[str, Any]) -> bool:
    """Whether one of `rows` (the records of one key) holds every value in `wanted`."""
    return any(
        all(same_value(row.get(name), value) for name, value in wanted.items()) for row in rows
    )


def tally(
    charges: Sequence[Charge],
    acknowledged: Collection[int],
    services: Collection[str],
    records: Mapping[str, Sequence[Mapping[str, Any]]],
    ledger_rows: Sequence[Mapping[str, Any]],
    companies: Mapping[str, Mapping[str, Any]] | None = None,
) -> Tally:
    """Compare Attio's records (`/_sandbox` plain rows per object) with the charges, the Zoho
    item ids and the companies (domain -> the values it must carry) the day should have
    written; `acknowledged` holds charge indexes."""
    found: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    for slug, attribute in UNIQUE_KEYS.items():
        found[slug] = {}
        for row in records.get(slug, ()):
            for k in key_values(row, attribute):
                found[slug].setdefault(k, []).append(row.get("values", {}))
    statuses = ledger_statuses(ledger_rows)
    owed_keys = {key for key, status in statuses.items() if status in OWED_STATUSES}
    owed_items = {item_id_from_key(key) for key in owed_keys} - {None}

    result = Tally(
        unacknowledged=len(charges) - len(set(acknowledged) & set(range(len(charges)))),
        ledger=dict(sorted(Counter(statuses.values()).items())),
    )
    expected: dict[str, set[str]] = {slug: set() for slug in UNIQUE_KEYS}
    expected["services"] = set(services)
    expected["companies"] = set(companies or {})
    wanted_values: dict[str, dict[str, Mapping[str, Any]]] = {slug: {} for slug in UNIQUE_KEYS}
    wanted_values["companies"] = dict(companies or {})
    for index, charge in enumerate(charges):
        for slug, key in charge.records.items():
            expected[slug].add(key)
            if charge.values.get(slug):
                wanted_values[slug][key] = charge.values[slug]
        if all(
            carries(found[slug].get(key, []), charge.values.get(slug, {}))
            for slug, key in charge.records.items()
        ):
            continue
        if index not in acknowledged or owed_keys.intersection(charge.event_keys):
            result.owed += 1
        else:
            result.lost += 1
    for item in expected["services"]:
        if not found["services"].get(item):
            if item in owed_items:
                result.owed += 1
            else:
                result.lost += 1
    for slug, keys in expected.items():
        result.missing[slug] = sum(1 for key in keys if not found[slug].get(key))
        result.duplicated[slug] = sum(len(rows) - 1 for rows in found[slug].values() if rows)
        stale = sum(
            1
            for key, wanted in wanted_values[slug].items()
            if found[slug].get(key) and not carries(found[slug][key], wanted)
        )
        if stale:
            result.stale[slug] = stale
    return result


def company_mismatches(
    people_rows: Sequence[Mapping[str, Any]],
    company_rows: Sequence[Mapping[str, Any]],
    domains: Collection[str],
) -> list[str]:
    """The domains of the companies (among `domains`) whose `mrr` is not the sum of their
    people's or whose `paying_people` is not how many of them have an `mrr` above 0, over the
    Braintree customers Attio links to the company (its `company`), as the bridge sums them.
    A person whose `mrr` is unknown makes the sum unknown (empty)."""
    people: dict[str, list[Mapping[str, Any]]] = {}
    for row in people_rows:
        values = row.get("values", {})
        if values.get("company") and values.get("braintree_customer_id"):
            people.setdefault(str(values["company"]), []).append(values)
    wrong = []
    for row in company_rows:
        named = set(key_values(row, COMPANY_KEY)) & set(domains)
        if not named:
            continue
        values, linked = row.get("values", {}), people.get(str(row.get("record_id")), [])
        amounts = [person.get("mrr") for person in linked]
        total = None if None in amounts else sum(Decimal(str(a)) for a in amounts)
        paying = sum(1 for a in amounts if a is not None and Decimal(str(a)) > 0)
        mrr = values.get("mrr")
        mrr_holds = mrr is None if total is None else same_value(mrr, total)
        if not (mrr_holds and same_value(values.get("paying_people"), paying)):
            wrong.extend(sorted(named))
    return wrong
