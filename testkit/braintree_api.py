"""A stand-in for the few Braintree API calls the bridge makes, served on loopback.

The bridge asks Braintree who pays when a notification does not say (a subscription's payment
method, a disputed transaction) and syncs CRM edits of paying people to their customer. A
benchmark or reliability run must not reach Braintree, so the bridge runs with
`BRAINTREE_ENVIRONMENT=development`, which points the official SDK at
`http://localhost:$GATEWAY_PORT`, and this server answers there with Braintree-shaped XML.
The SDK's own request building, XML parsing and error mapping all run; only the far end is ours.
"""

from __future__ import annotations

import base64
import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from braintree.util.xml_util import XmlUtil

# The API paths the bridge's SDK calls reach, by what they fetch.
ROUTES = (
    ("customer", re.compile(r"/customers/([^/?]+)$")),
    ("transaction", re.compile(r"/transactions/([^/?]+)$")),
    ("payment_method", re.compile(r"/payment_methods/any/([^/?]+)$")),
)


def to_xml(tag: str, fields: dict[str, Any]) -> str:
    """Braintree's API XML: dashed element names, nested dicts as nested elements."""

    def element(name: str, value: Any) -> str:
        name = name.replace("_", "-")
        if isinstance(value, dict):
            return to_xml(name, value)
        return f"<{name}>{escape(str(value))}</{name}>"

    return f"<{tag}>{''.join(element(k, v) for k, v in fields.items())}</{tag}>"


def read(
    what: str,
    key: str,
    customers: dict[str, dict[str, Any]],
    transactions: dict[str, dict[str, Any]],
    payment_methods: dict[str, str],
) -> tuple[int, str]:
    """Braintree's answer to a GET of one of `ROUTES`: the object's XML, or its 404."""
    if what == "customer" and key in customers:
        return 200, to_xml("customer", customers[key])
    if what == "transaction" and key in transactions:
        return 200, to_xml("transaction", transactions[key])
    if what == "payment_method" and key in payment_methods:
        return 200, to_xml("credit-card", {"token": key, "customer_id": payment_methods[key]})
    return 404, ""


@dataclass
class BraintreeData:
    """What the stand-in knows: customers, transactions (by id) and payment methods (token)."""

    customers: dict[str, dict[str, str]] = field(default_factory=dict)
    transactions: dict[str, dict[str, Any]] = field(default_factory=dict)
    payment_methods: dict[str, str] = field(default_factory=dict)  # token -> customer id
    calls: Counter[str] = field(default_factory=Counter)
    updates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # (public key, private key) the merchant has; None accepts any. Braintree answers other
    # keys 401 with an empty body, which the SDK raises as AuthenticationError.
    credentials: tuple[str, str] | None = None

    def authorized(self, authorization: str | None) -> bool:
        if self.credentials is None:
            return True
        expected = base64.b64encode(":".join(self.credentials).encode()).decode()
        return authorization == f"Basic {expected}"

    def answer(self, verb: str, path: str, body: bytes) -> tuple[int, str]:
        for what, pattern in ROUTES:
            if match := pattern.search(path):
                with self.lock:
                    self.calls[f"{verb} {what}"] += 1
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
            return 200, to_xml("customer", self.customers[key])
        if verb != "GET":
            return 404, ""
        return read(what, key, self.customers, self.transactions, self.payment_methods)


def _handler(data: BraintreeData) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: the SDK pools connections

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if data.authorized(self.headers.get("Authorization")):
                status, text = data.answer(self.command, self.path, body)
            else:
                status, text = 401, ""
            payload = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_PUT = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one line per call would drown the run's own output

    return Handler


@contextmanager
def braintree_api(data: BraintreeData) -> Iterator[int]:
    """Serve `data` on a free loopback port in a background thread; yields the port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(data))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="braintree-api", daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
