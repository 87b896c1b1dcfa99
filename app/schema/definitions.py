"""Every Attio object and attribute the bridge writes, declared once.

Object slugs and unique keys are a contract with users' workspaces; `docs/attio-schema.md`
lists the same table for humans (a test keeps the two in step).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PEOPLE = "people"
COMPANIES = "companies"
SERVICES = "services"
SUBSCRIPTIONS = "subscriptions"
PAYMENTS = "payments"
BRIDGE_EVENTS = "bridge_events"

# Each object's unique key: every write is an assert (upsert) matching on it.
PERSON_KEY = "email_addresses"
COMPANY_KEY = "domains"  # Attio's own unique attribute: companies take no custom unique one
SERVICE_KEY = "zoho_item_id"
SUBSCRIPTION_KEY = "braintree_subscription_id"
PAYMENT_KEY = "braintree_transaction_id"
EVENT_KEY = "event_key"


@dataclass(frozen=True)
class AttributeSpec:
    api_slug: str
    title: str
    type: str
    description: str | None = None
    is_unique: bool = False
    is_multiselect: bool = False
    options: tuple[str, ...] = ()  # select attributes: the option titles we write
    allowed_objects: tuple[str, ...] = ()  # record-reference attributes: target object slugs

    def create_body(self, *, currency_code: str) -> dict[str, Any]:
        """The body of Attio's create-attribute call (every field there is required)."""
        config: dict[str, Any] = {}
        if self.type == "currency":
            config["currency"] = {"default_currency_code": currency_code, "display_type": "code"}
        if self.type == "record-reference":
            config["record_reference"] = {"allowed_objects": list(self.allowed_objects)}
        return {
            "title": self.title,
            "description": self.description,
            "api_slug": self.api_slug,
            "type": self.type,
            "is_required": False,
            "is_unique": self.is_unique,
            "is_multiselect": self.is_multiselect,
            "config": config,
        }


@dataclass(frozen=True)
class ObjectSpec:
    api_slug: str
    singular_noun: str
    plural_noun: str
    unique_key: str | None
    attributes: tuple[AttributeSpec, ...] = field(default_factory=tuple)
    standard: bool = False  # Attio's own object: extend it, never create it

    def attribute(self, slug: str) -> AttributeSpec:
        return next(a for a in self.attributes if a.api_slug == slug)


def _text(slug: str, title: str, description: str | None = None, *, unique: bool = False):
    return AttributeSpec(slug, title, "text", description, is_unique=unique)


def _select(slug: str, title: str, options: tuple[str, ...], description: str | None = None):
    return AttributeSpec(slug, title, "select", description, options=options)


def _ref(slug: str, title: str, target: str, description: str | None = None):
    return AttributeSpec(slug, title, "record-reference", description, allowed_objects=(target,))


def _typed(type_: str):
    def make(slug: str, title: str, description: str | None = None) -> AttributeSpec:
        return AttributeSpec(slug, title, type_, description)

    return make


_currency, _date, _timestamp, _number, _checkbox = (
    _typed("currency"),
    _typed("date"),
    _typed("timestamp"),
    _typed("number"),
    _typed("checkbox"),
)

# Braintree's Subscription.Status and Transaction.Status values, as the SDK spells them (a
# test compares them with the installed SDK, so an upgrade that adds one fails it).
SUBSCRIPTION_STATUSES = ("Active", "Canceled", "Expired", "Past Due", "Pending")
TRANSACTION_STATUSES = (
    "authorization_expired",
    "authorized",
    "authorizing",
    "failed",
    "gateway_rejected",
    "processor_declined",
    "settled",
    "settlement_confirmed",
    "settlement_declined",
    "settlement_failed",
    "settlement_pending",
    "settling",
    "submitted_for_settlement",
    "voided",
)
# Braintree's Dispute.Status values.
DISPUTE_STATUSES = (
    "accepted",
    "auto_accepted",
    "disputed",
    "expired",
    "lost",
    "open",
    "under_review",
    "won",
)
DISPUTE_OUTCOMES = (
    "opened",
    "under_review",
    "disputed",
    "won",
    "lost",
    "accepted",
    "auto_accepted",
    "expired",
)
# A paying customer's state, first that applies: past_due > active > trialing > cancelled.
BILLING_STATUSES = ("trialing", "active", "past_due", "cancelled")
EVENT_SOURCES = ("attio", "braintree", "zoho")
# `replay` is set by an operator in Attio (one record or a bulk edit): the bridge replays it.
EVENT_STATUSES = ("failed", "dead", "replayed", "needs_attention", "replay")

_LAST_EVENT = (
    _text("last_event_kind", "Last event kind", "Kind of the newest notification applied"),
    _timestamp("last_event_at", "Last event at", "Time of the newest notification applied"),
)

# The billing summary on a person, and on a company as the sum over its people (Attio has no
# roll-up attribute in its API, so the bridge computes and writes these).
BILLING_SUMMARY_ATTRIBUTES = (
    _select(
        "billing_status",
        "Billing status",
        BILLING_STATUSES,
        "First that applies, in this order: past_due, active, trialing, cancelled",
    ),
    _currency("mrr", "MRR", "Monthly recurring revenue of the subscriptions that bill"),
    _currency("arr", "ARR", "12 x MRR"),
    _date("customer_since", "Customer since", "First billing date of the earliest paid one"),
    _currency("lifetime_paid", "Lifetime paid", "Sales that went through minus refunds"),
    _timestamp("last_payment_at", "Last payment at", "When the newest sale was made"),
    _select("last_payment_status", "Last payment status", TRANSACTION_STATUSES),
    _date("next_billing_date", "Next billing date", "Earliest among live subscriptions"),
    _number("active_subscriptions", "Active subscriptions", "Active or Past Due"),
    _timestamp("billing_updated_at", "Billing updated at", "When the summary last changed"),
)

PEOPLE_OBJECT = ObjectSpec(
    PEOPLE,
    "Person",
    "People",
    unique_key=PERSON_KEY,
    standard=True,
    attributes=(
        AttributeSpec(
            "braintree_customer_id",
            "Braintree customer ID",
            "text",
            "Braintree customer this person pays as",
            is_unique=True,
        ),
        *BILLING_SUMMARY_ATTRIBUTES,
    ),
)

COMPANIES_OBJECT = ObjectSpec(
    COMPANIES,
    "Company",
    "Companies",
    unique_key=COMPANY_KEY,
    standard=True,
    attributes=(
        *BILLING_SUMMARY_ATTRIBUTES,
        _number("paying_people", "Paying people", "People with a subscription that bills"),
    ),
)

SERVICES_OBJECT = ObjectSpec(
    SERVICES,
    "Service",
    "Services",
    unique_key=SERVICE_KEY,
    attributes=(
        _text("name", "Name"),
        _text(SERVICE_KEY, "Zoho item ID", "Item id in Zoho (source of truth)", unique=True),
        _text("sku", "SKU", "Zoho SKU; Braintree plan ids match it"),
        _text("description", "Description"),
        _currency("rate", "Rate"),
        _text("unit", "Unit"),
        _select("product_type", "Product type", ("goods", "service", "digital_service")),
        _select("status", "Status", ("active", "inactive")),
        _select("zoho_source", "Zoho source", ("books", "inventory", "crm")),
        _timestamp("zoho_last_modified_at", "Zoho last modified at"),
    ),
)

_SUBSCRIPTION_ATTRIBUTES = (
    _text(SUBSCRIPTION_KEY, "Braintree subscription ID", unique=True),
    _select("status", "Status", SUBSCRIPTION_STATUSES),
    _text("plan_id", "Plan ID"),
    _currency("price", "Price"),
    _currency("balance", "Balance"),
    _text("currency_code", "Currency", "ISO code of price and balance"),
    _date("next_billing_date", "Next billing date"),
    _date("billing_period_start_date", "Billing period start"),
    _date("billing_period_end_date", "Billing period end"),
    _number("failure_count", "Failure count"),
    _number("days_past_due", "Days past due"),
    *_LAST_EVENT,
    _text("braintree_customer_id", "Braintree customer ID"),
    _ref("person", "Person", PEOPLE, "The paying person"),
    _ref("service", "Service", SERVICES, "The Zoho service whose SKU is the plan id"),
    _currency("mrr", "MRR", "Monthly recurring revenue, converted; 0 unless it bills"),
    _number("mrr_native", "MRR (native)", "MRR in the subscription's own currency_code"),
    _number("billing_frequency_months", "Billing frequency (months)", "The plan's"),
    _checkbox("in_trial", "In trial"),
    _date("paid_through_date", "Paid through"),
)

SUBSCRIPTIONS_OBJECT = ObjectSpec(
    SUBSCRIPTIONS,
    "Subscription",
    "Subscriptions",
    unique_key=SUBSCRIPTION_KEY,
    attributes=_SUBSCRIPTION_ATTRIBUTES,
)

# Without a `payments` object (ATTIO_PAYMENTS_OBJECT=false) the subscription holds its latest
# payment and its open dispute, each with its own clock for the out-of-order guard.
PAYMENT_STAMP = "last_payment_event_at"
DISPUTE_STAMP = "dispute_event_at"
FOLDED_PAYMENT_ATTRIBUTES = (
    _text("last_payment_id", "Last payment ID", "Braintree transaction id of the latest payment"),
    _currency("last_payment_amount", "Last payment amount"),
    _text("last_payment_currency", "Last payment currency", "ISO code of the amount"),
    _select("last_payment_status", "Last payment status", TRANSACTION_STATUSES),
    _timestamp("last_payment_at", "Last payment at", "When Braintree created the transaction"),
    _timestamp(PAYMENT_STAMP, "Last payment event at", "Time of the newest payment applied"),
    _text("dispute_id", "Dispute ID"),
    _select("dispute_status", "Dispute status", DISPUTE_STATUSES),
    _currency("dispute_amount", "Amount disputed"),
    _date("dispute_reply_by", "Dispute reply by"),
    _select("dispute_outcome", "Dispute outcome", DISPUTE_OUTCOMES),
    _timestamp(DISPUTE_STAMP, "Dispute event at", "Time of the newest dispute applied"),
)

SUBSCRIPTIONS_FOLDED_OBJECT = ObjectSpec(
    SUBSCRIPTIONS,
    "Subscription",
    "Subscriptions",
    unique_key=SUBSCRIPTION_KEY,
    attributes=_SUBSCRIPTION_ATTRIBUTES + FOLDED_PAYMENT_ATTRIBUTES,
)

PAYMENTS_OBJECT = ObjectSpec(
    PAYMENTS,
    "Payment",
    "Payments",
    unique_key=PAYMENT_KEY,
    attributes=(
        _text(PAYMENT_KEY, "Braintree transaction ID", unique=True),
        _currency("amount", "Amount"),
        _text("currency_code", "Currency", "ISO code of the amounts"),
        _select("status", "Status", TRANSACTION_STATUSES),
        _select("type", "Type", ("sale", "credit")),
        _timestamp("transaction_created_at", "Created in Braintree"),
        _timestamp("settled_at", "Settled at"),
        _date("disbursement_date", "Disbursement date"),
        _text("payment_instrument_type", "Payment instrument"),
        _text("braintree_customer_id", "Braintree customer ID"),
        _ref("person", "Person", PEOPLE, "The paying person"),
        _ref("subscription", "Subscription", SUBSCRIPTIONS),
        _text("dispute_id", "Dispute ID"),
        _select("dispute_status", "Dispute status", DISPUTE_STATUSES),
        _text("dispute_reason", "Dispute reason"),
        _currency("dispute_amount", "Amount disputed"),
        _date("dispute_reply_by", "Dispute reply by"),
        _select("dispute_outcome", "Dispute outcome", DISPUTE_OUTCOMES),
        _timestamp(DISPUTE_STAMP, "Dispute event at", "Time of the newest dispute applied"),
        *_LAST_EVENT,
    ),
)

BRIDGE_EVENTS_OBJECT = ObjectSpec(
    BRIDGE_EVENTS,
    "Bridge event",
    "Bridge events",
    unique_key=EVENT_KEY,
    attributes=(
        _text(EVENT_KEY, "Event key", "Deduplication key of the webhook event", unique=True),
        _select("source", "Source", EVENT_SOURCES),
        _text("event_type", "Event type"),
        _select("status", "Status", EVENT_STATUSES),
        _text("error", "Error", "Last error while processing"),
        _number("attempts", "Attempts"),
        _timestamp("first_attempt_at", "First attempt at"),
        _timestamp("last_attempt_at", "Last attempt at"),
        _timestamp("next_attempt_at", "Next attempt at", "When retry-due will try again"),
        _timestamp("occurred_at", "Occurred at", "When the provider says it happened"),
        _text("raw_body", "Raw body", "Request body exactly as received (re-verified on replay)"),
        _text("raw_headers", "Raw headers", "Signature-relevant request headers, JSON"),
        _text("raw_query", "Raw query", "Query string exactly as received"),
        _text(
            "replay_requested_by",
            "Replay requested by",
            "Workspace member who last set the status to replay",
        ),
    ),
)

# Attio's standard objects count against the plan's object limit whether used or not.
STANDARD_OBJECTS = (PEOPLE, COMPANIES)
# Objects per workspace by Attio plan (None: unlimited). One help page says 8 for Pro.
PLAN_OBJECT_LIMITS: dict[str, int | None] = {"free": 3, "plus": 5, "pro": 12, "enterprise": None}


def schema_for(*, payments_object: bool = True) -> tuple[ObjectSpec, ...]:
    """The objects the bridge writes in a layout (`ATTIO_PAYMENTS_OBJECT`).

    Creation order matters: record references need their target object to exist. `payments`
    comes last, so a bootstrap that Attio stops at the plan limit has created only objects
    the smaller layout needs too.
    """
    if not payments_object:
        return (
            PEOPLE_OBJECT,
            COMPANIES_OBJECT,
            SERVICES_OBJECT,
            SUBSCRIPTIONS_FOLDED_OBJECT,
            BRIDGE_EVENTS_OBJECT,
        )
    return (
        PEOPLE_OBJECT,
        COMPANIES_OBJECT,
        SERVICES_OBJECT,
        SUBSCRIPTIONS_OBJECT,
        BRIDGE_EVENTS_OBJECT,
        PAYMENTS_OBJECT,
    )


SCHEMA: tuple[ObjectSpec, ...] = schema_for()


def billing_objects(schema: tuple[ObjectSpec, ...]) -> tuple[str, ...]:
    """The objects of a layout that hold Braintree records linked to a person."""
    slugs = {obj.api_slug for obj in schema}
    return tuple(slug for slug in (SUBSCRIPTIONS, PAYMENTS) if slug in slugs)
