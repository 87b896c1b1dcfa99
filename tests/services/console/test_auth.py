"""Console sessions: signed, expiring, revocable; CSRF tied to the session; the slow-down."""

from __future__ import annotations

import pytest
from itsdangerous import URLSafeTimedSerializer

from app.clients.redis import connect as connect_redis
from app.services.console.auth import (
    FREE_FAILURES,
    MAX_WAIT_SECONDS,
    ConsoleAuth,
    SignInThrottle,
    derive_key,
)

TOKEN = "admin-token-0123456789-abcdefghijkl"


def test_the_key_is_derived_not_the_token_and_a_session_secret_replaces_it() -> None:
    assert derive_key(TOKEN) != TOKEN.encode()
    assert derive_key(TOKEN) == derive_key(TOKEN)
    assert derive_key(TOKEN) != derive_key(TOKEN + "x")
    assert derive_key(TOKEN, "other-secret") == b"other-secret"


def test_token_comparison() -> None:
    auth = ConsoleAuth(TOKEN)
    assert auth.token_matches(TOKEN)
    assert auth.token_matches(f" {TOKEN}\n")
    assert not auth.token_matches("")
    assert not auth.token_matches(TOKEN[:-1])


async def test_a_session_round_trips_and_a_forgery_does_not() -> None:
    auth = ConsoleAuth(TOKEN)
    session, cookie = auth.new_session()
    assert await auth.session_from(cookie) == session
    assert auth.csrf_ok(session, session.csrf_token)
    assert not auth.csrf_ok(session, "")
    assert not auth.csrf_ok(session, None)
    other, _ = auth.new_session()
    assert not auth.csrf_ok(session, other.csrf_token)
    assert await auth.session_from(cookie[:-2] + "xx") is None
    assert await auth.session_from(None) is None
    # Another token (rotated), or the same id signed with another key: no session.
    assert await ConsoleAuth(TOKEN + "-rotated").session_from(cookie) is None
    forged = URLSafeTimedSerializer(b"guess", salt="attio-bridge.console.session")
    assert await auth.session_from(forged.dumps(session.session_id)) is None


async def test_a_session_expires() -> None:
    auth = ConsoleAuth(TOKEN, max_age=-1)  # anything signed is already too old
    _, cookie = auth.new_session()
    assert await auth.session_from(cookie) is None


async def test_sign_out_revokes_in_this_process() -> None:
    auth = ConsoleAuth(TOKEN)
    session, cookie = auth.new_session()
    await auth.revoke(session)
    assert await auth.session_from(cookie) is None


async def test_sign_out_revokes_in_every_process_through_redis(redis_url: str) -> None:
    web_1 = ConsoleAuth(TOKEN, redis=connect_redis(redis_url))
    web_2 = ConsoleAuth(TOKEN, redis=connect_redis(redis_url))
    session, cookie = web_1.new_session()
    assert await web_2.session_from(cookie) == session
    await web_1.revoke(session)
    assert await web_2.session_from(cookie) is None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_wrong_tokens_make_an_address_wait_longer_and_longer() -> None:
    clock = Clock()
    throttle = SignInThrottle(clock)
    for _ in range(FREE_FAILURES):
        assert throttle.wait_seconds("10.0.0.1") == 0
        throttle.failed("10.0.0.1")
    waits = []
    for _ in range(4):
        waits.append(throttle.wait_seconds("10.0.0.1"))
        clock.now += waits[-1]
        assert throttle.wait_seconds("10.0.0.1") == 0
        throttle.failed("10.0.0.1")
    assert waits == [1.0, 2.0, 4.0, 8.0]
    assert throttle.wait_seconds("10.0.0.2") == 0  # per address
    for _ in range(40):
        throttle.failed("10.0.0.1")
    assert throttle.wait_seconds("10.0.0.1") == pytest.approx(MAX_WAIT_SECONDS)
    throttle.succeeded("10.0.0.1")
    assert throttle.wait_seconds("10.0.0.1") == 0
