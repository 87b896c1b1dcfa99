"""The person behind a failed Braintree ledger entry, for the links of an alert's Attio task.

A webhook entry is parsed as a replay parses it: through the bridge's Braintree source, so
its stored signature is verified again and an entry edited in Attio names nobody. A failed
sync record names its Braintree object (kind and id), which is read from Braintree. Each entry
costs at most one Braintree read (a subscription without a customer on its transactions: its
payment method's owner; a transaction without customer details, a dispute: the transaction)
and one Attio read (the person by `braintree_customer_id`); an entry that cannot be resolved
is skipped, never an error of the check.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from app.clients.attio import AttioClient
from app.clients.attio.values import first_value, record_id
from app.clients.braintree import BraintreeClient
from app.events.ledger import LedgerEntry
from app.events.model import Source
from app.events.sources import BRAINTREE_SYNC_KEY_PREFIX, EventSource
from app.events.sources.braintree_sync import braintree_sync_entry_event
from app.log import get_logger
from app.schema import PEOPLE
from app.services.alerts.model import Links
from app.services.braintree.transforms import (
    subscription_payer,
    text,
    transaction_of,
    transaction_payer,
)

log = get_logger(__name__)


class LedgerPayers:
    def __init__(
        self,
        attio: AttioClient,
        braintree: BraintreeClient | None,
        source: EventSource | None,
    ) -> None:
        self._attio = attio
        self._braintree = braintree
        self._source = source

    async def links(self, rows: Iterable[Any]) -> Links:
        """`("people", record id)` for each Braintree entry's payer found, once each."""
        rows = [row for row in rows if first_value(row, "source") == Source.braintree.value]
        if not rows or self._braintree is None:
            return ()
        found = await asyncio.gather(*(self._person(row) for row in rows))
        return tuple(dict.fromkeys((PEOPLE, person) for person in found if person))

    async def _person(self, row: Any) -> str | None:
        try:
            entry = LedgerEntry.from_record(row)
            customer_id = await self._customer_id(entry)
            if customer_id is None:
                return None
            person = await self._attio.find_record(PEOPLE, "braintree_customer_id", customer_id)
        except Exception as exc:  # unverifiable, unparsable or unreadable: no person link
            log.info("watch.payer_unresolved", record_id=record_id(row), error=type(exc).__name__)
            return None
        return record_id(person) if person is not None else None

    async def _customer_id(self, entry: LedgerEntry) -> str | None:
        braintree = self._braintree
        assert braintree is not None
        if entry.event_key.startswith(BRAINTREE_SYNC_KEY_PREFIX):
            named = braintree_sync_entry_event(entry.raw).payload
            if named["kind"] == "subscription":
                subscription = await braintree.find_subscription(named["id"])
                payer = subscription_payer(subscription) if subscription is not None else None
            elif named["kind"] == "transaction":
                transaction = await braintree.find_transaction(named["id"])
                payer = transaction_payer(transaction) if transaction is not None else None
            else:  # a dispute would take two reads (the dispute, then its transaction)
                return None
            return payer.customer_id if payer is not None else None
        if self._source is None:
            return None
        events = await self._source.events_from(entry.raw)
        notification = events[0].payload if events else None
        return await self._notification_customer(braintree, notification)

    @staticmethod
    async def _notification_customer(braintree: BraintreeClient, notification: Any) -> str | None:
        """The customer a notification names, as the Braintree handlers find it."""
        if (subscription := getattr(notification, "subscription", None)) is not None:
            if (payer := subscription_payer(subscription)) and payer.customer_id:
                return payer.customer_id
            token = text(getattr(subscription, "payment_method_token", None))
            return await braintree.customer_id_for_payment_method(token) if token else None
        if (transaction := transaction_of(notification)) is not None:
            if (payer := transaction_payer(transaction)) and payer.customer_id:
                return payer.customer_id
            transaction_id = text(getattr(transaction, "id", None))
        elif (dispute := getattr(notification, "dispute", None)) is not None:
            transaction_id = text(getattr(getattr(dispute, "transaction", None), "id", None))
        else:
            return None
        if transaction_id is None:
            return None
        found = await braintree.find_transaction(transaction_id)
        payer = transaction_payer(found) if found is not None else None
        return payer.customer_id if payer is not None else None
