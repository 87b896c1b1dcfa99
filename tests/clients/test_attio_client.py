"""AttioClient against respx: every method, every error class, retries, pagination, limiting."""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx
from tenacity import RetryCallState

from app.clients.attio import (
    AttioAuthError,
    AttioClient,
    AttioConflictError,
    AttioError,
    AttioNotFoundError,
    AttioRateLimitError,
    AttioServerError,
    AttioTransportError,
    AttioValidationError,
    RateLimiter,
    backoff_seconds,
    parse_retry_after,
)

BASE = "https://api.attio.test"


def error_body(status: int, code: str, type_: str = "invalid_request_error") -> dict:
    return {"status_code": status, "type": type_, "code": code, "message": f"{code} happened"}


def record(record_id: str = "rec-1", **values: object) -> dict:
    return {
        "id": {"workspace_id": "ws", "object_id": "obj", "record_id": record_id},
        "created_at": "2026-01-01T00:00:00.000000000Z",
        "web_url": "https://app.attio.com/x",
        "values": values,
    }


class WaitRecorder:
    """Records the wait tenacity would use, but never sleeps (fast, deterministic tests)."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, state: RetryCallState) -> float:
        self.waits.append(backoff_seconds(state))
        return 0.0


@pytest.fixture
def waits() -> WaitRecorder:
    return WaitRecorder()


@pytest.fixture
async def client(waits: WaitRecorder):
    attio = AttioClient(
        api_key="test-key-123456", base_url=BASE, write_rate=1000, read_rate=1000, wait=waits
    )
    yield attio
    await attio.aclose()


@pytest.fixture
def api():
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        yield mock


# -- methods ---------------------------------------------------------------------------------


async def test_get_self_sends_bearer_token(client: AttioClient, api: respx.MockRouter) -> None:
    route = api.get("/v2/self").respond(json={"active": True, "workspace_id": "ws"})
    assert (await client.get_self())["active"] is True
    assert route.calls.last.request.headers["authorization"] == "Bearer test-key-123456"


async def test_object_endpoints(client: AttioClient, api: respx.MockRouter) -> None:
    obj = {"api_slug": "services", "singular_noun": "Service", "plural_noun": "Services"}
    api.get("/v2/objects").respond(json={"data": [obj]})
    api.get("/v2/objects/services").respond(json={"data": obj})
    create = api.post("/v2/objects").respond(json={"data": obj})

    assert await client.list_objects() == [obj]
    assert await client.get_object("services") == obj
    created = await client.create_object(
        api_slug="services", singular_noun="Service", plural_noun="Services"
    )
    assert created == obj
    assert json.loads(create.calls.last.request.content) == {"data": obj}


async def test_list_attributes_pages_through(client: AttioClient, api: respx.MockRouter) -> None:
    attributes = [{"api_slug": f"a{i}"} for i in range(150)]

    def page(request: httpx.Request) -> httpx.Response:
        limit = int(request.url.params["limit"])
        offset = int(request.url.params["offset"])
        return httpx.Response(200, json={"data": attributes[offset : offset + limit]})

    route = api.get("/v2/objects/services/attributes").mock(side_effect=page)
    assert await client.list_attributes("services") == attributes
    assert route.call_count == 2


async def test_create_attribute_and_options(client: AttioClient, api: respx.MockRouter) -> None:
    create = api.post("/v2/objects/services/attributes").respond(json={"data": {"api_slug": "x"}})
    options = api.get("/v2/objects/services/attributes/status/options").respond(
        json={"data": [{"title": "active"}]}
    )
    new_option = api.post("/v2/objects/services/attributes/status/options").respond(
        json={"data": {"title": "inactive"}}
    )
    await client.create_attribute("services", {"api_slug": "x", "type": "text"})
    assert json.loads(create.calls.last.request.content) == {
        "data": {"api_slug": "x", "type": "text"}
    }
    assert await client.list_select_options("services", "status") == [{"title": "active"}]
    assert options.calls.last.request.url.params["show_archived"] == "true"
    await client.create_select_option("services", "status", "inactive")
    assert json.loads(new_option.calls.last.request.content) == {"data": {"title": "inactive"}}


async def test_assert_record_puts_with_matching_attribute(
    client: AttioClient, api: respx.MockRouter
) -> None:
    route = api.put("/v2/objects/services/records").respond(json={"data": record()})
    result = await client.assert_record(
        "services", matching_attribute="zoho_item_id", values={"zoho_item_id": "42"}
    )
    request = route.calls.last.request
    assert result["id"]["record_id"] == "rec-1"
    assert request.url.params["matching_attribute"] == "zoho_item_id"
    assert json.loads(request.content) == {"data": {"values": {"zoho_item_id": "42"}}}


async def test_get_update_delete_record(client: AttioClient, api: respx.MockRouter) -> None:
    path = "/v2/objects/people/records/rec-1"
    api.get(path).respond(json={"data": record()})
    patch = api.patch(path).respond(json={"data": record()})
    put = api.put(path).respond(json={"data": record()})
    delete = api.delete(path).respond(json={})

    assert (await client.get_record("people", "rec-1"))["id"]["record_id"] == "rec-1"
    await client.update_record("people", "rec-1", {"job_title": "CTO"})
    await client.update_record("people", "rec-1", {"tags": ["a"]}, overwrite_multiselect=True)
    await client.delete_record("people", "rec-1")
    assert json.loads(patch.calls.last.request.content) == {
        "data": {"values": {"job_title": "CTO"}}
    }
    assert put.called and delete.called


async def test_query_records_sends_filter_sorts_limit_offset(
    client: AttioClient, api: respx.MockRouter
) -> None:
    route = api.post("/v2/objects/services/records/query").respond(json={"data": [record()]})
    rows = await client.query_records(
        "services",
        filter={"status": "active"},
        sorts=[{"direction": "asc", "attribute": "name"}],
        limit=10,
        offset=20,
    )
    assert len(rows) == 1
    assert json.loads(route.calls.last.request.content) == {
        "filter": {"status": "active"},
        "sorts": [{"direction": "asc", "attribute": "name"}],
        "limit": 10,
        "offset": 20,
    }


async def test_find_record_is_one_query_by_the_unique_attribute(
    client: AttioClient, api: respx.MockRouter
) -> None:
    route = api.post("/v2/objects/payments/records/query").mock(
        side_effect=[
            httpx.Response(200, json={"data": [record("rec-1")]}),
            httpx.Response(200, json={"data": []}),
        ]
    )
    found = await client.find_record("payments", "braintree_transaction_id", "txn_1")
    assert found is not None and found["id"]["record_id"] == "rec-1"
    assert json.loads(route.calls.last.request.content) == {
        "filter": {"braintree_transaction_id": "txn_1"},
        "limit": 1,
        "offset": 0,
    }
    assert await client.find_record("payments", "braintree_transaction_id", "txn_2") is None


async def test_iter_records_three_pages_ending_on_a_short_page(
    client: AttioClient, api: respx.MockRouter
) -> None:
    all_records = [record(f"rec-{i}") for i in range(12)]
    offsets: list[int] = []

    def page(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        offsets.append(body["offset"])
        chunk = all_records[body["offset"] : body["offset"] + body["limit"]]
        return httpx.Response(200, json={"data": chunk})

    api.post("/v2/objects/services/records/query").mock(side_effect=page)
    seen = [r async for r in client.iter_records("services", page_size=5)]
    assert [r["id"]["record_id"] for r in seen] == [f"rec-{i}" for i in range(12)]
    assert offsets == [0, 5, 10]  # the third page holds 2 < 5 rows: no fourth request


async def test_iter_records_exact_multiple_needs_one_empty_page(
    client: AttioClient, api: respx.MockRouter
) -> None:
    rows = [record(f"rec-{i}") for i in range(4)]
    route = api.post("/v2/objects/services/records/query").mock(
        side_effect=[
            httpx.Response(200, json={"data": rows[:2]}),
            httpx.Response(200, json={"data": rows[2:]}),
            httpx.Response(200, json={"data": []}),
        ]
    )
    assert len([r async for r in client.iter_records("services", page_size=2)]) == 4
    assert route.call_count == 3


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "error_class"),
    [
        (400, "validation_type", AttioValidationError),
        (400, "value_not_found", AttioValidationError),
        (401, "unauthorized", AttioAuthError),
        (403, "billing_error", AttioAuthError),
        (404, "not_found", AttioNotFoundError),
        (409, "slug_conflict", AttioConflictError),
    ],
)
async def test_non_retryable_errors_raise_once(
    client: AttioClient, api: respx.MockRouter, status: int, code: str, error_class: type
) -> None:
    route = api.get("/v2/objects/x").respond(status, json=error_body(status, code))
    with pytest.raises(error_class) as caught:
        await client.get_object("x")
    assert route.call_count == 1
    assert caught.value.attio_status == status
    assert caught.value.attio_code == code
    assert caught.value.message == f"{code} happened"
    assert not caught.value.retryable


async def test_400_is_never_retried(client: AttioClient, api: respx.MockRouter) -> None:
    route = api.put("/v2/objects/services/records").respond(
        400, json=error_body(400, "validation_type")
    )
    with pytest.raises(AttioValidationError):
        await client.assert_record("services", matching_attribute="zoho_item_id", values={})
    assert route.call_count == 1


async def test_5xx_then_success(client: AttioClient, api: respx.MockRouter) -> None:
    route = api.get("/v2/self").mock(
        side_effect=[
            httpx.Response(500, json=error_body(500, "internal", "internal_server_error")),
            httpx.Response(503, text="<html>upstream unavailable</html>"),
            httpx.Response(200, json={"active": True}),
        ]
    )
    assert (await client.get_self())["active"] is True
    assert route.call_count == 3


async def test_5xx_gives_up_after_max_attempts(waits: WaitRecorder, api: respx.MockRouter) -> None:
    route = api.get("/v2/self").respond(502, text="bad gateway")
    async with AttioClient(api_key="k", base_url=BASE, max_attempts=3, wait=waits) as attio:
        with pytest.raises(AttioServerError) as caught:
            await attio.get_self()
    assert route.call_count == 3
    assert caught.value.attio_status == 502
    assert caught.value.retryable
    assert all(0 < w <= 8 for w in waits.waits)


async def test_transport_errors_are_retried(client: AttioClient, api: respx.MockRouter) -> None:
    route = api.get("/v2/self")
    route.side_effect = [
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.Response(200, json={"active": True}),
    ]
    assert (await client.get_self())["active"] is True
    assert route.call_count == 3


async def test_transport_error_class_when_exhausted(
    waits: WaitRecorder, api: respx.MockRouter
) -> None:
    api.get("/v2/self").mock(side_effect=httpx.ConnectError("refused"))
    async with AttioClient(api_key="k", base_url=BASE, max_attempts=2, wait=waits) as attio:
        with pytest.raises(AttioTransportError):
            await attio.get_self()


async def test_concurrent_write_conflict_is_retried(
    client: AttioClient, api: respx.MockRouter
) -> None:
    route = api.put("/v2/objects/payments/records").mock(
        side_effect=[
            httpx.Response(409, json=error_body(409, "concurrent_write_conflict")),
            httpx.Response(200, json={"data": record()}),
        ]
    )
    await client.assert_record("payments", matching_attribute="braintree_transaction_id", values={})
    assert route.call_count == 2


async def test_429_with_http_date_retry_after(
    client: AttioClient, api: respx.MockRouter, waits: WaitRecorder
) -> None:
    clock = VirtualClock()
    client.write_limiter = RateLimiter(100, clock=clock, sleep=clock.sleep)
    reset_at = datetime.now(UTC) + timedelta(seconds=3)
    route = api.put("/v2/objects/services/records").mock(
        side_effect=[
            httpx.Response(
                429,
                headers={"Retry-After": format_datetime(reset_at, usegmt=True)},
                json=error_body(429, "rate_limit_exceeded", "rate_limit_error"),
            ),
            httpx.Response(200, json={"data": record()}),
        ]
    )
    await client.assert_record("services", matching_attribute="zoho_item_id", values={})
    assert route.call_count == 2
    # The HTTP date has one-second resolution: the wait lands between 2 and 3.1 seconds.
    assert 1.9 <= waits.waits[0] <= 3.2
    # The shared write limiter held the retry (and every other writer) back until then.
    assert 1.9 <= clock.now <= 3.1


async def test_429_error_carries_retry_after(waits: WaitRecorder, api: respx.MockRouter) -> None:
    api.get("/v2/self").respond(
        429, headers={"Retry-After": "2"}, json=error_body(429, "rate_limit_exceeded")
    )
    async with AttioClient(api_key="k", base_url=BASE, max_attempts=1, wait=waits) as attio:
        with pytest.raises(AttioRateLimitError) as caught:
            await attio.get_self()
    assert caught.value.retry_after == 2.0
    assert caught.value.retryable
    assert isinstance(caught.value, AttioError)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Tue, 23 May 2023 14:42:01 GMT", 1.0),
        ("Tue, 23 May 2023 14:42:00 GMT", 0.0),
        ("Tue, 23 May 2023 14:41:00 GMT", 0.0),  # in the past: no wait, not negative
        ("5", 5.0),
        ("", None),
        (None, None),
        ("soon", None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    now = datetime(2023, 5, 23, 14, 42, 0, tzinfo=UTC)
    assert parse_retry_after(header, now=now) == expected


async def test_error_message_never_contains_the_api_key(
    waits: WaitRecorder, api: respx.MockRouter
) -> None:
    api.get("/v2/self").respond(401, json=error_body(401, "unauthorized", "auth_error"))
    async with AttioClient(api_key="sk-live-secret-987654", base_url=BASE, wait=waits) as attio:
        with pytest.raises(AttioAuthError) as caught:
            await attio.get_self()
    assert "sk-live-secret-987654" not in str(caught.value)
    assert "sk-live-secret-987654" not in repr(caught.value.body)


# -- limiter ---------------------------------------------------------------------------------


class VirtualClock:
    """Time that only moves when someone sleeps: limiter tests run instantly and exactly."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def test_limiter_holds_a_burst_of_100_writes_to_the_configured_rate(
    api: respx.MockRouter,
) -> None:
    clock = VirtualClock()
    starts: list[float] = []

    def respond(_request: httpx.Request) -> httpx.Response:
        starts.append(clock.now)
        return httpx.Response(200, json={"data": record()})

    api.put("/v2/objects/services/records").mock(side_effect=respond)
    async with AttioClient(api_key="k", base_url=BASE, write_rate=20) as attio:
        attio.write_limiter = RateLimiter(20, clock=clock, sleep=clock.sleep)
        await asyncio.gather(
            *(
                attio.assert_record("services", matching_attribute="zoho_item_id", values={})
                for _ in range(100)
            )
        )
    assert len(starts) == 100
    # No one-second window ever holds more than the configured 20 starts...
    for i, start in enumerate(starts):
        assert sum(1 for s in starts[i:] if s < start + 1.0 - 1e-9) <= 20
    # ...so 100 writes need at least four further windows after the first.
    assert starts[-1] >= 4.0
    # Evenly spaced, not bunched at window edges (what network jitter would compress).
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) == pytest.approx(1 / 20)


async def test_limiter_pause_delays_everyone() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(10, clock=clock, sleep=clock.sleep)
    limiter.pause(2.5)
    await limiter.acquire()
    assert clock.now == pytest.approx(2.5)


async def test_limiter_spaces_starts_evenly_and_never_slows_an_idle_caller() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(0.5, clock=clock, sleep=clock.sleep)  # Zoho-like: slower than 1/s
    await limiter.acquire()
    assert clock.now == 0.0
    await limiter.acquire()
    assert clock.now == pytest.approx(2.0)
    clock.now += 10.0  # idle for a while: the next call starts at once
    before = clock.now
    await limiter.acquire()
    assert clock.now == before


class LateClock(VirtualClock):
    """Every sleep overshoots, as an event loop's timers do (epoll counts whole milliseconds)."""

    def __init__(self, overshoot: float) -> None:
        super().__init__()
        self.overshoot = overshoot

    async def sleep(self, seconds: float) -> None:
        self.now += seconds + self.overshoot


async def late_starts(rate: float, overshoot: float, count: int) -> list[float]:
    """When `count` sequential acquires start, each sleep woken `overshoot` late."""
    clock = LateClock(overshoot=overshoot)
    limiter = RateLimiter(rate, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(count):
        await limiter.acquire()
        starts.append(clock.now)
    return starts


@pytest.mark.parametrize("overshoot", [0.0, 0.001, 0.005, 0.0095])
async def test_limiter_late_wake_ups_do_not_lower_the_rate(overshoot: float) -> None:
    starts = await late_starts(24, overshoot, 241)
    # 240 intervals of 1/24 s: ten seconds, plus one overshoot, not 240 of them.
    assert starts[-1] == pytest.approx(10.0 + overshoot)
    # Never ahead of the grid: at most rate + 1 starts in any one-second window.
    for i, start in enumerate(starts):
        assert sum(1 for s in starts[i:] if s < start + 1.0 - 1e-9) <= 25


async def test_limiter_catches_up_no_more_than_a_quarter_interval() -> None:
    starts = await late_starts(100, 0.02, 11)  # a quarter interval is 2.5 ms here
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) == pytest.approx(0.01 + 0.02)


async def test_limiter_never_makes_up_a_stall_with_a_burst() -> None:
    starts = await late_starts(24, 0.5 / 24, 50)  # woken half an interval late, every time
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 1 / 24 - 1e-9


async def test_webhook_endpoints(client: AttioClient, api: respx.MockRouter) -> None:
    hook = {"id": {"workspace_id": "ws", "webhook_id": "wh-1"}, "target_url": "https://b/x"}
    listing = api.get("/v2/webhooks").respond(json={"data": [hook]})
    create = api.post("/v2/webhooks").respond(json={"data": {**hook, "secret": "s"}})
    patch = api.patch("/v2/webhooks/wh-1").respond(json={"data": hook})
    delete = api.delete("/v2/webhooks/wh-1").respond(json={})
    subscriptions = [{"event_type": "record.updated", "filter": None}]

    assert await client.list_webhooks() == [hook]
    assert listing.calls.last.request.url.params["limit"] == "100"
    created = await client.create_webhook(target_url="https://b/x", subscriptions=subscriptions)
    assert created["secret"] == "s"
    assert json.loads(create.calls.last.request.content) == {
        "data": {"target_url": "https://b/x", "subscriptions": subscriptions}
    }
    await client.update_webhook("wh-1", target_url="https://b/x", subscriptions=subscriptions)
    assert json.loads(patch.calls.last.request.content)["data"]["subscriptions"] == subscriptions
    await client.delete_webhook("wh-1")
    assert delete.called
