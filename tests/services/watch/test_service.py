"""A watch pass's report shared between processes."""

from __future__ import annotations

from app.clients.attio import AttioClient
from app.clients.attio.values import iso_timestamp
from app.clients.redis import Redis
from app.clients.redis import connect as connect_redis
from app.clients.zoho import ZohoClient
from app.events.deliveries import DeliveryClock
from app.services.syncstate import SyncStateStore
from app.services.watch import Watch
from tests.services.watch.conftest import settings


async def test_health_answers_another_processs_pass_through_redis(
    attio: AttioClient, redis_url: str
) -> None:
    first, second = connect_redis(redis_url), connect_redis(redis_url)

    def watch(redis: Redis) -> Watch:
        return Watch(
            settings(),
            attio,
            deliveries=DeliveryClock(attio, redis),
            sync_state=SyncStateStore(attio),
            queue=None,
            braintree=None,
            make_zoho=ZohoClient.from_settings,
            redis=redis,
        )

    try:
        report = await watch(first).run_pass()  # the cron job's pass
        answered = await watch(second).latest()  # the web service's /admin/health
        assert answered["checked_at"] == iso_timestamp(report.checked_at)
    finally:
        await first.aclose()
        await second.aclose()
