"""Registering the bridge's Attio webhook: which record events it needs, and the echo guard.

Besides the watched objects' record events, the ledger's `status` edits: setting it to
`replay` in Attio replays the entry (`app.services.attio.replays`)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from app.clients.attio import AttioClient, AttioError
from app.log import get_logger
from app.schema import (
    BRIDGE_EVENTS,
    PAYMENTS,
    PEOPLE,
    SERVICES,
    SUBSCRIPTIONS,
    ObjectSpec,
    billing_objects,
)

log = get_logger(__name__)

CREATE_ATTEMPTS = 3

WATCHED_OBJECTS = (PEOPLE, SERVICES, SUBSCRIPTIONS, PAYMENTS)  # the full layout's


def watched_objects(schema: tuple[ObjectSpec, ...]) -> tuple[str, ...]:
    """The objects of a layout whose record events the bridge needs (not its own ledger)."""
    return (PEOPLE, SERVICES, *billing_objects(schema))


RECORD_EVENTS = ("record.created", "record.updated", "record.deleted", "record.merged")


def echo_guard(own_actor_ids: Collection[str]) -> list[dict[str, str]]:
    """Filter conditions that keep the bridge's own writes from coming back to it.

    With the bridge's token actor id(s) known, exactly those are excluded; otherwise every
    API-token actor is (which also hides other integrations' edits: set ATTIO_OWN_ACTOR_IDS).
    """
    if own_actor_ids:
        return [
            {"field": "actor.id", "operator": "not_equals", "value": actor_id}
            for actor_id in sorted(own_actor_ids)
        ]
    return [{"field": "actor.type", "operator": "not_equals", "value": "api-token"}]


def desired_subscriptions(
    object_ids: Mapping[str, str],
    own_actor_ids: Collection[str],
    watched: tuple[str, ...] = WATCHED_OBJECTS,
    *,
    replay_status: tuple[str, str] | None = None,
) -> list[dict[str, Any]]:
    """One subscription per (event type, watched object); Attio filters cannot nest.

    `replay_status` (the ledger object's id, its `status` attribute's id) adds the ledger's
    status edits: an operator setting `replay` in Attio asks the bridge to replay the entry.
    """
    guard = echo_guard(own_actor_ids)
    subscriptions: list[dict[str, Any]] = [
        {
            "event_type": event_type,
            "filter": {
                "$and": [
                    {"field": "id.object_id", "operator": "equals", "value": object_ids[slug]},
                    *guard,
                ]
            },
        }
        for slug in watched
        for event_type in RECORD_EVENTS
    ]
    if replay_status is not None:
        ledger_id, status_id = replay_status
        conditions = [
            {"field": "id.object_id", "operator": "equals", "value": ledger_id},
            {"field": "id.attribute_id", "operator": "equals", "value": status_id},
            *guard,
        ]
        subscriptions.append({"event_type": "record.updated", "filter": {"$and": conditions}})
    return subscriptions


async def wanted_subscriptions(
    client: AttioClient, own_actor_ids: Collection[str], watched: tuple[str, ...] = WATCHED_OBJECTS
) -> list[dict[str, Any]]:
    """The subscriptions the bridge needs, with the ids of this workspace's objects."""
    object_ids = {slug: (await client.get_object(slug))["id"]["object_id"] for slug in watched}
    ledger_id = (await client.get_object(BRIDGE_EVENTS))["id"]["object_id"]
    status_id = next(
        a["id"]["attribute_id"]
        for a in await client.list_attributes(BRIDGE_EVENTS)
        if a.get("api_slug") == "status"
    )
    return desired_subscriptions(
        object_ids, own_actor_ids, watched, replay_status=(ledger_id, status_id)
    )


@dataclass(frozen=True)
class Registration:
    webhook_id: str
    created: bool
    secret: str | None  # only on creation: Attio never shows it again
    subscriptions: int


async def register_webhook(
    client: AttioClient,
    *,
    target_url: str,
    own_actor_ids: Collection[str],
    watched: tuple[str, ...] = WATCHED_OBJECTS,
) -> Registration:
    """Create the webhook for `target_url`, or bring an existing one's subscriptions up to date."""
    subscriptions = await wanted_subscriptions(client, own_actor_ids, watched)
    existing = await _webhook_for(client, target_url)
    if existing is not None:
        webhook_id = existing["id"]["webhook_id"]
        await client.update_webhook(webhook_id, target_url=target_url, subscriptions=subscriptions)
        return Registration(webhook_id, False, None, len(subscriptions))
    for attempt in range(1, CREATE_ATTEMPTS + 1):
        try:
            created = await client.create_webhook(
                target_url=target_url, subscriptions=subscriptions
            )
        except AttioError as exc:
            if not exc.retryable or attempt == CREATE_ATTEMPTS:
                raise
            # The answer was lost, not necessarily the webhook: look before trying again. One
            # created just now is ours, and its secret never reached us, so it goes.
            log.warning("attio.webhook.create_unanswered", attempt=attempt, error=str(exc))
            orphan = await _webhook_for(client, target_url)
            if orphan is not None:
                await client.delete_webhook(orphan["id"]["webhook_id"])
            continue
        return Registration(
            created["id"]["webhook_id"], True, created.get("secret"), len(subscriptions)
        )
    raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover


async def _webhook_for(client: AttioClient, target_url: str) -> dict[str, Any] | None:
    return next(
        (w for w in await client.list_webhooks() if w.get("target_url") == target_url), None
    )
