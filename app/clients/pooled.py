"""The base of every external API client: one pooled HTTP client, one timed exchange through a
rate limiter, and the send-once-and-retry loop.

A client names its API (`attio`, `zoho`: the name of its waits in Server-Timing and of its log
events) and says how to read an error from a response; the rest is the same for all of them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Protocol, Self, TypeVar
from urllib.parse import quote

import httpx

from app.clients.retrying import WaitStrategy, retrying
from app.errors import BridgeError
from app.log import get_logger
from app.timing import add_wait_seconds, queued

log = get_logger(__name__)

T = TypeVar("T")


class Limiter(Protocol):
    async def acquire(self) -> None: ...

    def pause(self, seconds: float) -> None: ...


class PooledClient:
    """Owns one pooled `httpx.AsyncClient` (`self._http`); close it, or use `async with`."""

    api: ClassVar[str]
    transport_error: ClassVar[type[BridgeError]]
    _http: httpx.AsyncClient
    _max_attempts: int
    _wait: WaitStrategy

    # -- what a client says about its API ----------------------------------------------------

    def _error_of(self, response: httpx.Response) -> BridgeError | None:
        """The typed error an answer carries, or None for a success."""
        raise NotImplementedError

    def _pause_for(self, error: BridgeError) -> float | None:
        """Seconds every caller holds back after `error` (a rate limit), or None."""
        return None

    def _observe(self, method: str, status: int | None, elapsed: float) -> None:
        """Count a call (`status` None: no answer). Metrics are per client; none by default."""

    # -- the loop ----------------------------------------------------------------------------

    async def _with_retries(
        self,
        send: Callable[[], Awaitable[T]],
        *,
        on_retry: Callable[[BaseException | None], None] | None = None,
        retryable: Callable[[BaseException], bool] | None = None,
    ) -> T:
        """`send` until it succeeds or raises an error that is not retryable (or runs out)."""
        policy = retrying(
            attempts=self._max_attempts,
            wait=self._wait,
            log_event=f"{self.api}.request.retry",
            on_retry=on_retry,
            **({"retryable": retryable} if retryable is not None else {}),
        )
        async for attempt in policy:
            with attempt:
                return await send()
        raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover

    async def _send_once(
        self, limiter: Limiter, method: str, path: str, url: str | None = None, **request: Any
    ) -> httpx.Response:
        """One call through `limiter`; an error answer is raised as the client's typed error."""
        await queued(f"{self.api}-limiter", limiter.acquire())
        try:
            response, elapsed = await self._exchange(method, path, url, **request)
        except BridgeError:
            self._observe(method, None, 0.0)
            raise
        self._observe(method, response.status_code, elapsed)
        elapsed_ms = round(elapsed * 1000, 1)
        error = self._error_of(response)
        if error is not None:
            pause = self._pause_for(error)
            if pause is not None:
                limiter.pause(pause)
            log.info(
                f"{self.api}.request.error",
                method=method,
                path=path,
                status=response.status_code,
                code=getattr(error, f"{self.api}_code", None),
                elapsed_ms=elapsed_ms,
            )
            raise error
        log.debug(
            f"{self.api}.request",
            method=method,
            path=path,
            status=response.status_code,
            ms=elapsed_ms,
        )
        return response

    async def _exchange(
        self, method: str, path: str, url: str | None = None, **request: Any
    ) -> tuple[httpx.Response, float]:
        """One request and its answer, timed as a wait on this API for the request being
        served; a timeout or a connection failure becomes the client's transport error."""
        name = self.api.title()
        started = time.perf_counter()
        try:
            response = await self._http.request(method, url or path, **request)
        except httpx.TimeoutException as exc:
            raise type(self).transport_error(
                f"{name} did not answer {method} {path} in time"
            ) from exc
        except httpx.TransportError as exc:
            message = f"Could not reach {name} for {method} {path}: {exc}"
            raise self.transport_error(message) from exc
        finally:
            elapsed = time.perf_counter() - started
            add_wait_seconds(self.api, elapsed)
        return response, elapsed

    # -- lifecycle ---------------------------------------------------------------------------

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()


def url_segment(value: str) -> str:
    """An id or slug made safe for one URL path segment."""
    return quote(value, safe="")


def json_or_none(response: httpx.Response) -> Any:
    """The decoded JSON body, or None when it is empty or not JSON."""
    if not response.content:
        return None
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header.

    Attio sends an HTTP date (the moment the limit resets); the standard also allows seconds.
    Returns None when the header is absent or unreadable, so the caller falls back to backoff.
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)
