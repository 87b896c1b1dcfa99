"""Admin API for sync runs: `POST /admin/sync/zoho` starts one, `GET` reports the last one."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from app.routes._intake import bridge_of
from app.routes.admin import admin_router
from app.services.zoho import ZohoService

router = admin_router("/admin/sync")


def _zoho(request: Request) -> ZohoService:
    return bridge_of(request).zoho


@router.post("/zoho", status_code=202, responses={409: {}, 503: {}})
async def start_zoho_sync(request: Request, dry_run: bool = False) -> dict[str, Any]:
    """Start a Zoho → Attio services sync in the background (one at a time per process)."""
    run = _zoho(request).sync_runner.start(dry_run=dry_run)
    return run.as_dict()


@router.get("/zoho")
async def zoho_sync_status(request: Request) -> dict[str, Any]:
    """Whether a sync is running, and the progress and summary of the last one."""
    return _zoho(request).sync_runner.status()
