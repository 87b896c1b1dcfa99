"""Liveness and readiness."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.errors import NotFoundError, UnauthorizedError
from app.log import get_logger
from app.metrics import REGISTRY

log = get_logger(__name__)

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive (no I/O: safe for a platform health check every few seconds)."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Attio unreachable or schema missing"}})
async def readyz(request: Request) -> JSONResponse:
    """Attio is reachable with the configured token and holds the bridge's schema.

    In queue mode `queue` says whether deliveries are queued (`queue`) or, Redis being
    unreachable, processed inline (`fallback_inline`): still ready, since nothing is lost.
    """
    readiness = await request.app.state.readiness.check()
    # The reason names what is missing in Attio: for the operator's log, not for anyone asking.
    if readiness.reason != getattr(request.app.state, "readiness_reason", None):
        request.app.state.readiness_reason = readiness.reason
        if readiness.ready:
            log.info("readiness.ready")
        else:
            log.warning("readiness.not_ready", reason=readiness.reason)
    queue = request.app.state.bridge.queue
    extra = {} if queue is None else {"queue": (await queue.check()).value}
    if not readiness.ready:
        return JSONResponse({"status": "not_ready", **extra}, status_code=503)
    return JSONResponse({"status": "ready", **extra})


@router.get("/metrics", response_class=PlainTextResponse, include_in_schema=False)
async def metrics(request: Request) -> PlainTextResponse:
    """Prometheus metrics, for the bearer `METRICS_TOKEN` (Prometheus' `authorization`)."""
    token = request.app.state.settings.metrics_token
    expected = token.get_secret_value() if token else ""
    if not expected:
        raise NotFoundError("Not Found")
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode(), expected.encode()
    ):
        raise UnauthorizedError("Missing or invalid metrics token")
    queue = request.app.state.bridge.queue
    if queue is not None:
        await queue.refresh_gauges()  # the stream's state now, not at the last worker tick
    return PlainTextResponse(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
