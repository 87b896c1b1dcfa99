"""Async client for the part of Attio's REST v2 API the bridge uses.

One `httpx.AsyncClient` per process (connection pooling), bearer auth, Attio's error body turned
into the typed tree in `errors.py`, shared read/write limiters and tenacity retries for what is
safe to retry. Writes are asserts (upserts by a unique attribute), never search-then-create.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

import httpx
from tenacity import RetryCallState

from app.clients.attio.errors import (
    AttioAPIError,
    AttioRateLimitError,
    AttioTransportError,
)
from app.clients.attio.ratelimit import RateLimiter
from app.clients.attio.shared_ratelimit import SharedRateLimiter
from app.clients.attio.values import Record
from app.clients.pooled import Limiter, PooledClient, url_segment
from app.clients.redis import Redis, connect
from app.config import Settings
from app.errors import BridgeError
from app.log import get_logger
from app.metrics import ATTIO_LATENCY, ATTIO_REQUESTS, ATTIO_RETRIES

log = get_logger(__name__)


DEFAULT_PAGE_SIZE = 500  # Attio's default and the de facto maximum for record queries
_READ_PATH_SUFFIXES = ("/records/query", "/entries/query")
# When a 429 carries no usable Retry-After, Attio's window is one second.
_RATE_LIMIT_FALLBACK_SECONDS = 1.0
_MAX_RETRY_AFTER_SECONDS = 60.0


def backoff_seconds(state: RetryCallState) -> float:
    """How long to wait before the next attempt.

    A 429 waits until its Retry-After moment (plus a little jitter so concurrent callers do not
    all fire on the same instant); everything else uses exponential backoff with full jitter.
    """
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, AttioRateLimitError):
        base = error.retry_after if error.retry_after is not None else _RATE_LIMIT_FALLBACK_SECONDS
        return min(base, _MAX_RETRY_AFTER_SECONDS) + random.uniform(0.0, 0.1)
    ceiling = min(8.0, 0.25 * 2 ** (state.attempt_number - 1))
    return random.uniform(ceiling / 2, ceiling)


def _rate_limited(error: BaseException) -> bool:
    return isinstance(error, AttioRateLimitError)


class AttioClient(PooledClient):
    api = "attio"
    transport_error = AttioTransportError

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "https://api.attio.com",
        timeout: float = 30.0,
        write_rate: float = 24.0,
        read_rate: float = 95.0,
        max_attempts: int = 6,
        transport: httpx.AsyncBaseTransport | None = None,
        wait: Callable[[RetryCallState], float] = backoff_seconds,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers={
                "Authorization": f"Bearer {api_key}",
                "Accept": "application/json",
                "User-Agent": "attio-bridge",
            },
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
            transport=transport,
        )
        self.write_limiter: Limiter = RateLimiter(write_rate, bucket="writes")
        self.read_limiter: Limiter = RateLimiter(read_rate, bucket="reads")
        self._max_attempts = max_attempts
        self._wait = wait
        self._owned_redis: Redis | None = None
        self._shared_redis: Redis | None = None
        self._shared_lock_ttl = 30.0

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        api_key: str,
        transport: httpx.AsyncBaseTransport | None = None,
        redis: Redis | None = None,
    ) -> AttioClient:
        """The client the settings describe; with `redis` (REDIS_URL set) its limiters are the
        workspace's shared buckets rather than this process's own."""
        client = cls(
            api_key=api_key,
            base_url=settings.attio_base_url,
            timeout=settings.attio_timeout_seconds,
            write_rate=settings.attio_write_rate,
            read_rate=settings.attio_read_rate,
            max_attempts=settings.attio_max_attempts,
            transport=transport,
        )
        if redis is None and settings.redis_configured and settings.redis_url is not None:
            redis = connect(settings.redis_url.get_secret_value())
            client._owned_redis = redis
        if redis is not None:
            client.use_shared_limits(redis, lock_ttl_seconds=settings.record_lock_ttl_seconds)
        return client

    async def aclose(self) -> None:
        await super().aclose()
        if self._owned_redis is not None:
            await self._owned_redis.aclose()
            self._owned_redis = None

    @property
    def shared_redis(self) -> Redis | None:
        """The Redis this client shares its budget through (REDIS_URL), for other shared state
        of the same processes (per-record locks)."""
        return self._shared_redis

    @property
    def shared_lock_ttl_seconds(self) -> float:
        """Expiry of the per-record locks taken in `shared_redis`."""
        return self._shared_lock_ttl

    def use_shared_limits(self, redis: Redis, *, lock_ttl_seconds: float = 30.0) -> None:
        """Take starts from the buckets in `redis` that every process on it shares."""
        self._shared_redis = redis
        self._shared_lock_ttl = lock_ttl_seconds
        write_rate = getattr(self.write_limiter, "rate", 24.0)
        read_rate = getattr(self.read_limiter, "rate", 95.0)
        self.write_limiter = SharedRateLimiter(
            redis, "writes", write_rate, fallback=RateLimiter(write_rate)
        )
        self.read_limiter = SharedRateLimiter(
            redis, "reads", read_rate, fallback=RateLimiter(read_rate)
        )

    # -- transport ---------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool = True,
    ) -> Any:
        """Send one API call with limiting and retries; return the decoded JSON body.

        A call that is not `idempotent` is retried only after a 429 (Attio did not apply it);
        after a timeout or a 5xx it may have been applied, so the caller decides what next.
        """
        is_read = method == "GET" or path.endswith(_READ_PATH_SUFFIXES)
        limiter = self.read_limiter if is_read else self.write_limiter

        async def send() -> Any:
            response = await self._send_once(limiter, method, path, params=params, json=json)
            return response.json() if response.content else {}

        return await self._with_retries(
            send,
            on_retry=lambda error: ATTIO_RETRIES.labels(type(error).__name__).inc(),
            retryable=None if idempotent else _rate_limited,
        )

    def _error_of(self, response: httpx.Response) -> AttioAPIError | None:
        return AttioAPIError.from_response(response) if response.status_code >= 400 else None

    def _pause_for(self, error: BridgeError) -> float | None:
        if not isinstance(error, AttioRateLimitError):
            return None
        return error.retry_after if error.retry_after is not None else _RATE_LIMIT_FALLBACK_SECONDS

    def _observe(self, method: str, status: int | None, elapsed: float) -> None:
        if status is None:
            ATTIO_REQUESTS.labels(method, "transport_error").inc()
            return
        ATTIO_LATENCY.labels(method).observe(elapsed)
        ATTIO_REQUESTS.labels(method, "429" if status == 429 else f"{status // 100}xx").inc()

    async def _paginate(
        self, fetch: Callable[[int, int], Awaitable[list[Any]]], page_size: int
    ) -> AsyncIterator[Any]:
        """Offset pagination: Attio returns no totals, so stop at the first short page."""
        offset = 0
        while True:
            page = await fetch(page_size, offset)
            for item in page:
                yield item
            if len(page) < page_size:
                return
            offset += page_size  # advance by what was asked for, or records get skipped

    # -- workspace ---------------------------------------------------------------------------

    async def get_self(self) -> dict[str, Any]:
        """Token and workspace info; needs no scope, so it doubles as a reachability check."""
        return await self.request("GET", "/v2/self")

    # -- objects, attributes, select options -------------------------------------------------

    async def list_objects(self) -> list[dict[str, Any]]:
        return (await self.request("GET", "/v2/objects"))["data"]

    async def get_object(self, obj: str) -> dict[str, Any]:
        return (await self.request("GET", f"/v2/objects/{url_segment(obj)}"))["data"]

    async def create_object(
        self, *, api_slug: str, singular_noun: str, plural_noun: str
    ) -> dict[str, Any]:
        body = {
            "data": {
                "api_slug": api_slug,
                "singular_noun": singular_noun,
                "plural_noun": plural_noun,
            }
        }
        return (await self.request("POST", "/v2/objects", json=body))["data"]

    async def list_attributes(
        self, obj: str, *, page_size: int = 100, show_archived: bool = False
    ) -> list[dict[str, Any]]:
        path = f"/v2/objects/{url_segment(obj)}/attributes"

        async def fetch(limit: int, offset: int) -> list[Any]:
            params = {"limit": limit, "offset": offset, "show_archived": str(show_archived).lower()}
            return (await self.request("GET", path, params=params))["data"]

        return [attribute async for attribute in self._paginate(fetch, page_size)]

    async def create_attribute(self, obj: str, definition: Mapping[str, Any]) -> dict[str, Any]:
        path = f"/v2/objects/{url_segment(obj)}/attributes"
        return (await self.request("POST", path, json={"data": dict(definition)}))["data"]

    async def list_select_options(self, obj: str, attribute: str) -> list[dict[str, Any]]:
        path = f"/v2/objects/{url_segment(obj)}/attributes/{url_segment(attribute)}/options"
        return (await self.request("GET", path, params={"show_archived": "true"}))["data"]

    async def restore_select_option(self, obj: str, attribute: str, option_id: str) -> None:
        """Un-archive an option, so values with its title can be written again."""
        path = (
            f"/v2/objects/{url_segment(obj)}/attributes/{url_segment(attribute)}"
            f"/options/{url_segment(option_id)}"
        )
        await self.request("PATCH", path, json={"data": {"is_archived": False}})

    async def create_select_option(self, obj: str, attribute: str, title: str) -> dict[str, Any]:
        path = f"/v2/objects/{url_segment(obj)}/attributes/{url_segment(attribute)}/options"
        return (await self.request("POST", path, json={"data": {"title": title}}))["data"]

    # -- webhooks ----------------------------------------------------------------------------

    async def list_webhooks(self, *, page_size: int = 100) -> list[dict[str, Any]]:
        async def fetch(limit: int, offset: int) -> list[Any]:
            params = {"limit": limit, "offset": offset}
            return (await self.request("GET", "/v2/webhooks", params=params))["data"]

        return [webhook async for webhook in self._paginate(fetch, page_size)]

    async def create_webhook(
        self, *, target_url: str, subscriptions: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Create a webhook; the response holds its `secret`, which Attio shows only now.

        Not retried after a timeout or 5xx: a retry could create a second webhook and lose the
        first one's secret. `register_webhook` looks before it tries again."""
        body = {"data": {"target_url": target_url, "subscriptions": subscriptions}}
        return (await self.request("POST", "/v2/webhooks", json=body, idempotent=False))["data"]

    async def update_webhook(
        self, webhook_id: str, *, target_url: str, subscriptions: list[dict[str, Any]]
    ) -> dict[str, Any]:
        body = {"data": {"target_url": target_url, "subscriptions": subscriptions}}
        path = f"/v2/webhooks/{url_segment(webhook_id)}"
        return (await self.request("PATCH", path, json=body))["data"]

    async def delete_webhook(self, webhook_id: str) -> None:
        await self.request("DELETE", f"/v2/webhooks/{url_segment(webhook_id)}")

    # -- workspace members and tasks -----------------------------------------------------------

    async def list_workspace_members(self) -> list[dict[str, Any]]:
        return list((await self.request("GET", "/v2/workspace_members"))["data"])

    async def create_task(
        self,
        *,
        content: str,
        deadline_at: str | None,
        assignee_ids: Sequence[str] = (),
        linked_records: Sequence[tuple[str, str]] = (),
    ) -> dict[str, Any]:
        """A plaintext task (content up to 2,000 characters), linked to (object, record id)s.

        Not retried after a timeout or 5xx: a retry could create the task twice."""
        data = {
            "content": content[:2000],
            "format": "plaintext",
            "deadline_at": deadline_at,
            "is_completed": False,
            "linked_records": [
                {"target_object": obj, "target_record_id": rid} for obj, rid in linked_records
            ],
            "assignees": [
                {"referenced_actor_type": "workspace-member", "referenced_actor_id": member}
                for member in assignee_ids
            ],
        }
        return (await self.request("POST", "/v2/tasks", json={"data": data}, idempotent=False))[
            "data"
        ]

    async def update_task(self, task_id: str, **changes: Any) -> dict[str, Any]:
        """PATCH a task: `deadline_at`, `is_completed`, `linked_records` or `assignees`."""
        path = f"/v2/tasks/{url_segment(task_id)}"
        return (await self.request("PATCH", path, json={"data": changes}))["data"]

    # -- records -----------------------------------------------------------------------------

    async def assert_record(
        self, obj: str, *, matching_attribute: str, values: Mapping[str, Any]
    ) -> Record:
        """Create or update the one record whose unique `matching_attribute` equals the value sent.

        The idempotent write: a retry or a redelivered event lands on the same record.
        """
        path = f"/v2/objects/{url_segment(obj)}/records"
        body = {"data": {"values": dict(values)}}
        params = {"matching_attribute": matching_attribute}
        return (await self.request("PUT", path, params=params, json=body))["data"]

    async def get_record(self, obj: str, record_id: str) -> Record:
        path = f"/v2/objects/{url_segment(obj)}/records/{url_segment(record_id)}"
        return (await self.request("GET", path))["data"]

    async def value_history(self, obj: str, record_id: str, attribute: str) -> list[Any]:
        """An attribute's values, replaced ones included (`active_until` set), oldest first."""
        path = (
            f"/v2/objects/{url_segment(obj)}/records/{url_segment(record_id)}"
            f"/attributes/{url_segment(attribute)}/values"
        )
        found = await self.request("GET", path, params={"show_historic": "true"})
        return list(found["data"])

    async def update_record(
        self,
        obj: str,
        record_id: str,
        values: Mapping[str, Any],
        *,
        overwrite_multiselect: bool = False,
    ) -> Record:
        """PATCH appends to multiselect values; `overwrite_multiselect` uses PUT, which replaces."""
        path = f"/v2/objects/{url_segment(obj)}/records/{url_segment(record_id)}"
        method = "PUT" if overwrite_multiselect else "PATCH"
        return (await self.request(method, path, json={"data": {"values": dict(values)}}))["data"]

    async def delete_record(self, obj: str, record_id: str) -> None:
        await self.request(
            "DELETE", f"/v2/objects/{url_segment(obj)}/records/{url_segment(record_id)}"
        )

    async def query_records(
        self,
        obj: str,
        *,
        filter: Mapping[str, Any] | None = None,
        sorts: Sequence[Mapping[str, Any]] | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        offset: int = 0,
    ) -> list[Record]:
        body: dict[str, Any] = {"limit": limit, "offset": offset}
        if filter:
            body["filter"] = dict(filter)
        if sorts:
            body["sorts"] = [dict(sort) for sort in sorts]
        path = f"/v2/objects/{url_segment(obj)}/records/query"
        return (await self.request("POST", path, json=body))["data"]

    async def find_record(self, obj: str, attribute: str, value: str) -> Record | None:
        """The record whose unique `attribute` is `value` (one query), or None."""
        found = await self.query_records(obj, filter={attribute: value}, limit=1)
        return found[0] if found else None

    def iter_records(
        self,
        obj: str,
        *,
        filter: Mapping[str, Any] | None = None,
        sorts: Sequence[Mapping[str, Any]] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> AsyncIterator[Record]:
        """Every record matching `filter`, page by page."""

        async def fetch(limit: int, offset: int) -> list[Any]:
            return await self.query_records(
                obj, filter=filter, sorts=sorts, limit=limit, offset=offset
            )

        return self._paginate(fetch, page_size)
