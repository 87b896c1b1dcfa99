"""Turn a provider's raw request into normalized events: verify first, then parse.

Routes and replays go through the same source objects, so a replayed ledger record is checked
exactly as strictly as a live delivery.
"""

from __future__ import annotations

from typing import Protocol

from app.events.model import RawRequest, Source, WebhookEvent
from app.events.sources.attio import AttioSource
from app.events.sources.braintree import BraintreeSource
from app.events.sources.zoho import ZohoSource
from app.events.sources.zoho_crm import ZohoCrmSource


class EventSource(Protocol):
    source: Source

    async def events_from(self, raw: RawRequest) -> list[WebhookEvent]:
        """Verify `raw` (SignatureError if not authentic) and return its events."""
        ...


__all__ = ["AttioSource", "BraintreeSource", "EventSource", "ZohoCrmSource", "ZohoSource"]
