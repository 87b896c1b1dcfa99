"""Wires the bridge's parts together, once per process, for the web app and the CLI alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.clients.attio import AttioClient
from app.clients.braintree import BraintreeClient
from app.config import Settings, secret_is_set
from app.events.dispatcher import Dispatcher
from app.events.ledger import Ledger, RetrySchedule
from app.events.model import Source
from app.events.processor import EventProcessor
from app.events.replay import Replayer
from app.events.sources import (
    AttioSource,
    BraintreeSource,
    EventSource,
    ZohoCrmSource,
    ZohoSource,
)
from app.events.sources.zoho_crm import ZOHO_CRM_KEY_PREFIX
from app.services import register_services
from app.signatures import BraintreeWebhookVerifier
from app.events.sources.zoho_sync import SYNC_KEY_PREFIX, ZohoSyncFailureSource

if TYPE_CHECKING:
    from app.services.zoho.service import ZohoServices


@dataclass
class Bridge:
    settings: Settings
    attio: AttioClient
    dispatcher: Dispatcher
    ledger: Ledger
    processor: EventProcessor
    replayer: Replayer
    sources: dict[Source, EventSource]  # only providers whose secrets are configured
    braintree_verifier: BraintreeWebhookVerifier | None
    zoho_crm_source: ZohoCrmSource | None
    braintree: BraintreeClient | None  # Braintree API access, when credentials are set
    zoho: ZohoServices | None = None  # set by register_services


def _secret(value: object) -> str:
    return value.get_secret_value() if value is not None else ""  # type: ignore[attr-defined]


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


_FROM_SETTINGS: Any = object()


def build_bridge(
    settings: Settings, attio: AttioClient, *, braintree: BraintreeClient | None = _FROM_SETTINGS
) -> Bridge:
    """`braintree` replaces the client built from settings (tests fake it at the SDK edge)."""
    dispatcher = Dispatcher()
    ledger = Ledger(attio, RetrySchedule(tuple(settings.event_retry_schedule)))
    processor = EventProcessor(
        dispatcher, ledger, budget_seconds=settings.event_processing_budget_seconds
    )
    sources, verifier = build_sources(settings)
    zoho_crm = None
    if secret_is_set(settings.zoho_crm_notify_token):
        zoho_crm = ZohoCrmSource(
            _secret(settings.zoho_crm_notify_token), settings.zoho_crm_channel_ids
        )
    bridge = Bridge(
        settings=settings,
        attio=attio,
        dispatcher=dispatcher,
        ledger=ledger,
        processor=processor,
        replayer=Replayer(
            ledger,
            processor,
            sources,
            by_key_prefix={
                ZOHO_CRM_KEY_PREFIX: zoho_crm,
                SYNC_KEY_PREFIX: ZohoSyncFailureSource(),
            },
        ),
        sources=sources,
        braintree_verifier=verifier,
        zoho_crm_source=zoho_crm,
        braintree=(
            BraintreeClient.from_settings(settings) if braintree is _FROM_SETTINGS else braintree
        ),
    )
    register_services(bridge)
    return bridge
