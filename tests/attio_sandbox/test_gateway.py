"""Auth, rate limits, latency, fault injection, the request log, and unknown routes."""

from __future__ import annotations

import asyncio
import base64
import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from attio_sandbox import FaultConfig, SandboxConfig, SandboxState, create_sandbox_app
from attio_sandbox.gateway import retry_after_header
from attio_sandbox.ratelimit import SlidingWindowLimiter
from tests.attio_sandbox.support import AUTH, BASE_URL, error, write_body

PEOPLE = "/v2/objects/people/records"
RATE_LIMIT_BODY = {
    "status_code": 429,
    "type": "rate_limit_error",
    "code": "rate_limit_exceeded",
    "message": "Rate limit exceeded, please try again later",
}


def client_for(app: FastAPI, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=headers)


async def create(client: httpx.AsyncClient, email: str = "a@example.com") -> httpx.Response:
    return await client.post(PEOPLE, json=write_body(email_addresses=[email]))


_real_sleep = asyncio.sleep


class Sleeps:
    """`asyncio.sleep` while a test runs: each wait the sandbox asks for is recorded and ends
    at once, or, with `hold=n`, only once n waits have started (so they overlap)."""

    def __init__(self, hold: int = 0) -> None:
        self.delays: list[float] = []
        self._hold = hold
        self._all_started = asyncio.Event()

    async def __call__(self, delay: float, result: Any = None) -> Any:
        if delay <= 0:
            return await _real_sleep(0, result)
        self.delays.append(delay)
        if len(self.delays) >= self._hold:
            self._all_started.set()
        await self._all_started.wait()
        return result


def record_sleeps(monkeypatch: pytest.MonkeyPatch, *, hold: int = 0) -> Sleeps:
    sleeps = Sleeps(hold)
    monkeypatch.setattr(asyncio, "sleep", sleeps)
    return sleeps


# Authentication ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer ", "Bearer", "Token abc", "Basic !!!", "Basic "]
)
async def test_calls_without_a_token_get_401(
    sandbox_app: FastAPI, sandbox: SandboxState, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    async with client_for(sandbox_app, headers) as client:
        response = await client.get("/v2/objects")
    body = error(response, 401, "unauthorized")
    assert body["type"] == "auth_error"
    assert sandbox.requests.count(status=401) == 1


async def test_basic_auth_with_the_token_as_user_name(sandbox_app: FastAPI) -> None:
    token = base64.b64encode(b"any-token:").decode()
    async with client_for(sandbox_app, {"Authorization": f"Basic {token}"}) as client:
        assert (await client.get("/v2/self")).status_code == 200


async def test_a_configured_api_key_must_match() -> None:
    app = create_sandbox_app(SandboxConfig(api_key="sk-right"))
    async with client_for(app, {"Authorization": "Bearer sk-wrong"}) as client:
        error(await client.get("/v2/self"), 401, "unauthorized")
    async with client_for(app, {"Authorization": "Bearer sk-right"}) as client:
        assert (await client.get("/v2/self")).status_code == 200
    basic = base64.b64encode(b"sk-right:").decode()
    async with client_for(app, {"Authorization": f"Basic {basic}"}) as client:
        assert (await client.get("/v2/self")).status_code == 200


async def test_development_routes_need_no_token(sandbox_app: FastAPI) -> None:
    async with client_for(sandbox_app) as client:
        assert (await client.get("/_sandbox/faults")).status_code == 200


# Unknown routes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v2/unknown"),
        ("DELETE", "/v2/objects"),
        ("GET", "/elsewhere"),
        ("POST", "/v2/self"),
    ],
)
async def test_unknown_routes_get_attio_404s(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    error(await client.request(method, path), 404, "not_found")


# Rate limits ---------------------------------------------------------------------------


def test_sliding_window_limiter() -> None:
    limiter = SlidingWindowLimiter()
    assert limiter.try_acquire("write", limit=2, window=1.0, now=10.0) is None
    assert limiter.try_acquire("write", limit=2, window=1.0, now=10.4) is None
    # Full: the oldest admitted call's slot frees at 11.0. Reads have their own window.
    assert limiter.try_acquire("write", limit=2, window=1.0, now=10.5) == 11.0
    assert limiter.try_acquire("read", limit=2, window=1.0, now=10.5) is None
    assert limiter.try_acquire("write", limit=2, window=1.0, now=11.0) is None
    assert limiter.try_acquire("write", limit=2, window=1.0, now=11.1) == 11.4
    # A lowered limit waits for enough admitted calls to leave the window.
    assert limiter.try_acquire("write", limit=1, window=1.0, now=11.2) == 12.0


def test_retry_after_is_an_http_date_rounded_up_to_the_next_second() -> None:
    before = time.time()
    header = retry_after_header(time.monotonic() + 0.2)
    retry_at = parsedate_to_datetime(header).timestamp()
    assert header.endswith(" GMT")
    assert retry_at == int(retry_at)
    assert before + 0.2 - 0.01 <= retry_at < time.time() + 0.2 + 1


async def test_writes_over_the_limit_get_429_with_retry_after(
    client: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    sandbox.configure_faults(rate_limits=True, write_rate=3, read_rate=100)
    for number in range(3):
        assert (await create(client, f"p{number}@example.com")).status_code == 200
    limited = await create(client, "p3@example.com")
    assert limited.status_code == 429
    assert limited.json() == RATE_LIMIT_BODY

    first_call = sandbox.requests.entries[0].at
    frees_at = time.time() - (time.monotonic() - (first_call + 1.0))
    retry_at = parsedate_to_datetime(limited.headers["Retry-After"]).timestamp()
    assert frees_at - 0.05 <= retry_at < frees_at + 1.05
    assert len(sandbox.store.query_records("people")) == 3
    assert sandbox.requests.select(status=429)[0].fault == "rate_limited"


async def test_record_queries_count_as_reads(
    client: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    sandbox.configure_faults(rate_limits=True, write_rate=1, read_rate=3)
    assert (await create(client)).status_code == 200
    assert (await create(client, "b@example.com")).status_code == 429
    for _ in range(3):
        assert (await client.post(f"{PEOPLE}/query", json={})).status_code == 200
    assert (await client.get("/v2/objects")).status_code == 429
    assert sandbox.requests.count(kind="read") == 4
    assert sandbox.requests.count(kind="write") == 2


def test_rejected_calls_do_not_extend_the_window() -> None:
    # On the limiter's own clock: the same calls through HTTP depended on this machine's speed.
    limiter = SlidingWindowLimiter()
    for now in (10.0, 10.01):
        assert limiter.try_acquire("read", limit=2, window=0.3, now=now) is None
    for n in range(5):
        assert limiter.try_acquire("read", limit=2, window=0.3, now=10.15 + n * 0.01) == 10.3
    # Counted rejections would still fill the window here.
    assert limiter.try_acquire("read", limit=2, window=0.3, now=10.32) is None


async def test_rate_limits_are_on_by_default() -> None:
    assert FaultConfig().rate_limits is True
    app = create_sandbox_app(SandboxConfig(faults=FaultConfig(write_rate=2)))
    async with client_for(app, AUTH) as client:
        statuses = [(await create(client, f"p{n}@example.com")).status_code for n in range(3)]
    assert statuses == [200, 200, 429]


# Latency -------------------------------------------------------------------------------


async def test_latency_delays_without_blocking_the_loop(
    client: httpx.AsyncClient, sandbox: SandboxState, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox.faults.latency_ms = 100
    # Each call's wait ends only once all five are waiting: a wait that blocked the loop,
    # or one call at a time, never gets there (and the bound turns that into a failure).
    sleeps = record_sleeps(monkeypatch, hold=5)
    async with asyncio.timeout(10):
        responses = await asyncio.gather(*(client.get("/v2/self") for _ in range(5)))
    assert all(r.status_code == 200 for r in responses)
    assert sleeps.delays == [0.1] * 5
    assert sandbox.requests.count() == 5


async def test_latency_jitter_stays_in_range(
    client: httpx.AsyncClient, sandbox: SandboxState, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox.configure_faults(latency_ms=20, latency_jitter_ms=10, seed=3)
    sleeps = record_sleeps(monkeypatch)
    for _ in range(5):
        await client.get("/v2/self")
    assert len(sleeps.delays) == 5
    assert all(0.01 <= d <= 0.03 for d in sleeps.delays), sleeps.delays
    assert len(set(sleeps.delays)) > 1  # jittered, not the base latency every time


# Fault injection -----------------------------------------------------------------------


async def test_server_errors_have_attio_bodies_and_do_not_apply_the_write(
    client: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    sandbox.configure_faults(server_error_rate=1.0, server_error_statuses=[503])
    response = await create(client)
    body = error(response, 503, "service_unavailable")
    assert body["type"] == "api_error"
    assert sandbox.store.query_records("people") == []
    assert sandbox.journal.events == []
    assert sandbox.requests.entries[-1].fault == "server_error"


async def test_a_seed_reproduces_the_same_faults(
    client: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    async def run() -> list[int]:
        sandbox.configure_faults(server_error_rate=0.5, seed=7)
        return [(await client.get("/v2/self")).status_code for _ in range(30)]

    first_run = await run()
    assert set(first_run) >= {200} and set(first_run) - {200} <= {500, 502, 503}
    assert len(set(first_run)) > 1
    assert await run() == first_run


async def test_timeouts_hold_the_call_then_answer_504(
    client: httpx.AsyncClient, sandbox: SandboxState, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox.configure_faults(timeout_rate=1.0, timeout_seconds=0.1)
    sleeps = record_sleeps(monkeypatch)
    response = await create(client)
    assert sleeps.delays == [0.1]  # held for timeout_seconds before the answer
    error(response, 504, "gateway_timeout")
    assert sandbox.store.query_records("people") == []


@pytest.mark.parametrize(
    ("faults", "status"),
    [({"server_error_rate": 1.0}, None), ({"timeout_rate": 1.0, "timeout_seconds": 0.05}, 504)],
)
async def test_after_write_faults_strike_once_the_write_is_applied(
    client: httpx.AsyncClient, sandbox: SandboxState, faults: dict, status: int | None
) -> None:
    sandbox.configure_faults(after_write=True, **faults)
    response = await create(client)
    assert response.status_code >= 500
    if status is not None:
        assert response.status_code == status
    assert len(sandbox.store.query_records("people")) == 1
    assert [e.event_type for e in sandbox.journal.events] == ["record.created"]
    assert sandbox.requests.entries[-1].fault.startswith("after_write:")

    # A retried assert then finds the record the failed call created.
    sandbox.configure_faults(server_error_rate=0.0, timeout_rate=0.0)
    retried = await client.put(
        PEOPLE,
        params={"matching_attribute": "email_addresses"},
        json=write_body(email_addresses=["a@example.com"]),
    )
    assert retried.status_code == 200
    assert len(sandbox.store.query_records("people")) == 1


async def test_after_write_does_not_change_faults_on_reads(
    client: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    sandbox.configure_faults(after_write=True, server_error_rate=1.0)
    assert (await client.get("/v2/self")).status_code >= 500
    assert sandbox.requests.entries[-1].fault == "server_error"


async def test_conflicts_strike_writes_only(
    client: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    sandbox.configure_faults(conflict_rate=1.0)
    error(await create(client), 409, "concurrent_write_conflict")
    assert (await client.post(f"{PEOPLE}/query", json={})).status_code == 200
    assert sandbox.store.query_records("people") == []


async def test_a_429_burst_rejects_every_call_until_it_ends(
    client: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    sandbox.configure_faults(burst_rate=1.0, burst_seconds=0.3, fault_methods=["POST"])
    started = time.monotonic()
    first_call = await create(client)
    assert first_call.status_code == 429
    assert first_call.json() == RATE_LIMIT_BODY
    parsedate_to_datetime(first_call.headers["Retry-After"])
    sandbox.faults.burst_rate = 0.0  # the burst already started keeps going
    during = await client.get("/v2/self")  # outside the method filter, still rejected
    assert during.status_code == 429
    assert "Retry-After" in during.headers
    await asyncio.sleep(max(0.0, started + 0.32 - time.monotonic()))
    assert (await client.get("/v2/self")).status_code == 200
    assert [e.fault for e in sandbox.requests.entries] == [
        "rate_limit_burst",
        "rate_limit_burst",
        None,
    ]


async def test_fault_filters_by_method_and_path(
    client: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    sandbox.configure_faults(server_error_rate=1.0, fault_methods=["put"])
    assert (await create(client)).status_code == 200
    params = {"matching_attribute": "email_addresses"}
    asserted = await client.put(PEOPLE, params=params, json=write_body())
    assert asserted.status_code >= 500

    sandbox.configure_faults(fault_methods=None, fault_path_regex=r"/records/query$")
    assert (await client.get("/v2/objects")).status_code == 200
    assert (await client.post(f"{PEOPLE}/query", json={})).status_code >= 500


def test_fault_settings_are_validated_on_assignment(sandbox: SandboxState) -> None:
    with pytest.raises(ValidationError):
        sandbox.faults.server_error_rate = 2.0
    with pytest.raises(ValidationError):
        sandbox.configure_faults(no_such_setting=True)
    with pytest.raises(ValidationError):
        sandbox.configure_faults(server_error_statuses=[418])
    assert sandbox.faults.server_error_rate == 0.0


# Request log ---------------------------------------------------------------------------


async def test_request_log_records_every_v2_call(
    client: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    await create(client)
    await client.post(f"{PEOPLE}/query", json={})
    await client.put(
        PEOPLE,
        params={"matching_attribute": "email_addresses"},
        json=write_body(email_addresses=["a@example.com"]),
    )
    await client.get("/v2/objects/planets")
    await client.get("/_sandbox/requests")  # development routes are not logged

    log = sandbox.requests
    assert [(e.method, e.status, e.kind) for e in log.entries] == [
        ("POST", 200, "write"),
        ("POST", 200, "read"),
        ("PUT", 200, "write"),
        ("GET", 404, "read"),
    ]
    assert log.entries[2].query == "matching_attribute=email_addresses"
    assert log.count(kind="write") == 2
    assert log.count(method="post", path=PEOPLE) == 1
    assert log.count(path_regex=r"/records") == 3
    assert log.count(status=404) == 1
    times = [e.at for e in log.entries]
    assert times == sorted(times)
    summary = log.summary(recent=1)
    assert summary["total"] == 4
    assert summary["by_kind"] == {"write": 2, "read": 2}
    assert summary["recent"][0]["path"] == "/v2/objects/planets"
    log.clear()
    assert log.count() == 0


async def test_mounted_under_a_prefix_the_gateway_still_applies() -> None:
    parent = FastAPI()
    sandbox_app = create_sandbox_app()
    parent.mount("/sandbox", sandbox_app)
    async with client_for(parent) as client:
        error(await client.get("/sandbox/v2/self"), 401, "unauthorized")
        authorised = await client.get("/sandbox/v2/self", headers=AUTH)
        assert authorised.status_code == 200
        assert (await client.get("/sandbox/_sandbox/objects/people/records")).json() == {"data": []}
    assert [e.path for e in sandbox_app.state.sandbox.requests.entries] == ["/v2/self"] * 2
