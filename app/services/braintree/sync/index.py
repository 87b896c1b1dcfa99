"""What a run knows of Attio: its billing records by Braintree id, compacted to what it compares.

Loaded once per run (subscriptions, payments and the people with a Braintree customer id, at
once) while Braintree is already being read, and kept up to date with each record the run
writes or reads again under its lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.clients.attio import AttioClient
from app.clients.attio.values import Record, compact, current_values, first_value
from app.schema.definitions import (
    BILLING_SUMMARY_ATTRIBUTES,
    PAYMENT_KEY,
    PAYMENTS,
    PAYMENTS_OBJECT,
    PEOPLE,
    PERSON_KEY,
    SUBSCRIPTION_KEY,
    SUBSCRIPTIONS,
    SUBSCRIPTIONS_FOLDED_OBJECT,
)
from app.services.braintree.transforms import PERSON_ATTRIBUTES

# What the comparisons read of each held record: the attributes the bridge writes (either
# layout's); Attio's system and enriched attributes (of people above all) are never compared.
_COMPARED = {
    SUBSCRIPTIONS: frozenset(a.api_slug for a in SUBSCRIPTIONS_FOLDED_OBJECT.attributes),
    PAYMENTS: frozenset(a.api_slug for a in PAYMENTS_OBJECT.attributes),
    # The person's billing summary and company too: the run recomputes and compares them.
    PEOPLE: PERSON_ATTRIBUTES
    | frozenset(a.api_slug for a in BILLING_SUMMARY_ATTRIBUTES)
    | frozenset({"company"}),
}
UNIQUE_KEYS = {SUBSCRIPTIONS: SUBSCRIPTION_KEY, PAYMENTS: PAYMENT_KEY}


def held(obj: str, record: Record) -> Record:
    """`record` as the run holds it: its id and the compared attributes' current values.

    Held for every billing record of the account, where Attio's value objects would be most
    of the run's memory."""
    return compact(record, _COMPARED[obj])


@dataclass
class People:
    """People with a Braintree customer id, by id and by email."""

    by_customer: dict[str, Record] = field(default_factory=dict)
    by_email: dict[str, Record] = field(default_factory=dict)

    def add(self, record: Record) -> None:
        if customer_id := first_value(record, "braintree_customer_id"):
            self.by_customer[customer_id] = record
        for address in current_values(record, PERSON_KEY):
            if address:
                self.by_email[address.lower()] = record


@dataclass
class BillingIndex:
    subscriptions: dict[str, Record] = field(default_factory=dict)  # by subscription id
    payments: dict[str, Record] = field(default_factory=dict)  # by transaction id
    people: People = field(default_factory=People)

    def of(self, obj: str) -> dict[str, Record]:
        """The records of `obj` (subscriptions or payments) by their unique key."""
        return self.subscriptions if obj == SUBSCRIPTIONS else self.payments

    def keep(self, obj: str, key: str, record: Record) -> None:
        """`record` as just read or written: what the rest of the run compares with."""
        self.of(obj)[key] = held(obj, record)

    async def load(
        self,
        attio: AttioClient,
        *,
        payments_object: bool,
        page_size: int,
        on_record: Callable[[], None],
        on_loaded: Callable[[], None],
    ) -> None:
        """Every billing record, the objects read at once; `on_record` after each record,
        `on_loaded` after each object."""

        async def load(obj: str, into: Callable[[Record], None], filter: Any = None) -> None:
            async for record in attio.iter_records(obj, filter=filter, page_size=page_size):
                into(held(obj, record))
                on_record()
            on_loaded()

        def keyed(obj: str) -> Callable[[Record], None]:
            records, key = self.of(obj), UNIQUE_KEYS[obj]

            def add(record: Record) -> None:
                if value := first_value(record, key):
                    records[value] = record

            return add

        loads = [
            load(SUBSCRIPTIONS, keyed(SUBSCRIPTIONS)),
            load(PEOPLE, self.people.add, {"braintree_customer_id": {"$not_empty": True}}),
        ]
        if payments_object:
            loads.append(load(PAYMENTS, keyed(PAYMENTS)))
        await asyncio.gather(*loads)
