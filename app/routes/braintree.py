"""Braintree: POST notifications (`bt_signature` / `bt_payload`) and the GET challenge."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from app.events.model import Source
from app.routes._intake import FORM, accept, bridge_of, enabled_source, read_raw_request
from app.routes._openapi import ERROR_BODY, VALIDATION_ERROR, WEBHOOK_RESPONSES, webhook_openapi

router = APIRouter(tags=["webhooks"])

KEEP_HEADERS = ("content-type",)
CHALLENGE = "^[a-f0-9]{20,32}$"

NOTIFICATION = {
    "type": "object",
    "required": ["bt_signature", "bt_payload"],
    # Braintree sends these two fields alone; more than MAX_FORM_FIELDS is refused on the raw
    # bytes, before parsing.
    "additionalProperties": False,
    "properties": {
        "bt_signature": {"type": "string", "description": "`<public key>|<hex HMAC>` pairs"},
        "bt_payload": {"type": "string", "description": "Base64 of the notification's XML"},
    },
}


@router.post(
    "/webhooks/braintree",
    responses=WEBHOOK_RESPONSES,
    openapi_extra=webhook_openapi({FORM: NOTIFICATION}),
)
async def braintree_webhook(request: Request) -> JSONResponse:
    """Receive a Braintree webhook notification (form-encoded, verified by the Braintree SDK)."""
    source = enabled_source(request, Source.braintree)
    raw = await read_raw_request(
        request, Source.braintree, media_types={FORM}, keep_headers=KEEP_HEADERS
    )
    return await accept(request, source, raw)


@router.get(
    "/webhooks/braintree",
    response_class=PlainTextResponse,
    responses={
        400: {"description": "Not a challenge Braintree would send", "content": ERROR_BODY},
        404: {"description": "Braintree webhooks are not configured", "content": ERROR_BODY},
        422: VALIDATION_ERROR,
    },
)
async def braintree_challenge(
    request: Request,
    # The exact shape is checked by the verifier (400), so the pattern is documentation only.
    bt_challenge: str = Query(..., max_length=64, json_schema_extra={"pattern": CHALLENGE}),
) -> PlainTextResponse:
    """Answer Braintree's destination check with the SDK's `verify(challenge)`."""
    enabled_source(request, Source.braintree)
    verifier = bridge_of(request).braintree_verifier
    assert verifier is not None  # enabled_source guarantees it
    answer = await anyio.to_thread.run_sync(verifier.verify_challenge, bt_challenge)
    return PlainTextResponse(answer)
