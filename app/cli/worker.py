"""`attio-bridge worker`: process queued deliveries (queue mode, REDIS_URL) until SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from typing import Annotated

import typer

from app.bridge import Bridge
from app.cli import _common
from app.clients.redis import connect as connect_redis
from app.config import Settings
from app.events.delivery_counts import DELIVERIES
from app.events.queue import ZOHO_CRM_CHANNEL, EventQueue
from app.events.queue_worker import BLOCK_MS, QueuedCrmSource, QueueWorker, WorkerSettings
from app.events.sources import EventSource, ZohoCrmLedgerSource

# A blocking read holds the socket for BLOCK_MS: the timeout must be longer.
WORKER_SOCKET_TIMEOUT_SECONDS = BLOCK_MS / 1000 + 5


def consumer_name() -> str:
    """Unique per process, so a restarted worker never claims to be the one that died."""
    return f"{socket.gethostname()}-{os.getpid()}"


def worker_for(
    bridge: Bridge, settings: Settings, queue: EventQueue, *, consumer: str | None = None
) -> QueueWorker:
    crm = bridge.zoho_crm_source
    queued_crm = (
        None
        if crm is None
        else QueuedCrmSource(crm, ZohoCrmLedgerSource(settings.zoho_crm_channel_ids))
    )

    def resolve(channel: str) -> EventSource | None:
        # Zoho CRM notifications are queued without their token (checked at the intake).
        if channel == ZOHO_CRM_CHANNEL:
            return queued_crm
        return bridge.source_for_channel(channel)

    return QueueWorker(
        queue,
        bridge.processor,
        bridge.replayer,
        bridge.ledger,
        resolve,
        WorkerSettings(
            consumer=consumer or consumer_name(),
            concurrency=settings.worker_concurrency,
            reclaim_idle_seconds=settings.queue_reclaim_idle_seconds,
            max_deliveries=settings.queue_max_deliveries,
        ),
    )


def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, max=256, help="Entries in flight (default: WORKER_CONCURRENCY)."),
    ] = None,
) -> None:
    """Process queued webhook deliveries and replays until SIGTERM (then finish in-flight ones)."""
    settings = _common.load_settings()
    if settings.redis_url is None or not settings.redis_configured:
        typer.secho(
            "error: REDIS_URL is not set: without queue mode the web service processes every "
            "delivery itself and there is nothing for a worker to do",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(1)
    url = settings.redis_url.get_secret_value()
    if concurrency is not None:
        settings = settings.model_copy(update={"worker_concurrency": concurrency})

    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        queue = EventQueue(
            connect_redis(url, socket_timeout=WORKER_SOCKET_TIMEOUT_SECONDS),
            max_length=settings.queue_max_length,
        )
        DELIVERIES.use_redis(connect_redis(url, retries=0))  # the console's delivery chart
        try:
            async with _common.cli_bridge(settings) as bridge:
                await bridge.start()
                await worker_for(bridge, settings, queue).run(stop)
        finally:
            await queue.aclose()

    _common.run(go)
