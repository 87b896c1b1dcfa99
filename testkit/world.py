"""A made-up business whose webhooks a run delivers, and what Attio must hold afterwards.

From one seed: customers paying for subscriptions (some customers hold several), their charges,
settlements, disbursements and disputes as Braintree notifications (XML signed by the official
SDK's own signing code), Zoho items edited several times (some deleted), and Attio record
events on people the CRM already holds. Each entity's events have strictly increasing
timestamps, so "the newest values" is well defined; the delivery order is shuffled across
entities and partly reversed within them, as real providers deliver.

The expected state is computed here from the events themselves, independently of the bridge:
for every attribute a notification carries, the value of the newest notification carrying it.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from app.events.sources.attio import attio_event_key
from app.events.sources.zoho import zoho_event_key
from testkit.signing import (
    FORM_CONTENT_TYPE,
    attio_signed_headers,
    braintree_form_body,
    braintree_sample,
    braintree_signed_xml,
    zoho_signed_headers,
)

START = datetime(2024, 1, 1, tzinfo=UTC)
MERCHANT_ACCOUNT = "acme_usd"
ATTIO_WEBHOOK_ID = "wh-reliability"
# Shares of the events per provider; Braintree gets the rest.
ZOHO_SHARE = 0.2
ATTIO_SHARE = 0.1
SDK_SAMPLE_SHARE = 0.02
DUPLICATE_SHARE = 0.03  # providers deliver at least once: some events arrive twice anyway
SWAP_PROBABILITY = 0.3  # adjacent events of one entity delivered in reverse order


# -- the requests ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One webhook request, resent byte for byte until it gets a 2xx."""

    label: str  # source:kind:subject, for reports
    source: str
    path: str  # with the query string, if any
    body: bytes
    headers: dict[str, str]
    event_keys: tuple[str, ...]  # the bridge's deduplication keys of its events


def _iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def braintree_delivery(kind: str, subject_id: str, at: datetime, subject_xml: str) -> Delivery:
    """A notification of `kind` at `at` around `subject_xml`, signed through the SDK."""
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<notification>
  <kind>{kind}</kind>
  <timestamp type="datetime">{_iso_z(at)}</timestamp>
  <subject>{subject_xml}</subject>
</notification>"""
    signature, payload = braintree_signed_xml(xml.encode())
    event_key = f"braintree:{kind}:{subject_id}:{at.isoformat()}"
    return _braintree_form_delivery(kind, subject_id, signature, payload, (event_key,))


def sdk_sample_delivery(kind: str, subject_id: str) -> Delivery:
    """A notification exactly as the SDK's `sample_notification` builds it (time: now)."""
    signature, payload = braintree_sample(kind, subject_id)
    # The SDK stamps the current time: the event key is not known in advance.
    return _braintree_form_delivery(kind, subject_id, signature, payload, ())


def _braintree_form_delivery(
    kind: str, subject_id: str, signature: str, payload: bytes, event_keys: tuple[str, ...]
) -> Delivery:
    return Delivery(
        label=f"braintree:{kind}:{subject_id}",
        source="braintree",
        path="/webhooks/braintree",
        body=braintree_form_body(signature, payload),
        headers={"Content-Type": FORM_CONTENT_TYPE},
        event_keys=event_keys,
    )


def zoho_delivery(item: dict[str, Any], *, deleted: bool = False) -> Delivery:
    body = json.dumps({"item": item}).encode()
    query = "action=deleted" if deleted else ""
    return Delivery(
        label=f"zoho:item{':deleted' if deleted else ''}:{item['item_id']}",
        source="zoho",
        path="/webhooks/zoho" + (f"?{query}" if query else ""),
        body=body,
        headers=zoho_signed_headers(body, raw_query=query),
        event_keys=(
            zoho_event_key(
                "item", item["item_id"], item["last_modified_time"], body=body, query=query
            ),
        ),
    )


def attio_delivery(events: Sequence[dict[str, Any]], idempotency_key: str) -> Delivery:
    body = json.dumps({"webhook_id": ATTIO_WEBHOOK_ID, "events": list(events)}).encode()
    kinds = ",".join(event["event_type"] for event in events)
    return Delivery(
        label=f"attio:{kinds}:{idempotency_key}",
        source="attio",
        path="/webhooks/attio",
        body=body,
        headers={**attio_signed_headers(body), "Idempotency-Key": idempotency_key},
        event_keys=tuple(attio_event_key(body, i) for i in range(len(events))),
    )


# -- what Attio must hold --------------------------------------------------------------------


@dataclass(frozen=True)
class Effect:
    """A notification's claim on one record: state (newest wins) and facts (never change)."""

    obj: str
    key: str
    at: datetime
    kind: str
    state: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    # Whether `last_event_kind` / `last_event_at` must name this effect's notification when it
    # is the newest. Only subscriptions get one stream of notifications; a payment's status
    # and its dispute come from different ones, so there the stamp is the handlers' business.
    stamps: bool = False


@dataclass
class ExpectedRecord:
    values: dict[str, Any] = field(default_factory=dict)
    newest: dict[str, datetime] = field(default_factory=dict)  # attribute -> time of its value
    last_event_at: datetime | None = None

    def apply(self, effect: Effect) -> None:
        self.values.update({k: v for k, v in effect.facts.items() if v is not None})
        for slug, value in effect.state.items():
            if slug not in self.newest or effect.at > self.newest[slug]:
                self.values[slug], self.newest[slug] = value, effect.at
        if effect.stamps and (self.last_event_at is None or effect.at > self.last_event_at):
            self.last_event_at = effect.at
            self.values["last_event_kind"] = effect.kind
            self.values["last_event_at"] = effect.at


@dataclass
class Expected:
    """Per object, per unique key: the values Attio must hold (references as unique keys)."""

    records: dict[str, dict[str, ExpectedRecord]] = field(default_factory=dict)
    # Entities that must exist exactly once, whose values depend on the SDK's samples.
    exists_only: dict[str, set[str]] = field(default_factory=dict)

    def apply(self, effect: Effect) -> None:
        self.records.setdefault(effect.obj, {}).setdefault(effect.key, ExpectedRecord())
        self.records[effect.obj][effect.key].apply(effect)

    def keys(self, obj: str) -> set[str]:
        return set(self.records.get(obj, {})) | self.exists_only.get(obj, set())


# -- the business ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Customer:
    id: str
    email: str
    first_name: str
    last_name: str
    token: str  # the vaulted payment method their subscriptions charge

    def xml(self) -> str:
        return (
            f"<customer><id>{self.id}</id><first-name>{self.first_name}</first-name>"
            f"<last-name>{self.last_name}</last-name><email>{self.email}</email></customer>"
        )

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class Plan:
    item_id: str
    sku: str  # Braintree plan ids match Zoho SKUs
    price: Decimal


@dataclass
class Notification:
    """One provider event with the effects it must have on Attio."""

    delivery: Delivery
    effects: list[Effect]


@dataclass
class Timeline:
    """One entity's events, oldest first."""

    entity: str
    notifications: list[Notification] = field(default_factory=list)


FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson")


class WorldBuilder:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.customers: list[Customer] = []
        self.plans: list[Plan] = []
        self.transactions: dict[str, tuple[Customer, Decimal, datetime]] = {}
        self._serial = 0

    def _next(self, prefix: str) -> str:
        self._serial += 1
        return f"{prefix}_{self._serial:05d}"

    # -- customers and plans -------------------------------------------------------------

    def customer(self) -> Customer:
        """A new customer, or (often) one who already pays for another subscription."""
        if self.customers and self.rng.random() < 0.35:
            return self.rng.choice(self.customers)
        n = len(self.customers)
        customer = Customer(
            id=f"cust_{n:04d}",
            email=f"payer{n:04d}@example.com",
            first_name=self.rng.choice(FIRST_NAMES),
            last_name=self.rng.choice(LAST_NAMES),
            token=f"pm_{n:04d}",
        )
        self.customers.append(customer)
        return customer

    def plan_catalogue(self, count: int) -> None:
        cents = Decimal("0.01")
        self.plans = [
            Plan(f"zi_{n:04d}", f"plan_{n:03d}", Decimal(19 + 10 * n).quantize(cents))
            for n in range(count)
        ]

    # -- Braintree -----------------------------------------------------------------------

    def subscription(self) -> Timeline:
        customer, plan = self.customer(), self.rng.choice(self.plans)
        sub_id = self._next("sub")
        timeline = Timeline(f"subscription:{sub_id}")
        at = START + timedelta(days=self.rng.randint(0, 300), seconds=self.rng.randint(0, 86399))
        sub = _Subscription(sub_id, customer, plan, created=at)
        timeline.notifications.append(sub.notify("subscription_went_active", at, state="Active"))
        failures = 0
        for cycle in range(1, self.rng.randint(1, 3) + 1):
            charged = at + timedelta(days=30 * cycle, seconds=self.rng.randint(0, 600))
            if self.rng.random() < 0.8:
                failures = 0
                timeline.notifications += self._successful_charge(sub, charged)
            else:
                failures += 1
                timeline.notifications += self._failed_charge(sub, charged, failures)
        if self.rng.random() < 0.25:
            ended = at + timedelta(days=30 * 4, seconds=self.rng.randint(0, 600))
            timeline.notifications.append(
                sub.notify("subscription_canceled", ended, state="Canceled", failures=failures)
            )
        return timeline

    def _successful_charge(self, sub: _Subscription, at: datetime) -> list[Notification]:
        txn = _Transaction(self._next("txn"), sub, created=at - timedelta(seconds=3))
        self.transactions[txn.id] = (sub.customer, sub.plan.price, txn.created)
        events = [sub.notify("subscription_charged_successfully", at, state="Active", txn=txn)]
        settled = at + timedelta(days=1, seconds=self.rng.randint(0, 3600))
        events.append(txn.settled(settled))
        if self.rng.random() < 0.5:
            events.append(txn.disbursed(settled + timedelta(days=1, hours=self.rng.randint(1, 9))))
        if self.rng.random() < 0.2:
            dispute = _Dispute(self._next("dp"), txn)
            opened = at + timedelta(days=10, hours=self.rng.randint(0, 48))
            events.append(dispute.notify("dispute_opened", opened, "open"))
            if self.rng.random() < 0.7:
                outcome = self.rng.choice(("won", "lost"))
                closed = opened + timedelta(days=15, hours=self.rng.randint(0, 48))
                events.append(dispute.notify(f"dispute_{outcome}", closed, outcome))
        return events

    def _failed_charge(self, sub: _Subscription, at: datetime, failures: int) -> list[Notification]:
        txn = _Transaction(self._next("txn"), sub, created=at - timedelta(seconds=3))
        self.transactions[txn.id] = (sub.customer, sub.plan.price, txn.created)
        declined = sub.notify(
            "subscription_charged_unsuccessfully", at, state="Active", txn=txn, failures=failures
        )
        past_due = sub.notify(
            "subscription_went_past_due",
            at + timedelta(days=1, seconds=self.rng.randint(0, 600)),
            state="Past Due",
            failures=failures,
        )
        return [declined, past_due]

    # -- Zoho ----------------------------------------------------------------------------

    def item(self, plan: Plan, versions: int) -> Timeline:
        timeline = Timeline(f"item:{plan.item_id}")
        at = START + timedelta(days=self.rng.randint(0, 30), seconds=self.rng.randint(0, 86399))
        content: dict[str, Any] = {}
        for n in range(versions):
            at += timedelta(hours=self.rng.randint(1, 72), seconds=self.rng.randint(0, 59))
            # Deleting an item does not edit it: the deletion carries its last content.
            deleted = 0 < n == versions - 1 and self.rng.random() < 0.15
            if not deleted:
                content = self._item_content(plan, n)
            timeline.notifications.append(self._item_event(plan, content, at, deleted=deleted))
        return timeline

    def _item_content(self, plan: Plan, n: int) -> dict[str, Any]:
        return {
            "item_id": plan.item_id,
            "name": f"Plan {plan.sku} v{n}",
            "sku": plan.sku,
            "description": f"Version {n} of {plan.sku}",
            "rate": plan.price + n,
            "unit": "month",
            "product_type": "service",
            "status": "active" if self.rng.random() < 0.9 else "inactive",
        }

    def _item_event(
        self, plan: Plan, content: dict[str, Any], at: datetime, *, deleted: bool
    ) -> Notification:
        # Zoho writes its org's local time with an offset: vary it, the instant is what counts.
        offset = self.rng.choice((0, -7, 2, 5.5))
        modified = at.astimezone(timezone(timedelta(hours=offset))).strftime("%Y-%m-%dT%H:%M:%S%z")
        item = {**content, "rate": float(content["rate"]), "last_modified_time": modified}
        state = {slug: value for slug, value in content.items() if slug != "item_id"}
        state |= {"zoho_source": "books", "zoho_last_modified_at": at}
        if deleted:
            state["status"] = "inactive"
        effect = Effect("services", plan.item_id, at, "item", state=state)
        return Notification(zoho_delivery(item, deleted=deleted), [effect])

    # -- SDK samples ---------------------------------------------------------------------

    def sdk_samples(self, count: int, expected: Expected) -> list[Delivery]:
        """Notifications built by the SDK itself: `check` (ignored) and two kinds it applies."""
        deliveries = []
        for n in range(count):
            kind = ("check", "subscription_charged_successfully", "transaction_settled")[n % 3]
            subject = f"sdk_{n:03d}"
            deliveries.append(sdk_sample_delivery(kind, subject))
            if kind == "subscription_charged_successfully":
                expected.exists_only.setdefault("subscriptions", set()).add(subject)
                expected.exists_only.setdefault("payments", set()).add(subject)
            elif kind == "transaction_settled":
                expected.exists_only.setdefault("payments", set()).add(subject)
        return deliveries


@dataclass
class _Subscription:
    id: str
    customer: Customer
    plan: Plan
    created: datetime

    def notify(
        self,
        kind: str,
        at: datetime,
        *,
        state: str,
        txn: _Transaction | None = None,
        failures: int = 0,
    ) -> Notification:
        price = self.plan.price
        balance = price if state == "Past Due" or kind.endswith("unsuccessfully") else Decimal(0)
        past_due = 1 if state == "Past Due" else None
        next_billing = None if state == "Canceled" else (at + timedelta(days=30)).date()
        transactions = txn.xml(for_kind=kind) if txn else ""
        xml = f"""
    <subscription>
      <id>{self.id}</id>
      <status>{state}</status>
      <plan-id>{self.plan.sku}</plan-id>
      <price>{price}</price>
      <balance>{balance:.2f}</balance>
      {_date_xml("next-billing-date", next_billing)}
      <failure-count type="integer">{failures}</failure-count>
      {_int_xml("days-past-due", past_due)}
      <payment-method-token>{self.customer.token}</payment-method-token>
      <merchant-account-id>{MERCHANT_ACCOUNT}</merchant-account-id>
      <created-at type="datetime">{_iso_z(self.created)}</created-at>
      <updated-at type="datetime">{_iso_z(at)}</updated-at>
      <add-ons type="array"></add-ons>
      <discounts type="array"></discounts>
      <transactions type="array">{transactions}</transactions>
    </subscription>"""
        effects = [
            Effect(
                "subscriptions",
                self.id,
                at,
                kind,
                stamps=True,
                state={
                    "status": state,
                    "plan_id": self.plan.sku,
                    "price": price,
                    "balance": balance,
                    "failure_count": failures,
                    "days_past_due": past_due,
                    "next_billing_date": next_billing.isoformat() if next_billing else None,
                },
                facts={"braintree_customer_id": self.customer.id, "person": self.customer.email},
            ),
            _person_effect(self.customer, at),
        ]
        if txn is not None:
            effects.append(txn.charge_effect(kind, at))
        return Notification(braintree_delivery(kind, self.id, at, xml), effects)


def _date_xml(tag: str, value: Any) -> str:
    if value is None:
        return f'<{tag} nil="true"></{tag}>'
    return f'<{tag} type="date">{value.isoformat()}</{tag}>'


def _int_xml(tag: str, value: int | None) -> str:
    if value is None:
        return f'<{tag} nil="true"></{tag}>'
    return f'<{tag} type="integer">{value}</{tag}>'


def _person_effect(customer: Customer, at: datetime) -> Effect:
    return Effect(
        "people",
        customer.email,
        at,
        "person",
        facts={"braintree_customer_id": customer.id, "name": customer.full_name},
    )


@dataclass
class _Transaction:
    id: str
    sub: _Subscription
    created: datetime

    def _facts(self) -> dict[str, Any]:
        return {
            "amount": self.sub.plan.price,
            "currency_code": "USD",
            "type": "sale",
            "transaction_created_at": self.created,
            "braintree_customer_id": self.sub.customer.id,
            "person": self.sub.customer.email,
            "subscription": self.sub.id,
        }

    def xml(self, *, for_kind: str, status: str | None = None, extra: str = "") -> str:
        if status is None:
            declined = for_kind.endswith("unsuccessfully")
            status = "processor_declined" if declined else "submitted_for_settlement"
        customer = self.sub.customer.xml() if for_kind != "transaction_disbursed" else ""
        return f"""
        <transaction>
          <id>{self.id}</id>
          <status>{status}</status>
          <type>sale</type>
          <amount>{self.sub.plan.price}</amount>
          <currency-iso-code>USD</currency-iso-code>
          <merchant-account-id>{MERCHANT_ACCOUNT}</merchant-account-id>
          <plan-id>{self.sub.plan.sku}</plan-id>
          <subscription-id>{self.sub.id}</subscription-id>
          <recurring type="boolean">true</recurring>
          <created-at type="datetime">{_iso_z(self.created)}</created-at>
          <updated-at type="datetime">{_iso_z(self.created)}</updated-at>
          <payment-instrument-type>credit_card</payment-instrument-type>
          {customer}{extra}
        </transaction>"""

    def charge_effect(self, kind: str, at: datetime) -> Effect:
        declined = kind.endswith("unsuccessfully")
        status = "processor_declined" if declined else "submitted_for_settlement"
        return Effect("payments", self.id, at, kind, state={"status": status}, facts=self._facts())

    def settled(self, at: datetime) -> Notification:
        settled_at = at - timedelta(seconds=2)
        history = f"""<status-history type="array">
            <status-event><timestamp type="datetime">{_iso_z(self.created)}</timestamp>
              <status>submitted_for_settlement</status><amount>{self.sub.plan.price}</amount>
            </status-event>
            <status-event><timestamp type="datetime">{_iso_z(settled_at)}</timestamp>
              <status>settled</status><amount>{self.sub.plan.price}</amount></status-event>
          </status-history>"""
        facts = {**self._facts(), "settled_at": settled_at}
        return self._notification("transaction_settled", at, history, facts)

    def disbursed(self, at: datetime) -> Notification:
        day = at.date()
        details = f"""<disbursement-details>
            <settlement-amount>{self.sub.plan.price}</settlement-amount>
            <settlement-currency-iso-code>USD</settlement-currency-iso-code>
            <funds-held type="boolean">false</funds-held><success type="boolean">true</success>
            <disbursement-date type="date">{day.isoformat()}</disbursement-date>
          </disbursement-details>"""
        facts = {**self._facts(), "disbursement_date": day.isoformat()}
        # A disbursement names no customer: the payment's person comes from what Attio has.
        return self._notification("transaction_disbursed", at, details, facts)

    def _notification(self, kind: str, at: datetime, extra: str, facts: dict) -> Notification:
        xml = self.xml(for_kind=kind, status="settled", extra=extra)
        effects = [Effect("payments", self.id, at, kind, state={"status": "settled"}, facts=facts)]
        if kind != "transaction_disbursed":
            effects.append(_person_effect(self.sub.customer, at))
        return Notification(braintree_delivery(kind, self.id, at, xml), effects)


@dataclass
class _Dispute:
    id: str
    txn: _Transaction

    def notify(self, kind: str, at: datetime, status: str) -> Notification:
        price = self.txn.sub.plan.price
        reply_by = (at + timedelta(days=14)).date()
        xml = f"""
    <dispute>
      <id>{self.id}</id>
      <amount>{price}</amount>
      <amount-disputed>{price}</amount-disputed>
      <currency-iso-code>USD</currency-iso-code>
      <kind>chargeback</kind>
      <merchant-account-id>{MERCHANT_ACCOUNT}</merchant-account-id>
      <reason>product_not_received</reason>
      <reply-by-date type="date">{reply_by.isoformat()}</reply-by-date>
      <status>{status}</status>
      <updated-at type="datetime">{_iso_z(at)}</updated-at>
      <evidence type="array"></evidence>
      <transaction>
        <id>{self.txn.id}</id>
        <amount>{price}</amount>
        <created-at>{_iso_z(self.txn.created)}</created-at>
      </transaction>
    </dispute>"""
        outcome = kind.removeprefix("dispute_")
        state = {"dispute_status": status, "dispute_outcome": outcome}
        facts = {
            **self.txn._facts(),
            "dispute_id": self.id,
            "dispute_reason": "product_not_received",
            "dispute_amount": price,
        }
        # The subscription link comes from the charge or the settlement, not the dispute.
        facts.pop("subscription")
        effects = [Effect("payments", self.txn.id, at, kind, state=state, facts=facts)]
        return Notification(braintree_delivery(kind, self.id, at, xml), effects)


# -- Attio record events ---------------------------------------------------------------------


@dataclass(frozen=True)
class AttioIds:
    """What Attio record events name: object and attribute ids, and the people's record ids."""

    workspace_id: str
    objects: dict[str, str]  # slug -> object id
    attributes: dict[str, dict[str, str]]  # object slug -> attribute slug -> attribute id
    people: list[str]  # record ids of people the CRM held before the run
    own_actor_id: str  # the bridge's API token: its own echoes must be ignored


def attio_events(ids: AttioIds, count: int, rng: random.Random) -> list[Delivery]:
    """Record events as Attio sends them: ids and an actor only, one event per delivery
    (a few batched in twos, which Attio reserves the right to do)."""
    deliveries: list[Delivery] = []
    while len(deliveries) < count:
        size = 2 if rng.random() < 0.1 else 1
        events = [_attio_event(ids, rng) for _ in range(size)]
        deliveries.append(attio_delivery(events, f"rel-{uuid.UUID(int=rng.getrandbits(128))}"))
    return deliveries


def _attio_event(ids: AttioIds, rng: random.Random) -> dict[str, Any]:
    roll = rng.random()
    actor = {"type": "workspace-member", "id": str(uuid.UUID(int=rng.getrandbits(128)))}
    if roll < 0.5:  # a CRM user renames a person: may reach their Braintree customer
        obj, record, attribute, kind = "people", rng.choice(ids.people), "name", "record.updated"
    elif roll < 0.65:  # an edit Braintree does not hold: no Braintree call
        obj, record, attribute = "people", rng.choice(ids.people), "job_title"
        kind = "record.updated"
    elif roll < 0.75:
        obj, record, attribute, kind = "people", rng.choice(ids.people), None, "record.created"
    elif roll < 0.9:  # an edit of a record Braintree owns: logged only
        obj, record, attribute = "subscriptions", str(uuid.uuid4()), "status"
        kind = "record.updated"
    else:  # the bridge's own write echoed back: dropped before any call
        obj, record, attribute, kind = "people", rng.choice(ids.people), "name", "record.updated"
        actor = {"type": "api-token", "id": ids.own_actor_id}
    event_ids = {
        "workspace_id": ids.workspace_id,
        "object_id": ids.objects[obj],
        "record_id": record,
    }
    if attribute is not None:
        event_ids["attribute_id"] = ids.attributes[obj][attribute]
    return {"event_type": kind, "id": event_ids, "actor": actor}


# -- the whole run ---------------------------------------------------------------------------


@dataclass
class World:
    seed: int
    customers: list[Customer]
    plans: list[Plan]
    timelines: list[Timeline]
    samples: list[Delivery]
    expected: Expected
    transactions: dict[str, tuple[Customer, Decimal, datetime]]
    crm_people: list[str]  # emails of people Attio holds before any webhook
    attio_count: int

    def braintree_data(self) -> dict[str, Any]:
        """What Braintree's API answers about this world's customers and transactions."""
        customers = {
            c.id: {
                "id": c.id,
                "email": c.email,
                "first_name": c.first_name,
                "last_name": c.last_name,
            }
            for c in self.customers
        }
        transactions = {
            txn_id: {
                "id": txn_id,
                "amount": str(amount),
                "status": "settled",
                "created_at": created,  # a datetime, as the API types it
                "customer": customers[customer.id],
            }
            for txn_id, (customer, amount, created) in self.transactions.items()
        }
        payment_methods = {c.token: c.id for c in self.customers}
        return {
            "customers": customers,
            "transactions": transactions,
            "payment_methods": payment_methods,
        }

    def deliveries(self, attio: Sequence[Delivery]) -> list[Delivery]:
        """Every request in the order the providers send them (before any redelivery)."""
        rng = random.Random(self.seed + 1)
        streams = [
            _shuffled_locally([n.delivery for n in t.notifications], rng) for t in self.timelines
        ]
        streams += [[d] for d in (*self.samples, *attio)]
        ordered = _interleave(streams, rng)
        return _with_duplicates(ordered, rng)


def _shuffled_locally(items: list[Delivery], rng: random.Random) -> list[Delivery]:
    """Swap some adjacent pairs: a provider's later event overtaking an earlier one."""
    items = list(items)
    i = 0
    while i < len(items) - 1:
        if rng.random() < SWAP_PROBABILITY:
            items[i], items[i + 1] = items[i + 1], items[i]
            i += 2
        else:
            i += 1
    return items


def _interleave(streams: list[list[Delivery]], rng: random.Random) -> list[Delivery]:
    """Merge the streams at random, keeping each stream's own order."""
    slots = [i for i, stream in enumerate(streams) for _ in stream]
    rng.shuffle(slots)
    cursors = [0] * len(streams)
    merged = []
    for i in slots:
        merged.append(streams[i][cursors[i]])
        cursors[i] += 1
    return merged


def _with_duplicates(deliveries: list[Delivery], rng: random.Random) -> list[Delivery]:
    result = list(deliveries)
    for delivery in rng.sample(deliveries, int(len(deliveries) * DUPLICATE_SHARE)):
        result.insert(rng.randint(result.index(delivery) + 1, len(result)), delivery)
    return result


def build_world(events: int, seed: int) -> World:
    """A world of about `events` deliveries (duplicates included)."""
    builder = WorldBuilder(seed)
    distinct = round(events / (1 + DUPLICATE_SHARE))
    zoho_budget = max(2, round(distinct * ZOHO_SHARE))
    attio_budget = max(2, round(distinct * ATTIO_SHARE))
    sample_budget = max(3, round(distinct * SDK_SAMPLE_SHARE))
    braintree_budget = max(5, distinct - zoho_budget - attio_budget - sample_budget)
    builder.plan_catalogue(max(2, zoho_budget // 6))
    expected = Expected()
    timelines = _zoho_timelines(builder, zoho_budget)
    timelines += _braintree_timelines(builder, braintree_budget)
    for timeline in timelines:
        for notification in timeline.notifications:
            for effect in notification.effects:
                expected.apply(effect)
    samples = builder.sdk_samples(sample_budget, expected)
    return World(
        seed=seed,
        customers=builder.customers,
        plans=builder.plans,
        timelines=timelines,
        samples=samples,
        expected=expected,
        transactions=builder.transactions,
        crm_people=_crm_people(builder),
        attio_count=attio_budget,
    )


def _zoho_timelines(builder: WorldBuilder, budget: int) -> list[Timeline]:
    per_item, extra = divmod(budget, len(builder.plans))
    return [
        builder.item(plan, per_item + (1 if n < extra else 0))
        for n, plan in enumerate(builder.plans)
    ]


def _braintree_timelines(builder: WorldBuilder, budget: int) -> list[Timeline]:
    timelines: list[Timeline] = []
    used = 0
    while used < budget:
        timeline = builder.subscription()
        # The last subscription is cut short to hit the budget: an entity's first events.
        timeline.notifications = timeline.notifications[: budget - used]
        used += len(timeline.notifications)
        timelines.append(timeline)
    return timelines


def _crm_people(builder: WorldBuilder) -> list[str]:
    """People the CRM holds before any webhook: some are (future) payers, some are not."""
    payers = [c.email for c in builder.customers[::2]]
    return payers + [f"lead{n:03d}@example.com" for n in range(max(3, len(payers) // 2))]


# Company domains a billing day's customers work at (`<word>-<k>.io`): the sandbox links them
# to a company, as Attio does (example.com, reserved for examples, gets none).
COMPANY_WORDS = ("acme", "globex", "initech", "umbrella", "hooli", "wonka", "stark", "tyrell")
MONTH = timedelta(days=30)


def billing_company_count(count: int, per_company: int) -> int:
    """How many companies `count` customers work at, `per_company` people each (0: none)."""
    return -(-count // per_company) if per_company > 0 and count > 0 else 0


def billing_company_domain(k: int) -> str:
    return f"{COMPANY_WORDS[k % len(COMPANY_WORDS)]}-{k}.io"


def billing_keys(n: int, companies: int = 0) -> dict[str, str]:
    """The unique keys of the records charge `n` of `billing_run` leaves, by object slug.

    With `companies`, customer n works at company n % companies (so one company's people are
    charged spread over the day), and their address is on its domain; without, on example.com.
    """
    domain = billing_company_domain(n % companies) if companies > 0 else "example.com"
    return {
        "people": f"billed{n:05d}@{domain}",
        "subscriptions": f"bill_sub_{n:05d}",
        "payments": f"bill_txn_{n:05d}",
    }


@dataclass(frozen=True)
class BilledCharge:
    """Charge `n` of a billing day, as Braintree holds it: a customer, their subscription
    (created `subscribed`, monthly, on merchant account `MERCHANT_ACCOUNT`) and the sale it
    charged at `charged` (its transaction made 3 s before). A returning customer was charged
    once before, a month earlier (`earlier_transaction_id`); a new one was not."""

    customer: Customer
    plan: Plan
    subscription_id: str
    subscribed: datetime
    transaction_id: str
    charged: datetime
    earlier_transaction_id: str | None = None

    @property
    def transaction_created(self) -> datetime:
        return self.charged - timedelta(seconds=3)

    @property
    def earlier_charged(self) -> datetime:
        return self.charged - MONTH

    @property
    def company(self) -> str | None:
        """The domain of the company Attio links the customer to (None: no company)."""
        domain = self.customer.email.rpartition("@")[2]
        return None if domain == "example.com" else domain

    @property
    def sales(self) -> int:
        """Sales of the subscription Braintree holds once this charge is made."""
        return 1 if self.earlier_transaction_id is None else 2


def billing_plans(seed: int = 0) -> list[Plan]:
    """The plans a billing day's subscriptions are on."""
    builder = WorldBuilder(seed)
    builder.plan_catalogue(5)
    return builder.plans


def billing_charges(
    count: int, seed: int = 0, *, per_company: int = 0, returning: bool = False
) -> list[BilledCharge]:
    """What Braintree holds for the `count` charges of `billing_run` with the same arguments:
    `per_company` people per company (0: addresses on example.com, no company); `returning`
    customers were charged once before, a month earlier."""
    builder = WorldBuilder(seed)
    builder.plan_catalogue(5)
    companies = billing_company_count(count, per_company)
    charges = []
    for n in range(count):
        keys = billing_keys(n, companies)
        customer = Customer(
            id=f"bill_cust_{n:05d}",
            email=keys["people"],
            first_name=builder.rng.choice(FIRST_NAMES),
            last_name=builder.rng.choice(LAST_NAMES),
            token=f"bill_pm_{n:05d}",
        )
        charges.append(
            BilledCharge(
                customer,
                builder.rng.choice(builder.plans),
                keys["subscriptions"],
                START + timedelta(days=n % 28),
                keys["payments"],
                START + timedelta(days=60, seconds=n),
                f"bill_txn_prev_{n:05d}" if returning else None,
            )
        )
    return charges


def billing_deliveries(charges: Sequence[BilledCharge], *, earlier: bool = False) -> list[Delivery]:
    """`subscription_charged_successfully` for each charge (with `earlier`: for the charge a
    month before, of a returning customer)."""
    deliveries = []
    for charge in charges:
        sub = _Subscription(
            charge.subscription_id, charge.customer, charge.plan, created=charge.subscribed
        )
        if earlier:
            if charge.earlier_transaction_id is None:
                raise ValueError(f"{charge.subscription_id}: a new customer has no earlier charge")
            txn_id, at = charge.earlier_transaction_id, charge.earlier_charged
        else:
            txn_id, at = charge.transaction_id, charge.charged
        txn = _Transaction(txn_id, sub, created=at - timedelta(seconds=3))
        notification = sub.notify("subscription_charged_successfully", at, state="Active", txn=txn)
        deliveries.append(notification.delivery)
    return deliveries


def billing_run(count: int, seed: int = 0, *, per_company: int = 0) -> list[Delivery]:
    """A billing day: `subscription_charged_successfully` for `count` new customers, each with
    their own subscription and transaction (three Attio records each: person, subscription,
    payment; their keys are `billing_keys(n, companies)`; what Braintree holds is
    `billing_charges`)."""
    return billing_deliveries(billing_charges(count, seed, per_company=per_company))
