"""Handlers for Attio record events (Attio → Braintree, and keeping links right in Attio).

Attio webhooks carry ids and an actor only; the bridge fetches what it needs. Events caused by
the bridge's own token never get here (the Attio source marks them ignored).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from app.clients.attio import AttioClient, AttioNotFoundError, AttioValidationError
from app.clients.attio.values import Record, first_value, record_id
from app.events.dispatcher import Dispatcher
from app.events.ledger import Ledger
from app.events.model import Source, WebhookEvent
from app.log import get_logger
from app.schema import BRIDGE_EVENTS, PAYMENTS, PEOPLE, SERVICES, SUBSCRIPTIONS
from app.services.attio.replays import ReplayRequests
from app.services.attio.transforms import (
    PERSON_SOURCE_ATTRIBUTES,
    companies_in_history,
    customer_changes,
    customer_fields,
    person_reference,
)

log = get_logger(__name__)

CUSTOMER_ID = "braintree_customer_id"
BILLING_OBJECTS = (SUBSCRIPTIONS, PAYMENTS)  # the full layout's
# Objects whose truth lives in Zoho or Braintree: edits in Attio are logged, never sent back.
OWNED_ELSEWHERE = {SERVICES: "Zoho", SUBSCRIPTIONS: "Braintree", PAYMENTS: "Braintree"}
_SCHEMA_IDS_TTL_SECONDS = 300.0

# Recomputes the billing summaries of these companies (the Braintree service's roll-up).
CompanyRecount = Callable[[list[str]], Awaitable[None]]


class CustomerDirectory(Protocol):
    async def find_customer(self, customer_id: str) -> Any | None: ...

    async def update_customer(self, customer_id: str, changes: dict[str, str]) -> None: ...


class SchemaIds:
    """Attio events name objects and attributes by id; the bridge thinks in slugs.

    Loaded lazily and cached (a few reads per process), reloaded when an unknown id shows up
    at most every five minutes, so a burst of events costs no extra reads.
    """

    def __init__(self, attio: AttioClient) -> None:
        self._attio = attio
        self._objects: dict[str, str] = {}
        self._objects_at = float("-inf")
        self._attributes: dict[str, dict[str, str]] = {}

    async def object_slug(self, object_id: str) -> str | None:
        stale = time.monotonic() - self._objects_at > _SCHEMA_IDS_TTL_SECONDS
        if object_id not in self._objects and stale:
            self._objects_at = time.monotonic()
            self._objects = {
                o["id"]["object_id"]: o["api_slug"] for o in await self._attio.list_objects()
            }
        return self._objects.get(object_id)

    async def attribute_slug(self, object_slug: str, attribute_id: str) -> str | None:
        if attribute_id not in self._attributes.get(object_slug, {}):
            self._attributes[object_slug] = {
                a["id"]["attribute_id"]: a["api_slug"]
                for a in await self._attio.list_attributes(object_slug)
            }
        return self._attributes[object_slug].get(attribute_id)


class AttioEventService:
    def __init__(
        self,
        attio: AttioClient,
        ledger: Ledger,
        customers: CustomerDirectory | None,
        *,
        billing_objects: tuple[str, ...] = BILLING_OBJECTS,
        replays: ReplayRequests | None = None,
        recount_companies: CompanyRecount | None = None,
    ) -> None:
        self._attio = attio
        self._recount = recount_companies  # None: no billing summaries on companies
        self._billing = billing_objects  # without a `payments` object: subscriptions alone
        self._ledger = ledger
        self._customers = customers  # None: CRM edits do not reach Braintree
        self._ids = SchemaIds(attio)
        self._replays = replays  # None: setting `replay` in Attio does nothing

    def register(self, dispatcher: Dispatcher) -> None:
        for event_type in ("record.created", "record.updated"):
            dispatcher.register(Source.attio, event_type, self.on_record_changed)
        dispatcher.register(Source.attio, "record.merged", self.on_record_merged)
        dispatcher.register(Source.attio, "record.deleted", self.on_record_deleted)

    # -- created / updated -------------------------------------------------------------------

    async def on_record_changed(self, event: WebhookEvent) -> None:
        ids = event.payload.get("id") or {}
        slug = await self._ids.object_slug(ids.get("object_id", ""))
        attribute_id = ids.get("attribute_id")
        if slug == BRIDGE_EVENTS:
            await self._on_ledger_edit(event, ids, attribute_id)
            return
        watched = slug == PEOPLE or slug in OWNED_ELSEWHERE
        attribute = None
        if watched and slug and attribute_id:
            attribute = await self._ids.attribute_slug(slug, attribute_id)
        if slug in OWNED_ELSEWHERE:
            log.info(
                "attio.owned_record.edited",
                object=slug,
                record_id=ids.get("record_id"),
                attribute=attribute,
                source_of_truth=OWNED_ELSEWHERE[slug],
            )
            if slug in self._billing and attribute == "person":
                await self._check_payer_kept(event, slug, ids["record_id"])
            return
        if slug != PEOPLE:
            return
        if attribute_id and attribute not in PERSON_SOURCE_ATTRIBUTES:
            return  # e.g. a note field: nothing Braintree holds
        moved = attribute == "company" and self._recount is not None
        if self._customers is None and not moved:
            return
        person = await self._get_or_none(PEOPLE, ids["record_id"])
        customer_id = first_value(person, CUSTOMER_ID) if person else None
        if person is None or not customer_id:
            return  # deleted meanwhile, or not a paying customer
        if moved:
            await self._recount_companies(person)
        if self._customers is not None:
            await self._sync_customer(person, str(customer_id))

    async def _recount_companies(self, person: Record) -> None:
        """A paying person linked to another company (by hand, a merge, a new e-mail domain):
        the companies they left and joined are recomputed. The webhook names the attribute
        only, so the company they left comes from the value's history (one read)."""
        assert self._recount is not None
        person_id = record_id(person)
        try:
            history = await self._attio.value_history(PEOPLE, person_id, "company")
        except AttioValidationError as exc:  # no history for this attribute: the sync heals
            log.warning("attio.person.company_history_refused", error=str(exc))
            current = first_value(person, "company")
            history = [{"target_record_id": current, "active_until": None}] if current else []
        companies = companies_in_history(history)
        log.info("attio.person.company_moved", record_id=person_id, companies=companies)
        await self._recount(companies)

    async def _on_ledger_edit(
        self, event: WebhookEvent, ids: dict[str, Any], attribute_id: str | None
    ) -> None:
        """An operator's edit of a ledger record: `status` set to `replay` asks for a replay."""
        if self._replays is None or event.event_type != "record.updated":
            return
        if attribute_id and await self._ids.attribute_slug(BRIDGE_EVENTS, attribute_id) != "status":
            return
        await self._replays.on_status_edit(event, ids["record_id"])

    async def _check_payer_kept(self, event: WebhookEvent, obj: str, rid: str) -> None:
        """A billing record that lost its person (e.g. the person was deleted) needs a human."""
        row = await self._get_or_none(obj, rid)
        if row is not None and not first_value(row, "person") and first_value(row, CUSTOMER_ID):
            await self._ledger.record_attention(
                event,
                f"{obj} {rid} of Braintree customer {first_value(row, CUSTOMER_ID)} no longer "
                "points at a person (deleted or unlinked in Attio)",
            )

    async def _sync_customer(self, person: Record, customer_id: str) -> None:
        assert self._customers is not None
        company_id = first_value(person, "company")
        company = await self._get_or_none("companies", company_id) if company_id else None
        wanted = customer_fields(person, first_value(company, "name") if company else None)
        customer = await self._customers.find_customer(customer_id)
        if customer is None:
            log.warning("attio.person.customer_missing", customer_id=customer_id)
            return
        changes = customer_changes(wanted, customer)
        if not changes:
            return
        await self._customers.update_customer(customer_id, changes)
        log.info("braintree.customer.updated", customer_id=customer_id, fields=sorted(changes))

    # -- merged ------------------------------------------------------------------------------

    async def on_record_merged(self, event: WebhookEvent) -> None:
        """Keep billing links on the surviving person, for both of Attio's merge shapes.

        Older: the duplicate is copied into the original and deleted (one event). Newer: a new
        record replaces both (two events, each naming one original as the duplicate). Either
        way `id.record_id` is the survivor and `duplicate_record_id` the merged-away record,
        which may already be gone.
        """
        ids = event.payload.get("id") or {}
        if await self._ids.object_slug(ids.get("object_id", "")) != PEOPLE:
            return
        survivor_id = ids["record_id"]
        duplicate_id = event.payload.get("duplicate_record_id")
        if not duplicate_id or duplicate_id == survivor_id:
            return
        # The survivor must exist; a 404 `merge_in_progress` is transient and retried later.
        survivor = await self._attio.get_record(PEOPLE, survivor_id)
        # Gone after either shape of merge (deleted, or marked merged and unreadable).
        duplicate = await self._get_or_none(PEOPLE, duplicate_id)
        survivor_customer = first_value(survivor, CUSTOMER_ID)
        duplicate_customer = first_value(duplicate, CUSTOMER_ID) if duplicate else None
        # A merged-away person is unreadable, but the billing records of both originals still
        # carry their Braintree customer ids: one person cannot hold two.
        known = {c for c in (survivor_customer, duplicate_customer) if c}
        rows = await self._billing_rows((duplicate_id, survivor_id), known)
        customers = known | {c for _obj, row in rows if (c := first_value(row, CUSTOMER_ID))}
        await self._repoint_billing(rows, survivor_id)
        if len(customers) > 1:
            count = "two" if len(customers) == 2 else str(len(customers))
            await self._ledger.record_attention(
                event,
                f"merged people {duplicate_id} -> {survivor_id} hold {count} Braintree customers "
                f"({', '.join(sorted(customers))}); the person keeps "
                f"{survivor_customer or 'none'}, each billing record keeps its own",
            )
            return
        customer_id = survivor_customer or duplicate_customer
        if customer_id and survivor_customer != customer_id:
            if duplicate_customer == customer_id:
                # The id is unique in Attio: free it on the merged-away record first.
                await self._attio.update_record(PEOPLE, duplicate_id, {CUSTOMER_ID: []})
            await self._attio.update_record(PEOPLE, survivor_id, {CUSTOMER_ID: customer_id})
        log.info(
            "attio.person.merged",
            survivor=survivor_id,
            duplicate=duplicate_id,
            customer_id=customer_id,
        )

    async def _billing_rows(
        self, people: tuple[str, ...], customer_ids: set[str]
    ) -> list[tuple[str, Record]]:
        """The subscriptions and payments of these people, in one query per object.

        Found by reference, and by customer id too: if Attio dropped references to a deleted
        record, the customer id those records carry still finds them.
        """
        conditions: list[dict[str, Any]] = [
            {"person": {"target_record_id": person}} for person in people
        ]
        conditions += [{CUSTOMER_ID: customer_id} for customer_id in sorted(customer_ids)]
        return [
            (obj, row)
            for obj in self._billing
            async for row in self._attio.iter_records(obj, filter={"$or": conditions})
        ]

    async def _repoint_billing(self, rows: list[tuple[str, Record]], to_person: str) -> None:
        """Point the billing records at the survivor (those not there already)."""
        for obj, row in rows:
            if first_value(row, "person") != to_person:
                values = {"person": person_reference(to_person)}
                await self._attio.update_record(obj, record_id(row), values)

    # -- deleted -----------------------------------------------------------------------------

    async def on_record_deleted(self, event: WebhookEvent) -> None:
        """Nothing is deleted in Braintree; a person with billing links is flagged for a human."""
        ids = event.payload.get("id") or {}
        slug = await self._ids.object_slug(ids.get("object_id", ""))
        if slug in OWNED_ELSEWHERE:
            log.warning(
                "attio.owned_record.deleted",
                object=slug,
                record_id=ids.get("record_id"),
                source_of_truth=OWNED_ELSEWHERE[slug],
            )
            return
        if slug != PEOPLE:
            return
        person_id = ids["record_id"]
        linked: list[str] = []
        for obj in self._billing:
            rows = await self._attio.query_records(
                obj, filter={"person": {"target_record_id": person_id}}, limit=50
            )
            linked += [f"{obj}:{first_value(row, CUSTOMER_ID) or record_id(row)}" for row in rows]
        if linked:
            await self._ledger.record_attention(
                event,
                f"person {person_id} was deleted in Attio but has Braintree links "
                f"({', '.join(sorted(set(linked))[:10])}); nothing was deleted in Braintree",
            )

    async def _get_or_none(self, obj: str, rid: str) -> Record | None:
        try:
            return await self._attio.get_record(obj, rid)
        except AttioNotFoundError:
            return None
