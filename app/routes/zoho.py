"""Zoho webhooks: Books / Inventory (`X-Zoho-Webhook-Signature`) and CRM notifications."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.errors import NotFoundError
from app.events.model import Source
from app.events.queue import ZOHO_CRM_CHANNEL
from app.routes._intake import FORM, JSON, accept, bridge_of, enabled_source, read_raw_request
from app.routes._openapi import WEBHOOK_RESPONSES, header, webhook_openapi

router = APIRouter(tags=["webhooks"])

KEEP_HEADERS = ("content-type", "x-zoho-webhook-signature")

ID = {"type": ["string", "integer"]}
CRM_NOTIFICATION = {
    "type": "object",
    "required": ["token", "channel_id", "module", "operation", "ids"],
    "properties": {
        "token": {"type": "string", "description": "The channel's ZOHO_CRM_NOTIFY_TOKEN"},
        "channel_id": {**ID, "description": "One of ZOHO_CRM_CHANNEL_IDS"},
        "module": {"type": "string", "examples": ["Products"]},
        "operation": {"type": "string", "examples": ["insert", "update", "delete"]},
        "ids": {"type": "array", "items": ID},
        "server_time": {"type": "integer", "description": "Epoch milliseconds"},
    },
}
RECORD = {
    "type": "object",
    "description": 'Default Payload: the record under its module name, e.g. {"item": {...}}',
    "properties": {"item": {"type": "object", "properties": {"item_id": {"type": "string"}}}},
}
FORM_FIELDS = {
    "type": "object",
    "description": "Fields chosen in Zoho; one may hold the record as JSON",
    "additionalProperties": {"type": "string"},
}
SIGNATURE = header(
    "X-Zoho-Webhook-Signature",
    "HMAC-SHA256 (hex or base64) of the sorted query and form parameters, then the raw body",
    pattern="^([0-9a-fA-F]{64}|[A-Za-z0-9+/]{43}=)$",
)


@router.post(
    "/webhooks/zoho/crm",
    responses=WEBHOOK_RESPONSES,
    openapi_extra=webhook_openapi({JSON: CRM_NOTIFICATION}),
)
async def zoho_crm_notification(request: Request) -> JSONResponse:
    """Receive a Zoho CRM Notification API callback (ids only; the channel token is checked)."""
    source = bridge_of(request).zoho_crm_source
    if source is None:
        raise NotFoundError("Zoho CRM notifications are not enabled on this bridge")
    raw = await read_raw_request(
        request, Source.zoho, media_types={JSON}, keep_headers=("content-type",)
    )
    return await accept(request, source, raw, channel=ZOHO_CRM_CHANNEL)


@router.post(
    "/webhooks/zoho",
    responses=WEBHOOK_RESPONSES,
    openapi_extra=webhook_openapi({JSON: RECORD, FORM: FORM_FIELDS}, SIGNATURE),
)
async def zoho_webhook(request: Request) -> JSONResponse:
    """Receive a signed Zoho Books or Inventory webhook (e.g. an item created or edited)."""
    source = enabled_source(request, Source.zoho)
    raw = await read_raw_request(
        request, Source.zoho, media_types={JSON, FORM}, keep_headers=KEEP_HEADERS
    )
    return await accept(request, source, raw)
