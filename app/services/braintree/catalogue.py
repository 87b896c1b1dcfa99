"""The services catalogue as Braintree handlers need it: plan id (= Zoho SKU) → record id."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from app.clients.attio import AttioClient
from app.clients.attio.values import first_value, record_id
from app.log import get_logger
from app.schema import SERVICES

log = get_logger(__name__)


class ServiceCatalogue:
    """SKU → `services` record id, read once per `ttl` seconds for the whole process.

    The catalogue follows Zoho and changes rarely, so one paged read every few minutes
    replaces a query per subscription event; that read is what keeps a charge within its
    budget (the subscription and payment reads that guard order). A service added in Zoho is
    linked from the first notification after the next refresh.
    """

    def __init__(
        self, attio: AttioClient, *, ttl: float = 300.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._attio = attio
        self._ttl = ttl
        self._clock = clock
        self._by_sku: dict[str, str] = {}
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    async def service_for(self, sku: str) -> str | None:
        async with self._lock:  # concurrent events wait for one load instead of each loading
            if self._clock() - self._loaded_at >= self._ttl:
                self._by_sku = await self._load()
                self._loaded_at = self._clock()
        return self._by_sku.get(sku)

    async def _load(self) -> dict[str, str]:
        by_sku: dict[str, str] = {}
        async for row in self._attio.iter_records(SERVICES):
            sku = first_value(row, "sku")
            if not sku:
                continue
            if sku in by_sku:
                log.warning("braintree.service.ambiguous", plan_id=sku)
                continue  # the first one created wins, as Attio's creation order is stable
            by_sku[sku] = record_id(row)
        return by_sku
