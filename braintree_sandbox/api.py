"""A stand-in for the Braintree API calls the bridge makes, served on loopback.

The bridge asks Braintree who pays when a notification does not say (a subscription's payment
method, a disputed transaction), syncs CRM edits of paying people to their customer, and
reconciles Attio with Braintree's state through the SDK's searches. A benchmark or test must
not reach Braintree, so the bridge runs with `BRAINTREE_ENVIRONMENT=development`, which points
the official SDK at `http://localhost:$GATEWAY_PORT`, and this server answers there with
Braintree-shaped XML. The SDK's own request building, XML parsing, pagination and error mapping
all run; only the far end is ours.

A customer carries `created_at` and `updated_at` (UTC, whole seconds) as the gateway's XML
does; a successful update (`PUT /customers/<id>`) moves `updated_at` to the time of the update.

Searches behave as the gateway's do (checked against the SDK's gateways and collections):
subscription and transaction searches answer `advanced_search_ids` with every matching id and
a page size of 50, then `advanced_search` with the full objects of the ids asked for that still
match; dispute search is paginated (`advanced_search?page=N`, `page_size` 10, `total_items`).
Terms are ANDed; range terms (`min`/`max`) are inclusive; `effective_date` and
`disbursement_date` of a dispute, and a transaction's `<status>_at`, match its status history.

The catalogue is served as the gateway serves it: plans (`GET /plans/`, with their
`billing_frequency`, trial and add-ons/discounts), add-ons and discounts (`GET /add_ons/`,
`/discounts/`), and merchant accounts, one currency each (`GET /merchant_accounts/<id>`, and
the paginated `GET /merchant_accounts/?page=N`). A subscription bills in its merchant
account's currency, inherits its plan's add-ons and discounts unless given its own, and its
`next_billing_period_amount` is price plus add-ons minus discounts that apply to that period.
"""

from __future__ import annotations

import base64
import calendar
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import braintree
from braintree.util.xml_util import XmlUtil

# The API paths the bridge's SDK GETs reach, by what they fetch.
ROUTES = (
    ("customer", re.compile(r"/customers/([^/?]+)$")),
    ("transaction", re.compile(r"/transactions/([^/?]+)$")),
    ("payment_method", re.compile(r"/payment_methods/any/([^/?]+)$")),
    ("subscription", re.compile(r"/subscriptions/([^/?]+)$")),
    ("dispute", re.compile(r"/disputes/([^/?]+)$")),
    ("plans", re.compile(r"/plans/?()$")),
    ("plan", re.compile(r"/plans/([^/?]+)$")),
    ("add_ons", re.compile(r"/add_ons/?()$")),
    ("discounts", re.compile(r"/discounts/?()$")),
    ("merchant_accounts", re.compile(r"/merchant_accounts/?()$")),
    ("merchant_account", re.compile(r"/merchant_accounts/([^/?]+)$")),
)
MERCHANT_ACCOUNT_PAGE_SIZE = 50  # `gateway.merchant_account.all()` pages through these
# The search paths the SDK POSTs to (checked before `ROUTES`: they end like an id).
SEARCHES = (
    ("subscription_search_ids", re.compile(r"/subscriptions/advanced_search_ids$")),
    ("subscription_search", re.compile(r"/subscriptions/advanced_search$")),
    ("transaction_search_ids", re.compile(r"/transactions/advanced_search_ids$")),
    ("transaction_search", re.compile(r"/transactions/advanced_search$")),
    ("dispute_search", re.compile(r"/disputes/advanced_search$")),
)
# Customer creation (`gateway.customer.create`), as a merchant's checkout does it: the demo
# and development create payers through the SDK rather than by seeding.
CUSTOMER_CREATE = re.compile(r"/customers$")
# Braintree's validation error for a customer id already in use.
CUSTOMER_ID_TAKEN = ("91609", "Customer ID has already been taken.")
SEARCH_PAGE_SIZE = 50  # the gateway's `page_size` for search-ids results
DISPUTE_PAGE_SIZE = 10  # the gateway's page of a dispute search

# Element names of a list's items where Braintree does not use `<item>`.
LIST_ITEMS = {
    "status_history": "status-event",
    "transactions": "transaction",
    "add_ons": "add-on",
    "discounts": "discount",
    "plans": "plan",
    "credit_cards": "credit-card",
    "subscriptions": "subscription",
}
DISPUTE_LIST_ITEMS = {**LIST_ITEMS, "status_history": "status-history"}

# A transaction search's `<status>_at` term matches the time its history reached that status.
TIMESTAMP_STATUSES = {
    "authorization_expired_at": "authorization_expired",
    "authorized_at": "authorized",
    "failed_at": "failed",
    "gateway_rejected_at": "gateway_rejected",
    "processor_declined_at": "processor_declined",
    "settled_at": "settled",
    "submitted_for_settlement_at": "submitted_for_settlement",
    "voided_at": "voided",
}


def _element(name: str, value: Any, items: dict[str, str]) -> str:
    tag = name.replace("_", "-")
    if value is None:
        return f'<{tag} nil="true"/>'
    if isinstance(value, dict):
        return to_xml(tag, value, items)
    if isinstance(value, bool):
        return f'<{tag} type="boolean">{str(value).lower()}</{tag}>'
    if isinstance(value, int):
        return f'<{tag} type="integer">{value}</{tag}>'
    if isinstance(value, datetime):
        return f'<{tag} type="datetime">{_utc(value):%Y-%m-%dT%H:%M:%SZ}</{tag}>'
    if isinstance(value, date):
        return f'<{tag} type="date">{value:%Y-%m-%d}</{tag}>'
    if isinstance(value, list | tuple):
        item = items.get(name, "item")
        return f'<{tag} type="array">{"".join(_element(item, v, items) for v in value)}</{tag}>'
    return f"<{tag}>{escape(str(value))}</{tag}>"


def to_xml(tag: str, fields: dict[str, Any], items: dict[str, str] = LIST_ITEMS) -> str:
    """Braintree's API XML: dashed element names, nested dicts as nested elements, typed
    values (`type="datetime"`, `"date"`, `"integer"`, `"boolean"`, `"array"`, `nil`)."""
    return f"<{tag}>{''.join(_element(k, v, items) for k, v in fields.items())}</{tag}>"


def read(
    what: str,
    key: str,
    customers: dict[str, dict[str, Any]],
    transactions: dict[str, dict[str, Any]],
    payment_methods: dict[str, str],
    subscriptions: dict[str, dict[str, Any]] | None = None,
    disputes: dict[str, dict[str, Any]] | None = None,
) -> tuple[int, str]:
    """Braintree's answer to a GET of one of `ROUTES`: the object's XML, or its 404."""
    if what == "customer" and key in customers:
        held = subscriptions or {}
        by_token = {
            token: [s for s in held.values() if s.get("payment_method_token") == token]
            for token, owner in payment_methods.items()
            if owner == key
        }
        return 200, customer_xml(customers[key], by_token, transactions)
    if what == "transaction" and key in transactions:
        return 200, to_xml("transaction", transactions[key])
    if what == "payment_method" and key in payment_methods:
        return 200, to_xml("credit-card", {"token": key, "customer_id": payment_methods[key]})
    if what == "subscription" and subscriptions and key in subscriptions:
        return 200, subscription_xml(subscriptions[key], transactions)
    if what == "dispute" and disputes and key in disputes:
        return 200, to_xml("dispute", disputes[key], DISPUTE_LIST_ITEMS)
    return 404, ""


def customer_xml(
    customer: dict[str, Any],
    subscriptions_by_token: dict[str, list[dict[str, Any]]],
    transactions: dict[str, dict[str, Any]],
) -> str:
    """A customer with their vaulted cards, each with its subscriptions (and those with their
    transactions), as `customer.find` answers: Braintree has no subscription search by
    customer, so this is how a customer's subscriptions are listed."""
    cards = [
        {
            "token": token,
            "customer_id": customer["id"],
            "default": n == 0,
            "subscriptions": [_with_transactions(s, transactions) for s in subscriptions],
        }
        for n, (token, subscriptions) in enumerate(subscriptions_by_token.items())
    ]
    return to_xml("customer", {**customer, "credit_cards": cards})


def _with_transactions(
    subscription: dict[str, Any], transactions: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    ids = subscription.get("transactions") or []
    return {
        **subscription,
        "transactions": [transactions[t] for t in reversed(ids) if t in transactions],
    }


def subscription_xml(subscription: dict[str, Any], transactions: dict[str, dict[str, Any]]) -> str:
    """A subscription embeds its transactions, newest first, as Braintree's does."""
    return to_xml("subscription", _with_transactions(subscription, transactions))


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _now() -> datetime:
    """Braintree's timestamps: UTC, whole seconds."""
    return datetime.now(UTC).replace(microsecond=0)


def _naive(value: Any) -> Any:
    """A comparable form: datetimes as naive UTC (the SDK's parser yields those), ISO text
    timestamps parsed, dates and numbers as they are."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            try:
                return Decimal(value)
            except ArithmeticError:
                return value
    if isinstance(value, datetime):
        return _utc(value).replace(tzinfo=None)
    return value


def _in_range(value: Any, bounds: dict[str, Any]) -> bool:
    """`bounds` already in `_naive` form (see `_normalized`)."""
    if value is None:
        return False
    value = _naive(value)
    for op, bound in bounds.items():
        if isinstance(value, datetime) != isinstance(bound, datetime):
            # A date field searched with a datetime (the SDK sends both as datetime), or the
            # other way round: compare by day.
            value = value.date() if isinstance(value, datetime) else value
            bound = bound.date() if isinstance(bound, datetime) else bound
        if op == "min" and value < bound:
            return False
        if op == "max" and value > bound:
            return False
        if op == "is" and value != bound:
            return False
    return True


def _normalized(criteria: dict[str, Any]) -> dict[str, Any]:
    """Range bounds made comparable once per search rather than once per record."""
    return {
        name: {op: _naive(v) for op, v in term.items()}
        if isinstance(term, dict) and term.keys() & {"min", "max"}
        else term
        for name, term in criteria.items()
    }


def _text_matches(value: Any, term: dict[str, Any]) -> bool:
    text = "" if value is None else str(value)
    for op, wanted in term.items():
        wanted = str(wanted)
        ok = {
            "is": text == wanted,
            "is_not": text != wanted,
            "starts_with": text.startswith(wanted),
            "ends_with": text.endswith(wanted),
            "contains": wanted in text,
        }.get(op)
        if ok is None:
            raise ValueError(f"unknown text operator {op!r}")
        if not ok:
            return False
    return True


def _history_values(record: dict[str, Any], name: str, status: str | None = None) -> list[Any]:
    events = record.get("status_history") or []
    return [e.get(name) for e in events if status is None or e.get("status") == status]


def _term_matches(record: dict[str, Any], name: str, term: Any, kind: str) -> bool:
    """One search term against one record (an unknown term is a bug here, never a match)."""
    if kind == "transaction" and name in TIMESTAMP_STATUSES:
        values = _history_values(record, "timestamp", TIMESTAMP_STATUSES[name])
        return any(_in_range(v, term) for v in values)
    if kind == "dispute" and name in ("effective_date", "disbursement_date"):
        return any(_in_range(v, term) for v in _history_values(record, name))
    field_name = "id" if name == "ids" else name
    if field_name == "transaction_id" and kind == "dispute":
        value = (record.get("transaction") or {}).get("id")
    elif field_name == "customer_id" and kind == "transaction":
        value = (record.get("customer") or {}).get("id")
    else:
        if field_name not in record:
            raise ValueError(f"the stand-in does not search {kind}s by {name!r}")
        value = record.get(field_name)
    if isinstance(term, list):
        return value in term or str(value) in [str(t) for t in term]
    if isinstance(term, dict) and term.keys() & {"min", "max"}:
        return _in_range(value, term)
    if isinstance(term, dict):
        return _text_matches(value, term)
    raise ValueError(f"unknown search term {name}={term!r}")


def matches(record: dict[str, Any], criteria: dict[str, Any], kind: str) -> bool:
    """Every term of a search (Braintree ANDs them, `_normalized`) holds for `record`."""
    return all(_term_matches(record, n, t, kind) for n, t in criteria.items())


def _criteria(body: bytes) -> dict[str, Any]:
    parsed = XmlUtil.dict_from_xml(body.decode()) if body else {}
    search = parsed.get("search") or {}
    return search if isinstance(search, dict) else {}


def search_ids_xml(ids: Iterable[str]) -> str:
    items = "".join(f"<item>{escape(i)}</item>" for i in ids)
    return (
        f'<search-results><page-size type="integer">{SEARCH_PAGE_SIZE}</page-size>'
        f'<ids type="array">{items}</ids></search-results>'
    )


CATALOGUE = frozenset(
    {"plans", "plan", "add_ons", "discounts", "merchant_accounts", "merchant_account"}
)


def merchant_account(account_id: str, currency: str, *, default: bool = False) -> dict[str, Any]:
    """A merchant account as the gateway reports it: one currency per account."""
    return {"id": account_id, "currency_iso_code": currency, "status": "active", "default": default}


def modification(
    modification_id: str,
    amount: str,
    *,
    kind: str = "add_on",
    quantity: int = 1,
    number_of_billing_cycles: int | None = None,
    current_billing_cycle: int = 0,
    name: str | None = None,
) -> dict[str, Any]:
    """An add-on or discount: on a plan, the merchant's catalogue, or a subscription (where
    `current_billing_cycle` counts the cycles it has been charged)."""
    return {
        "id": modification_id,
        "name": name or modification_id,
        "description": None,
        "kind": kind,
        "amount": amount,
        "quantity": quantity,
        "number_of_billing_cycles": number_of_billing_cycles,
        "never_expires": number_of_billing_cycles is None,
        "current_billing_cycle": current_billing_cycle,
        "merchant_id": "test_merchant_id",
    }


def plan_xml(plan: dict[str, Any]) -> str:
    return to_xml("plan", plan)


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or that month's last day when it has no such day."""
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def period_amount(
    price: str, add_ons: list[dict[str, Any]], discounts: list[dict[str, Any]]
) -> str:
    """Braintree's `next_billing_period_amount`: price, plus add-ons, minus discounts, each
    while it applies to the next cycle."""

    def applying(items: list[dict[str, Any]]) -> Decimal:
        return sum(
            (
                Decimal(m["amount"]) * int(m.get("quantity") or 1)
                for m in items
                if m.get("never_expires")
                or int(m.get("current_billing_cycle") or 0) < int(m["number_of_billing_cycles"])
            ),
            Decimal(0),
        )

    total = Decimal(price) + applying(add_ons) - applying(discounts)
    return f"{max(total, Decimal(0)):.2f}"


@dataclass
class BraintreeData:
    """What the stand-in knows, by id: customers, transactions, payment methods (token ->
    customer id), subscriptions and disputes, as Braintree's fields (typed Python values:
    datetime, date, int, lists; amounts as text).

    `calls` counts requests per endpoint (`"GET customer"`, `"POST transaction_search_ids"`,
    ...), for tests and benchmarks to report; `latency_seconds` delays every answer (outside
    the lock, as a far gateway would).
    """

    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    transactions: dict[str, dict[str, Any]] = field(default_factory=dict)
    payment_methods: dict[str, str] = field(default_factory=dict)  # token -> customer id
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    disputes: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The catalogue: plans, the merchant's add-ons and discounts, and its merchant accounts
    # (one currency each; "main", in US dollars, is the default account).
    plans: dict[str, dict[str, Any]] = field(default_factory=dict)
    add_ons: dict[str, dict[str, Any]] = field(default_factory=dict)
    discounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    merchant_accounts: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {"main": merchant_account("main", "USD", default=True)}
    )
    # Subscription ids by payment method token (what a customer's cards list).
    _by_token: dict[str, list[str]] = field(default_factory=dict, repr=False)
    calls: Counter[str] = field(default_factory=Counter)
    updates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    # (public key, private key) the merchant has; None accepts any. Braintree answers other
    # keys 401 with an empty body, which the SDK raises as AuthenticationError.
    credentials: tuple[str, str] | None = None
    latency_seconds: float = 0.0
    # Answers owed to the next requests of an endpoint (`"POST subscription_search"`): a 429 or
    # 503 as Braintree sends them under load, with an empty body.
    faults: dict[str, list[int]] = field(default_factory=dict)

    def fail(self, endpoint: str, status: int = 503, times: int = 1) -> None:
        """The next `times` requests to `endpoint` (a `calls` key) answer `status`."""
        with self.lock:
            self.faults.setdefault(endpoint, []).extend([status] * times)

    def _fault(self, endpoint: str) -> int | None:
        self.calls[endpoint] += 1
        owed = self.faults.get(endpoint)
        return owed.pop(0) if owed else None

    def authorized(self, authorization: str | None) -> bool:
        if self.credentials is None:
            return True
        expected = base64.b64encode(":".join(self.credentials).encode()).decode()
        return authorization == f"Basic {expected}"

    def answer(self, verb: str, path: str, body: bytes) -> tuple[int, str]:
        url = urlsplit(path)
        if verb == "POST" and CUSTOMER_CREATE.search(url.path):
            with self.lock:
                if fault := self._fault("POST customer_create"):
                    return fault, ""
                return self._create_customer(body)
        if verb == "POST":
            for what, pattern in SEARCHES:
                if pattern.search(url.path):
                    with self.lock:
                        if fault := self._fault(f"{verb} {what}"):
                            return fault, ""
                        criteria = _normalized(_criteria(body))
                        return self._search(what, criteria, parse_qs(url.query))
        for what, pattern in ROUTES:
            if match := pattern.search(url.path):
                with self.lock:
                    if fault := self._fault(f"{verb} {what}"):
                        return fault, ""
                    if what in CATALOGUE:
                        return self._catalogue(verb, what, match[1], parse_qs(url.query))
                    return self._answer(verb, what, match[1], body)
        with self.lock:
            self.calls[f"{verb} unknown"] += 1
        return 404, ""

    def _answer(self, verb: str, what: str, key: str, body: bytes) -> tuple[int, str]:
        if what == "customer" and key in self.customers:
            if verb == "PUT":
                changes = XmlUtil.dict_from_xml(body.decode()).get("customer") or {}
                self.updates.append((key, changes))
                self.customers[key].update({k: str(v) for k, v in changes.items()})
                # Braintree stamps every successful update (whole seconds, UTC).
                self.customers[key]["updated_at"] = _now()
            by_token = {
                token: [self.subscriptions[i] for i in self._by_token.get(token, [])]
                for token, owner in self.payment_methods.items()
                if owner == key
            }
            return 200, customer_xml(self.customers[key], by_token, self.transactions)
        if verb != "GET":
            return 404, ""
        return read(
            what,
            key,
            self.customers,
            self.transactions,
            self.payment_methods,
            self.subscriptions,
            self.disputes,
        )

    def _catalogue(
        self, verb: str, what: str, key: str, query: dict[str, list[str]]
    ) -> tuple[int, str]:
        """Plans, add-ons, discounts and merchant accounts, as the gateway lists them."""
        if verb != "GET":
            return 404, ""
        if what == "plan":
            return (200, plan_xml(self.plans[key])) if key in self.plans else (404, "")
        if what == "plans":
            plans = "".join(plan_xml(plan) for plan in self.plans.values())
            return 200, f'<plans type="array">{plans}</plans>'
        if what in ("add_ons", "discounts"):
            kind = LIST_ITEMS[what]
            items = self.add_ons if what == "add_ons" else self.discounts
            xml = "".join(to_xml(kind, item) for item in items.values())
            return 200, f'<{kind}s type="array">{xml}</{kind}s>'
        if what == "merchant_account":
            account = self.merchant_accounts.get(key)
            return (200, to_xml("merchant-account", account)) if account else (404, "")
        page = int((query.get("page") or ["1"])[0])
        size = MERCHANT_ACCOUNT_PAGE_SIZE
        accounts = list(self.merchant_accounts.values())
        chunk = accounts[(page - 1) * size : page * size]
        xml = "".join(to_xml("merchant-account", account) for account in chunk)
        return 200, (
            f'<merchant-accounts type="collection"><current-page-number type="integer">{page}'
            f'</current-page-number><page-size type="integer">{size}</page-size>'
            f'<total-items type="integer">{len(accounts)}</total-items>{xml}</merchant-accounts>'
        )

    def _create_customer(self, body: bytes) -> tuple[int, str]:
        """201 and the customer, or Braintree's 422 validation error for a taken id."""
        fields = XmlUtil.dict_from_xml(body.decode()).get("customer") or {}
        known = ("id", "first_name", "last_name", "email", "company", "phone")
        given = {k: str(v) for k, v in fields.items() if k in known and v is not None}
        customer_id = given.get("id") or str(random.randrange(10**8, 10**9))
        if customer_id in self.customers:
            code, message = CUSTOMER_ID_TAKEN
            error = {"attribute": "id", "code": code, "message": message}
            errors = {"customer": {"errors": [error]}, "errors": []}
            return 422, to_xml(
                "api-error-response",
                {"errors": errors, "params": {"customer": given}, "message": message},
                {"errors": "error"},
            )
        stamp = _now()
        customer: dict[str, Any] = {"first_name": "", "last_name": "", **given, "id": customer_id}
        customer |= {"created_at": stamp, "updated_at": stamp}
        self.customers[customer_id] = customer
        return 201, to_xml("customer", customer)

    def _search(
        self, what: str, criteria: dict[str, Any], query: dict[str, list[str]]
    ) -> tuple[int, str]:
        kind = what.split("_", 1)[0]
        records = {
            "subscription": self.subscriptions,
            "transaction": self.transactions,
            "dispute": self.disputes,
        }[kind]
        ids = criteria.get("ids")
        # A search by ids looks only those up; any other scans (in insertion order).
        candidates: Iterable[dict[str, Any]] = (
            (records[i] for i in ids if i in records) if isinstance(ids, list) else records.values()
        )
        try:
            found = [r for r in candidates if matches(r, criteria, kind)]
        except ValueError:
            return 500, ""  # the SDK raises ServerError: a search this stand-in cannot answer
        if what.endswith("_ids"):
            return 200, search_ids_xml(r["id"] for r in found)
        if kind == "subscription":
            xml = "".join(subscription_xml(r, self.transactions) for r in found)
            return 200, f'<subscriptions type="collection">{xml}</subscriptions>'
        if kind == "transaction":
            xml = "".join(to_xml("transaction", r) for r in found)
            return (
                200,
                f'<credit-card-transactions type="collection">{xml}</credit-card-transactions>',
            )
        page = int((query.get("page") or ["1"])[0])
        chunk = found[(page - 1) * DISPUTE_PAGE_SIZE : page * DISPUTE_PAGE_SIZE]
        xml = "".join(to_xml("dispute", r, DISPUTE_LIST_ITEMS) for r in chunk)
        return 200, (
            f'<disputes type="collection"><current-page-number type="integer">{page}'
            f'</current-page-number><page-size type="integer">{DISPUTE_PAGE_SIZE}</page-size>'
            f'<total-items type="integer">{len(found)}</total-items>{xml}</disputes>'
        )

    # -- seeding and changing what Braintree knows -----------------------------------------

    def add_customer(
        self,
        customer_id: str,
        email: str | None = None,
        first_name: str = "",
        last_name: str = "",
        token: str | None = None,
        updated_at: datetime | None = None,
    ) -> dict[str, Any]:
        """A customer and, with `token`, their vaulted card (a subscription's payment method).

        `updated_at` (default: now) is also its `created_at`, as for a customer never edited."""
        customer: dict[str, Any] = {"id": customer_id, "first_name": first_name}
        customer["last_name"] = last_name
        if email is not None:
            customer["email"] = email
        stamp = _utc(updated_at).replace(microsecond=0) if updated_at else _now()
        customer |= {"created_at": stamp, "updated_at": stamp}
        with self.lock:
            self.customers[customer_id] = customer
            if token is not None:
                self.payment_methods[token] = customer_id
        return customer

    def edit_customer(self, customer_id: str, at: datetime | None = None, **fields: str) -> None:
        """An edit made in Braintree (its control panel, a checkout): `fields` changed and
        `updated_at` moved to `at` (default: now)."""
        with self.lock:
            customer = self.customers[customer_id]
            customer.update(fields)
            customer["updated_at"] = _utc(at).replace(microsecond=0) if at else _now()

    def add_transaction(
        self,
        transaction_id: str,
        customer_id: str,
        amount: str = "49.00",
        *,
        created_at: datetime,
        status: str = "submitted_for_settlement",
        subscription_id: str | None = None,
        type: str = "sale",
        currency_iso_code: str | None = None,
        merchant_account_id: str | None = None,
    ) -> dict[str, Any]:
        """A transaction whose history runs authorized -> submitted_for_settlement (a card
        sale Braintree submits at once) and on to `status`, every step at `created_at`. It is
        made on its subscription's merchant account (else `merchant_account_id`, else the
        default one), in that account's currency unless `currency_iso_code` says otherwise."""
        customer = self.customers.get(customer_id, {"id": customer_id})
        subscription = self.subscriptions.get(subscription_id or "")
        account_id = merchant_account_id or (subscription or {}).get("merchant_account_id")
        account = self.merchant_accounts.get(account_id or "") or self._default_account()
        currency_iso_code = currency_iso_code or account["currency_iso_code"]
        steps = ["authorized", "submitted_for_settlement"]
        if status == "authorized":
            steps = ["authorized"]
        elif status in ("gateway_rejected", "processor_declined", "failed", "authorizing"):
            steps = [status]
        elif status != "submitted_for_settlement":
            steps.append(status)
        transaction: dict[str, Any] = {
            "id": transaction_id,
            "type": type,
            "amount": amount,
            "currency_iso_code": currency_iso_code,
            "merchant_account_id": account["id"],
            "status": status,
            "created_at": created_at,
            "updated_at": created_at,
            "customer": {k: customer.get(k) for k in ("id", "email", "first_name", "last_name")},
            "subscription_id": subscription_id,
            "plan_id": None,
            "status_history": [
                {"timestamp": created_at, "status": s, "amount": amount} for s in steps
            ],
        }
        with self.lock:
            if subscription_id is not None and subscription_id in self.subscriptions:
                subscription = self.subscriptions[subscription_id]
                transaction["plan_id"] = subscription.get("plan_id")
                subscription.setdefault("transactions", []).append(transaction_id)
            self.transactions[transaction_id] = transaction
        return transaction

    def add_subscription(
        self,
        subscription_id: str,
        payment_method_token: str,
        plan_id: str = "pro-monthly",
        price: str = "49.00",
        *,
        created_at: datetime,
        status: str = "Active",
        balance: str = "0.00",
        failure_count: int = 0,
        days_past_due: int | None = None,
        merchant_account_id: str | None = None,
        add_ons: list[dict[str, Any]] | None = None,
        discounts: list[dict[str, Any]] | None = None,
        trial_days: int | None = None,
    ) -> dict[str, Any]:
        """A subscription billed first on the day it was created, or after a trial of
        `trial_days` (Braintree reports it Active meanwhile, nothing billed yet).

        A plan added with `add_plan` gives its billing frequency and, unless `add_ons` or
        `discounts` are given, its add-ons and discounts; otherwise the subscription is monthly
        (periods of 30 days). It bills in its merchant account's currency (default: the
        default account)."""
        start = created_at.date()
        plan = self.plans.get(plan_id)
        account = self.merchant_accounts.get(merchant_account_id or "") or self._default_account()
        add_ons = [dict(m) for m in (plan or {}).get("add_ons", [])] if add_ons is None else add_ons
        if discounts is None:
            discounts = [dict(m) for m in (plan or {}).get("discounts", [])]
        first_billing = start + timedelta(days=trial_days or 0)
        if plan is None:
            period_end, next_billing = start + timedelta(days=30), start + timedelta(days=31)
        else:
            months = int(plan["billing_frequency"])
            next_billing = add_months(first_billing, months)
            period_end = next_billing - timedelta(days=1)
        if trial_days:
            period_end, next_billing = first_billing - timedelta(days=1), first_billing
        subscription: dict[str, Any] = {
            "id": subscription_id,
            "plan_id": plan_id,
            "price": price,
            "balance": balance,
            "status": status,
            "payment_method_token": payment_method_token,
            "merchant_account_id": account["id"],
            "first_billing_date": first_billing,
            "billing_period_start_date": start,
            "billing_period_end_date": period_end,
            "next_billing_date": next_billing,
            "paid_through_date": None if trial_days else period_end,
            "next_billing_period_amount": period_amount(price, add_ons, discounts),
            "billing_day_of_month": first_billing.day,
            "current_billing_cycle": 0 if trial_days else 1,
            "number_of_billing_cycles": None,
            "never_expires": True,
            "trial_period": bool(trial_days),
            "trial_duration": trial_days,
            "trial_duration_unit": "day" if trial_days else None,
            "failure_count": failure_count,
            "days_past_due": days_past_due,
            "created_at": created_at,
            "updated_at": created_at,
            "add_ons": add_ons,
            "discounts": discounts,
            "status_history": [
                _subscription_event(
                    created_at, status, price, balance, plan_id, account["currency_iso_code"]
                )
            ],
            "transactions": [],
        }
        with self.lock:
            if subscription_id not in self.subscriptions:
                self._by_token.setdefault(payment_method_token, []).append(subscription_id)
            self.subscriptions[subscription_id] = subscription
        return subscription

    def _default_account(self) -> dict[str, Any]:
        accounts = self.merchant_accounts.values()
        return next((a for a in accounts if a.get("default")), next(iter(accounts)))

    def add_merchant_account(
        self, account_id: str, currency: str, *, default: bool = False
    ) -> dict[str, Any]:
        """A merchant account in `currency` (Braintree: one currency per account)."""
        account = merchant_account(account_id, currency, default=default)
        with self.lock:
            if default:
                for other in self.merchant_accounts.values():
                    other["default"] = False
            self.merchant_accounts[account_id] = account
        return account

    def add_modification(
        self, modification_id: str, amount: str, *, kind: str = "add_on", **fields: Any
    ) -> dict[str, Any]:
        """An add-on (`kind="add_on"`) or discount (`"discount"`) of the merchant's catalogue."""
        item = modification(modification_id, amount, kind=kind, **fields)
        with self.lock:
            (self.add_ons if kind == "add_on" else self.discounts)[modification_id] = item
        return item

    def add_plan(
        self,
        plan_id: str,
        price: str,
        *,
        billing_frequency: int = 1,
        currency_iso_code: str = "USD",
        trial_days: int | None = None,
        add_ons: Sequence[dict[str, Any]] = (),
        discounts: Sequence[dict[str, Any]] = (),
        number_of_billing_cycles: int | None = None,
        created_at: datetime = datetime(2024, 1, 1, tzinfo=UTC),
    ) -> dict[str, Any]:
        """A plan: `billing_frequency` months between charges, in `currency_iso_code`."""
        plan: dict[str, Any] = {
            "id": plan_id,
            "merchant_id": "test_merchant_id",
            "name": plan_id,
            "description": None,
            "price": price,
            "currency_iso_code": currency_iso_code,
            "billing_frequency": billing_frequency,
            "billing_day_of_month": None,
            "number_of_billing_cycles": number_of_billing_cycles,
            "trial_period": bool(trial_days),
            "trial_duration": trial_days,
            "trial_duration_unit": "day" if trial_days else None,
            "created_at": created_at,
            "updated_at": created_at,
            "add_ons": [dict(m, kind="add_on") for m in add_ons],
            "discounts": [dict(m, kind="discount") for m in discounts],
        }
        with self.lock:
            self.plans[plan_id] = plan
        return plan

    def seed_catalogue(self) -> None:
        """A merchant selling in dollars and euros: accounts `main` (USD, default) and
        `acme_eur` (EUR); plans `solo-monthly` (19 USD), `team-monthly` (49 USD, with a `seat`
        add-on of 10), `pro-monthly` (49 USD), `pro-annual` (1,200 EUR a year, a 14-day
        trial); the catalogue's `seat` add-on and `launch` discount (5 off, three cycles)."""
        self.add_merchant_account("main", "USD", default=True)
        self.add_merchant_account("acme_eur", "EUR")
        seat = self.add_modification("seat", "10.00", kind="add_on")
        self.add_modification("launch", "5.00", kind="discount", number_of_billing_cycles=3)
        self.add_plan("solo-monthly", "19.00")
        self.add_plan("team-monthly", "49.00", add_ons=[seat])
        self.add_plan("pro-monthly", "49.00")
        self.add_plan(
            "pro-annual", "1200.00", billing_frequency=12, currency_iso_code="EUR", trial_days=14
        )

    def refund_transaction(
        self, refund_id: str, transaction_id: str, *, at: datetime, amount: str | None = None
    ) -> dict[str, Any]:
        """A credit of (part of) a sale, as Braintree makes a refund: a transaction of its own
        on the same account, linked both ways (`refunded_transaction_id`, `refund_ids`). It is
        not one of the subscription's charges."""
        with self.lock:
            sale = self.transactions[transaction_id]
            customer_id = (sale.get("customer") or {}).get("id") or ""
        refund = self.add_transaction(
            refund_id,
            customer_id,
            amount or sale["amount"],
            created_at=at,
            type="credit",
            currency_iso_code=sale["currency_iso_code"],
            merchant_account_id=sale.get("merchant_account_id"),
        )
        with self.lock:
            refund["refunded_transaction_id"] = transaction_id
            sale.setdefault("refund_ids", []).append(refund_id)
        return refund

    def add_dispute(
        self,
        dispute_id: str,
        transaction_id: str,
        *,
        received_date: date,
        status: str = "open",
        kind: str = "chargeback",
        reason: str = "fraud",
        amount: str | None = None,
    ) -> dict[str, Any]:
        """A dispute of a known transaction, opened on `received_date`."""
        with self.lock:
            transaction = self.transactions[transaction_id]
            disputed = amount or transaction["amount"]
            opened = datetime.combine(received_date, datetime.min.time(), tzinfo=UTC)
            dispute: dict[str, Any] = {
                "id": dispute_id,
                "amount": disputed,
                "amount_disputed": disputed,
                "amount_won": "0.00",
                "currency_iso_code": transaction.get("currency_iso_code", "USD"),
                "kind": kind,
                "reason": reason,
                "status": status,
                "received_date": received_date,
                "reply_by_date": received_date + timedelta(days=7),
                "created_at": opened,
                "updated_at": opened,
                "transaction": {
                    "id": transaction_id,
                    "amount": transaction["amount"],
                    "created_at": transaction["created_at"],
                },
                "status_history": [_dispute_event(opened, status)],
            }
            self.disputes[dispute_id] = dispute
        return dispute

    def set_transaction_status(self, transaction_id: str, status: str, at: datetime) -> None:
        """The transaction moves to `status` at `at` (e.g. `settled`, `settlement_declined`)."""
        with self.lock:
            transaction = self.transactions[transaction_id]
            transaction["status"] = status
            transaction["updated_at"] = at
            transaction["status_history"].append(
                {"timestamp": at, "status": status, "amount": transaction["amount"]}
            )

    def settle_transaction(self, transaction_id: str, at: datetime) -> None:
        self.set_transaction_status(transaction_id, "settled", at)

    def set_subscription_status(self, subscription_id: str, status: str, at: datetime) -> None:
        """The subscription moves to `status` (`Canceled`, `Past Due`, ...) at `at`."""
        with self.lock:
            subscription = self.subscriptions[subscription_id]
            subscription["status"] = status
            subscription["updated_at"] = at
            if status == "Past Due":
                subscription["failure_count"] = int(subscription["failure_count"]) + 1
                subscription["days_past_due"] = subscription.get("days_past_due") or 1
            subscription["status_history"].append(
                _subscription_event(
                    at,
                    status,
                    subscription["price"],
                    subscription["balance"],
                    subscription["plan_id"],
                    self.merchant_accounts[subscription["merchant_account_id"]][
                        "currency_iso_code"
                    ],
                )
            )

    def cancel_subscription(self, subscription_id: str, at: datetime) -> None:
        self.set_subscription_status(subscription_id, "Canceled", at)

    def set_dispute_status(self, dispute_id: str, status: str, at: datetime) -> None:
        """The dispute moves to `status` (`won`, `lost`, ...), effective on `at`'s day."""
        with self.lock:
            dispute = self.disputes[dispute_id]
            dispute["status"] = status
            dispute["updated_at"] = at
            if status == "won":
                dispute["amount_won"] = dispute["amount_disputed"]
            dispute["status_history"].append(_dispute_event(at, status))

    def seed_account(
        self,
        customers: int,
        subscriptions: int,
        transactions: int,
        *,
        start: datetime,
        days: int = 365,
        seed: int = 7,
    ) -> None:
        """A merchant account: `customers` people with a card each, `subscriptions` spread
        over them (every customer has at least one when there are enough), and `transactions`
        charges of those subscriptions spread over `days` from `start`, settled a day after
        they were made when that day has passed by `start + days`. Ids are predictable:
        `cus_00001`, `tok_00001`, `sub_00001`, `txn_000001`."""
        rng = random.Random(seed)
        end = start + timedelta(days=days)
        for n in range(1, customers + 1):
            self.add_customer(
                f"cus_{n:05d}",
                email=f"payer{n}@example.com",
                first_name=f"Payer{n}",
                last_name="Example",
                token=f"tok_{n:05d}",
            )
        statuses = ["Active"] * 85 + ["Canceled"] * 8 + ["Past Due"] * 4 + ["Expired"] * 2
        statuses.append("Pending")
        for n in range(1, subscriptions + 1):
            owner = (n - 1) % max(customers, 1) + 1
            created = start + timedelta(seconds=rng.randrange(days * 86400 // 2))
            status = rng.choice(statuses)
            self.add_subscription(
                f"sub_{n:05d}",
                f"tok_{owner:05d}",
                plan_id=rng.choice(["pro-monthly", "team-monthly", "solo-monthly"]),
                price=rng.choice(["19.00", "49.00", "99.00"]),
                created_at=created,
                status=status,
                failure_count=1 if status == "Past Due" else 0,
                days_past_due=3 if status == "Past Due" else None,
            )
        for n in range(1, transactions + 1):
            sub_n = (n - 1) % max(subscriptions, 1) + 1
            subscription = self.subscriptions.get(f"sub_{sub_n:05d}")
            owner = (sub_n - 1) % max(customers, 1) + 1
            created = start + timedelta(seconds=rng.randrange(days * 86400))
            settled = created + timedelta(days=1) <= end
            self.add_transaction(
                f"txn_{n:06d}",
                f"cus_{owner:05d}",
                subscription["price"] if subscription else "49.00",
                created_at=created,
                status="settled" if settled else "submitted_for_settlement",
                subscription_id=subscription["id"] if subscription else None,
            )
            if settled:
                # The settlement came a day later than the submission.
                self.transactions[f"txn_{n:06d}"]["status_history"][-1]["timestamp"] = (
                    created + timedelta(days=1)
                )
                self.transactions[f"txn_{n:06d}"]["updated_at"] = created + timedelta(days=1)


def _subscription_event(
    at: datetime, status: str, price: str, balance: str, plan_id: str, currency: str = "USD"
) -> dict[str, Any]:
    return {
        "timestamp": at,
        "status": status,
        "price": price,
        "balance": balance,
        "plan_id": plan_id,
        "currency_iso_code": currency,
        "subscription_source": "api",
    }


def _dispute_event(at: datetime, status: str) -> dict[str, Any]:
    return {"status": status, "timestamp": at, "effective_date": at.date()}


def _handler(data: BraintreeData) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: the SDK pools connections
        # Headers and body go out as two writes; without TCP_NODELAY the body waits for the
        # client's delayed ACK (~40 ms a call on loopback).
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if data.latency_seconds:
                time.sleep(data.latency_seconds)
            if data.authorized(self.headers.get("Authorization")):
                status, text = data.answer(self.command, self.path, body)
            else:
                status, text = 401, ""
            payload = text.encode()
            self.send_response(status)
            # Braintree names the charset; without it `requests` guesses it over the whole body.
            self.send_header("Content-Type", "application/xml; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_PUT = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one line per call would drown the run's own output

    return Handler


def sdk_gateway(
    port: int,
    credentials: tuple[str, str] = ("test_public_key", "test_private_key"),
    timeout: float = 10.0,
) -> braintree.BraintreeGateway:
    """An SDK gateway that talks to the stand-in on `port` (the SDK's development environment
    reads GATEWAY_PORT once, at import; this builds the same environment for any port)."""
    environment = braintree.Environment(
        "development", "127.0.0.1", str(port), "http://auth.venmo.dev:9292", False, None
    )
    config = braintree.Configuration(
        environment=environment,
        merchant_id="test_merchant_id",
        public_key=credentials[0],
        private_key=credentials[1],
        timeout=timeout,
    )
    return braintree.BraintreeGateway(config)


@contextmanager
def braintree_api(data: BraintreeData, port: int = 0) -> Iterator[int]:
    """Serve `data` on a loopback port (by default a free one) in a background thread; yields
    the port."""
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(data))
    server.daemon_threads = True
    # A short poll: shutdown() waits for the serving loop to look (0.5 s by default).
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="braintree-api", daemon=True
    )
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


__all__ = [
    "ROUTES",
    "BraintreeData",
    "add_months",
    "braintree_api",
    "merchant_account",
    "modification",
    "read",
    "sdk_gateway",
    "subscription_xml",
    "to_xml",
]
