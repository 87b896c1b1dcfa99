"""The Redis connection every Redis-backed piece (queue, shared limiter, locks) uses.

One pool per process, created lazily; short socket timeouts, because a Redis that does not answer
must turn into a fallback (inline processing, in-process limits) quickly, never into a webhook
held open.
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["Redis", "RedisConnectionError", "RedisError", "RedisTimeoutError", "connect"]

# Seconds: an append or a limiter call is sub-millisecond on a healthy Redis.
SOCKET_TIMEOUT_SECONDS = 2.0
CONNECT_TIMEOUT_SECONDS = 2.0


def connect(url: str, *, socket_timeout: float = SOCKET_TIMEOUT_SECONDS) -> Redis:
    """A client on `url` (redis:// or rediss://); connects on first use."""
    client: Redis = Redis.from_url(
        url,
        socket_timeout=socket_timeout,
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        health_check_interval=15,
        decode_responses=False,
    )
    return client
