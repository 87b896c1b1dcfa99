from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from starlette.datastructures import Headers

from app.errors import BadRequestError, SignatureError
from app.signatures import (
    verify_zoho_crm_token,
    verify_zoho_signature,
    zoho_signature_from_headers,
    zoho_signing_message,
)
from testkit.signing import ZOHO_TEST_SECRET, zoho_signature, zoho_signed_headers

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

# Test vectors from the Zoho reference (§2.2).
V1_SECRET = "mysecretkey12"
V1_QUERY = "subscription_id=90343&name=basic"
V1_BODY = b'{"created_date":"2019-03-06","event_id":"5675"}'
V1_HEX = "ec0357bb87b946f9b88f3d80899810913dfbc310ada921e1d1e25575d5f63ee9"
V1_BASE64 = "7ANXu4e5Rvm4jz2AiZgQkT37wxCtqSHh0eJVddX2Puk="

V2_SECRET = "Abc123Def456Ghi7"
V2_BODY = (
    b'{"item":{"item_id":"2000000000101","name":"Onboarding workshop",'
    b'"rate":250.0,"status":"active"}}'
)
V2_HEX = "dd87bfea47fb5877c74e74ef512bbb0abc0a7ddd0213c0867653bf3012d5c6f2"
V2_BASE64 = "3Ye/6kf7WHfHTnTvUSu7CrwKfd0CE8CGdlO/MBLVxvI="


def _verify(
    body: bytes, raw_query: str, content_type: str | None, signature: str | None, secret: str | None
) -> None:
    verify_zoho_signature(
        body=body,
        raw_query=raw_query,
        content_type=content_type,
        signature=signature,
        secret=secret,
    )


# --- the documented vectors -----------------------------------------------------------------


def test_vector_one_signing_message() -> None:
    assert zoho_signing_message(V1_QUERY, V1_BODY, JSON) == (
        b'namebasicsubscription_id90343{"created_date":"2019-03-06","event_id":"5675"}'
    )


@pytest.mark.parametrize(
    ("signature", "secret", "raw_query", "body"),
    [
        (V1_HEX, V1_SECRET, V1_QUERY, V1_BODY),
        (V1_HEX.upper(), V1_SECRET, V1_QUERY, V1_BODY),
        (V1_BASE64, V1_SECRET, V1_QUERY, V1_BODY),
        (f" {V1_HEX}\t", V1_SECRET, V1_QUERY, V1_BODY),
        (V2_HEX, V2_SECRET, "", V2_BODY),
        (V2_HEX.upper(), V2_SECRET, "", V2_BODY),
        (V2_BASE64, V2_SECRET, "", V2_BODY),
    ],
    ids=[
        "v1-hex",
        "v1-upper-hex",
        "v1-base64",
        "v1-whitespace",
        "v2-hex",
        "v2-upper-hex",
        "v2-base64",
    ],
)
def test_documented_vectors_verify(
    signature: str, secret: str, raw_query: str, body: bytes
) -> None:
    _verify(body, raw_query, JSON, signature, secret)


def test_base64_vectors_are_the_same_digests() -> None:
    assert base64.b64decode(V1_BASE64) == bytes.fromhex(V1_HEX)
    assert base64.b64decode(V2_BASE64) == bytes.fromhex(V2_HEX)


def test_vector_two_signs_just_the_body() -> None:
    assert zoho_signing_message("", V2_BODY, JSON) == V2_BODY


# --- the signing message ----------------------------------------------------------------------


MESSAGES: list[tuple[str, str, bytes, str | None, bytes]] = [
    ("json-no-query", "", b'{"a":1}', JSON, b'{"a":1}'),
    ("json-charset", "b=2&a=1", b'{"a":1}', "application/json; charset=utf-8", b'a1b2{"a":1}'),
    ("json-keys-not-sorted", "", b'{"z":1,"a":2}', JSON, b'{"z":1,"a":2}'),
    ("ties-by-value", "k=2&k=1&a=z", b"", JSON, b"azk1k2"),
    ("blank-values", "b=&a", b"", JSON, b"ab"),
    ("blank-value-sorts-first", "k=x&k=", b"", JSON, b"kkx"),
    ("percent-decoded", "na%20me=J%C3%BCrgen%26co", b"", JSON, "na meJürgen&co".encode()),
    ("plus-is-space", "q=a+b", b"", JSON, b"qa b"),
    ("encoded-plus", "q=a%2Bb", b"", JSON, b"qa+b"),
    ("uppercase-sorts-before-lowercase", "b=1&B=2&a=3", b"", JSON, b"B2a3b1"),
    ("form-folded-not-appended", "token=abc", b"b=2&a=1", FORM, b"a1b2tokenabc"),
    (
        "form-charset-and-case",
        "",
        b"b=2&a=1",
        "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
        b"a1b2",
    ),
    ("form-and-query-tie", "x=2", b"x=1", FORM, b"x1x2"),
    ("form-decoded", "", b"name=Caf%C3%A9+Cr%C3%A8me&id=7", FORM, "id7nameCafé Crème".encode()),
    ("form-blank-values", "", b"a=&b=1&c", FORM, b"ab1c"),
    ("empty-form", "z=9", b"", FORM, b"z9"),
    ("text-body-appended", "a=1", b"raw text", "text/plain", b"a1raw text"),
    ("no-content-type-appended", "", b'{"a":1}', None, b'{"a":1}'),
    ("empty-content-type-appended", "", b'{"a":1}', "", b'{"a":1}'),
    ("empty-everything", "", b"", JSON, b""),
    ("utf8-json-body-unchanged", "", '{"n":"Zoë"}'.encode(), JSON, '{"n":"Zoë"}'.encode()),
]


@pytest.mark.parametrize(
    ("raw_query", "body", "content_type", "expected"),
    [case[1:] for case in MESSAGES],
    ids=[case[0] for case in MESSAGES],
)
def test_signing_message(
    raw_query: str, body: bytes, content_type: str | None, expected: bytes
) -> None:
    assert zoho_signing_message(raw_query, body, content_type) == expected


@pytest.mark.parametrize(
    ("raw_query", "body", "content_type"),
    [("a=%FF", b"", JSON), ("", b"a=%FF", FORM), ("", b"a=\xff", FORM)],
    ids=["query-escape", "form-escape", "form-raw-byte"],
)
def test_signing_message_refuses_invalid_utf8(
    raw_query: str, body: bytes, content_type: str
) -> None:
    with pytest.raises(ValueError):
        zoho_signing_message(raw_query, body, content_type)


def test_json_body_with_invalid_utf8_is_signed_as_bytes() -> None:
    body = b'{"a":"\xff"}'
    assert zoho_signing_message("", body, JSON) == body
    _verify(body, "", JSON, zoho_signature(body), ZOHO_TEST_SECRET)


# --- verification over generated requests -------------------------------------------------------

REQUESTS: list[tuple[str, str, bytes, str]] = [
    ("json", "", V2_BODY, JSON),
    ("json-with-query", "organization_id=10234695&source=books", V2_BODY, JSON),
    ("query-ties-and-blanks", "k=b&k=a&empty=&flag", V2_BODY, JSON),
    ("form", "auth=xyz", b"item_id=2000000000101&name=Onboarding+workshop&rate=250.0", FORM),
    ("form-percent-encoded", "", b"name=Caf%C3%A9&note=a%26b%3Dc&blank=", FORM),
    ("form-charset", "", b"b=2&a=1", f"{FORM}; charset=UTF-8"),
]


@pytest.mark.parametrize("encoding", ["hex", "base64"])
@pytest.mark.parametrize(
    ("raw_query", "body", "content_type"),
    [case[1:] for case in REQUESTS],
    ids=[case[0] for case in REQUESTS],
)
def test_generated_requests_verify(
    raw_query: str, body: bytes, content_type: str, encoding: str
) -> None:
    signature = zoho_signature(
        body,
        raw_query=raw_query,
        content_type=content_type,
        encoding=encoding,  # type: ignore[arg-type]
    )
    _verify(body, raw_query, content_type, signature, ZOHO_TEST_SECRET)


def test_form_field_order_does_not_matter() -> None:
    signature = zoho_signature(b"a=1&b=2", content_type=FORM)
    _verify(b"b=2&a=1", "", FORM, signature, ZOHO_TEST_SECRET)


def test_signed_headers_round_trip() -> None:
    headers = zoho_signed_headers(V2_BODY, raw_query="x=1")
    _verify(
        V2_BODY,
        "x=1",
        headers["Content-Type"],
        zoho_signature_from_headers(headers),
        ZOHO_TEST_SECRET,
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Zoho-Webhook-Signature": V2_HEX},
        {"x-zoho-webhook-signature": V2_HEX},
        Headers(raw=[(b"x-zoho-webhook-signature", V2_HEX.encode())]),
    ],
    ids=["canonical", "lowercase", "starlette"],
)
def test_signature_header_lookup(headers: dict[str, str] | Headers) -> None:
    assert zoho_signature_from_headers(headers) == V2_HEX


def test_missing_signature_header() -> None:
    assert zoho_signature_from_headers({"x-zoho-signature": V2_HEX}) is None


# --- tampering --------------------------------------------------------------------------------

FORM_BODY = b"item_id=2000000000101&name=Onboarding+workshop"
FORM_SIG = zoho_signature(FORM_BODY, raw_query="auth=xyz", content_type=FORM)
V1_OTHER_KEY = hmac.new(
    b"otherkey", zoho_signing_message(V1_QUERY, V1_BODY, JSON), hashlib.sha256
).hexdigest()

TAMPERED: list[tuple[str, bytes, str, str | None, str | None, str | None]] = [
    ("body-changed", V1_BODY.replace(b"5675", b"5676"), V1_QUERY, JSON, V1_HEX, V1_SECRET),
    ("body-whitespace", V1_BODY.replace(b",", b", "), V1_QUERY, JSON, V1_HEX, V1_SECRET),
    ("body-trailing-newline", V1_BODY + b"\n", V1_QUERY, JSON, V1_HEX, V1_SECRET),
    ("param-value-changed", V1_BODY, "subscription_id=90344&name=basic", JSON, V1_HEX, V1_SECRET),
    ("param-key-changed", V1_BODY, "subscription_id=90343&nam=basic", JSON, V1_HEX, V1_SECRET),
    ("param-added", V1_BODY, V1_QUERY + "&extra=1", JSON, V1_HEX, V1_SECRET),
    ("param-removed", V1_BODY, "subscription_id=90343", JSON, V1_HEX, V1_SECRET),
    ("query-dropped", V1_BODY, "", JSON, V1_HEX, V1_SECRET),
    (
        "form-field-changed",
        FORM_BODY.replace(b"101", b"102"),
        "auth=xyz",
        FORM,
        FORM_SIG,
        ZOHO_TEST_SECRET,
    ),
    ("form-read-as-json", FORM_BODY, "auth=xyz", JSON, FORM_SIG, ZOHO_TEST_SECRET),
    ("signature-hex-digit", V1_BODY, V1_QUERY, JSON, V1_HEX[:-1] + "0", V1_SECRET),
    ("signature-base64-char", V1_BODY, V1_QUERY, JSON, "8" + V1_BASE64[1:], V1_SECRET),
    ("signature-truncated", V1_BODY, V1_QUERY, JSON, V1_HEX[:63], V1_SECRET),
    ("base64-unpadded", V1_BODY, V1_QUERY, JSON, V1_BASE64.rstrip("="), V1_SECRET),
    # V2's base64 contains "/", so the URL-safe alphabet really differs.
    (
        "base64-urlsafe-alphabet",
        V2_BODY,
        "",
        JSON,
        base64.urlsafe_b64encode(bytes.fromhex(V2_HEX)).decode(),
        V2_SECRET,
    ),
    ("other-key-signature", V1_BODY, V1_QUERY, JSON, V1_OTHER_KEY, V1_SECRET),
    ("wrong-secret", V1_BODY, V1_QUERY, JSON, V1_HEX, "mysecretkey13"),
    ("zoho-payments-format", V1_BODY, V1_QUERY, JSON, f"t=1717171717000,v={V1_HEX}", V1_SECRET),
    ("sha256-prefix", V1_BODY, V1_QUERY, JSON, f"sha256={V1_HEX}", V1_SECRET),
    ("secret-as-signature", V1_BODY, V1_QUERY, JSON, V1_SECRET, V1_SECRET),
    ("non-ascii-signature", V1_BODY, V1_QUERY, JSON, V1_HEX[:63] + "\u00e9", V1_SECRET),
    ("missing-signature", V1_BODY, V1_QUERY, JSON, None, V1_SECRET),
    ("blank-signature", V1_BODY, V1_QUERY, JSON, "  ", V1_SECRET),
    (
        "empty-secret",
        V1_BODY,
        V1_QUERY,
        JSON,
        hmac.new(b"", zoho_signing_message(V1_QUERY, V1_BODY, JSON), hashlib.sha256).hexdigest(),
        "",
    ),
    ("unset-secret", V1_BODY, V1_QUERY, JSON, V1_HEX, None),
    ("invalid-utf8-query", V1_BODY, "a=%FF", JSON, V1_HEX, V1_SECRET),
]


@pytest.mark.parametrize(
    ("body", "raw_query", "content_type", "signature", "secret"),
    [case[1:] for case in TAMPERED],
    ids=[case[0] for case in TAMPERED],
)
def test_tampered_or_unauthenticated_requests_fail(
    body: bytes,
    raw_query: str,
    content_type: str | None,
    signature: str | None,
    secret: str | None,
) -> None:
    with pytest.raises(SignatureError) as caught:
        _verify(body, raw_query, content_type, signature, secret)
    message = caught.value.message
    assert caught.value.status_code == 401
    leaks = (V1_HEX, V1_BASE64, V2_HEX, V2_BASE64, V1_SECRET, V2_SECRET, ZOHO_TEST_SECRET, FORM_SIG)
    for leaked in leaks:
        assert leaked not in message


# --- CRM Notification API token ------------------------------------------------------------------

CRM_TOKEN = "TOKEN_FOR_VERIFICATION_OF_1000000068001"
CHANNELS = ("1000000068001", "1000000068002")


@pytest.mark.parametrize(
    ("token", "channel_id", "known"),
    [
        (CRM_TOKEN, "1000000068001", CHANNELS),
        (CRM_TOKEN, "1000000068002", list(CHANNELS)),
        (CRM_TOKEN, 1000000068001, CHANNELS),
        (CRM_TOKEN, "1000000068001", {1000000068001}),
        (CRM_TOKEN, " 1000000068001 ", frozenset(CHANNELS)),
    ],
    ids=["str", "list", "int-channel", "int-known", "padded-channel"],
)
def test_crm_token_accepted(token: str, channel_id: str | int, known: object) -> None:
    verify_zoho_crm_token(token, CRM_TOKEN, channel_id, known)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("token", "expected", "channel_id", "known"),
    [
        ("TOKEN_FOR_VERIFICATION_OF_1000000068002", CRM_TOKEN, "1000000068001", CHANNELS),
        (CRM_TOKEN.lower(), CRM_TOKEN, "1000000068001", CHANNELS),
        (CRM_TOKEN[:-1], CRM_TOKEN, "1000000068001", CHANNELS),
        (CRM_TOKEN + " ", CRM_TOKEN, "1000000068001", CHANNELS),
        (None, CRM_TOKEN, "1000000068001", CHANNELS),
        ("", CRM_TOKEN, "1000000068001", CHANNELS),
        (12345, CRM_TOKEN, "1000000068001", CHANNELS),
        ("", "", "1000000068001", CHANNELS),
        (CRM_TOKEN, "", "1000000068001", CHANNELS),
        (CRM_TOKEN, None, "1000000068001", CHANNELS),
        (CRM_TOKEN, "   ", "1000000068001", CHANNELS),
        (CRM_TOKEN, CRM_TOKEN, "1000000068999", CHANNELS),
        (CRM_TOKEN, CRM_TOKEN, None, CHANNELS),
        (CRM_TOKEN, CRM_TOKEN, "", CHANNELS),
        (CRM_TOKEN, CRM_TOKEN, True, CHANNELS),
        (CRM_TOKEN, CRM_TOKEN, "1000000068001", ()),
        ("t\u00f6ken", "token", "1000000068001", CHANNELS),
        ("\ud800", CRM_TOKEN, "1000000068001", CHANNELS),
    ],
    ids=[
        "other-token",
        "case-differs",
        "prefix",
        "trailing-space",
        "missing",
        "empty",
        "non-string",
        "both-empty",
        "expected-empty",
        "expected-unset",
        "expected-blank",
        "unknown-channel",
        "no-channel",
        "empty-channel",
        "bool-channel",
        "no-known-channels",
        "non-ascii-token",
        "lone-surrogate-token",
    ],
)
def test_crm_token_rejected(
    token: object, expected: str | None, channel_id: object, known: tuple[str, ...]
) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_zoho_crm_token(token, expected, channel_id, known)  # type: ignore[arg-type]
    assert CRM_TOKEN not in caught.value.message


def test_a_resplit_query_keeps_its_signature() -> None:
    """Why the Zoho source refuses unknown URL parameters: the signature cannot tell these apart."""
    body = b'{"item":{"item_id":"1"}}'
    signed = zoho_signing_message("action=deleted", body, JSON)
    assert zoho_signing_message("actiondeleted=", body, JSON) == signed
    assert zoho_signing_message("a=ctiondeleted", body, JSON) == signed


@pytest.mark.parametrize(
    ("raw_query", "body", "content_type"),
    [
        ("", b"a=1&" * 5000, FORM),
        ("a=1&" * 5000, b"{}", JSON),
        ("a=1&" * 50, b"b=2&" * 50, FORM),
    ],
    ids=["form", "query", "both"],
)
def test_more_fields_than_a_webhook_has_are_refused_before_decoding(
    raw_query: str, body: bytes, content_type: str
) -> None:
    with pytest.raises(BadRequestError, match="more than 100"):
        _verify(body, raw_query, content_type, "0" * 64, ZOHO_TEST_SECRET)


def test_a_json_body_full_of_ampersands_is_only_hashed() -> None:
    body = b'{"note": "' + b"&" * 5000 + b'"}'
    _verify(body, "", JSON, zoho_signature(body), ZOHO_TEST_SECRET)
