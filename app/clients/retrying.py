"""The one retry policy of every external API client.

Each client's errors carry `retryable` (or the client says which errors it retries: the
Braintree SDK's own); this turns that into a tenacity policy with the same logging, so the
Attio, Zoho and Braintree clients differ only in what they retry and how long they wait.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from app.log import get_logger

log = get_logger(__name__)

WaitStrategy = Callable[[RetryCallState], float]


def _is_retryable(error: BaseException) -> bool:
    return bool(getattr(error, "retryable", False))


def retrying(
    *,
    attempts: int,
    wait: WaitStrategy,
    log_event: str,
    on_retry: Callable[[BaseException | None], None] | None = None,
    retryable: Callable[[BaseException], bool] = _is_retryable,
    **log_fields: Any,
) -> AsyncRetrying:
    """Retry only errors that say they are retryable (or that `retryable` picks); log (and
    count) every retry, with `log_fields` added to the line."""

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        if on_retry is not None:
            on_retry(error)
        log.warning(
            log_event,
            **log_fields,
            attempt=state.attempt_number,
            wait_seconds=round(state.upcoming_sleep, 3),
            error=str(error),
            error_class=type(error).__name__,
        )

    return AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=wait,
        retry=retry_if_exception(retryable),
        before_sleep=before_sleep,
        reraise=True,
    )
