"""What stands between a client and the /v2 routes: auth, rate limits, latency, faults, logging.

Written as plain ASGI middleware rather than an HTTP middleware so it can run a handler and
throw its answer away, which is how a fault strikes after a write was applied.

Order per call: authentication (401), 429 burst in progress, rate-limit window (429, the call is
not counted), latency, then at most one injected fault, then the route.
"""

from __future__ import annotations

import asyncio
import math
import time
from email.utils import formatdate

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from attio_sandbox.errors import AttioError, unauthorized
from attio_sandbox.faults import FaultInjector, FaultKind
from attio_sandbox.requestlog import CallKind, RequestLogEntry
from attio_sandbox.state import SandboxState

RATE_LIMIT_MESSAGE = "Rate limit exceeded, please try again later"
# Attio documents the envelope for every error but not the type/code of its 5xx answers.
_SERVER_ERRORS = {
    500: ("internal_server_error", "An unexpected error occurred, please try again."),
    502: ("bad_gateway", "Bad gateway, please try again."),
    503: ("service_unavailable", "The service is temporarily unavailable, please try again."),
    504: ("gateway_timeout", "The request timed out, please try again."),
}


def route_path(scope: Scope) -> str:
    """The path below any mount point (Starlette keeps the full path in `scope["path"]`)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def call_kind(method: str, path: str) -> CallKind:
    """Attio counts record queries as reads although they are POSTs."""
    if method in ("GET", "HEAD") or (method == "POST" and path.endswith("/records/query")):
        return "read"
    return "write"


def retry_after_header(free_at: float) -> str:
    """HTTP date of the moment a slot frees (monotonic `free_at`), rounded up to a second."""
    wall = time.time() + (free_at - time.monotonic())
    return formatdate(math.ceil(wall), usegmt=True)


def rate_limited(free_at: float) -> AttioError:
    return AttioError(
        429,
        "rate_limit_exceeded",
        RATE_LIMIT_MESSAGE,
        error_type="rate_limit_error",
        headers={"Retry-After": retry_after_header(free_at)},
    )


def server_error(status: int) -> AttioError:
    code, message = _SERVER_ERRORS[status]
    return AttioError(status, code, message, error_type="api_error")


async def _discard(_message: Message) -> None:
    return None


class _Outcome:
    __slots__ = ("fault", "status")

    def __init__(self) -> None:
        self.status = 500
        self.fault: str | None = None


class Gateway:
    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not route_path(scope).startswith("/v2"):
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        method: str = scope["method"]
        path = route_path(scope)
        kind = call_kind(method, path)
        outcome = _Outcome()

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome.status = message["status"]
            await send(message)

        try:
            await self._gate(scope, receive, tracking_send, path, kind, outcome)
        finally:
            self.state.requests.add(
                RequestLogEntry(
                    method=method,
                    path=path,
                    query=scope.get("query_string", b"").decode("latin-1"),
                    status=outcome.status,
                    kind=kind,
                    at=started,
                    duration_ms=(time.monotonic() - started) * 1000,
                    fault=outcome.fault,
                )
            )

    async def _gate(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        path: str,
        kind: CallKind,
        outcome: _Outcome,
    ) -> None:
        state = self.state
        faults = state.faults
        injector = state.injector

        authorization = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        if not state.authorized(authorization):
            error = unauthorized("Authentication failed: send a valid token as a Bearer token.")
            await error.response()(scope, receive, send)
            return

        now = time.monotonic()
        burst_end = injector.burst_until(now)
        if burst_end is not None:
            outcome.fault = FaultKind.RATE_LIMIT_BURST.value
            await rate_limited(burst_end).response()(scope, receive, send)
            return
        if faults.rate_limits:
            free_at = state.limiter.try_acquire(
                kind,
                limit=faults.write_rate if kind == "write" else faults.read_rate,
                window=faults.rate_window_seconds,
                now=now,
            )
            if free_at is not None:
                outcome.fault = "rate_limited"
                await rate_limited(free_at).response()(scope, receive, send)
                return

        delay = injector.latency_seconds(faults)
        if delay:
            await asyncio.sleep(delay)

        fault = None
        if FaultInjector.applies(faults, scope["method"], path):
            fault = injector.draw(faults, kind, time.monotonic())
        if fault is None:
            await self.app(scope, receive, send)
            return

        after_write = (
            faults.after_write
            and kind == "write"
            and fault.kind in (FaultKind.SERVER_ERROR, FaultKind.TIMEOUT)
        )
        outcome.fault = f"after_write:{fault.kind.value}" if after_write else fault.kind.value
        if fault.until is not None:
            error = rate_limited(fault.until)
        elif fault.kind is FaultKind.CONFLICT:
            error = AttioError(
                409,
                "concurrent_write_conflict",
                "Another write to this record was in progress, please try again.",
            )
        else:
            if after_write:
                await self.app(scope, receive, _discard)
            if fault.kind is FaultKind.TIMEOUT:
                await asyncio.sleep(faults.timeout_seconds)
            error = server_error(fault.status)
        await error.response()(scope, receive, send)
