"""Attio's `/v2/webhooks` routes: list, create, get, update and delete webhooks.

A router of its own beside `api`'s, included by the app. The secret appears only in the
answer to a creation, as in Attio.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from attio_sandbox.bodies import data_object, non_negative_int, ok, read_json, sandbox_state
from attio_sandbox.errors import validation_error
from attio_sandbox.webhook_registry import UNCHANGED

router = APIRouter(prefix="/v2")

_FIELDS = frozenset({"target_url", "subscriptions"})


def _webhook_data(body: Any, *, required: bool) -> dict[str, Any]:
    data = data_object(body)
    unknown = set(data) - _FIELDS
    if unknown:
        raise validation_error(f"Unknown webhook fields: {', '.join(sorted(unknown))}.")
    missing = _FIELDS - set(data) if required else set()
    if missing:
        raise validation_error(f"Missing required webhook fields: {', '.join(sorted(missing))}.")
    return data


@router.get("/webhooks")
async def list_webhooks(request: Request) -> JSONResponse:
    webhooks = sandbox_state(request).webhooks
    params = request.query_params
    limit = non_negative_int(params.get("limit"), "limit", 10)
    offset = non_negative_int(params.get("offset"), "offset", 0)
    return ok([webhooks.render(w) for w in webhooks.registry.page(limit, offset)])


@router.post("/webhooks")
async def create_webhook(request: Request) -> JSONResponse:
    webhooks = sandbox_state(request).webhooks
    data = _webhook_data(await read_json(request), required=True)
    webhook = webhooks.create(data["target_url"], data["subscriptions"])
    return ok(webhooks.render(webhook, with_secret=True))


@router.get("/webhooks/{webhook_id}")
async def get_webhook(request: Request, webhook_id: str) -> JSONResponse:
    webhooks = sandbox_state(request).webhooks
    return ok(webhooks.render(webhooks.get(webhook_id)))


@router.patch("/webhooks/{webhook_id}")
async def update_webhook(request: Request, webhook_id: str) -> JSONResponse:
    webhooks = sandbox_state(request).webhooks
    webhooks.get(webhook_id)  # an unknown webhook is a 404 before any body check
    data = _webhook_data(await read_json(request), required=False)
    webhook = webhooks.update(
        webhook_id,
        target_url=data.get("target_url", UNCHANGED),
        subscriptions=data.get("subscriptions", UNCHANGED),
    )
    return ok(webhooks.render(webhook))


@router.delete("/webhooks/{webhook_id}")
async def delete_webhook(request: Request, webhook_id: str) -> JSONResponse:
    sandbox_state(request).webhooks.delete(webhook_id)
    return JSONResponse({})
