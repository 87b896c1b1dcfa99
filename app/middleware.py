"""ASGI middleware: a request id bound into every log line, and where the request's time went.

One middleware rather than two: each ASGI layer costs every request a little, and both jobs
wrap the same call.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import uuid

import structlog
from pydantic import SecretStr
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.metrics import REQUEST_OWN_SECONDS
from app.timing import RequestTiming, current_timing

REQUEST_ID_HEADER = "x-request-id"
# Accept a caller's id only if it is short and plain, so it cannot forge log content.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


# On every response: browsers must not guess a content type (an error echo rendered as HTML).
_SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff")]
# Production is only reached over HTTPS (Render terminates TLS); browsers should never try http.
_HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.security_headers = [*_SECURITY_HEADERS, *([_HSTS] if hsts else [])]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        timing = RequestTiming()

        async def send_with_context(message: Message) -> None:
            if message["type"] == "http.response.start":
                own_seconds = timing.own_seconds()
                route = scope.get("route")
                REQUEST_OWN_SECONDS.labels(getattr(route, "path", "unmatched")).observe(own_seconds)
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                    (b"server-timing", timing.server_timing(own_seconds)),
                    *self.security_headers,
                ]
            await send(message)

        token = current_timing.set(timing)
        try:
            with structlog.contextvars.bound_contextvars(
                request_id=request_id, path=scope.get("path"), method=scope.get("method")
            ):
                await self.app(scope, receive, send_with_context)
        finally:
            current_timing.reset(token)


def is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LoopbackOrAdmin:
    """Serves `app` to connections made to a loopback address of this server; on any other
    address only with the admin bearer token (404 while none is configured)."""

    def __init__(self, app: ASGIApp, admin_token: SecretStr | None) -> None:
        self.app = app
        self.admin_token = admin_token.get_secret_value() if admin_token else ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # `server` is the socket's own address, which no request header can change.
        server = scope.get("server")
        if scope["type"] == "http" and not is_loopback(server[0] if server else None):
            if not self.admin_token:
                response = JSONResponse({"error": "not_found", "detail": "Not Found"}, 404)
                await response(scope, receive, send)
                return
            scheme, _, presented = Headers(scope=scope).get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                presented.strip().encode(), self.admin_token.encode()
            ):
                response = JSONResponse(
                    {"error": "unauthorized", "detail": "Missing or invalid admin token"}, 401
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
