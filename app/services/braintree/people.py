"""Finding the paying person, with as few Attio and Braintree calls as the notification allows.

In order of cost:
1. the notification names the customer with an email: assert `people` by email (one write,
   no read) and set `braintree_customer_id`;
2. the record being updated already links a person: keep it (no call);
3. a customer id is known: look the person up by `braintree_customer_id` (one read);
4. otherwise ask Braintree (off the event loop): for a customer id, or first for whatever
   leads to one (the subscription's payment method, the disputed transaction).
A person is never created without an email: an unknown customer without one leaves only the
customer id on the record.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from app.clients.attio import AttioAPIError, AttioClient
from app.clients.attio.values import (
    Record,
    Values,
    current_values,
    first_value,
    record_id,
    reference,
)
from app.clients.braintree import BraintreeClient
from app.log import get_logger
from app.schema.definitions import PEOPLE, PERSON_KEY
from app.services.braintree.billing import CustomerBilling
from app.services.braintree.transforms import (
    Payer,
    payer_from_customer,
    person_values,
)

log = get_logger(__name__)

Discover = Callable[[], Awaitable[Payer | None]]
UNIQUENESS_CONFLICT = "uniqueness_conflict"


@dataclass(frozen=True)
class PersonLink:
    """The person a subscription or payment points to, and the Braintree customer id."""

    record_id: str | None
    customer_id: str | None
    # The person as read or written on the way (None: not read), and as it was before a write.
    record: Record | None = field(default=None, compare=False)
    before: Record | None = field(default=None, compare=False)
    summarized: bool = field(default=False, compare=False)  # the summary went in its write
    written: bool = field(default=False, compare=False)  # the person was written on the way

    @classmethod
    def of(cls, record: Record | None) -> PersonLink | None:
        """What a `subscriptions` or `payments` record already says about its payer."""
        if record is None:
            return None
        link = cls(first_value(record, "person"), first_value(record, "braintree_customer_id"))
        return link if link.record_id or link.customer_id else None

    def values(self) -> Values:
        values: Values = {}
        if self.customer_id:
            values["braintree_customer_id"] = self.customer_id
        if self.record_id:
            values["person"] = reference(PEOPLE, self.record_id)
        return values


def person_holds(person: Record, payer: Payer) -> bool:
    """Whether the person record already says everything `person_values(payer)` would write."""
    emails = {str(email).lower() for email in current_values(person, PERSON_KEY) if email}
    if payer.email is None or payer.email.lower() not in emails:
        return False
    if payer.customer_id and first_value(person, "braintree_customer_id") != payer.customer_id:
        return False
    if payer.first_name or payer.last_name:
        names = (person.get("values") or {}).get("name") or []
        current = next((n for n in names if n.get("active_until") is None), None)
        if current is None:
            return False
        if (current.get("first_name") or "", current.get("last_name") or "") != (
            payer.first_name or "",
            payer.last_name or "",
        ):
            return False
    return True


async def nobody() -> Payer | None:
    return None


class PayerResolver:
    def __init__(self, attio: AttioClient, braintree: BraintreeClient | None) -> None:
        self._attio = attio
        self._braintree = braintree

    async def resolve(
        self,
        payer: Payer | None,
        *,
        known: PersonLink | None,
        discover: Discover = nobody,
        stale: bool = False,
        billing: CustomerBilling | None = None,
    ) -> PersonLink | None:
        """The person for `payer` (from the notification), else for what `known` links.

        `discover` asks Braintree for the payer when neither says who it is. A `stale`
        notification's customer data is older than what linked `known`, so it may supply a
        missing person but never rewrite the linked one (its name, say). `billing`, the
        customer's summary, goes into the person's write when there is one.
        """
        if known is not None and known.record_id and (payer is None or stale):
            return known  # the notification has nothing newer to say about the payer
        if payer is None:
            payer = Payer(known.customer_id) if known and known.customer_id else await discover()
        if payer is None:
            return known
        if payer.email:
            return await self.assert_person(payer, billing)
        if payer.customer_id is None:
            return known
        return await self._by_customer_id(payer.customer_id, known, billing)

    async def _by_customer_id(
        self, customer_id: str, known: PersonLink | None, billing: CustomerBilling | None
    ) -> PersonLink:
        if known is not None and known.record_id and known.customer_id == customer_id:
            return known
        person = await self._attio.find_record(PEOPLE, "braintree_customer_id", customer_id)
        if person is not None:
            return PersonLink(record_id(person), customer_id, record=person)
        fetched = await self._fetch_customer(customer_id)
        if fetched is not None and fetched.email:
            return await self.assert_person(replace(fetched, customer_id=customer_id), billing)
        # Never a person without an email: the record keeps the customer id alone.
        log.info("braintree.person.no_email", customer_id=customer_id)
        return PersonLink(None, customer_id)

    async def _fetch_customer(self, customer_id: str) -> Payer | None:
        if self._braintree is None:
            return None
        return payer_from_customer(await self._braintree.find_customer(customer_id))

    async def assert_person(
        self, payer: Payer, billing: CustomerBilling | None = None
    ) -> PersonLink:
        """Create or update the person by email; the response's id is the reference to use.

        Read first: a repeat customer's person usually holds all of it already, and a read is a
        quarter of a write in Attio's budget (100 reads/s against 25 writes/s), so a billing run
        writes no people for customers Attio already knows. The customer's summary, when
        given, goes into the same write (and makes one only when it changed).
        """
        assert payer.email is not None
        current = await self._attio.find_record(PEOPLE, PERSON_KEY, payer.email)
        ours = billing is not None and billing.customer_id == payer.customer_id
        summary = billing.person_changes(current) if billing is not None and ours else {}
        if current is not None and person_holds(current, payer) and not summary:
            return PersonLink(
                record_id(current), payer.customer_id, record=current, summarized=ours
            )
        try:
            person = await self._attio.assert_record(
                PEOPLE, matching_attribute=PERSON_KEY, values=person_values(payer) | summary
            )
        except AttioAPIError as exc:
            if exc.attio_code != UNIQUENESS_CONFLICT or not payer.customer_id:
                raise
            # Another person already holds this customer id: the customer's email changed in
            # Braintree. That person stays the payer; merging the two is left to people.
            holder = await self._attio.find_record(
                PEOPLE, "braintree_customer_id", payer.customer_id
            )
            if holder is None:
                raise
            log.warning(
                "braintree.person.email_changed",
                customer_id=payer.customer_id,
                person_record_id=record_id(holder),
            )
            return PersonLink(record_id(holder), payer.customer_id, record=holder)
        return PersonLink(
            record_id(person),
            payer.customer_id,
            record=person,
            before=current,
            summarized=ours,
            written=True,
        )
