"""Admin API for sync runs: start one in the background, report its progress and the last runs.

`POST /admin/sync/<source>` answers 409 while a run of that source holds its lock, in this
process or any other (the lock lives in Attio). `GET /admin/sync` lists every source with its
last recorded run and watermark.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query, Request
from pydantic import BeforeValidator

from app.errors import BadRequestError
from app.routes._intake import bridge_of
from app.routes.admin import admin_router


def _iso_datetime(value: object) -> object:
    """ISO 8601 only: pydantic alone would also read a number as seconds since 1970, which is
    not what the parameter documents."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


router = admin_router("/admin/sync")


@router.get("")
async def all_sync_status(request: Request) -> dict[str, Any]:
    """Every source's sync: running or not, its last run (start, end, counts, outcome) and
    watermark, as recorded in Attio."""
    bridge = bridge_of(request)
    runners = (
        bridge.braintree_service.sync_runner,
        bridge.zoho_service.sync_runner,
        bridge.attio_service.sync_runner,
    )
    return {"sources": [await runner.status() for runner in runners]}


@router.post("/zoho", status_code=202, responses={409: {}, 503: {}})
async def start_zoho_sync(request: Request, dry_run: bool = False) -> dict[str, Any]:
    """Start a Zoho → Attio services sync in the background (one at a time)."""
    run = await bridge_of(request).zoho_service.start_sync(dry_run=dry_run)
    return run.as_dict()


@router.get("/zoho")
async def zoho_sync_status(request: Request) -> dict[str, Any]:
    """Whether a sync is running, and the progress and summary of the last one."""
    return await bridge_of(request).zoho_service.sync_runner.status()


@router.post("/braintree", status_code=202, responses={400: {}, 409: {}, 503: {}})
async def start_braintree_sync(
    request: Request,
    dry_run: bool = False,
    since: Annotated[
        datetime | None,
        BeforeValidator(_iso_datetime),
        Query(description="Start of the window (ISO 8601); default: the watermark less 1 h"),
    ] = None,
) -> dict[str, Any]:
    """Start a Braintree → Attio reconciliation in the background (one at a time)."""
    if len(request.query_params.getlist("since")) > 1:
        raise BadRequestError("`since` is given more than once")
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)  # UTC unless it says otherwise
    run = await bridge_of(request).braintree_service.start_sync(since=since, dry_run=dry_run)
    return run.as_dict()


@router.get("/braintree")
async def braintree_sync_status(request: Request) -> dict[str, Any]:
    """Whether a run is going (here or elsewhere), its progress, the last recorded run."""
    return await bridge_of(request).braintree_service.sync_runner.status()


@router.post("/attio", status_code=202, responses={409: {}, 503: {}})
async def start_attio_sync(request: Request, dry_run: bool = False) -> dict[str, Any]:
    """Start an Attio → Braintree catch-up in the background (one at a time): contact edits
    Attio holds newer than the Braintree customer are sent to Braintree."""
    run = await bridge_of(request).attio_service.start_sync(dry_run=dry_run)
    return run.as_dict()


@router.get("/attio")
async def attio_sync_status(request: Request) -> dict[str, Any]:
    """Whether a catch-up is going (here or elsewhere), its progress, the last recorded run."""
    return await bridge_of(request).attio_service.sync_runner.status()
