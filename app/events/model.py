"""The normalized webhook event every provider's request is turned into."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Source(StrEnum):
    attio = "attio"
    braintree = "braintree"
    zoho = "zoho"


class RawRequest(BaseModel):
    """Exactly what arrived, kept so an event can be verified again before a replay.

    `body` is the request body as text: every provider sends UTF-8 JSON or an ASCII form, and a
    body that is not valid UTF-8 is rejected before an event exists.
    """

    model_config = ConfigDict(frozen=True)

    body: str
    headers: dict[str, str] = Field(default_factory=dict)  # lower-case names, signature-relevant
    query: str = ""
    path: str = ""

    @property
    def body_bytes(self) -> bytes:
        return self.body.encode("utf-8")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def headers_json(self) -> str:
        return json.dumps(self.headers, sort_keys=True)


class WebhookEvent(BaseModel):
    """One provider event. A delivery may carry several (Attio batches in an `events` array)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    source: Source
    event_type: str
    event_key: str  # deduplication key, stable across redeliveries of the same event
    occurred_at: datetime | None = None
    payload: Any = None  # the provider's parsed event (a dict, or the Braintree SDK's object)
    raw: RawRequest
    ignore_reason: str | None = None  # set by the source, e.g. an Attio echo of our own write

    def log_fields(self) -> dict[str, str]:
        return {
            "source": self.source.value,
            "event_type": self.event_type,
            "event_key": self.event_key,
        }


class Outcome(StrEnum):
    processed = "processed"  # the handler's effect is written to Attio
    ignored = "ignored"  # nothing to do (unknown type, own echo, check notification)
    recorded = "recorded"  # the handler failed; the event is safely in the ledger
