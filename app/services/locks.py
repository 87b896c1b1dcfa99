"""Per-record locks, so two events for the same record cannot interleave.

In every process, one asyncio lock per key. With Redis (REDIS_URL), the holder of that lock then
takes a Redis lock on the same key, so two processes (web instances, workers) never interleave
either: `SET key token NX PX ttl`, renewed while held, released by compare-and-delete, so a
holder that died frees its locks when they expire and a release never frees someone else's. The
in-process lock comes first so one process's waiters queue in memory, not on Redis.

Time spent waiting for a lock is another event's Attio work, so it is reported as a
`record-lock` wait, not own time.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from app.clients.redis import Redis, RedisError
from app.log import get_logger
from app.timing import queued

log = get_logger(__name__)

KEY_PREFIX = "attio-bridge:"
# Renewed while held, so only a dead holder's lock ever expires. Deployments derive it from the
# queue's reclaim idle time (Settings.record_lock_ttl_seconds).
DEFAULT_TTL_SECONDS = 30.0

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


class RedisLocks:
    """Locks with expiry in Redis, one per key under `prefix` (`attio-bridge:<prefix>:<key>`).

    `hold(key)` waits for the lock; `try_hold(key)` takes it only if it is free (one sync run
    at a time per source: `RedisLocks(redis, "sync").try_hold("zoho")`).
    """

    def __init__(
        self,
        redis: Redis,
        prefix: str,
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        poll_seconds: float = 0.02,
        max_poll_seconds: float = 0.25,
    ) -> None:
        self._redis = redis
        self._prefix = f"{KEY_PREFIX}{prefix}:"
        self._ttl_ms = max(1, round(ttl_seconds * 1000))
        self._poll = poll_seconds
        self._max_poll = max_poll_seconds
        self._release = redis.register_script(_RELEASE)
        self._renew = redis.register_script(_RENEW)

    def key(self, key: str) -> str:
        return f"{self._prefix}{key}"

    async def take(self, key: str) -> str | None:
        """The lock's token if it was free and is now ours, else None (one round trip)."""
        token = secrets.token_hex(16)
        taken = await self._redis.set(self.key(key), token, nx=True, px=self._ttl_ms)
        return token if taken else None

    async def release(self, key: str, token: str) -> bool:
        """Free the lock if `token` still holds it (never someone else's after an expiry)."""
        return bool(await self._release(keys=[self.key(key)], args=[token]))

    async def renew(self, key: str, token: str) -> bool:
        return bool(await self._renew(keys=[self.key(key)], args=[token, self._ttl_ms]))

    async def acquire(self, key: str) -> str:
        """Wait for the lock (polling, with backoff) and return its token."""
        poll = self._poll
        while (token := await self.take(key)) is None:
            await asyncio.sleep(poll)
            poll = min(poll * 2, self._max_poll)
        return token

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        async with self.held(key, await self.acquire(key)):
            yield

    @asynccontextmanager
    async def try_hold(self, key: str) -> AsyncIterator[bool]:
        """Yields True holding the lock, or False (at once) when another holder has it."""
        token = await self.take(key)
        if token is None:
            yield False
            return
        async with self.held(key, token):
            yield True

    @asynccontextmanager
    async def held(self, key: str, token: str) -> AsyncIterator[None]:
        """Keep the lock `token` holds renewed until the block ends, then release it."""
        renewer = asyncio.create_task(self._keep(key, token))
        try:
            yield
        finally:
            renewer.cancel()
            try:
                await self.release(key, token)
            except RedisError as exc:
                # It expires on its own; the next holder waits at most the ttl.
                log.warning("lock.release_failed", key=self.key(key), error=type(exc).__name__)

    async def _keep(self, key: str, token: str) -> None:
        """Renew every third of the ttl while the work lasts."""
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            try:
                if not await self.renew(key, token):
                    log.warning("lock.lost", key=self.key(key))
                    return
            except RedisError as exc:
                log.warning("lock.renew_failed", key=self.key(key), error=type(exc).__name__)


@dataclass
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class KeyedLocks:
    """One asyncio lock per key, kept only while someone holds or waits for it; with `redis`,
    also a Redis lock under `attio-bridge:lock:<name>:<key>` shared by every process."""

    def __init__(
        self,
        name: str = "records",
        *,
        redis: Redis | None = None,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
    ) -> None:
        self._entries: dict[str, _Entry] = {}
        self._shared = (
            RedisLocks(redis, f"lock:{name}", ttl_seconds=ttl_seconds)
            if redis is not None
            else None
        )
        self._redis_down = False

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        entry = self._entries.setdefault(key, _Entry())
        entry.users += 1
        try:
            await queued("record-lock", entry.lock.acquire())
            try:
                if self._shared is None:
                    yield
                else:
                    async with self._hold_shared(key):
                        yield
            finally:
                entry.lock.release()
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._entries[key]

    @asynccontextmanager
    async def _hold_shared(self, key: str) -> AsyncIterator[None]:
        shared = self._shared
        assert shared is not None
        tokens: list[str] = []

        async def take() -> None:
            tokens.append(await shared.acquire(key))

        try:
            await queued("record-lock", take())
        except RedisError as exc:
            # Redis down: this process's lock still orders its own events (and a worker that
            # cannot reach Redis has no queue to read either).
            if not self._redis_down:
                log.warning("lock.redis_unreachable", error=type(exc).__name__)
                self._redis_down = True
            yield
            return
        if self._redis_down:
            log.info("lock.redis_back")
            self._redis_down = False
        async with shared.held(key, tokens[0]):
            yield

    def __len__(self) -> int:
        return len(self._entries)
