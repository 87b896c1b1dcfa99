"""Zoho → Attio service offerings: transforms, webhook handlers and the services writer.

`register(bridge)` connects the handlers to the bridge's dispatcher; `services_for(bridge)`
returns what it registered (the admin sync route and shutdown use it).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.bridge import Bridge
    from app.services.zoho.services import ZohoServices

__all__ = ["register", "services_for"]

# Keyed by id(): a Bridge is a mutable dataclass, so it is not hashable. The finalizer drops the
# entry when the bridge goes away, before its id can be reused.
_BY_BRIDGE: dict[int, ZohoServices] = {}


def register(bridge: Bridge) -> ZohoServices:
    # Imported here: the sync engine imports this package's pure modules (model, transform),
    # so importing it at the top would make a cycle through `app.sync`.
    from app.services.zoho.services import ZohoServices

    services = ZohoServices.from_bridge(bridge)
    services.register(bridge.dispatcher)
    key = id(bridge)
    _BY_BRIDGE[key] = services
    weakref.finalize(bridge, _BY_BRIDGE.pop, key, None)
    return services


def services_for(bridge: Bridge) -> ZohoServices | None:
    return _BY_BRIDGE.get(id(bridge))
