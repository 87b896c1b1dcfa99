"""Turn a provider's raw request into normalized events: verify first, then parse.

Routes and replays go through the same source objects, so a replayed ledger record is checked
exactly as strictly as a live delivery. Records that a provider's webhook source cannot rebuild
(Zoho CRM notifications, failed sync items) are recognised by their key prefix; both
re-fetch from Zoho instead of trusting the stored body.
"""

from __future__ import annotations

from typing import Protocol

from app.events.model import RawRequest, Source, WebhookEvent
from app.events.sources.attio import AttioSource, attio_event_key, stored_key_event
from app.events.sources.attio_sync import ATTIO_SYNC_KEY_PREFIX, AttioSyncFailureSource
from app.events.sources.braintree import BraintreeSource
from app.events.sources.braintree_sync import BRAINTREE_SYNC_KEY_PREFIX, BraintreeSyncFailureSource
from app.events.sources.zoho import ZohoSource
from app.events.sources.zoho_crm import ZOHO_CRM_KEY_PREFIX, ZohoCrmLedgerSource, ZohoCrmSource
from app.events.sources.zoho_sync import SYNC_KEY_PREFIX, ZohoSyncFailureSource


class EventSource(Protocol):
    source: Source

    async def events_from(self, raw: RawRequest) -> list[WebhookEvent]:
        """Verify `raw` (SignatureError if not authentic) and return its events."""
        ...


__all__ = [
    "ATTIO_SYNC_KEY_PREFIX",
    "BRAINTREE_SYNC_KEY_PREFIX",
    "SYNC_KEY_PREFIX",
    "ZOHO_CRM_KEY_PREFIX",
    "AttioSource",
    "AttioSyncFailureSource",
    "BraintreeSource",
    "BraintreeSyncFailureSource",
    "EventSource",
    "ZohoCrmLedgerSource",
    "ZohoCrmSource",
    "ZohoSource",
    "ZohoSyncFailureSource",
    "attio_event_key",
    "stored_key_event",
]
