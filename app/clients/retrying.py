"""What every external API client shares: its pooled HTTP client's lifecycle, one timed HTTP
exchange, safe path segments and the retry loop.

Each client's errors carry `retryable`; this module turns that into one tenacity policy with
the same logging, so the Attio and Zoho clients differ only in how long they wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Self
from urllib.parse import quote

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from app.log import get_logger
from app.timing import add_wait_seconds

log = get_logger(__name__)

WaitStrategy = Callable[[RetryCallState], float]


class PooledClient:
    """Owns one pooled `httpx.AsyncClient` (`self._http`); close it, or use `async with`."""

    _http: httpx.AsyncClient

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _exchange(
        self,
        api: str,
        transport_error: Callable[[str], Exception],
        method: str,
        path: str,
        url: str | None = None,
        **request: Any,
    ) -> tuple[httpx.Response, float]:
        """One request and its answer, timed as a wait on `api` (`attio`, `zoho`) for the
        request being served; a timeout or a connection failure becomes `transport_error`."""
        started = time.perf_counter()
        try:
            response = await self._http.request(method, url or path, **request)
        except httpx.TimeoutException as exc:
            raise transport_error(f"{api.title()} did not answer {method} {path} in time") from exc
        except httpx.TransportError as exc:
            message = f"Could not reach {api.title()} for {method} {path}: {exc}"
            raise transport_error(message) from exc
        finally:
            elapsed = time.perf_counter() - started
            add_wait_seconds(api, elapsed)
        return response, elapsed

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()


def url_segment(value: str) -> str:
    """An id or slug made safe for one URL path segment."""
    return quote(value, safe="")


def _is_retryable(error: BaseException) -> bool:
    return bool(getattr(error, "retryable", False))


def retrying(
    *,
    attempts: int,
    wait: WaitStrategy,
    log_event: str,
    on_retry: Callable[[BaseException | None], None] | None = None,
) -> AsyncRetrying:
    """Retry only errors that say they are retryable; log (and count) every retry."""

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        if on_retry is not None:
            on_retry(error)
        log.warning(
            log_event,
            attempt=state.attempt_number,
            wait_seconds=round(state.upcoming_sleep, 3),
            error=str(error),
            error_class=type(error).__name__,
        )

    return AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=wait,
        retry=retry_if_exception(_is_retryable),
        before_sleep=before_sleep,
        reraise=True,
    )
