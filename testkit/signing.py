"""Sign requests the way Attio, Zoho and Braintree do, for the tests and the benchmarks.

The Attio and Zoho signers are written from the providers' documented rules, independently of
`app.signatures`, so tests that use them cross-check the verifiers. Braintree requests are
always produced by the official SDK's own signing code (`WebhookTestingGateway` and the
`Crypto` helper it uses), never by a hand-written HMAC.

    from testkit.signing import attio_signed_headers, braintree_sample_form, zoho_signed_headers
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlencode

import braintree
from braintree.util.crypto import Crypto

FIXTURES = Path(__file__).parent / "fixtures"
BRAINTREE_FIXTURES = FIXTURES / "braintree"

# Made-up credentials; nothing here is real.
ATTIO_TEST_SECRET = "attio-test-webhook-secret-3f9c1a"
ZOHO_TEST_SECRET = "ZohoTestSecret1234567890abcdef"
BRAINTREE_TEST_CREDENTIALS: dict[str, str] = {
    "environment": "sandbox",
    "merchant_id": "test_merchant_id",
    "public_key": "test_public_key",
    "private_key": "test_private_key_0123456789abcdef",
}

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
JSON_CONTENT_TYPE = "application/json"


# --- Attio --------------------------------------------------------------------------------


def attio_signature(body: bytes, secret: str = ATTIO_TEST_SECRET) -> str:
    """Lowercase hex HMAC-SHA256 of the raw body, key = secret as UTF-8 (no timestamp)."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def attio_signed_headers(
    body: bytes,
    secret: str = ATTIO_TEST_SECRET,
    *,
    legacy_header_too: bool = True,
) -> dict[str, str]:
    """Headers of a signed Attio delivery (Attio sends the legacy header with the same value)."""
    signature = attio_signature(body, secret)
    headers = {"Content-Type": JSON_CONTENT_TYPE, "Attio-Signature": signature}
    if legacy_header_too:
        headers["X-Attio-Signature"] = signature
    return headers


# --- Zoho ---------------------------------------------------------------------------------


def zoho_signature(
    body: bytes,
    secret: str = ZOHO_TEST_SECRET,
    *,
    raw_query: str = "",
    content_type: str = JSON_CONTENT_TYPE,
    encoding: Literal["hex", "base64"] = "hex",
) -> str:
    """`X-Zoho-Webhook-Signature` for a request: sorted decoded query (+ form) pairs + JSON body."""
    pairs = parse_qsl(raw_query, keep_blank_values=True)
    if content_type.split(";")[0].strip().lower() == FORM_CONTENT_TYPE:
        pairs += parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        appended = b""
    else:
        appended = body
    message = "".join(k + v for k, v in sorted(pairs)).encode("utf-8") + appended
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    return digest.hex() if encoding == "hex" else base64.b64encode(digest).decode("ascii")


def zoho_signed_headers(
    body: bytes,
    secret: str = ZOHO_TEST_SECRET,
    *,
    raw_query: str = "",
    content_type: str = JSON_CONTENT_TYPE,
) -> dict[str, str]:
    signature = zoho_signature(body, secret, raw_query=raw_query, content_type=content_type)
    return {"Content-Type": content_type, "X-Zoho-Webhook-Signature": signature}


# --- Braintree ----------------------------------------------------------------------------


def braintree_gateway(
    *, public_key: str | None = None, private_key: str | None = None
) -> braintree.BraintreeGateway:
    """An offline SDK gateway with the test credentials (building one makes no network call)."""
    creds = BRAINTREE_TEST_CREDENTIALS
    return braintree.BraintreeGateway(
        braintree.Configuration(
            braintree.Environment.parse_environment(creds["environment"]),
            merchant_id=creds["merchant_id"],
            public_key=public_key or creds["public_key"],
            private_key=private_key or creds["private_key"],
        )
    )


def braintree_sample(
    kind: str,
    object_id: str = "test_object_id",
    *,
    public_key: str | None = None,
    private_key: str | None = None,
    source_merchant_id: str | None = None,
) -> tuple[str, bytes]:
    """`(bt_signature, bt_payload)` from the SDK's `sample_notification`."""
    gateway = braintree_gateway(public_key=public_key, private_key=private_key)
    sample = gateway.webhook_testing.sample_notification(kind, object_id, source_merchant_id)
    return sample["bt_signature"], sample["bt_payload"]


def braintree_sign(
    payload: bytes, *, public_key: str | None = None, private_key: str | None = None
) -> str:
    """A `bt_signature` for exact payload bytes, via the SDK helper its test gateway uses."""
    public = public_key or BRAINTREE_TEST_CREDENTIALS["public_key"]
    private = private_key or BRAINTREE_TEST_CREDENTIALS["private_key"]
    return f"{public}|{Crypto.sha1_hmac_hash(private, payload)}"


def wrap_base64(data: bytes, line_length: int = 76) -> bytes:
    """Base64 with a newline after every `line_length` characters and at the end.

    76 is what the Python SDK's samples use; real deliveries are wrapped at 60 (Ruby style).
    """
    flat = base64.b64encode(data)
    lines = [flat[i : i + line_length] for i in range(0, len(flat), line_length)]
    return b"".join(line + b"\n" for line in lines)


def braintree_signed_xml(
    xml: bytes,
    *,
    line_length: int = 60,
    public_key: str | None = None,
    private_key: str | None = None,
) -> tuple[str, bytes]:
    """`(bt_signature, bt_payload)` for your own notification XML, wrapped like real deliveries."""
    payload = wrap_base64(xml, line_length)
    return braintree_sign(payload, public_key=public_key, private_key=private_key), payload


def braintree_fixture(name: str, **keys: str) -> tuple[str, bytes]:
    """A signed notification from `testkit/fixtures/braintree/<name>.xml`."""
    xml = (BRAINTREE_FIXTURES / f"{name}.xml").read_bytes()
    return braintree_signed_xml(xml, **keys)


def braintree_form_body(signature: str, payload: bytes | str) -> bytes:
    """The form-urlencoded POST body Braintree sends ("+" → %2B, newline → %0A)."""
    text = payload.decode("ascii") if isinstance(payload, bytes) else payload
    return urlencode({"bt_signature": signature, "bt_payload": text}).encode("ascii")


def braintree_sample_form(kind: str, object_id: str = "test_object_id", **keys: str) -> bytes:
    """A complete signed Braintree request body for `kind`, from the SDK's samples."""
    return braintree_form_body(*braintree_sample(kind, object_id, **keys))
