"""Zoho CRM Notification API channels: the request body and what Zoho answers.

A channel expires (one hour when no expiry is given, at most one week), after which Zoho just
stops calling; `ensure_watch` is run on a schedule to push the expiry forward.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from app.clients.zoho.errors import ZohoAPIError

WATCH_PATH = "/crm/v8/actions/watch"
# Zoho's maximum is one week; a longer expiry silently becomes one hour, so stay below it.
MAX_CHANNEL_LIFETIME = timedelta(days=7) - timedelta(hours=1)
DEFAULT_EVENTS = ("Products.all",)


@dataclass(frozen=True)
class WatchChannel:
    channel_id: str
    notify_url: str
    token: str
    expires_at: datetime
    events: tuple[str, ...] = DEFAULT_EVENTS

    @classmethod
    def expiring_in(
        cls,
        lifetime: timedelta,
        *,
        channel_id: str,
        notify_url: str,
        token: str,
        events: tuple[str, ...] = DEFAULT_EVENTS,
        now: datetime | None = None,
    ) -> WatchChannel:
        moment = (now or datetime.now(UTC)) + min(lifetime, MAX_CHANNEL_LIFETIME)
        return cls(channel_id, notify_url, token, moment.replace(microsecond=0), events)

    def body(self) -> dict[str, Any]:
        # Zoho declares `channel_id` a long: send digits as a JSON number.
        digits = self.channel_id.isdigit()
        channel_id: int | str = int(self.channel_id) if digits else self.channel_id
        return {
            "watch": [
                {
                    "channel_id": channel_id,
                    "events": list(self.events),
                    "channel_expiry": self.expires_at.astimezone(UTC).isoformat(),
                    "token": self.token,
                    "notify_url": self.notify_url,
                    # Edits to related records (notes, attachments) are not catalogue changes.
                    "notify_on_related_action": False,
                }
            ]
        }


@dataclass(frozen=True)
class WatchResult:
    renewed: bool  # False: the channel was created
    channel_expiry: str | None
    events: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": "renewed" if self.renewed else "created",
            "channel_expiry": self.channel_expiry,
            "events": self.events,
        }


def watch_result(body: dict[str, Any] | None, *, renewed: bool) -> WatchResult:
    """Zoho answers one entry per channel; any entry that is not a success is an error."""
    entries = [e for e in (body or {}).get("watch") or [] if isinstance(e, dict)]
    failed = [e for e in entries if str(e.get("status", "")).lower() != "success"]
    if not entries or failed:
        entry = failed[0] if failed else {}
        raise ZohoAPIError(
            f"Zoho did not accept the notification channel: {entry.get('message') or body}",
            http_status=200,
            zoho_code=entry.get("code"),
            body=body,
        )
    details = entries[0].get("details") or {}
    events = [e for e in details.get("events") or [] if isinstance(e, dict)]
    expiry = next((e.get("channel_expiry") for e in events if e.get("channel_expiry")), None)
    return WatchResult(renewed=renewed, channel_expiry=expiry, events=events)
