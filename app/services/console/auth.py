"""The console's sign-in: ADMIN_TOKEN in, a signed session out; CSRF tokens; slow-down.

A session is a random id signed with a timestamp (itsdangerous); the key is derived from
ADMIN_TOKEN by HMAC (or taken from CONSOLE_SESSION_SECRET), so no new secret is needed and
rotating the token ends every session. Sign-out revokes the id: in Redis when configured (so
every process refuses it), always in this process, until the session would have expired anyway.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.clients.redis import Redis, RedisError
from app.log import get_logger

log = get_logger(__name__)

SESSION_SECONDS = 8 * 3600
REVOKED_KEY_PREFIX = "attio-bridge:console:revoked:"
_SALT = "attio-bridge.console.session"

# Wrong tokens from one address: free for the first few, then a growing wait before the next try.
FREE_FAILURES = 3
MAX_WAIT_SECONDS = 300.0
FAILURE_MEMORY_SECONDS = 3600.0


def derive_key(admin_token: str, explicit: str | None = None) -> bytes:
    """The signing key: CONSOLE_SESSION_SECRET when set, else HMAC-SHA256 of a fixed label
    under ADMIN_TOKEN (never the token itself, so a leaked cookie key reveals no token)."""
    if explicit:
        return explicit.encode()
    return hmac.new(
        admin_token.encode(), b"attio-bridge console session v1", hashlib.sha256
    ).digest()


@dataclass(frozen=True)
class Session:
    session_id: str
    csrf_token: str


class SignInThrottle:
    """Per client address: after FREE_FAILURES wrong tokens, each further try must wait
    1 s, 2 s, 4 s ... (at most MAX_WAIT_SECONDS) after the last failure; a right token clears it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[str, tuple[int, float]] = {}

    def wait_seconds(self, address: str) -> float:
        """How long `address` must still wait before its next try (0: it may try now)."""
        count, last = self._failures.get(address, (0, 0.0))
        if count < FREE_FAILURES:
            return 0.0
        wait = min(MAX_WAIT_SECONDS, 2.0 ** (count - FREE_FAILURES))
        return max(0.0, last + wait - self._clock())

    def failed(self, address: str) -> None:
        now = self._clock()
        count, last = self._failures.get(address, (0, now))
        if now - last > FAILURE_MEMORY_SECONDS:
            count = 0
        self._failures[address] = (count + 1, now)
        if len(self._failures) > 10_000:  # bounded memory under a spray of addresses
            oldest = min(self._failures, key=lambda a: self._failures[a][1])
            del self._failures[oldest]

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)


class ConsoleAuth:
    def __init__(
        self,
        admin_token: str,
        *,
        session_secret: str | None = None,
        redis: Redis | None = None,
        max_age: int = SESSION_SECONDS,
    ) -> None:
        self._token = admin_token.encode()
        self._key = derive_key(admin_token, session_secret)
        self._signer = URLSafeTimedSerializer(self._key, salt=_SALT)
        self._redis = redis
        self.max_age = max_age
        self._revoked: dict[str, float] = {}  # session id -> when its cookie expires anyway
        self.throttle = SignInThrottle()

    def token_matches(self, presented: str) -> bool:
        return hmac.compare_digest(presented.strip().encode(), self._token)

    def new_session(self) -> tuple[Session, str]:
        """A fresh session and its cookie value."""
        session_id = secrets.token_urlsafe(24)
        return self._session(session_id), self._signer.dumps(session_id)

    def _session(self, session_id: str) -> Session:
        csrf = hmac.new(self._key, b"csrf:" + session_id.encode(), hashlib.sha256).hexdigest()
        return Session(session_id=session_id, csrf_token=csrf)

    async def session_from(self, cookie: str | None) -> Session | None:
        """The session a cookie carries, or None: missing, forged, expired or signed out."""
        if not cookie:
            return None
        try:
            session_id = self._signer.loads(cookie, max_age=self.max_age)
        except BadSignature:  # also SignatureExpired
            return None
        if not isinstance(session_id, str) or await self._is_revoked(session_id):
            return None
        return self._session(session_id)

    def csrf_ok(self, session: Session, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(
            (presented or "").encode(), session.csrf_token.encode()
        )

    async def revoke(self, session: Session) -> None:
        now = time.time()
        self._revoked = {sid: until for sid, until in self._revoked.items() if until > now}
        self._revoked[session.session_id] = now + self.max_age
        if self._redis is None:
            return
        try:
            await self._redis.set(REVOKED_KEY_PREFIX + session.session_id, "1", ex=self.max_age)
        except (RedisError, OSError) as exc:
            log.warning("console.revoke_redis_failed", error=str(exc))

    async def _is_revoked(self, session_id: str) -> bool:
        if self._revoked.get(session_id, 0.0) > time.time():
            return True
        if self._redis is None:
            return False
        try:
            return bool(await self._redis.exists(REVOKED_KEY_PREFIX + session_id))
        except (RedisError, OSError) as exc:
            log.warning("console.revoke_check_failed", error=str(exc))
            return False
