"""The web console's logic (sign-in, overview, failed events, syncs); `app.routes.console` is
its HTTP side."""

from app.services.console.auth import ConsoleAuth, Session
from app.services.console.health import (
    BridgeHealth,
    Check,
    ChecksSource,
    CheckState,
    HealthProvider,
    HealthReport,
    WatchChecks,
)
from app.services.console.service import (
    PAGE_SIZE,
    Console,
    ConsoleService,
    EventFilter,
    build_console,
)

__all__ = [
    "PAGE_SIZE",
    "BridgeHealth",
    "Check",
    "CheckState",
    "ChecksSource",
    "Console",
    "ConsoleAuth",
    "ConsoleService",
    "EventFilter",
    "HealthProvider",
    "HealthReport",
    "Session",
    "WatchChecks",
    "build_console",
]
