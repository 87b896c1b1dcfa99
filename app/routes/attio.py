"""POST /webhooks/attio: Attio record events, `Attio-Signature` over the raw body."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.events.model import Source
from app.routes._intake import JSON, accept, enabled_source, read_raw_request

router = APIRouter(tags=["webhooks"])

# What a replay needs to verify and deduplicate the request again.
KEEP_HEADERS = ("content-type", "attio-signature", "x-attio-signature", "idempotency-key")


@router.post("/webhooks/attio", responses={401: {}, 404: {}, 413: {}, 415: {}, 503: {}})
async def attio_webhook(request: Request) -> JSONResponse:
    """Receive an Attio webhook delivery (one or more events)."""
    source = enabled_source(request, Source.attio)
    raw = await read_raw_request(
        request, Source.attio, media_types={JSON}, keep_headers=KEEP_HEADERS
    )
    return await accept(request, source, raw)
