"""Development routes outside /v2 (no auth, no rate limits, not logged): look at the data, the
calls made so far, the fault settings, the webhooks and their deliveries; reset everything.

The record writes here are a workspace member's (an edit in Attio's web app, by default the
token's authorizer, or `?member_id=`), so a receiver filtering out `api-token` actors still
gets their webhooks. A sandbox on its own port has no other way to make them.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from attio_sandbox.actors import Actor
from attio_sandbox.bodies import data_object, ok, read_json, record_values, sandbox_state
from attio_sandbox.errors import validation_error
from attio_sandbox.render import plain_record, render_record

router = APIRouter(prefix="/_sandbox")


@router.get("/objects/{slug}/records")
async def plain_records(request: Request, slug: str) -> JSONResponse:
    store = sandbox_state(request).store
    obj = store.get_object(slug)
    return JSONResponse({"data": [plain_record(store, r) for r in obj.records.values()]})


def _recent(request: Request) -> int:
    recent = request.query_params.get("recent", "50")
    return int(recent) if recent.isdigit() else 50


def _member(request: Request) -> Actor:
    return sandbox_state(request).workspace_member(request.query_params.get("member_id"))


@router.post("/objects/{slug}/records")
async def create_as_member(request: Request, slug: str) -> JSONResponse:
    store = sandbox_state(request).store
    store.get_object(slug)
    record = store.create_record(slug, await record_values(request), actor=_member(request))
    return ok(render_record(store, record))


@router.patch("/objects/{slug}/records/{record_id}")
async def update_as_member(request: Request, slug: str, record_id: str) -> JSONResponse:
    store = sandbox_state(request).store
    store.get_record(slug, record_id)
    values = await record_values(request)
    record = store.update_record(slug, record_id, values, append=True, actor=_member(request))
    return ok(render_record(store, record))


@router.delete("/objects/{slug}/records/{record_id}")
async def delete_as_member(request: Request, slug: str, record_id: str) -> JSONResponse:
    sandbox_state(request).store.delete_record(slug, record_id, actor=_member(request))
    return JSONResponse({})


@router.post("/objects/{slug}/records/{record_id}/merge")
async def merge_as_member(request: Request, slug: str, record_id: str) -> JSONResponse:
    """Merge `data.duplicate_record_id` into this record; `data.mode` as `merge_records`."""
    store = sandbox_state(request).store
    store.get_record(slug, record_id)
    data: dict[str, Any] = data_object(await read_json(request))
    duplicate_id = data.get("duplicate_record_id")
    mode = data.get("mode", "new-record")
    if not isinstance(duplicate_id, str) or mode not in ("new-record", "into-original"):
        raise validation_error(
            'Send "duplicate_record_id" and optionally "mode" ("new-record" or "into-original").'
        )
    survivor = store.merge_records(slug, record_id, duplicate_id, mode=mode, actor=_member(request))
    return ok(render_record(store, survivor))


@router.get("/requests")
async def request_summary(request: Request) -> JSONResponse:
    return JSONResponse(sandbox_state(request).requests.summary(recent=_recent(request)))


@router.get("/webhooks")
async def list_webhooks(request: Request) -> JSONResponse:
    """Every webhook with its secret (Attio shows a secret once; a sandbox need not hide it)."""
    webhooks = sandbox_state(request).webhooks
    return ok([webhooks.render(webhook, with_secret=True) for webhook in webhooks.all()])


@router.put("/webhooks/{webhook_id}/status")
async def set_webhook_status(request: Request, webhook_id: str) -> JSONResponse:
    """Set `data.status` (active, degraded or inactive), as Attio does after failed deliveries."""
    webhooks = sandbox_state(request).webhooks
    status = data_object(await read_json(request)).get("status")
    if status not in ("active", "degraded", "inactive"):
        raise validation_error('"status" must be "active", "degraded" or "inactive".')
    webhook = webhooks.get(webhook_id)
    webhook.status = status
    return ok(webhooks.render(webhook))


@router.get("/webhooks/deliveries")
async def webhook_deliveries(request: Request) -> JSONResponse:
    """Recent deliveries: events sent, Idempotency-Key, every attempt and its answer."""
    return JSONResponse(sandbox_state(request).webhooks.summary(recent=_recent(request)))


@router.post("/reset")
async def reset(request: Request) -> JSONResponse:
    sandbox_state(request).reset()
    return JSONResponse({"status": "reset"})


@router.get("/faults")
async def get_faults(request: Request) -> JSONResponse:
    return JSONResponse(sandbox_state(request).faults.model_dump())


@router.put("/faults")
async def put_faults(request: Request) -> JSONResponse:
    """Change the fields given; the others keep their current values."""
    try:
        changes = json.loads(await request.body() or b"{}")
    except ValueError:
        raise validation_error("The request body is not valid JSON.") from None
    if not isinstance(changes, dict):
        raise validation_error("The body must be an object of fault settings.")
    try:
        updated = sandbox_state(request).configure_faults(**changes)
    except ValidationError as exc:
        raise validation_error(str(exc)) from None
    return JSONResponse(updated.model_dump())
