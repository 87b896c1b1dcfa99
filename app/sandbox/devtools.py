"""Development routes outside /v2 (no auth, no rate limits, not logged): look at the data, the
calls made so far, and the fault settings; reset everything."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from app.sandbox.errors import validation_error
from app.sandbox.render import plain_record
from app.sandbox.state import SandboxState

router = APIRouter(prefix="/_sandbox")


def _state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


@router.get("/objects/{slug}/records")
async def plain_records(request: Request, slug: str) -> JSONResponse:
    store = _state(request).store
    obj = store.get_object(slug)
    return JSONResponse({"data": [plain_record(store, r) for r in obj.records.values()]})


@router.get("/requests")
async def request_summary(request: Request) -> JSONResponse:
    recent = request.query_params.get("recent", "50")
    count = int(recent) if recent.isdigit() else 50
    return JSONResponse(_state(request).requests.summary(recent=count))


@router.post("/reset")
async def reset(request: Request) -> JSONResponse:
    _state(request).reset()
    return JSONResponse({"status": "reset"})


@router.get("/faults")
async def get_faults(request: Request) -> JSONResponse:
    return JSONResponse(_state(request).faults.model_dump())


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
        updated = _state(request).configure_faults(**changes)
    except ValidationError as exc:
        raise validation_error(str(exc)) from None
    return JSONResponse(updated.model_dump())
