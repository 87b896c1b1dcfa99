"""Zoho → Attio service offerings: transforms, webhook handlers and the services writer.

`register(bridge)` connects the handlers to the bridge's dispatcher and returns the services
object, which the bridge keeps as `bridge.zoho` (the admin sync route and shutdown use it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.bridge import Bridge
    from app.services.zoho.service import ZohoServices

__all__ = ["register"]


def register(bridge: Bridge) -> ZohoServices:
    # Imported here: the sync engine imports this package's pure modules (model, transform),
    # so importing it at the top would make a cycle through `app.sync`.
    from app.services.zoho.service import ZohoServices

    services = ZohoServices.from_bridge(bridge)
    services.register(bridge.dispatcher)
    return services
