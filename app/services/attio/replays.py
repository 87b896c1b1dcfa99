"""Replay from inside Attio: an operator sets a ledger record's status to `replay`.

Attio's webhook announces the status edit (`record.updated` on `bridge_events`, filtered to
the `status` attribute). The bridge reads the record, and if it still says `replay`, replays
the entry exactly as `POST /admin/events/{key}/replay` does (the stored request verified
again), here and now: the record then says `replayed`, or `failed`/`dead` with the error.
`replay_requested_by` names the workspace member who asked.

- Edits by the bridge's own token never replay anything: its actor id is ATTIO_OWN_ACTOR_IDS,
  or learned from the record itself (the bridge created every ledger record, so the
  `created_by_actor` of its `event_key` value is the bridge's token).
- A redelivered webhook for the same edit replays once: the first one settles the status, and
  a per-record lock (shared through Redis when there is one) keeps two at once apart.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any, Protocol

from app.clients.attio import AttioClient, AttioNotFoundError
from app.clients.attio.values import Record, first_value
from app.events.ledger import LedgerEntry, LedgerStatus, is_bookkeeping_key
from app.events.model import WebhookEvent
from app.events.replay import ReplayResult, ReplayStatus
from app.log import get_logger
from app.schema import BRIDGE_EVENTS, EVENT_KEY
from app.services.locks import KeyedLocks

log = get_logger(__name__)

REQUESTED_BY = "replay_requested_by"
_MEMBERS_TTL_SECONDS = 300.0


class EntryReplayer(Protocol):
    async def replay(
        self, entry: LedgerEntry, *, dry_run: bool = False, inline: bool = False
    ) -> ReplayResult: ...


def _creator(record: Record, attribute: str) -> dict[str, Any]:
    values = (record.get("values") or {}).get(attribute) or []
    actor = values[0].get("created_by_actor") if values else None
    return actor if isinstance(actor, dict) else {}


class ReplayRequests:
    def __init__(
        self,
        attio: AttioClient,
        replayer: EntryReplayer,
        *,
        own_actor_ids: Collection[str] = (),
        locks: KeyedLocks | None = None,
    ) -> None:
        self._attio = attio
        self._replayer = replayer
        self._own = set(own_actor_ids)
        self._locks = locks or KeyedLocks("replays")
        self._members: dict[str, str] = {}
        self._members_at = float("-inf")

    def _is_own(self, actor: dict[str, Any]) -> bool:
        return actor.get("type") == "api-token" and actor.get("id") in self._own

    async def on_status_edit(self, event: WebhookEvent, record_id: str) -> None:
        actor = event.payload.get("actor")
        actor = actor if isinstance(actor, dict) else {}
        if self._is_own(actor):
            log.info("attio.replay.own_edit_ignored", record_id=record_id)
            return
        async with self._locks.hold(record_id):
            try:
                record = await self._attio.get_record(BRIDGE_EVENTS, record_id)
            except AttioNotFoundError:
                return
            creator = _creator(record, EVENT_KEY)
            if creator.get("type") == "api-token" and isinstance(creator.get("id"), str):
                self._own.add(creator["id"])  # the bridge wrote this record: that is our token
            if self._is_own(actor):
                log.info("attio.replay.own_edit_ignored", record_id=record_id)
                return
            key = first_value(record, EVENT_KEY) or ""
            requested = first_value(record, "status") == LedgerStatus.replay.value
            if not requested or is_bookkeeping_key(key):
                return  # settled already (a redelivery), or not a replay request
            await self._replay(record, key, actor)

    async def _replay(self, record: Record, key: str, actor: dict[str, Any]) -> None:
        record_id = str(record["id"]["record_id"])
        who = await self._describe(actor)
        await self._attio.update_record(BRIDGE_EVENTS, record_id, {REQUESTED_BY: who})
        try:
            entry = LedgerEntry.from_record(record)
        except ValueError as exc:  # e.g. a source edited to something unknown
            result = ReplayResult(key, ReplayStatus.refused, f"unreadable record: {exc}")
        else:
            result = await self._replayer.replay(entry, inline=True)
        if result.status is ReplayStatus.refused:
            # Nothing was processed, so the ledger wrote nothing: settle the request here.
            values = {
                "status": LedgerStatus.dead.value,
                "error": f"replay refused: {result.detail}",
            }
            await self._attio.update_record(BRIDGE_EVENTS, record_id, values)
        log.info("attio.replay.done", event_key=key, status=result.status.value, requested_by=who)

    async def _describe(self, actor: dict[str, Any]) -> str:
        """The acting workspace member as `Name <email>`, or the actor as Attio names it."""
        actor_id = str(actor.get("id") or "")
        if actor.get("type") != "workspace-member" or not actor_id:
            return f"{actor.get('type') or 'unknown'} {actor_id}".strip()
        stale = time.monotonic() - self._members_at > _MEMBERS_TTL_SECONDS
        if actor_id not in self._members and stale:
            self._members_at = time.monotonic()
            self._members = {
                str(m["id"]["workspace_member_id"]): (
                    f"{m.get('first_name') or ''} {m.get('last_name') or ''}".strip()
                    + f" <{m.get('email_address')}>"
                ).strip()
                for m in await self._attio.list_workspace_members()
            }
        return self._members.get(actor_id, f"workspace-member {actor_id}")
