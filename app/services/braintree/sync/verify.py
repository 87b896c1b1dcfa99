"""The MRR check (`sync braintree --verify`): every person's `mrr` is the sum of their
subscriptions' `mrr`, and every company's the sum over its people. Reads Attio only."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from app.clients.attio import AttioClient
from app.clients.attio.values import first_value, record_id
from app.schema.definitions import COMPANIES, PEOPLE, SUBSCRIPTIONS
from app.services.braintree.summary import mrr_mismatches


@dataclass
class MrrCheck:
    people: int = 0
    companies: int = 0
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def line(self) -> str:
        verdict = "every sum holds" if self.ok else f"{len(self.mismatches)} mismatches"
        return f"mrr check: {self.people} people, {self.companies} companies: {verdict}"


def _amount(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


async def verify_mrr(attio: AttioClient) -> MrrCheck:
    people: dict[str, Decimal | None] = {}
    company_parts: list[tuple[str, Decimal | None]] = []
    customers = {"braintree_customer_id": {"$not_empty": True}}
    async for person in attio.iter_records(PEOPLE, filter=customers):
        people[record_id(person)] = _amount(first_value(person, "mrr"))
        if company := first_value(person, "company"):
            company_parts.append((str(company), people[record_id(person)]))
    parts: list[tuple[str, Decimal | None]] = []
    async for subscription in attio.iter_records(SUBSCRIPTIONS):
        if (person_id := first_value(subscription, "person")) in people:
            parts.append((str(person_id), _amount(first_value(subscription, "mrr"))))
    companies: dict[str, Decimal | None] = {}
    with_people = {company for company, _mrr in company_parts}
    async for company in attio.iter_records(COMPANIES):
        mrr = _amount(first_value(company, "mrr"))
        if mrr is not None or record_id(company) in with_people:
            companies[record_id(company)] = mrr
    found = [f"person {m}" for m in mrr_mismatches(people, parts)]
    found += [f"company {m}" for m in mrr_mismatches(companies, company_parts)]
    return MrrCheck(len(people), len(companies), found)
