"""Wires the bridge's parts together, once per process, for the web app and the CLI alike.

The one place that knows every part: each service is built with exactly the collaborators it
needs and registered with the dispatcher here; nothing below this module imports it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, Self

from app.clients.attio import AttioClient
from app.clients.braintree import BraintreeClient
from app.clients.redis import connect as connect_redis
from app.clients.zoho import ItemsSource, ZohoClient, check_zoho_settings
from app.config import Settings, secret_is_set
from app.events.admission import Admission
from app.events.deliveries import DeliveryClock, silence_thresholds, watched_sources
from app.events.delivery_counts import DELIVERIES
from app.events.dispatcher import Dispatcher
from app.events.ledger import Ledger, RetrySchedule
from app.events.model import Source
from app.events.processor import EventProcessor
from app.events.queue import ZOHO_CRM_CHANNEL, EventQueue, QueueMode, enqueue_deadline
from app.events.replay import Replayer
from app.events.sources import (
    ATTIO_SYNC_KEY_PREFIX,
    BRAINTREE_SYNC_KEY_PREFIX,
    SYNC_KEY_PREFIX,
    ZOHO_CRM_KEY_PREFIX,
    AttioSource,
    AttioSyncFailureSource,
    BraintreeSource,
    BraintreeSyncFailureSource,
    EventSource,
    ZohoCrmLedgerSource,
    ZohoCrmSource,
    ZohoSource,
    ZohoSyncFailureSource,
)
from app.schema import billing_objects, schema_for
from app.services.attio import AttioService, ReplayRequests
from app.services.braintree import BraintreeService
from app.services.console import BridgeHealth, Console, WatchChecks, build_console
from app.services.fx import ExchangeRates
from app.services.locks import KeyedLocks
from app.services.syncstate import AttioSyncLock, SyncStateStore
from app.services.watch import Watch
from app.services.zoho import ZohoService
from app.signatures import BraintreeWebhookVerifier


class HandlerSet(Protocol):
    def register(self, dispatcher: Dispatcher) -> None: ...


@dataclass
class Bridge:
    settings: Settings
    attio_client: AttioClient
    dispatcher: Dispatcher
    ledger: Ledger
    processor: EventProcessor
    replayer: Replayer
    sources: dict[Source, EventSource]  # only providers whose secrets are configured
    braintree_verifier: BraintreeWebhookVerifier | None
    zoho_crm_source: ZohoCrmSource | None
    braintree_client: BraintreeClient | None  # Braintree API access, when credentials are set
    zoho_service: ZohoService
    braintree_service: BraintreeService
    attio_service: AttioService
    queue: EventQueue | None = None  # queue mode (REDIS_URL set)
    watch: Watch | None = None  # runtime checks and alerts (`attio-bridge watch`)
    console: Console | None = None  # the web console's sign-in and pages (`/console`)

    def source_for_channel(self, channel: str) -> EventSource | None:
        """The source a queued delivery came through (None: that provider is now disabled)."""
        if channel == ZOHO_CRM_CHANNEL:
            return self.zoho_crm_source
        return next((s for source, s in self.sources.items() if source.value == channel), None)

    async def start(self) -> None:
        """Ready what the first event would otherwise wait for (the web service and workers)."""
        await self.braintree_service.start()

    async def aclose(self) -> None:
        """Close what the bridge opened: background syncs, the Zoho client, the queue's
        Redis connections. The Attio client belongs to whoever passed it in (the app's
        lifespan, a CLI command)."""
        await self.attio_service.aclose()
        await self.braintree_service.aclose()
        await self.zoho_service.aclose()
        if self.queue is not None:
            await self.queue.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()


def _secret(value: Any) -> str:
    return value.get_secret_value() if value is not None else ""


def build_sources(
    settings: Settings,
) -> tuple[dict[Source, EventSource], BraintreeWebhookVerifier | None]:
    """A provider whose secret is unset is disabled: no source, and its route answers 404."""
    sources: dict[Source, EventSource] = {}
    if secret_is_set(settings.attio_webhook_secret):
        sources[Source.attio] = AttioSource(
            _secret(settings.attio_webhook_secret), settings.attio_own_actor_ids
        )
    verifier = None
    if settings.braintree_configured:
        verifier = BraintreeWebhookVerifier(
            environment=settings.braintree_environment,
            merchant_id=settings.braintree_merchant_id or "",
            public_key=settings.braintree_public_key or "",
            private_key=_secret(settings.braintree_private_key),
        )
        sources[Source.braintree] = BraintreeSource(verifier)
    if secret_is_set(settings.zoho_webhook_secret):
        sources[Source.zoho] = ZohoSource(_secret(settings.zoho_webhook_secret))
    return sources, verifier


def register_handlers(dispatcher: Dispatcher, *services: HandlerSet) -> None:
    for service in services:
        service.register(dispatcher)


_FROM_SETTINGS: Any = object()

# The intake's Redis: a failed append must turn into inline processing at once, so short
# timeouts and no retry (one more try is what the inline fallback is).
INTAKE_SOCKET_TIMEOUT_SECONDS = 1.0
INTAKE_CONNECT_TIMEOUT_SECONDS = 0.5


def build_queue(settings: Settings) -> EventQueue | None:
    """Queue mode when REDIS_URL is set; connects on first use."""
    if not settings.redis_configured or settings.redis_url is None:
        return None
    redis = connect_redis(
        settings.redis_url.get_secret_value(),
        socket_timeout=INTAKE_SOCKET_TIMEOUT_SECONDS,
        connect_timeout=INTAKE_CONNECT_TIMEOUT_SECONDS,
        retries=0,
    )
    return EventQueue(
        redis,
        max_length=settings.queue_max_length,
        enqueue_deadline_seconds=enqueue_deadline(settings.event_processing_budget_seconds),
    )


def _admission(settings: Settings, attio: AttioClient) -> Admission:
    """Inline processing (no REDIS_URL, or Redis unreachable) refuses what the write budget
    cannot start in time; queue workers take whatever comes (`admit=False`)."""
    limiter = attio.write_limiter
    return Admission(
        budget_seconds=settings.event_processing_budget_seconds,
        interval=1.0 / settings.attio_write_rate,
        queued_writes=lambda: int(getattr(limiter, "waiting", 0)),
    )


def events_waiting(
    queue: EventQueue | None, processor: EventProcessor
) -> Callable[[], Awaitable[bool]]:
    """Whether webhook events wait for processing: background writes (company sums) yield."""

    async def waiting() -> bool:
        if queue is not None and queue.mode is QueueMode.queue:
            return await queue.backlog() > 0
        admission = processor.admission
        return admission is not None and admission.in_flight > 0

    return waiting


def build_bridge(
    settings: Settings, attio: AttioClient, *, braintree: BraintreeClient | None = _FROM_SETTINGS
) -> Bridge:
    """`braintree` replaces the client built from settings (tests fake it at the SDK edge)."""
    check_zoho_settings(settings)  # the Zoho client is built lazily; fail at start-up instead
    if braintree is _FROM_SETTINGS:
        braintree = BraintreeClient.from_settings(settings)
    dispatcher = Dispatcher()
    ledger = Ledger(attio, RetrySchedule(tuple(settings.event_retry_schedule)))
    processor = EventProcessor(
        dispatcher,
        ledger,
        budget_seconds=settings.event_processing_budget_seconds,
        admission=_admission(settings, attio),
    )
    sources, verifier = build_sources(settings)
    zoho_crm = None
    zoho_crm_ledger = None
    if secret_is_set(settings.zoho_crm_notify_token):
        zoho_crm = ZohoCrmSource(
            _secret(settings.zoho_crm_notify_token), settings.zoho_crm_channel_ids
        )
        zoho_crm_ledger = ZohoCrmLedgerSource(settings.zoho_crm_channel_ids)
    queue = build_queue(settings)
    # When each source last delivered, for watch's silence checks (Redis in queue mode).
    redis = queue.redis if queue is not None else None
    deliveries = DeliveryClock(
        attio,
        redis,
        thresholds=silence_thresholds(settings),
        watched=watched_sources(settings),
    )
    processor.deliveries = deliveries
    replayer = Replayer(
        ledger,
        processor,
        sources,
        by_key_prefix={
            ZOHO_CRM_KEY_PREFIX: zoho_crm_ledger,
            SYNC_KEY_PREFIX: ZohoSyncFailureSource(),
            BRAINTREE_SYNC_KEY_PREFIX: BraintreeSyncFailureSource(),
            ATTIO_SYNC_KEY_PREFIX: AttioSyncFailureSource(),
        },
        queue=queue,
    )
    # Sync runs: one at a time per source across processes, recorded in `bridge_events`.
    sync_lock, sync_state = AttioSyncLock(attio), SyncStateStore(attio)
    zoho_service = ZohoService(
        attio=attio,
        ledger=ledger,
        items_source=ItemsSource(settings.zoho_items_source),
        zoho_factory=lambda: ZohoClient.from_settings(settings),
        crm_products=settings.zoho_crm_configured,
        sync_lock=sync_lock,
        sync_state=sync_state,
    )
    braintree_service = BraintreeService(
        attio,
        braintree,
        payments_object=settings.attio_payments_object,
        ledger=ledger,
        sync_lock=sync_lock,
        sync_state=sync_state,
        reporting_currency=settings.attio_default_currency,
        rates=ExchangeRates.from_settings(settings),
        company_delay=settings.company_summary_delay_seconds,
        events_waiting=events_waiting(queue, processor),
    )
    layout = schema_for(payments_object=settings.attio_payments_object)
    attio_service = AttioService(
        attio,
        ledger,
        # CRM edits reach Braintree (webhooks and the catch-up) only when enabled.
        braintree if settings.attio_to_braintree_enabled else None,
        billing_objects=billing_objects(layout),
        replays=ReplayRequests(
            attio,
            replayer,
            own_actor_ids=settings.attio_own_actor_ids,
            locks=KeyedLocks("replays", redis=redis),
        ),
        # A paying person linked to another company in Attio: both companies' sums change.
        recount_companies=braintree_service.recount_companies if braintree else None,
        sync_lock=sync_lock,
        sync_state=sync_state,
    )
    register_handlers(dispatcher, braintree_service, attio_service, zoho_service)
    watch = Watch(
        settings,
        attio,
        deliveries=deliveries,
        sync_state=sync_state,
        queue=queue,
        braintree=braintree,
        make_zoho=ZohoClient.from_settings,
        # A ledger alert's task links the payer, found as a replay parses the entry.
        braintree_source=sources.get(Source.braintree),
        redis=redis,
        # The Attio webhook is back: catch up the edits it did not deliver meanwhile.
        on_attio_webhook_back=attio_service.catch_up,
    )
    return Bridge(
        settings=settings,
        attio_client=attio,
        dispatcher=dispatcher,
        ledger=ledger,
        processor=processor,
        replayer=replayer,
        sources=sources,
        braintree_verifier=verifier,
        zoho_crm_source=zoho_crm,
        braintree_client=braintree,
        zoho_service=zoho_service,
        braintree_service=braintree_service,
        attio_service=attio_service,
        queue=queue,
        watch=watch,
        console=build_console(
            settings,
            ledger=ledger,
            replayer=replayer,
            health=BridgeHealth(
                ledger=ledger,
                sources=sources,
                queue=queue,
                deliveries=DELIVERIES,
                checks=WatchChecks(watch),
            ),
            syncs={
                "zoho": zoho_service,
                "braintree": braintree_service,
                "attio": attio_service,
            },
            redis=redis,
        ),
    )
