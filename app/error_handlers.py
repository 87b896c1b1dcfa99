"""One place that turns errors into HTTP answers: `{"error": <code>, "detail": <message>}`.

Stack traces go to the log (redacted), never into a response body.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from app.errors import BridgeError
from app.log import get_logger

log = get_logger(__name__)


def error_response(status_code: int, code: str, detail: object) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status_code)


async def _bridge_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BridgeError)
    if exc.status_code >= 500:
        log.error("request.failed", error=exc.message, code=exc.code, status=exc.status_code)
    response = error_response(exc.status_code, exc.code, exc.message)
    if exc.status_code == 408:
        # The rest of a stalled body may still trickle in: end the connection with the answer.
        response.headers["connection"] = "close"
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, int):
        response.headers["retry-after"] = str(retry_after)
    return response


async def _client_disconnected(_request: Request, _exc: Exception) -> Response:
    # The sender gave up mid-request (its own timeout, a network cut): ordinary, not a crash.
    # It will redeliver; nothing was processed. The answer goes nowhere.
    log.info("request.client_disconnected")
    return Response(status_code=400)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, exc.detail)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Field locations and messages only; pydantic's `input` could echo a submitted secret.
    errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in exc.errors()]
    return error_response(422, "validation_error", errors)


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("request.crashed", error_class=type(exc).__name__)
    return error_response(500, "internal_error", "Internal server error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(BridgeError, _bridge_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ClientDisconnect, _client_disconnected)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
