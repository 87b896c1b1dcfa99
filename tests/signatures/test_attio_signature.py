from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from starlette.datastructures import Headers

from app.errors import SignatureError, UnauthorizedError
from app.signatures import attio_signature_from_headers, verify_attio_signature
from testkit.signing import ATTIO_TEST_SECRET, attio_signature, attio_signed_headers

BODY = (
    b'{"webhook_id":"7d1a9c2e-4b3f-4f1e-9a43-2c1b7e8d9f01","events":[{"event_type":'
    b'"record.updated","id":{"workspace_id":"14beef7a-99f7-4534-a87e-70b564330a4c",'
    b'"object_id":"97052eb9-e65e-443f-a297-f2d9a4a7f795","record_id":'
    b'"bf071e1f-6035-429d-b874-d83ea64ea13b","attribute_id":'
    b'"41252299-f8c7-4b5e-99c9-4ff8321d2f96"},"actor":{"type":"workspace-member",'
    b'"id":"50cf242c-7fa3-4cad-87d0-75b1af71c57b"}}]}'
)
GOOD = hmac.new(ATTIO_TEST_SECRET.encode(), BODY, hashlib.sha256).hexdigest()
GOOD_LAST_DIGIT_CHANGED = GOOD[:-1] + ("0" if GOOD[-1] != "0" else "1")
WRONG = hmac.new(b"some-other-secret", BODY, hashlib.sha256).hexdigest()


def _flip_one_byte(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def test_shared_signer_matches_documented_rule() -> None:
    assert attio_signature(BODY) == GOOD
    assert len(GOOD) == 64
    assert GOOD.lower() == GOOD


@pytest.mark.parametrize(
    "header",
    [
        "Attio-Signature",
        "attio-signature",
        "ATTIO-SIGNATURE",
        "X-Attio-Signature",
        "x-attio-signature",
    ],
)
def test_valid_signature_under_either_header_name(header: str) -> None:
    signature = attio_signature_from_headers({header: GOOD, "content-type": "application/json"})
    assert signature == GOOD
    verify_attio_signature(BODY, signature, ATTIO_TEST_SECRET)


@pytest.mark.parametrize(
    "signature",
    [GOOD, GOOD.upper(), f"  {GOOD}\n", GOOD[:10].upper() + GOOD[10:]],
    ids=["lower", "upper", "whitespace", "mixed-case"],
)
def test_accepted_forms_of_the_same_digest(signature: str) -> None:
    verify_attio_signature(BODY, signature, ATTIO_TEST_SECRET)


def test_full_signed_headers_round_trip() -> None:
    headers = attio_signed_headers(BODY)
    verify_attio_signature(BODY, attio_signature_from_headers(headers), ATTIO_TEST_SECRET)


def test_starlette_headers_are_supported() -> None:
    headers = Headers(raw=[(b"x-attio-signature", GOOD.encode())])
    assert attio_signature_from_headers(headers) == GOOD


def test_primary_header_wins_over_legacy() -> None:
    headers = {"X-Attio-Signature": WRONG, "Attio-Signature": GOOD}
    assert attio_signature_from_headers(headers) == GOOD


def test_blank_primary_header_falls_back_to_legacy() -> None:
    headers = {"Attio-Signature": "  ", "X-Attio-Signature": GOOD}
    assert attio_signature_from_headers(headers) == GOOD


def test_no_signature_header() -> None:
    assert attio_signature_from_headers({"content-type": "application/json"}) is None


def _timestamped_scheme() -> str:
    # The invented "{ts}.{body}" scheme some libraries use must not verify.
    return hmac.new(ATTIO_TEST_SECRET.encode(), b"1717171717." + BODY, hashlib.sha256).hexdigest()


REJECTED: list[tuple[str, bytes, str | None, str | None]] = [
    ("flipped-byte-start", _flip_one_byte(BODY, 0), GOOD, ATTIO_TEST_SECRET),
    ("flipped-byte-middle", _flip_one_byte(BODY, len(BODY) // 2), GOOD, ATTIO_TEST_SECRET),
    ("flipped-byte-end", _flip_one_byte(BODY, len(BODY) - 1), GOOD, ATTIO_TEST_SECRET),
    ("trailing-newline-added", BODY + b"\n", GOOD, ATTIO_TEST_SECRET),
    ("wrong-key", BODY, GOOD, "not-the-secret"),
    ("signed-with-other-key", BODY, WRONG, ATTIO_TEST_SECRET),
    ("wrong-signature-upper", BODY, WRONG.upper(), ATTIO_TEST_SECRET),
    ("wrong-signature-lower", BODY, WRONG.lower(), ATTIO_TEST_SECRET),
    ("one-hex-digit-changed", BODY, GOOD_LAST_DIGIT_CHANGED, ATTIO_TEST_SECRET),
    ("missing-header", BODY, None, ATTIO_TEST_SECRET),
    ("empty-header", BODY, "", ATTIO_TEST_SECRET),
    ("blank-header", BODY, "   ", ATTIO_TEST_SECRET),
    ("empty-secret", BODY, hmac.new(b"", BODY, hashlib.sha256).hexdigest(), ""),
    ("blank-secret", BODY, hmac.new(b" ", BODY, hashlib.sha256).hexdigest(), " "),
    ("unset-secret", BODY, GOOD, None),
    (
        "reserialised-json",
        json.dumps(json.loads(BODY), indent=2).encode(),
        GOOD,
        ATTIO_TEST_SECRET,
    ),
    ("reserialised-json-spaces", json.dumps(json.loads(BODY)).encode(), GOOD, ATTIO_TEST_SECRET),
    ("timestamp-scheme", BODY, _timestamped_scheme(), ATTIO_TEST_SECRET),
    ("sha256-prefix", BODY, f"sha256={GOOD}", ATTIO_TEST_SECRET),
    ("v1-prefix", BODY, f"t=1717171717,v1={GOOD}", ATTIO_TEST_SECRET),
    ("truncated", BODY, GOOD[:63], ATTIO_TEST_SECRET),
    ("too-long", BODY, GOOD + "0", ATTIO_TEST_SECRET),
    ("non-ascii", BODY, GOOD[:63] + "\u00e9", ATTIO_TEST_SECRET),
    ("fullwidth-digits", BODY, "\uff10" * 64, ATTIO_TEST_SECRET),
    (
        "base64-of-digest",
        BODY,
        base64.b64encode(bytes.fromhex(GOOD)).decode(),
        ATTIO_TEST_SECRET,
    ),
    ("empty-body", b"", GOOD, ATTIO_TEST_SECRET),
    ("hex-decoded-key", BODY, GOOD, ATTIO_TEST_SECRET.encode().hex()),
]


@pytest.mark.parametrize(
    ("body", "signature", "secret"),
    [case[1:] for case in REJECTED],
    ids=[case[0] for case in REJECTED],
)
def test_rejected(body: bytes, signature: str | None, secret: str | None) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_attio_signature(body, signature, secret)
    error = caught.value
    assert isinstance(error, UnauthorizedError)
    assert error.status_code == 401
    # Never echo a secret or the digest the sender should have sent.
    assert GOOD not in error.message
    expected_for_body = hmac.new(ATTIO_TEST_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert expected_for_body not in error.message.lower()
    if secret and secret.strip():
        assert secret not in error.message


def test_unset_secret_rejects_even_a_signature_made_with_an_empty_key() -> None:
    empty_key_signature = hmac.new(b"", BODY, hashlib.sha256).hexdigest()
    for secret in ("", None):
        with pytest.raises(SignatureError, match="not configured"):
            verify_attio_signature(BODY, empty_key_signature, secret)


def test_non_ascii_secret_is_used_as_utf8() -> None:
    secret = "s\u00e9cr\u00e9t-\u2603"
    signature = hmac.new(secret.encode("utf-8"), BODY, hashlib.sha256).hexdigest()
    verify_attio_signature(BODY, signature, secret)
