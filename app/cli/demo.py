"""`attio-bridge demo`: what the bridge does, in one minute, against the development server.

It sends one signed delivery per provider to a server started by `./scripts/dev` (whose secrets
file it reads) and prints what each one wrote: a Zoho item becomes a `services` record; a
Braintree charge of a new customer (created first in the Braintree stand-in through the SDK, as
a checkout would) becomes a person, a subscription and a payment; an edit of that person in the
Attio sandbox, announced by an Attio webhook, reaches the customer in the Braintree stand-in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import braintree
import httpx
import typer
from braintree.util.crypto import Crypto

from app.cli.devsetup import DEFAULT_SECRETS_FILE, DEV_URL, GATEWAY_PORT, read_secrets_file
from app.schema import (
    PAYMENT_KEY,
    PAYMENTS,
    PEOPLE,
    PERSON_KEY,
    SERVICE_KEY,
    SERVICES,
    SUBSCRIPTION_KEY,
    SUBSCRIPTIONS,
)
from app.signatures import (
    ATTIO_SIGNATURE_HEADER,
    BT_PAYLOAD,
    BT_SIGNATURE,
    ZOHO_SIGNATURE_HEADER,
    zoho_signing_message,
)

DEFAULT_URL = "http://127.0.0.1:8000"
SANDBOX = "/sandbox"
# One demo service whose SKU is the demo plan's id, so each subscription links to it.
ZOHO_ITEM_ID = "4815000000042001"
PLAN_ID = "DEMO-PRO-MONTHLY"
PRICE = "49.00"
NEW_PHONE = "+44 20 7946 0958"
TIMEOUT_SECONDS = 30.0


class DemoError(Exception):
    """A step that could not be done; the message says what to do."""


def _hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _charge_xml(customer: dict[str, str], subscription_id: str, transaction_id: str) -> bytes:
    """A `subscription_charged_successfully` notification as Braintree sends it: the
    subscription with its new transaction, which names the customer."""
    now = datetime.now(UTC)
    stamp, day = f"{now:%Y-%m-%dT%H:%M:%SZ}", f"{now:%Y-%m-%d}"
    people = "".join(
        f"<{tag.replace('_', '-')}>{escape(value)}</{tag.replace('_', '-')}>"
        for tag, value in customer.items()
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<notification>
  <kind>subscription_charged_successfully</kind>
  <timestamp type="datetime">{stamp}</timestamp>
  <subject><subscription>
    <id>{subscription_id}</id><status>Active</status><plan-id>{PLAN_ID}</plan-id>
    <price>{PRICE}</price><balance>0.00</balance>
    <first-billing-date type="date">{day}</first-billing-date>
    <billing-period-start-date type="date">{day}</billing-period-start-date>
    <current-billing-cycle type="integer">1</current-billing-cycle>
    <failure-count type="integer">0</failure-count>
    <created-at type="datetime">{stamp}</created-at>
    <updated-at type="datetime">{stamp}</updated-at>
    <transactions type="array"><transaction>
      <id>{transaction_id}</id><status>submitted_for_settlement</status><type>sale</type>
      <amount>{PRICE}</amount><currency-iso-code>USD</currency-iso-code>
      <plan-id>{PLAN_ID}</plan-id><subscription-id>{subscription_id}</subscription-id>
      <recurring type="boolean">true</recurring>
      <created-at type="datetime">{stamp}</created-at>
      <updated-at type="datetime">{stamp}</updated-at>
      <customer>{people}</customer>
    </transaction></transactions>
  </subscription></subject>
</notification>
""".encode()


def _wrapped_base64(data: bytes, width: int = 60) -> str:
    """Base64 in lines of 60 characters, each ending in a newline, as Braintree sends it."""
    flat = base64.b64encode(data).decode()
    return "".join(flat[i : i + width] + "\n" for i in range(0, len(flat), width))


def _shown(values: dict[str, Any], labels: dict[str, str]) -> str:
    """`slug=value` for each value a record holds; references by the label of their record."""
    parts = []
    for slug, value in values.items():
        if value in (None, [], ""):
            continue
        items = value if isinstance(value, list) else [value]
        parts.append(f"{slug}={', '.join(labels.get(str(v), str(v)) for v in items)}")
    return "  ".join(parts)


class Demo:
    def __init__(
        self, http: httpx.Client, found: dict[str, str], echo: Callable[[str], None]
    ) -> None:
        self._http = http
        self._secrets = found
        self._echo = echo
        self._tag = secrets.token_hex(3)  # a new customer on every run
        self.customer_id = f"demo_{self._tag}"
        self._labels: dict[str, str] = {}  # record id -> what to call it in references

    # -- the three deliveries ---------------------------------------------------------------

    def run(self) -> None:
        self._check_ready()
        self.zoho_item()
        person_id = self.braintree_charge()
        self.attio_edit(person_id)

    def zoho_item(self) -> None:
        item = {
            "item_id": ZOHO_ITEM_ID,
            "name": "Pro plan (demo)",
            "status": "active",
            "rate": float(PRICE),
            "sku": PLAN_ID,
            "product_type": "service",
            "unit": "month",
            "last_modified_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        body = json.dumps({"item": item}).encode()
        secret = self._secret("ZOHO_WEBHOOK_SECRET")
        signature = _hmac_hex(secret, zoho_signing_message("", body, "application/json"))
        headers = {"Content-Type": "application/json", ZOHO_SIGNATURE_HEADER: signature}
        self._echo(f"1. Zoho: item {ZOHO_ITEM_ID} ({item['name']}, SKU {PLAN_ID})")
        self._deliver("/webhooks/zoho", body, headers)
        self._show(SERVICES, SERVICE_KEY, ZOHO_ITEM_ID)

    def braintree_charge(self) -> str:
        gateway = self._braintree_gateway()
        customer = {
            "id": self.customer_id,
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": f"ada.{self._tag}@example.com",
            "company": "Analytical Engines Ltd",
        }
        created = gateway.customer.create(customer)
        if not created.is_success:
            raise DemoError(f"the Braintree stand-in refused the customer: {created.message}")
        subscription_id, transaction_id = f"sub_{self._tag}", f"txn_{self._tag}"
        payload = _wrapped_base64(_charge_xml(customer, subscription_id, transaction_id))
        private_key = self._secret("BRAINTREE_PRIVATE_KEY")
        public_key = self._secret("BRAINTREE_PUBLIC_KEY")
        signature = f"{public_key}|{Crypto.sha1_hmac_hash(private_key, payload)}"
        body = urlencode({BT_SIGNATURE: signature, BT_PAYLOAD: payload}).encode()
        self._echo(
            f"2. Braintree: customer {self.customer_id} created in the stand-in; "
            f"subscription {subscription_id} charged {PRICE} USD"
        )
        self._deliver(
            "/webhooks/braintree", body, {"Content-Type": "application/x-www-form-urlencoded"}
        )
        person = self._show(PEOPLE, PERSON_KEY, customer["email"])
        self._show(SUBSCRIPTIONS, SUBSCRIPTION_KEY, subscription_id)
        self._show(PAYMENTS, PAYMENT_KEY, transaction_id, optional=True)
        return str(person["record_id"])

    def attio_edit(self, person_id: str) -> None:
        self._echo(f"3. Attio: a teammate sets the person's phone to {NEW_PHONE}")
        values = {"phone_numbers": [{"original_phone_number": NEW_PHONE}]}
        edited = self._sandbox(
            "PATCH", f"/_sandbox/objects/{PEOPLE}/records/{person_id}", {"data": {"values": values}}
        )
        people = self._sandbox("GET", f"/v2/objects/{PEOPLE}")["data"]["id"]
        attribute = self._sandbox("GET", f"/v2/objects/{PEOPLE}/attributes/phone_numbers")
        phone = (edited["data"]["values"].get("phone_numbers") or [{}])[0]
        actor = phone.get("created_by_actor") or {"type": "workspace-member", "id": None}
        event = {
            "event_type": "record.updated",
            "id": {
                "workspace_id": people["workspace_id"],
                "object_id": people["object_id"],
                "record_id": person_id,
                "attribute_id": attribute["data"]["id"]["attribute_id"],
            },
            "actor": actor,
        }
        body = json.dumps({"webhook_id": f"demo-{self._tag}", "events": [event]}).encode()
        signature = _hmac_hex(self._secret("ATTIO_WEBHOOK_SECRET"), body)
        headers = {"Content-Type": "application/json", ATTIO_SIGNATURE_HEADER: signature}
        gateway = self._braintree_gateway()
        before = getattr(gateway.customer.find(self.customer_id), "phone", None)
        self._deliver("/webhooks/attio", body, headers)
        customer = gateway.customer.find(self.customer_id)
        after = getattr(customer, "phone", None)
        self._echo(
            f"   Braintree stand-in, customer {self.customer_id}: phone={after} "
            f"(was {before or 'empty'})  name={customer.first_name} {customer.last_name}  "
            f"email={customer.email}"
        )

    # -- helpers ----------------------------------------------------------------------------

    def _secret(self, name: str) -> str:
        value = self._secrets.get(name)
        if not value:
            raise DemoError(f"the secrets file has no {name}: start the server with ./scripts/dev")
        return value

    def _braintree_gateway(self) -> braintree.BraintreeGateway:
        port = self._secrets.get(GATEWAY_PORT)
        if not port:
            raise DemoError(
                "the development server uses your own Braintree credentials; the demo needs "
                "the Braintree stand-in (unset BRAINTREE_* and restart ./scripts/dev)"
            )
        environment = braintree.Environment(
            "development", "127.0.0.1", port, "http://auth.venmo.dev:9292", False, None
        )
        config = braintree.Configuration(
            environment=environment,
            merchant_id=self._secret("BRAINTREE_MERCHANT_ID"),
            public_key=self._secret("BRAINTREE_PUBLIC_KEY"),
            private_key=self._secret("BRAINTREE_PRIVATE_KEY"),
            timeout=TIMEOUT_SECONDS,
        )
        return braintree.BraintreeGateway(config)

    def _check_ready(self) -> None:
        ready = self._http.get("/readyz")
        if ready.status_code != 200:
            raise DemoError(f"the server is not ready yet (/readyz: {ready.text}); try again")
        if self._http.get(f"{SANDBOX}/_sandbox/faults").status_code != 200:
            raise DemoError(
                "the server does not use the Attio sandbox (ATTIO_API_KEY is set); the demo "
                "writes only to the sandbox"
            )

    def _deliver(self, path: str, body: bytes, headers: dict[str, str]) -> None:
        answer = self._http.post(path, content=body, headers=headers)
        self._echo(f"   POST {path} -> {answer.status_code} {answer.text}")
        if answer.status_code != 200:
            raise DemoError(f"{path} answered {answer.status_code}")

    def _sandbox(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        answer = self._http.request(
            method, f"{SANDBOX}{path}", json=body, headers={"Authorization": "Bearer demo"}
        )
        if answer.status_code != 200:
            raise DemoError(f"the Attio sandbox answered {answer.status_code} to {path}")
        result: dict[str, Any] = answer.json()
        return result

    def _show(self, obj: str, key: str, value: str, *, optional: bool = False) -> dict[str, Any]:
        answer = self._http.get(f"{SANDBOX}/_sandbox/objects/{obj}/records")
        if answer.status_code == 404 and optional:
            self._echo(f"   {obj}: none (ATTIO_PAYMENTS_OBJECT=false: the subscription keeps it)")
            return {}
        answer.raise_for_status()
        for record in answer.json()["data"]:
            held = record["values"].get(key)
            if held == value or (isinstance(held, list) and value in held):
                self._echo(f"   {obj}: {_shown(record['values'], self._labels)}")
                label = record["values"].get("name") or value
                self._labels[record["record_id"]] = f"{label} ({obj})"
                return dict(record)
        raise DemoError(f"no {obj} record with {key}={value} in the Attio sandbox")


def demo(
    url: Annotated[
        str | None,
        typer.Option(help="The development server (default: the one ./scripts/dev started)."),
    ] = None,
    secrets_file: Annotated[
        Path,
        typer.Option(
            envvar="BRIDGE_DEV_SECRETS_FILE", help="The secrets ./scripts/dev wrote at start-up."
        ),
    ] = DEFAULT_SECRETS_FILE,
) -> None:
    """Send a signed delivery per provider to the dev server; show what each one wrote.

    Zoho: an item. Braintree: a charge of a new customer. Attio: an edit of that person,
    which the bridge sends on to the customer in the Braintree stand-in.
    """
    if not secrets_file.is_file():
        typer.secho(
            f"error: no development secrets at {secrets_file}: start the server with "
            "./scripts/dev first",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(1)
    found = read_secrets_file(secrets_file)
    base_url = (url or found.get(DEV_URL) or DEFAULT_URL).rstrip("/")
    typer.echo(f"Demo against {base_url}")
    try:
        with httpx.Client(base_url=base_url, timeout=TIMEOUT_SECONDS) as http:
            Demo(http, found, typer.echo).run()
    except httpx.TransportError as exc:
        message = f"cannot reach {base_url} ({exc}): is ./scripts/dev running?"
    except DemoError as exc:
        message = str(exc)
    else:
        return
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)
