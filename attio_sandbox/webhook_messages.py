"""One webhook delivery: the signed request Attio sends, and what each attempt got back.

The body is `{"webhook_id": ..., "events": [...]}` serialised once, compactly as JavaScript's
`JSON.stringify` does; the same bytes are signed and re-sent on every retry. The signature is
the lowercase hex HMAC-SHA256 of those bytes keyed with the webhook's secret as UTF-8, sent in
`Attio-Signature` and again in the legacy `X-Attio-Signature`; there is no timestamp.
`Idempotency-Key` is unique per delivery and the same across its retries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

# pending: not tried yet; retrying: answered non-2xx (or not at all), another attempt is due;
# delivered: answered 2xx; failed: out of retries; dropped: its webhook was deleted meanwhile.
DeliveryState = Literal["pending", "retrying", "delivered", "failed", "dropped"]
# What a receiver's answer keeps in the log, so a long error page cannot bloat it.
_KEPT_RESPONSE_CHARS = 2000


def attio_signature(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Attempt:
    number: int
    # None when there was no answer (connection error, timeout); `error` says why.
    status: int | None
    error: str | None
    at: str
    duration_ms: float
    response_body: str


@dataclass(slots=True)
class Delivery:
    seq: int
    webhook_id: str
    target_url: str
    idempotency_key: str
    body: bytes
    headers: dict[str, str]
    state: DeliveryState = "pending"
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = json.loads(self.body)
        return payload

    @property
    def events(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.payload["events"]
        return events

    @property
    def status(self) -> int | None:
        """The status of the latest answer (None before any, or if it had none)."""
        return self.attempts[-1].status if self.attempts else None

    def summary(self) -> dict[str, Any]:
        """The delivery as plain JSON, for the development routes."""
        return {
            "seq": self.seq,
            "webhook_id": self.webhook_id,
            "target_url": self.target_url,
            "idempotency_key": self.idempotency_key,
            "state": self.state,
            "status": self.status,
            "events": self.events,
            "attempts": [asdict(attempt) for attempt in self.attempts],
        }


def build_delivery(
    seq: int,
    *,
    webhook_id: str,
    target_url: str,
    secret: str,
    events: list[dict[str, Any]],
    user_agent: str,
) -> Delivery:
    body = json.dumps(
        {"webhook_id": webhook_id, "events": events}, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    signature = attio_signature(body, secret)
    idempotency_key = str(uuid.uuid4())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": user_agent,
        "Attio-Signature": signature,
        "X-Attio-Signature": signature,
        "Idempotency-Key": idempotency_key,
    }
    return Delivery(seq, webhook_id, target_url, idempotency_key, body, headers)


def truncated(text: str) -> str:
    return text if len(text) <= _KEPT_RESPONSE_CHARS else text[:_KEPT_RESPONSE_CHARS] + "..."
