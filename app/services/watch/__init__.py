"""`attio-bridge watch`: the runtime checks, their alerts, and `GET /admin/health`."""

from app.services.watch.registry import REGISTRY, CheckSpec, DoctorContext, Kind, checks
from app.services.watch.service import Watch, WatchReport, WatchRow, build_channels

__all__ = [
    "REGISTRY",
    "CheckSpec",
    "DoctorContext",
    "Kind",
    "Watch",
    "WatchReport",
    "WatchRow",
    "build_channels",
    "checks",
]
