"""The workspace's webhooks: their target URLs, subscriptions, secrets and status.

Input is checked here, not in the routes, so tests that create webhooks directly get the same
400s and 409s as a client of `/v2/webhooks`. Shapes follow the `/v2/webhooks` operations of
Attio's OpenAPI document; the contract tests check them against it.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from attio_sandbox.clock import now_timestamp
from attio_sandbox.config import WebhookConfig
from attio_sandbox.errors import AttioError, not_found, validation_error
from attio_sandbox.webhook_filters import Filter, check_filter, matches

# Every event type `POST /v2/webhooks` accepts (the document's enum). The sandbox sends only
# the record events, but a subscription to any of them is valid.
EVENT_TYPES = frozenset(
    {
        "call-recording.created",
        "comment.created",
        "comment.resolved",
        "comment.unresolved",
        "comment.deleted",
        "list.created",
        "list.updated",
        "list.deleted",
        "list-attribute.created",
        "list-attribute.updated",
        "list-entry.created",
        "list-entry.updated",
        "list-entry.deleted",
        "object-attribute.created",
        "object-attribute.updated",
        "note.created",
        "note-content.updated",
        "note.updated",
        "note.deleted",
        "record.created",
        "record.merged",
        "record.updated",
        "record.deleted",
        "task.created",
        "task.updated",
        "task.deleted",
        "workspace-member.created",
    }
)
_SUBSCRIPTION_KEYS = frozenset({"event_type", "filter"})
LIST_LIMITS = (10, 100)


class _Unchanged:
    """`update`'s default: the field was not sent (an explicit null is still checked)."""


UNCHANGED: Any = _Unchanged()

WebhookStatus = Literal["active", "degraded", "inactive"]


@dataclass(frozen=True, slots=True)
class Subscription:
    event_type: str
    filter: Filter | None

    def key(self, target_url: str) -> tuple[str, str, str]:
        """What must be unique in the workspace: (target URL, event type, filter)."""
        return target_url, self.event_type, json.dumps(self.filter, sort_keys=True)

    def render(self) -> dict[str, Any]:
        return {"event_type": self.event_type, "filter": self.filter}


@dataclass(slots=True)
class Webhook:
    id: str
    target_url: str
    subscriptions: list[Subscription]
    secret: str
    created_at: str
    # Active and degraded webhooks receive events; inactive ones do not.
    status: WebhookStatus = "active"

    def wants(self, event: dict[str, Any]) -> bool:
        """Whether one of the subscriptions takes this event (one delivery however many do)."""
        return self.status != "inactive" and any(
            subscription.event_type == event["event_type"] and matches(subscription.filter, event)
            for subscription in self.subscriptions
        )


def render_webhook(
    workspace_id: str, webhook: Webhook, *, with_secret: bool = False
) -> dict[str, Any]:
    """A webhook as the API returns it; the secret only in the answer to its creation."""
    rendered: dict[str, Any] = {
        "target_url": webhook.target_url,
        "subscriptions": [subscription.render() for subscription in webhook.subscriptions],
        "id": {"workspace_id": workspace_id, "webhook_id": webhook.id},
        "status": webhook.status,
        "created_at": webhook.created_at,
    }
    if with_secret:
        rendered["secret"] = webhook.secret
    return rendered


class WebhookRegistry:
    def __init__(self, config: WebhookConfig) -> None:
        # The live settings, shared with the sender: http_hosts and secret are read per call.
        self.config = config
        self.webhooks: dict[str, Webhook] = {}

    def create(self, target_url: Any, subscriptions: Any, *, secret: str | None = None) -> Webhook:
        """A new active webhook; `secret` (tests only) replaces the generated one."""
        url = self._target_url(target_url)
        parsed = self._subscriptions(subscriptions)
        self._check_unique(url, parsed)
        webhook = Webhook(
            id=str(uuid.uuid4()),
            target_url=url,
            subscriptions=parsed,
            # 64 hex characters, like the secrets Attio issues.
            secret=secret or self.config.secret or secrets.token_hex(32),
            created_at=now_timestamp(),
        )
        self.webhooks[webhook.id] = webhook
        return webhook

    def get(self, webhook_id: str) -> Webhook:
        webhook = self.webhooks.get(webhook_id)
        if webhook is None:
            raise not_found(f'Webhook with ID "{webhook_id}" not found.')
        return webhook

    def page(self, limit: int, offset: int) -> list[Webhook]:
        low, high = LIST_LIMITS
        if not low <= limit <= high:
            raise validation_error(f'"limit" must be between {low} and {high}.')
        return list(self.webhooks.values())[offset : offset + limit]

    def update(
        self, webhook_id: str, *, target_url: Any = UNCHANGED, subscriptions: Any = UNCHANGED
    ) -> Webhook:
        """Change the URL and/or replace the subscriptions; either may be left out.

        A new URL is checked for uniqueness with the subscriptions the webhook will have.
        """
        webhook = self.get(webhook_id)
        url = webhook.target_url if target_url is UNCHANGED else self._target_url(target_url)
        parsed = (
            webhook.subscriptions
            if subscriptions is UNCHANGED
            else self._subscriptions(subscriptions)
        )
        self._check_unique(url, parsed, except_id=webhook.id)
        webhook.target_url = url
        webhook.subscriptions = parsed
        return webhook

    def delete(self, webhook_id: str) -> None:
        del self.webhooks[self.get(webhook_id).id]

    def receiving(self, event: dict[str, Any]) -> list[Webhook]:
        """The webhooks this event must be delivered to, in creation order."""
        return [webhook for webhook in self.webhooks.values() if webhook.wants(event)]

    def clear(self) -> None:
        self.webhooks.clear()

    # Checks --------------------------------------------------------------------------------

    def _target_url(self, raw: Any) -> str:
        if not isinstance(raw, str):
            raise validation_error('"target_url" must be a string.')
        try:
            url = httpx.URL(raw)
        except httpx.InvalidURL:
            raise validation_error('"target_url" is not a valid URL.') from None
        plain_allowed = url.scheme == "http" and url.host in self.config.http_hosts
        if not url.host or (url.scheme != "https" and not plain_allowed):
            raise validation_error('"target_url" must be an https URL.')
        return raw

    def _subscriptions(self, raw: Any) -> list[Subscription]:
        if not isinstance(raw, list) or not raw:
            raise validation_error('"subscriptions" must be a non-empty array.')
        parsed = []
        for index, item in enumerate(raw):
            where = f"subscriptions[{index}]"
            if not isinstance(item, dict) or set(item) != _SUBSCRIPTION_KEYS:
                raise validation_error(
                    f'"{where}" must be an object with exactly "event_type" and "filter".'
                )
            if item["event_type"] not in EVENT_TYPES:
                raise validation_error(f'"{where}.event_type" is not a webhook event type.')
            event_filter = check_filter(item["filter"], f"{where}.filter")
            parsed.append(Subscription(item["event_type"], event_filter))
        return parsed

    def _check_unique(
        self, target_url: str, subscriptions: list[Subscription], except_id: str | None = None
    ) -> None:
        taken = {
            subscription.key(webhook.target_url)
            for webhook in self.webhooks.values()
            if webhook.id != except_id
            for subscription in webhook.subscriptions
        }
        for subscription in subscriptions:
            key = subscription.key(target_url)
            if key in taken:
                raise AttioError(
                    409,
                    "uniqueness_conflict",
                    f'A webhook subscription for "{subscription.event_type}" with this filter '
                    f'already sends to "{target_url}".',
                )
            taken.add(key)
