"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.metrics import REGISTRY

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive (no I/O: safe for a platform health check every few seconds)."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Attio unreachable or schema missing"}})
async def readyz(request: Request) -> JSONResponse:
    """Attio is reachable with the configured token and holds the bridge's schema."""
    readiness = await request.app.state.readiness.check()
    if not readiness.ready:
        return JSONResponse({"status": "not_ready", "reason": readiness.reason}, status_code=503)
    return JSONResponse({"status": "ready", "attio": request.app.state.attio_mode})


@router.get("/metrics", response_class=PlainTextResponse, include_in_schema=False)
async def metrics() -> PlainTextResponse:
    """Prometheus metrics."""
    return PlainTextResponse(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
