"""The Redis connection every Redis-backed piece (queue, shared limiter, locks) uses.

One pool per process, created lazily; short socket timeouts, because a Redis that does not answer
must turn into a fallback (inline processing, in-process limits) quickly, never into a webhook
held open.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = [
    "Redis",
    "RedisConnectionError",
    "RedisError",
    "RedisTimeoutError",
    "ResponseError",
    "connect",
]

# Seconds: an append or a limiter call is sub-millisecond on a healthy Redis.
SOCKET_TIMEOUT_SECONDS = 2.0
CONNECT_TIMEOUT_SECONDS = 2.0


def connect(
    url: str,
    *,
    socket_timeout: float = SOCKET_TIMEOUT_SECONDS,
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
    retries: int | None = None,
) -> Redis:
    """A client on `url` (redis:// or rediss://); connects on first use.

    `retries`: how often a command failing on a broken connection is sent again (None: redis-py's
    default). 0 where a fast failure matters more than one more try (the webhook intake).
    """
    options: dict[str, Any] = {} if retries is None else {"retry": Retry(NoBackoff(), retries)}
    client: Redis = Redis.from_url(
        url,
        **options,
        socket_timeout=socket_timeout,
        socket_connect_timeout=connect_timeout,
        health_check_interval=15,
        decode_responses=False,
    )
    return client
