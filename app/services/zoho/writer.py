"""Writing one service to Attio from a webhook: read, guard against staleness, write the diff.

Attio's assert cannot be made conditional, so the stale guard is a read before the write. Two
deliveries for the same item in this process are serialised (a per-item lock), so the read and
the write of one cannot interleave with the other's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import StrEnum

from app.clients.attio import AttioClient
from app.log import get_logger
from app.schema import SERVICE_KEY, SERVICES
from app.services.locks import KeyedLocks
from app.services.zoho.model import ServiceState, StoredService
from app.services.zoho.transforms import (
    attio_values,
    changed_attributes,
    is_stale,
    stored_service,
)

log = get_logger(__name__)


class WriteOutcome(StrEnum):
    created = "created"
    updated = "updated"
    unchanged = "unchanged"  # Attio already holds exactly this
    stale = "stale"  # Attio holds a newer version (by Zoho's last-modified time)
    absent = "absent"  # deactivating an item Attio never had: nothing to do


class ServiceWriter:
    def __init__(self, attio: AttioClient) -> None:
        self._attio = attio
        self._locks = KeyedLocks(
            "services", redis=attio.shared_redis, ttl_seconds=attio.shared_lock_ttl_seconds
        )

    async def current(self, zoho_item_id: str) -> StoredService | None:
        rows = await self._attio.query_records(
            SERVICES, filter={SERVICE_KEY: zoho_item_id}, limit=1
        )
        return stored_service(rows[0]) if rows else None

    async def apply(self, desired: ServiceState) -> WriteOutcome:
        """Make Attio hold `desired`, unless it already holds a newer version."""
        async with self._locks.hold(desired.zoho_item_id):
            stored = await self.current(desired.zoho_item_id)
            return await self._write(desired, stored)

    async def apply_fetched(
        self, zoho_item_id: str, fetch: Callable[[], Awaitable[ServiceState | None]]
    ) -> WriteOutcome:
        """Write what Zoho holds now (`fetch`; None: the item is gone, so it becomes inactive).

        Fetched under the item's lock, so of two deliveries the later fetch is written last:
        this orders deliveries that carry no last-modified time of their own.
        """
        async with self._locks.hold(zoho_item_id):
            desired = await fetch()
            stored = await self.current(zoho_item_id)
            if desired is not None:
                return await self._write(desired, stored)
            if stored is None:
                log.info("zoho.service.absent", zoho_item_id=zoho_item_id)
                return WriteOutcome.absent
            return await self._write(stored.state.deactivated(), stored)

    async def deactivate(
        self, zoho_item_id: str, *, modified_at: datetime | None = None
    ) -> WriteOutcome:
        """Mark the service inactive (the item was deleted in Zoho); never delete the record."""
        async with self._locks.hold(zoho_item_id):
            stored = await self.current(zoho_item_id)
            if stored is None:
                log.info("zoho.service.absent", zoho_item_id=zoho_item_id)
                return WriteOutcome.absent
            desired = stored.state.deactivated(modified_at)
            if modified_at is not None and is_stale(
                ServiceState(zoho_item_id, zoho_last_modified_at=modified_at), stored.state
            ):
                return self._stale(desired, stored)
            return await self._write(desired, stored)

    async def _write(self, desired: ServiceState, stored: StoredService | None) -> WriteOutcome:
        current = stored.state if stored else None
        if is_stale(desired, current, deactivation_wins_ties=True):
            return self._stale(desired, stored)
        changed = changed_attributes(desired, current)
        if not changed:
            log.info("zoho.service.unchanged", zoho_item_id=desired.zoho_item_id)
            return WriteOutcome.unchanged
        await self._attio.assert_record(
            SERVICES, matching_attribute=SERVICE_KEY, values=attio_values(desired, changed)
        )
        outcome = WriteOutcome.updated if stored else WriteOutcome.created
        log.info(
            "zoho.service.written",
            zoho_item_id=desired.zoho_item_id,
            outcome=outcome.value,
            changed=list(changed),
            status=desired.status.value,
        )
        return outcome

    @staticmethod
    def _stale(desired: ServiceState, stored: StoredService | None) -> WriteOutcome:
        log.info(
            "zoho.service.stale_ignored",
            zoho_item_id=desired.zoho_item_id,
            incoming=str(desired.zoho_last_modified_at),
            stored=str(stored.state.zoho_last_modified_at if stored else None),
        )
        return WriteOutcome.stale
