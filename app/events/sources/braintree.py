"""Braintree notifications: form fields `bt_signature` / `bt_payload`, checked by the SDK."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import anyio.to_thread

from app.events.model import RawRequest, Source, WebhookEvent
from app.events.sources._json import body_digest
from app.signatures import BraintreeWebhookVerifier, braintree_form_fields

# The attribute the SDK sets for each kind's subject; its `id` identifies the event's object.
_SUBJECT_ATTRIBUTES = (
    "subscription",
    "transaction",
    "dispute",
    "disbursement",
    "merchant_account",
    "partner_merchant",
    "transaction_review",
    "account_updater_daily_report",
    "revoked_payment_method_metadata",
    "local_payment_completed",
    "local_payment_reversed",
    "local_payment_expired",
    "local_payment_funded",
    "payment_method_customer_data_updated_metadata",
    "granted_payment_instrument_update",
)


def subject_id(notification: Any) -> str | None:
    for name in _SUBJECT_ATTRIBUTES:
        subject = getattr(notification, name, None)
        if subject is None:
            continue
        for field in ("id", "transaction_id", "payment_id", "token", "customer_id"):
            if value := getattr(subject, field, None):
                return str(value)
    return None


def signed_payload(raw: RawRequest) -> bytes:
    """The payload Braintree signed (only called once it verified)."""
    return (braintree_form_fields(raw.body_bytes, raw.query)[1] or "").encode()


class BraintreeSource:
    source = Source.braintree

    def __init__(self, verifier: BraintreeWebhookVerifier) -> None:
        self._verifier = verifier

    async def events_from(self, raw: RawRequest) -> list[WebhookEvent]:
        # Decoding the form, then the SDK's check and XML parse: CPU, kept off the event loop.
        notification = await anyio.to_thread.run_sync(
            self._verifier.parse_form, raw.body_bytes, raw.query
        )
        timestamp = getattr(notification, "timestamp", None)
        occurred_at = timestamp.replace(tzinfo=UTC) if isinstance(timestamp, datetime) else None
        kind = str(notification.kind)
        subject = subject_id(notification) or f"sha256-{body_digest(signed_payload(raw))}"
        when = occurred_at.isoformat() if occurred_at else "unknown-time"
        return [
            WebhookEvent(
                source=self.source,
                event_type=kind,
                event_key=f"braintree:{kind}:{subject}:{when}",
                occurred_at=occurred_at,
                payload=notification,
                raw=raw,
            )
        ]
