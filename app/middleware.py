"""ASGI middleware: a request id bound into every log line, and where the request's time went.

One middleware rather than two: each ASGI layer costs every request a little, and both jobs
wrap the same call.
"""

from __future__ import annotations

import re
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.metrics import REQUEST_OWN_SECONDS
from app.timing import RequestTiming, current_timing

REQUEST_ID_HEADER = "x-request-id"
# Accept a caller's id only if it is short and plain, so it cannot forge log content.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
