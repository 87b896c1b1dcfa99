"""Attio REST v2 client: `AttioClient` plus its exception tree and rate limiter."""

from app.clients.attio.client import DEFAULT_PAGE_SIZE, AttioClient, Record, backoff_seconds
from app.clients.attio.errors import (
    AttioAPIError,
    AttioAuthError,
    AttioConflictError,
    AttioError,
    AttioMergeInProgressError,
    AttioNotFoundError,
    AttioRateLimitError,
    AttioServerError,
    AttioTransportError,
    AttioValidationError,
    parse_retry_after,
)
from app.clients.attio.ratelimit import RateLimiter, ahead_of_the_queue

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "AttioAPIError",
    "AttioAuthError",
    "AttioClient",
    "AttioConflictError",
    "AttioError",
    "AttioMergeInProgressError",
    "AttioNotFoundError",
    "AttioRateLimitError",
    "AttioServerError",
    "AttioTransportError",
    "AttioValidationError",
    "RateLimiter",
    "Record",
    "ahead_of_the_queue",
    "backoff_seconds",
    "parse_retry_after",
]
