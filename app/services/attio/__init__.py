"""Attio record events in: CRM edits that reach billing, merges, deletions, echo safety; and
the Attio → Braintree catch-up of edits Attio did not deliver."""

from app.services.attio.handlers import AttioEventService
from app.services.attio.replays import ReplayRequests
from app.services.attio.service import AttioService, AttioToBraintreeOffError

__all__ = ["AttioEventService", "AttioService", "AttioToBraintreeOffError", "ReplayRequests"]
