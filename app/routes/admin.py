"""Admin API: the event ledger and replays. Bearer `ADMIN_TOKEN`; without one, it does not exist."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, BeforeValidator, Field

from app.errors import NotFoundError, UnauthorizedError
from app.events.ledger import (
    DEFAULT_PRUNE_LIMIT,
    MAX_PRUNE_LIMIT,
    SETTLED_STATUSES,
    LedgerStatus,
)
from app.events.model import Source
from app.events.queue import QueueMode
from app.log import redactor
from app.routes._intake import bridge_of
from app.routes._openapi import ERROR_BODY, VALIDATION_ERROR


def require_admin(request: Request) -> None:
    token = bridge_of(request).settings.admin_token
    expected = token.get_secret_value() if token else ""
    if not expected:
        raise NotFoundError("Not Found")  # disabled admin API: indistinguishable from absent
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode(), expected.encode()
    ):
        raise UnauthorizedError("Missing or invalid admin token")


# What `require_admin` answers on every admin route, besides each route's own responses.
ADMIN_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or wrong bearer token", "content": ERROR_BODY},
    404: {"description": "Admin API disabled, or nothing found", "content": ERROR_BODY},
    422: VALIDATION_ERROR,
}


class AdminRoute(APIRoute):
    """Checks the token before FastAPI reads the body: a dependency would run after the body is
    parsed, so a caller without the token could still learn that a body was malformed."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def authenticated(request: Request) -> Response:
            require_admin(request)
            return await handler(request)

        return authenticated


def admin_router(prefix: str) -> APIRouter:
    return APIRouter(
        prefix=prefix, tags=["admin"], route_class=AdminRoute, responses=ADMIN_RESPONSES
    )


router = admin_router("/admin")


def _integral_float_as_int(value: object) -> object:
    return int(value) if isinstance(value, float) and value.is_integer() else value


# JSON Schema's integer: 5 and 5.0 are integers, true and "5" are not (lax pydantic takes all four).
JsonInteger = Annotated[int, BeforeValidator(_integral_float_as_int), Field(strict=True)]


class ReplayFilter(BaseModel):
    status: LedgerStatus = LedgerStatus.failed
    source: Source | None = None
    event_type: str | None = None
    # A wrong JSON type is a mistake to refuse, not a value to coerce: lax mode reads
    # `"limit": true` as 1 and `"dry_run": 0` as false. The enums take their JSON strings.
    limit: JsonInteger = Field(100, ge=1, le=1000)
    dry_run: bool = Field(False, strict=True)


@router.get("/queue")
async def queue_state(request: Request) -> dict[str, Any]:
    """Queue mode's state: mode (queue, inline, fallback_inline), depth, pending, the oldest
    unacknowledged entry's age, each worker's pending entries and idle time, counters."""
    queue = bridge_of(request).queue
    if queue is None:
        return {"mode": QueueMode.inline.value}
    mode = await queue.check()
    stats = await queue.refresh_gauges() if mode is QueueMode.queue else None
    return {"mode": mode.value, **(stats.as_dict() if stats is not None else {})}


@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    """What `attio-bridge watch --json` prints: the last watch pass if younger than five
    minutes, else the checks run now (alerts are left to `attio-bridge watch`)."""
    watch = bridge_of(request).watch
    if watch is None:
        raise NotFoundError("Watch is not configured on this bridge")
    return await watch.latest()


@router.get("/events")
async def list_events(
    request: Request,
    status: LedgerStatus | None = None,
    source: Source | None = None,
    event_type: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Ledger records (failed, dead, replayed, needs_attention), newest attempt first."""
    entries = await bridge_of(request).ledger.list_entries(
        status=status, source=source, event_type=event_type, limit=limit
    )
    return {"count": len(entries), "events": [entry.summary() for entry in entries]}


@router.post(
    "/events/replay",
    responses={400: {"description": "Body could not be read as JSON", "content": ERROR_BODY}},
)
async def replay_events(request: Request, selection: ReplayFilter) -> dict[str, Any]:
    """Replay every ledger record matching the filter (`dry_run`: only say which)."""
    bridge = bridge_of(request)
    entries = await bridge.ledger.list_entries(
        status=selection.status,
        source=selection.source,
        event_type=selection.event_type,
        limit=selection.limit,
    )
    report = await bridge.replayer.replay_many(entries, dry_run=selection.dry_run)
    return {"dry_run": selection.dry_run, **report.as_dict()}


class RetryDue(BaseModel):
    limit: JsonInteger = Field(500, ge=1, le=1000)


def _settled_names() -> list[Literal["replayed"]]:
    return ["replayed"]


class Prune(BaseModel):
    older_than_days: JsonInteger = Field(..., ge=1, le=3650)
    # Only settled records can be pruned: the others still ask for work.
    statuses: list[Literal["replayed"]] = Field(default_factory=_settled_names, min_length=1)
    limit: JsonInteger = Field(DEFAULT_PRUNE_LIMIT, ge=1, le=MAX_PRUNE_LIMIT)
    dry_run: bool = Field(False, strict=True)


# Scheduled jobs, run here so that they spend this process's Attio budget (no Redis to share one
# through): the cron jobs call these when BRIDGE_ADMIN_URL is set.


_BAD_JSON: dict[int | str, dict[str, Any]] = {
    400: {"description": "Body could not be read as JSON", "content": ERROR_BODY}
}


@router.post("/events/retry-due", responses=_BAD_JSON)
async def retry_due_events(request: Request, job: RetryDue | None = None) -> dict[str, Any]:
    """Re-attempt failed events whose next attempt time has passed (what the cron job runs)."""
    limit = (job or RetryDue()).limit
    report = await bridge_of(request).replayer.retry_due(limit=limit)
    return report.as_dict()


@router.post("/events/prune", responses=_BAD_JSON)
async def prune_events(request: Request, job: Prune) -> dict[str, Any]:
    """Delete settled ledger records older than `older_than_days` (`dry_run`: only list them)."""
    ledger = bridge_of(request).ledger
    cutoff = datetime.now(UTC) - timedelta(days=job.older_than_days)
    statuses = [LedgerStatus(name) for name in job.statuses]
    assert set(statuses) <= SETTLED_STATUSES
    entries = await ledger.settled_before(cutoff, statuses, limit=job.limit)
    if not job.dry_run:
        await ledger.delete(entries)
    return {
        "dry_run": job.dry_run,
        "limit": job.limit,
        "deleted": len(entries),
        "records": [entry.summary() for entry in entries],
    }


@router.post("/events/{event_key:path}/replay")
async def replay_event(request: Request, event_key: str, dry_run: bool = False) -> dict[str, Any]:
    """Verify the stored request again and process its event."""
    result = await bridge_of(request).replayer.replay_key(event_key, dry_run=dry_run)
    return {"dry_run": dry_run, **result.as_dict()}


@router.get("/events/{event_key:path}")
async def get_event(request: Request, event_key: str) -> dict[str, Any]:
    """One ledger record with its stored raw request."""
    entry = await bridge_of(request).ledger.get(event_key)
    if entry is None:
        raise NotFoundError(f"No ledger record with event_key {event_key!r}")
    # A stored body can hold a provider's shared token (Zoho CRM echoes it): redact secrets.
    return redactor.redact(entry.detail())
