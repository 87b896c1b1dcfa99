"""POST /webhooks/zoho: Zoho Books / Inventory workflow webhooks (`X-Zoho-Webhook-Signature`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.events.model import Source
from app.routes._intake import FORM, JSON, accept, enabled_source, read_raw_request

router = APIRouter(tags=["webhooks"])

KEEP_HEADERS = ("content-type", "x-zoho-webhook-signature")


@router.post("/webhooks/zoho", responses={401: {}, 404: {}, 413: {}, 415: {}, 503: {}})
async def zoho_webhook(request: Request) -> JSONResponse:
    """Receive a signed Zoho Books or Inventory webhook (e.g. an item created or edited)."""
    source = enabled_source(request, Source.zoho)
    raw = await read_raw_request(
        request, Source.zoho, media_types={JSON, FORM}, keep_headers=KEEP_HEADERS
    )
    return await accept(request, source, raw)
