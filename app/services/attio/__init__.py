"""Attio record events in: CRM edits that reach billing, merges, deletions, echo safety."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.services.attio.handlers import AttioEventService

if TYPE_CHECKING:
    from app.bridge import Bridge


def register(bridge: Bridge) -> AttioEventService:
    """Connect the Attio record-event handlers to the bridge's dispatcher."""
    customers = bridge.braintree if bridge.settings.attio_to_braintree_enabled else None
    service = AttioEventService(bridge.attio, bridge.ledger, customers)
    service.register(bridge)
    return service
