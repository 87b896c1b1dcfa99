"""Braintree statuses Attio has no option for: logged and counted, never dropped in silence.

The transforms write a select only when its option exists (Attio would refuse the whole
write), so a status newer than the schema leaves the old one standing in Attio. Every path
that writes Braintree state (notifications, the reconciliation) reports it here, so an
operator sees that the schema needs the option.
"""

from __future__ import annotations

from typing import Any

from app.log import get_logger
from app.metrics import UNKNOWN_STATUSES
from app.services.braintree.transforms import text, unknown_status

log = get_logger(__name__)


def report_unknown_status(what: str, obj: Any, **fields: Any) -> bool:
    """Log `braintree.status.unknown` and count it when `obj.status` (of a `subscription`,
    `payment` or `dispute`) is not an Attio option; True when it was unknown."""
    status = unknown_status(obj, what)
    if status is None:
        return False
    UNKNOWN_STATUSES.labels(object=what, status=status).inc()
    object_id = text(getattr(obj, "id", None))
    log.error("braintree.status.unknown", object=what, status=status, object_id=object_id, **fields)
    return True
