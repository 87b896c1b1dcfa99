"""Braintree: POST notifications (`bt_signature` / `bt_payload`) and the GET challenge."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from app.events.model import Source
from app.routes._intake import FORM, accept, bridge_of, enabled_source, read_raw_request

router = APIRouter(tags=["webhooks"])

KEEP_HEADERS = ("content-type",)


@router.post("/webhooks/braintree", responses={401: {}, 404: {}, 413: {}, 415: {}, 503: {}})
async def braintree_webhook(request: Request) -> JSONResponse:
    """Receive a Braintree webhook notification (form-encoded, verified by the Braintree SDK)."""
    source = enabled_source(request, Source.braintree)
    raw = await read_raw_request(
        request, Source.braintree, media_types={FORM}, keep_headers=KEEP_HEADERS
    )
    return await accept(request, source, raw)


@router.get("/webhooks/braintree", response_class=PlainTextResponse, responses={400: {}, 404: {}})
async def braintree_challenge(
    request: Request, bt_challenge: str = Query(..., max_length=64)
) -> PlainTextResponse:
    """Answer Braintree's destination check with the SDK's `verify(challenge)`."""
    enabled_source(request, Source.braintree)
    verifier = bridge_of(request).braintree_verifier
    assert verifier is not None  # enabled_source guarantees it
    answer = await anyio.to_thread.run_sync(verifier.verify_challenge, bt_challenge)
    return PlainTextResponse(answer)
