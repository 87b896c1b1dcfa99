"""Zoho webhooks: Books / Inventory (`X-Zoho-Webhook-Signature`) and CRM notifications."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.errors import NotFoundError
from app.events.model import Source
from app.routes._intake import FORM, JSON, accept, bridge_of, enabled_source, read_raw_request

router = APIRouter(tags=["webhooks"])

KEEP_HEADERS = ("content-type", "x-zoho-webhook-signature")


@router.post("/webhooks/zoho/crm", responses={401: {}, 404: {}, 413: {}, 415: {}, 503: {}})
async def zoho_crm_notification(request: Request) -> JSONResponse:
    """Receive a Zoho CRM Notification API callback (ids only; the channel token is checked)."""
    source = bridge_of(request).zoho_crm_source
    if source is None:
        raise NotFoundError("Zoho CRM notifications are not enabled on this bridge")
    raw = await read_raw_request(
        request, Source.zoho, media_types={JSON}, keep_headers=("content-type",)
    )
    return await accept(request, source, raw)


@router.post("/webhooks/zoho", responses={401: {}, 404: {}, 413: {}, 415: {}, 503: {}})
async def zoho_webhook(request: Request) -> JSONResponse:
    """Receive a signed Zoho Books or Inventory webhook (e.g. an item created or edited)."""
    source = enabled_source(request, Source.zoho)
    raw = await read_raw_request(
        request, Source.zoho, media_types={JSON, FORM}, keep_headers=KEEP_HEADERS
    )
    return await accept(request, source, raw)
