"""Reading Attio-style requests by hand, so every malformed one gets Attio's 400 envelope.

Shared by the /v2 route modules; FastAPI's own body models would answer 422 instead.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from attio_sandbox.errors import validation_error
from attio_sandbox.state import SandboxState


def ok(data: Any) -> JSONResponse:
    # A ready response skips FastAPI's jsonable_encoder, which is slow on 500-record pages.
    return JSONResponse({"data": data})


def sandbox_state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


async def read_json(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        raise validation_error("The request body is required.")
    try:
        return json.loads(raw)
    except ValueError:
        raise validation_error("The request body is not valid JSON.") from None


def data_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise validation_error('The body must be an object with a "data" object.')
    data: dict[str, Any] = body["data"]
    return data


async def record_values(request: Request) -> dict[str, Any]:
    """The `data.values` object of a record write."""
    data = data_object(await read_json(request))
    values = data.get("values")
    if not isinstance(values, dict) or set(data) != {"values"}:
        raise validation_error('"data" must hold exactly one key, "values", with an object.')
    return values


def non_negative_int(raw: Any, name: str, default: int) -> int:
    """A non-negative integer from a query parameter or body field."""
    if raw is None:
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = -1.0
    if isinstance(raw, bool) or value < 0 or not value.is_integer():
        raise validation_error(f'"{name}" must be a non-negative integer.')
    return int(value)
