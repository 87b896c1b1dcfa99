"""How uvicorn runs the bridge: one place, used by `attio-bridge serve` (and so by the image).

The HTTP parser is h11, not httptools: httptools accepts headers of any size (eight 100 MB
headers once took the process to 865 MB), h11 refuses an incomplete request head over
`HTTP_MAX_HEADER_BYTES` with a 400 and closes the connection. uvicorn has no deadline for a
request head and arms its keep-alive timer only after a first response, so `DeadlineH11Protocol`
closes a connection whose head has not arrived within `HTTP_HEADER_TIMEOUT_SECONDS` of it
opening or falling idle. Body reads have their own deadline in the webhook intake.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol

from app.config import Settings, get_settings
from app.log import get_logger

log = get_logger(__name__)

GRACEFUL_SHUTDOWN_SECONDS = 25  # in-flight requests finish inside Render's 30 s shutdown delay


class DeadlineH11Protocol(H11Protocol):
    """h11 with a deadline for each request head (slow or absent headers close the connection)."""

    def __init__(self, config: Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        # Read here rather than passed in: uvicorn builds the protocol from its Config alone
        # (and pickles that Config for --reload), so the class must be importable as is.
        self.header_timeout = get_settings().http_header_timeout_seconds
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the request head is complete
            self._cancel_head_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Waiting for the next request (keep-alive): its head gets a deadline of its own.
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_deadline()
        super().connection_lost(exc)

    def _arm_head_deadline(self) -> None:
        self._cancel_head_deadline()
        self._head_deadline = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _cancel_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if not self.transport.is_closing():
            log.info("request.header_timeout", client=_client_host(self.client))
            self.transport.close()


def _client_host(client: tuple[str, int] | None) -> str | None:
    return client[0] if client else None


def uvicorn_options(
    settings: Settings, *, host: str, port: int, proxy_headers: bool = False
) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run` / `uvicorn.Config`, from the settings."""
    return {
        "host": host,
        "port": port,
        "http": DeadlineH11Protocol,
        "h11_max_incomplete_event_size": settings.http_max_header_bytes,
        "timeout_keep_alive": settings.http_keepalive_timeout_seconds,
        "limit_concurrency": settings.http_max_concurrency,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
        "server_header": False,
        "log_config": None,  # our structlog setup handles uvicorn's loggers
        "access_log": settings.access_log,
        # Behind a proxy the client address and scheme come from X-Forwarded-*, believed only
        # from FORWARDED_ALLOW_IPS: anyone else could write any address there.
        "proxy_headers": proxy_headers,
        "forwarded_allow_ips": settings.forwarded_allow_ips if proxy_headers else None,
    }
