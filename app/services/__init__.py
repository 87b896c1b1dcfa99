"""Per-system service modules: pure transforms plus the handlers the dispatcher calls.

`register_services` is the one place that connects them to the bridge; each system adds its
own `register(bridge)` call here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.services import attio, braintree, zoho

if TYPE_CHECKING:
    from app.bridge import Bridge


def register_services(bridge: Bridge) -> None:
    """Register every service's handlers with `bridge.dispatcher`."""
    braintree.register(bridge)
    attio.register(bridge)
    bridge.zoho = zoho.register(bridge)
