"""The Braintree source: event keys from kind, subject and timestamp."""

from __future__ import annotations

from datetime import UTC

from app.events.model import RawRequest
from app.events.sources import BraintreeSource
from app.signatures import BraintreeWebhookVerifier
from testkit.signing import (
    BRAINTREE_TEST_CREDENTIALS,
    braintree_sample_form,
)


async def test_braintree_source_key_is_kind_subject_timestamp() -> None:
    verifier = BraintreeWebhookVerifier(**BRAINTREE_TEST_CREDENTIALS)
    body = braintree_sample_form("subscription_went_active", "sub_42")
    raw = RawRequest(
        body=body.decode(), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    (event,) = await BraintreeSource(verifier).events_from(raw)
    assert event.event_type == "subscription_went_active"
    assert event.event_key.startswith("braintree:subscription_went_active:sub_42:")
    assert event.occurred_at is not None and event.occurred_at.tzinfo is UTC
    assert event.payload.subscription.id == "sub_42"
