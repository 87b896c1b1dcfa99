"""POST /webhooks/attio: Attio record events, `Attio-Signature` over the raw body."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.events.model import Source
from app.routes._intake import JSON, accept, enabled_source, read_raw_request
from app.routes._openapi import HEX_SHA256, WEBHOOK_RESPONSES, header, webhook_openapi

router = APIRouter(tags=["webhooks"])

# What a replay needs to verify and deduplicate the request again.
KEEP_HEADERS = ("content-type", "attio-signature", "x-attio-signature", "idempotency-key")

DELIVERY = {
    "type": "object",
    "required": ["events"],
    "properties": {
        "webhook_id": {"type": "string"},
        "events": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["event_type"],
                "properties": {
                    "event_type": {"type": "string", "examples": ["record.updated"]},
                    "id": {"type": "object"},
                    "actor": {"type": "object"},
                },
            },
        },
    },
}
SIGNATURE = "Hex HMAC-SHA256 of the raw body, keyed with ATTIO_WEBHOOK_SECRET"
OPENAPI = webhook_openapi(
    {JSON: DELIVERY},
    header("Attio-Signature", SIGNATURE, required=False, pattern=HEX_SHA256),
    header("X-Attio-Signature", f"Legacy name: {SIGNATURE}", required=False, pattern=HEX_SHA256),
    header("Idempotency-Key", "The same on every redelivery of a message", required=False),
)


@router.post("/webhooks/attio", responses=WEBHOOK_RESPONSES, openapi_extra=OPENAPI)
async def attio_webhook(request: Request) -> JSONResponse:
    """Receive an Attio webhook delivery (one or more events)."""
    source = enabled_source(request, Source.attio)
    raw = await read_raw_request(
        request, Source.attio, media_types={JSON}, keep_headers=KEEP_HEADERS
    )
    return await accept(request, source, raw)
