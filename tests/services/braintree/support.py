"""Braintree test tools: parsed notifications, signed posts, and Braintree's API faked at the SDK.

Notifications are always signed by the SDK's own code (`testkit.signing`) and parsed by the SDK,
so the service sees exactly the objects production sees.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import braintree
import httpx
from braintree.util.http import Http

from app.clients.attio.values import record_id
from app.metrics import REGISTRY
from braintree_sandbox.api import CATALOGUE, SEARCHES
from testkit.braintree_api import ROUTES, BraintreeData, read
from testkit.signing import (
    BRAINTREE_FIXTURES,
    FORM_CONTENT_TYPE,
    braintree_form_body,
    braintree_gateway,
    braintree_sample,
    braintree_signed_xml,
)
from tests.e2e.conftest import Harness

FORM = {"Content-Type": FORM_CONTENT_TYPE}

# Every subscription kind the bridge handles (the SDK's names).
SUBSCRIPTION_KINDS = [
    "subscription_canceled",
    "subscription_charged_successfully",
    "subscription_charged_unsuccessfully",
    "subscription_expired",
    "subscription_trial_ended",
    "subscription_went_active",
    "subscription_went_past_due",
    "subscription_billing_skipped",
]


def fixture_xml(name: str, **replace: str) -> bytes:
    """A fixture's XML with literal text replaced (`timestamp=…` replaces the notification's)."""
    xml = (BRAINTREE_FIXTURES / f"{name}.xml").read_text()
    if "timestamp" in replace:
        when = replace.pop("timestamp")
        xml = re.sub(
            r'(<notification>\s*<kind>[^<]*</kind>\s*<timestamp type="datetime">)[^<]*',
            rf"\g<1>{when}",
            xml,
            count=1,
        )
    for old, new in replace.items():
        assert old in xml, f"{old!r} is not in {name}.xml"
        xml = xml.replace(old, new)
    return xml.encode()


def signed_fixture(name: str, **replace: str) -> tuple[str, bytes]:
    return braintree_signed_xml(fixture_xml(name, **replace))


def parse(signed: tuple[str, bytes]) -> braintree.WebhookNotification:
    return braintree_gateway().webhook_notification.parse(*signed)


def sample(kind: str, object_id: str = "obj_1") -> braintree.WebhookNotification:
    return parse(braintree_sample(kind, object_id))


def fixture(name: str, **replace: str) -> braintree.WebhookNotification:
    return parse(signed_fixture(name, **replace))


def post(harness: Harness, signed: tuple[str, bytes]) -> httpx.Response:
    return harness.client.post(
        "/webhooks/braintree", content=braintree_form_body(*signed), headers=FORM
    )


def post_fixture(harness: Harness, name: str, **replace: str) -> httpx.Response:
    response = post(harness, signed_fixture(name, **replace))
    assert response.status_code == 200, response.text
    return response


def post_sample(harness: Harness, kind: str, object_id: str = "obj_1") -> httpx.Response:
    response = post(harness, braintree_sample(kind, object_id))
    assert response.status_code == 200, response.text
    return response


def by_key(harness: Harness, obj: str, key: str) -> dict[str, dict[str, Any]]:
    """An object's records as plain values, keyed by their unique attribute."""
    return {r["values"][key]: r["values"] for r in harness.records(obj)}


def snapshot(harness: Harness) -> dict[str, list[dict[str, Any]]]:
    """Every record the service writes, ids and values, in a comparable form."""
    objects = ("people", "services", "subscriptions", "payments")
    return {obj: sorted(harness.records(obj), key=lambda r: r["record_id"]) for obj in objects}


def assert_has(values: dict[str, Any], expected: dict[str, Any]) -> None:
    """`values` holds every attribute of `expected` with that value (others may differ)."""
    assert {slug: values.get(slug) for slug in expected} == expected


def attio_calls(harness: Harness, kind: str) -> dict[str, int]:
    """Attio calls of one kind (read / write) per object, without the ledger's own lookups."""
    counted: dict[str, int] = {}
    for entry in harness.sandbox.requests.select(kind=kind):  # type: ignore[arg-type]
        obj = entry.path.split("/")[3]  # /v2/objects/<object>/...
        if obj != "bridge_events":
            counted[obj] = counted.get(obj, 0) + 1
    return counted


def stale_events(kind: str) -> float:
    value = REGISTRY.get_sample_value(
        "bridge_stale_events_total", {"source": "braintree", "event_type": kind}
    )
    return value or 0.0


def _assert_record(harness: Harness, obj: str, key: str, values: dict[str, Any]) -> str:
    async def write() -> str:
        async with harness.attio_client() as attio:
            return record_id(await attio.assert_record(obj, matching_attribute=key, values=values))

    written = asyncio.run(write())
    harness.sandbox.requests.clear()  # setup is not what a test counts
    return written


def add_service(harness: Harness, sku: str, zoho_item_id: str = "zi_1") -> str:
    values = {"zoho_item_id": zoho_item_id, "name": f"Plan {sku}", "sku": sku}
    return _assert_record(harness, "services", "zoho_item_id", values)


def add_person(harness: Harness, email: str, customer_id: str) -> str:
    values = {"email_addresses": [email], "braintree_customer_id": customer_id}
    return _assert_record(harness, "people", "email_addresses", values)


# -- Braintree's API, faked where the SDK sends HTTP --------------------------------------


@dataclass
class FakeBraintreeApi:
    """Answers the SDK's GETs with Braintree-shaped XML; anything unknown is Braintree's 404.

    Replaces `Http.http_do`, the SDK's one network call, so the SDK's own request building,
    XML parsing and error mapping all run. Writes to Braintree fail the test.
    """

    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    transactions: dict[str, dict[str, Any]] = field(default_factory=dict)
    payment_methods: dict[str, str] = field(default_factory=dict)  # token → customer id
    calls: list[str] = field(default_factory=list)
    # Searches, plans and merchant accounts: the stand-in's, empty unless a test seeds them.
    catalogue: BraintreeData = field(default_factory=BraintreeData)

    def add_customer(self, customer_id: str, **fields: str) -> None:
        self.customers[customer_id] = {"id": customer_id, **fields}

    def add_transaction(self, transaction_id: str, customer: dict[str, str]) -> None:
        self.transactions[transaction_id] = {
            "id": transaction_id,
            "amount": "49.00",
            "status": "settled",
            "customer": customer,
        }

    def http_do(self, verb: str, path: str, _headers: Any, body: Any) -> list[Any]:
        for what, pattern in SEARCHES:  # reads the SDK sends as POSTs
            if verb == "POST" and pattern.search(path):
                self.calls.append(what)
                raw = body.encode() if isinstance(body, str) else body or b""
                return list(self.catalogue.answer(verb, path, raw))
        assert verb == "GET", f"the bridge must not change Braintree data ({verb} {path})"
        for what, pattern in ROUTES:
            if what in CATALOGUE and pattern.search(urlsplit(path).path):
                # Plans and merchant accounts: read once per process (cached), not counted.
                return list(self.catalogue.answer(verb, path, b""))
            if match := pattern.search(path):
                self.calls.append(f"{what}:{match[1]}")
                return self._answer(what, match[1])
        raise AssertionError(f"unexpected Braintree API call: GET {path}")

    def _answer(self, what: str, key: str) -> list[Any]:
        return list(read(what, key, self.customers, self.transactions, self.payment_methods))

    def install(self, monkeypatch: Any) -> None:
        fake = self

        def http_do(_http: Http, verb: str, path: str, headers: Any, body: Any) -> list[Any]:
            return fake.http_do(verb, path, headers, body)

        monkeypatch.setattr(Http, "http_do", http_do)
