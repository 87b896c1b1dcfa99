from __future__ import annotations

import base64
from decimal import Decimal
from urllib.parse import quote, urlencode

import braintree
import pytest
from braintree.webhook_notification import WebhookNotification

from app.errors import (
    BadRequestError,
    ConfigurationError,
    MalformedPayloadError,
    SignatureError,
)
from app.signatures import BraintreeWebhookVerifier, braintree_form_fields
from app.signatures import braintree as braintree_signatures
from testkit.signing import (
    BRAINTREE_TEST_CREDENTIALS,
    braintree_fixture,
    braintree_form_body,
    braintree_gateway,
    braintree_sample,
    braintree_sample_form,
    braintree_sign,
    braintree_signed_xml,
)

PUBLIC_KEY = BRAINTREE_TEST_CREDENTIALS["public_key"]
PRIVATE_KEY = BRAINTREE_TEST_CREDENTIALS["private_key"]
Kind = WebhookNotification.Kind


def _verifier(**overrides: str) -> BraintreeWebhookVerifier:
    return BraintreeWebhookVerifier(**{**BRAINTREE_TEST_CREDENTIALS, **overrides})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def verifier() -> BraintreeWebhookVerifier:
    return _verifier()


# --- valid notifications ---------------------------------------------------------------------

# (kind, object id, attribute of the parsed notification that carries the object)
SAMPLES = [
    (Kind.SubscriptionChargedSuccessfully, "sub_1", "subscription"),
    (Kind.SubscriptionCanceled, "sub_2", "subscription"),
    (Kind.TransactionSettled, "txn_1", "transaction"),
    (Kind.DisputeOpened, "dp_1", "dispute"),
    (Kind.DisputeLost, "dp_2", "dispute"),
    (Kind.Disbursement, "dsb_1", "disbursement"),
]


@pytest.mark.parametrize("as_text", [False, True], ids=["bytes", "str"])
@pytest.mark.parametrize(("kind", "object_id", "attribute"), SAMPLES, ids=[s[0] for s in SAMPLES])
def test_sdk_samples_parse(
    verifier: BraintreeWebhookVerifier, kind: str, object_id: str, attribute: str, as_text: bool
) -> None:
    signature, payload = braintree_sample(kind, object_id)
    notification = verifier.parse(signature, payload.decode("ascii") if as_text else payload)
    assert isinstance(notification, braintree.WebhookNotification)
    assert notification.kind == kind
    assert getattr(notification, attribute).id == object_id


def test_check_sample_parses(verifier: BraintreeWebhookVerifier) -> None:
    notification = verifier.parse(*braintree_sample(Kind.Check))
    # The SDK's sample wraps "true" in whitespace, so only the kind is meaningful.
    assert notification.kind == "check"
    assert "check" in notification.subject


def test_source_merchant_id_is_kept(verifier: BraintreeWebhookVerifier) -> None:
    notification = verifier.parse(
        *braintree_sample(Kind.SubscriptionCanceled, "s", source_merchant_id="sm_1")
    )
    assert notification.source_merchant_id == "sm_1"


def test_realistic_fixture_wrapped_like_real_deliveries(verifier: BraintreeWebhookVerifier) -> None:
    signature, payload = braintree_fixture("subscription_charged_successfully")
    assert payload.count(b"\n") > 1 and all(len(line) <= 60 for line in payload.splitlines())
    notification = verifier.parse(signature, payload)
    subscription = notification.subscription
    assert subscription.status == "Active"
    assert subscription.plan_id == "pro_monthly"
    assert subscription.price == Decimal("49.00")
    assert subscription.transactions[0].customer_details.email == "ada@example.com"


def test_compact_check_fixture(verifier: BraintreeWebhookVerifier) -> None:
    notification = verifier.parse(*braintree_fixture("check"))
    assert notification.kind == "check"
    assert notification.subject == {"check": True}


def test_trailing_newline_stripped_still_passes(verifier: BraintreeWebhookVerifier) -> None:
    signature, payload = braintree_sample(Kind.SubscriptionChargedSuccessfully, "sub_1")
    assert payload.endswith(b"\n")
    assert verifier.parse(signature, payload.rstrip(b"\n")).subscription.id == "sub_1"


def test_multi_signature_finds_the_matching_key(verifier: BraintreeWebhookVerifier) -> None:
    signature, payload = braintree_sample(Kind.Check)
    other = "otherpub|" + "ab" * 20
    combined = f"{other}&{signature}&thirdpub|{'cd' * 20}"
    assert verifier.parse(combined, payload).kind == "check"


@pytest.mark.parametrize("environment", ["sandbox", "production", braintree.Environment.Production])
def test_environment_plays_no_part(environment: object) -> None:
    verifier = _verifier(environment=environment)  # type: ignore[arg-type]
    assert verifier.parse(*braintree_sample(Kind.Check)).kind == "check"


# --- unauthenticated ----------------------------------------------------------------------------

SIGNATURE, PAYLOAD = braintree_sample(Kind.SubscriptionChargedSuccessfully, "sub_1")
PAYLOAD_TEXT = PAYLOAD.decode("ascii")
_HEX = SIGNATURE.split("|", 1)[1]


def _swap_char(text: str, index: int) -> str:
    replacement = "B" if text[index] != "B" else "C"
    return text[:index] + replacement + text[index + 1 :]


def _other_hex_digit(digit: str) -> str:
    return "0" if digit != "0" else "1"


UNAUTHENTICATED: list[tuple[str, object, object, str]] = [
    ("payload-char-changed", SIGNATURE, _swap_char(PAYLOAD_TEXT, 10), "does not match"),
    (
        "payload-last-char-changed",
        SIGNATURE,
        _swap_char(PAYLOAD_TEXT, len(PAYLOAD_TEXT) - 3),
        "does not match",
    ),
    (
        "signature-hex-changed",
        f"{PUBLIC_KEY}|{_HEX[:-1]}{_other_hex_digit(_HEX[-1])}",
        PAYLOAD,
        "does not match",
    ),
    ("signature-upper-cased", f"{PUBLIC_KEY}|{_HEX.upper()}", PAYLOAD, "does not match"),
    ("signature-trailing-space", SIGNATURE + " ", PAYLOAD, "does not match"),
    ("signature-without-pipe", "garbage", PAYLOAD, "no matching public key"),
    ("crlf-line-endings", SIGNATURE, PAYLOAD.replace(b"\n", b"\r\n"), "illegal characters"),
    ("crlf-line-endings-text", SIGNATURE, PAYLOAD_TEXT.replace("\n", "\r\n"), "illegal characters"),
    (
        "plus-decoded-as-space",
        SIGNATURE,
        PAYLOAD_TEXT.replace("+", " ")
        if "+" in PAYLOAD_TEXT
        else PAYLOAD_TEXT[:5] + " " + PAYLOAD_TEXT[6:],
        "illegal characters",
    ),
    ("literal-backslash-n", SIGNATURE, PAYLOAD_TEXT.replace("\n", "\\n"), "illegal characters"),
    ("extra-trailing-newline", SIGNATURE, PAYLOAD + b"\n", "does not match"),
    ("newlines-removed", SIGNATURE, PAYLOAD.replace(b"\n", b""), "does not match"),
    (
        "rewrapped-single-line",
        SIGNATURE,
        base64.b64encode(base64.decodebytes(PAYLOAD)) + b"\n",
        "does not match",
    ),
    ("non-ascii-text", SIGNATURE, PAYLOAD_TEXT[:8] + "\u00e9" + PAYLOAD_TEXT[9:], "non-ASCII"),
    ("non-ascii-bytes", SIGNATURE, PAYLOAD[:8] + b"\xc3\xa9" + PAYLOAD[9:], "illegal characters"),
    ("missing-signature", None, PAYLOAD, "no bt_signature"),
    ("empty-signature", "", PAYLOAD, "no bt_signature"),
    ("blank-signature", "  ", PAYLOAD, "no bt_signature"),
    ("missing-payload", SIGNATURE, None, "no bt_payload"),
    ("empty-payload", SIGNATURE, "", "empty bt_payload"),
    ("empty-bytes-payload", SIGNATURE, b"", "empty bt_payload"),
    ("newline-payload", SIGNATURE, b"\n", "empty bt_payload"),
    ("signature-not-text", SIGNATURE.encode(), PAYLOAD, "no bt_signature"),
    ("payload-not-text", SIGNATURE, 12345, "not text"),
]


@pytest.mark.parametrize(
    ("signature", "payload", "reason"),
    [case[1:] for case in UNAUTHENTICATED],
    ids=[case[0] for case in UNAUTHENTICATED],
)
def test_unauthenticated_payloads_are_signature_errors(
    verifier: BraintreeWebhookVerifier, signature: object, payload: object, reason: str
) -> None:
    with pytest.raises(SignatureError, match=reason) as caught:
        verifier.parse(signature, payload)  # type: ignore[arg-type]
    assert caught.value.status_code == 401
    assert PRIVATE_KEY not in caught.value.message
    assert _HEX not in caught.value.message


def test_wrong_private_key() -> None:
    signature, payload = braintree_sample(Kind.Check, private_key="some_other_private_key")
    with pytest.raises(SignatureError, match="does not match"):
        _verifier().parse(signature, payload)
    with pytest.raises(SignatureError, match="does not match"):
        _verifier(private_key="some_other_private_key").parse(*braintree_sample(Kind.Check))


def test_wrong_public_key() -> None:
    signature, payload = braintree_sample(Kind.Check, public_key="some_other_public_key")
    with pytest.raises(SignatureError, match="no matching public key"):
        _verifier().parse(signature, payload)
    with pytest.raises(SignatureError, match="no matching public key"):
        _verifier(public_key="some_other_public_key").parse(*braintree_sample(Kind.Check))


def test_signature_for_another_payload(verifier: BraintreeWebhookVerifier) -> None:
    other_signature, _ = braintree_sample(Kind.DisputeOpened, "dp_1")
    with pytest.raises(SignatureError):
        verifier.parse(other_signature, PAYLOAD)


# --- signed but unreadable ---------------------------------------------------------------------

MALFORMED: list[tuple[str, bytes]] = [
    ("broken-xml", b"<notification><kind>check</kind>"),
    ("not-xml", b"this is not xml at all"),
    ("no-notification-root", b"<other><kind>check</kind></other>"),
    ("empty-notification", b"<notification/>"),
    ("text-notification", b"<notification>hello</notification>"),
    ("no-subject", b"<notification><kind>check</kind></notification>"),
    ("not-utf8", b"<notification><kind>\xff</kind></notification>"),
]


@pytest.mark.parametrize(
    "xml", [case[1] for case in MALFORMED], ids=[case[0] for case in MALFORMED]
)
def test_signed_but_unreadable_is_malformed(verifier: BraintreeWebhookVerifier, xml: bytes) -> None:
    # Signed through the SDK's own signing helper, exactly as its test gateway does.
    signature, payload = braintree_signed_xml(xml)
    with pytest.raises(MalformedPayloadError) as caught:
        verifier.parse(signature, payload)
    assert not isinstance(caught.value, SignatureError)
    assert caught.value.status_code == 400
    assert PRIVATE_KEY not in caught.value.message


def test_signed_bad_base64_padding_is_malformed(verifier: BraintreeWebhookVerifier) -> None:
    payload = b"QUJD\nQQ\n"  # legal characters, but "QQ" lacks its padding
    with pytest.raises(MalformedPayloadError, match="Error"):
        verifier.parse(braintree_sign(payload), payload)


def test_malformed_keeps_the_cause_for_logs(verifier: BraintreeWebhookVerifier) -> None:
    with pytest.raises(MalformedPayloadError) as caught:
        verifier.parse(*braintree_signed_xml(b"<other/>"))
    assert isinstance(caught.value.__cause__, KeyError)


# --- challenge ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "challenge",
    ["20f9f8ed05f77439fe955c977e4c8a53", "0123456789abcdef0123", "f" * 32, "a" * 20],
)
def test_challenge_answer_is_what_the_sdk_computes(
    verifier: BraintreeWebhookVerifier, challenge: str
) -> None:
    expected = braintree_gateway().webhook_notification.verify(challenge)
    assert verifier.verify_challenge(challenge) == expected
    assert expected.startswith(f"{PUBLIC_KEY}|")


def test_challenge_documented_value() -> None:
    verifier = _verifier(public_key="pubkey_abc", private_key="privkey_xyz")
    assert (
        verifier.verify_challenge("20f9f8ed05f77439fe955c977e4c8a53")
        == "pubkey_abc|702582ffeea2fd95c379fc92a5b0a369774de4f0"
    )


@pytest.mark.parametrize(
    "challenge",
    [
        "abc",
        "",
        "a" * 19,
        "a" * 33,
        "20F9F8ED05F77439FE955C977E4C8A53",
        "zz f8ed05f77439fe955c977e4c8a53",
        "20f9f8ed05f77439fe955c977e4c8a53\n",
        "20f9f8ed05f77439fe955c977e4c8a5\u0663",
        None,
        12345678901234567890,
    ],
    ids=[
        "short",
        "empty",
        "19-chars",
        "33-chars",
        "uppercase",
        "non-hex",
        "trailing-newline",
        "arabic-digit",
        "none",
        "int",
    ],
)
def test_bad_challenges(verifier: BraintreeWebhookVerifier, challenge: object) -> None:
    with pytest.raises(BadRequestError) as caught:
        verifier.verify_challenge(challenge)  # type: ignore[arg-type]
    assert not isinstance(caught.value, MalformedPayloadError | SignatureError)
    assert caught.value.status_code == 400


# --- construction ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"merchant_id": ""}, "merchant id is not set"),
        ({"public_key": ""}, "public key is not set"),
        ({"private_key": ""}, "private key is not set"),
        ({"private_key": "   "}, "private key is not set"),
        ({"private_key": None}, "private key is not set"),
        ({"public_key": None}, "public key is not set"),
        ({"private_key": PRIVATE_KEY + "\n"}, "whitespace"),
        ({"private_key": "cl\u00e9_priv\u00e9e"}, "ASCII"),
        ({"public_key": "a|b"}, "must not contain"),
        ({"environment": "moon"}, "invalid Braintree configuration"),
        ({"environment": None}, "environment is not set"),
    ],
    ids=[
        "empty-merchant",
        "empty-public",
        "empty-private",
        "blank-private",
        "none-private",
        "none-public",
        "padded-private",
        "non-ascii-private",
        "pipe-in-public",
        "unknown-environment",
        "no-environment",
    ],
)
def test_cannot_be_built_without_usable_credentials(
    overrides: dict[str, object], reason: str
) -> None:
    with pytest.raises(ConfigurationError, match=reason) as caught:
        _verifier(**overrides)  # type: ignore[arg-type]
    assert PRIVATE_KEY not in caught.value.message


# --- form fields ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", [Kind.SubscriptionChargedSuccessfully, Kind.DisputeOpened, Kind.Check]
)
def test_form_body_round_trip(verifier: BraintreeWebhookVerifier, kind: str) -> None:
    body = braintree_sample_form(kind, "obj_1")
    assert b"%0A" in body and b"\n" not in body
    signature, payload = braintree_form_fields(body, "")
    assert verifier.parse(signature, payload).kind == kind


def _payload_with_plus() -> tuple[str, bytes]:
    # Search object ids until the SDK's base64 contains "+", which forms must encode as %2B.
    for attempt in range(500):
        signature, payload = braintree_sample(Kind.SubscriptionCanceled, f"sub_{attempt}")
        if b"+" in payload:
            return signature, payload
    raise AssertionError("no sample payload with '+' found")


def test_plus_is_percent_encoded_and_survives(verifier: BraintreeWebhookVerifier) -> None:
    signature, payload = _payload_with_plus()
    body = braintree_form_body(signature, payload)
    assert b"%2B" in body
    parsed_signature, parsed_payload = braintree_form_fields(body, "")
    assert parsed_payload == payload.decode("ascii")
    verifier.parse(parsed_signature, parsed_payload)


def test_raw_plus_becomes_space_and_fails(verifier: BraintreeWebhookVerifier) -> None:
    signature, payload = _payload_with_plus()
    hand_built = (
        f"bt_signature={quote(signature)}&bt_payload="
        + payload.decode("ascii").replace("\n", "%0A")
    ).encode("ascii")
    parsed_signature, parsed_payload = braintree_form_fields(hand_built, "")
    assert parsed_payload is not None and " " in parsed_payload
    with pytest.raises(SignatureError, match="illegal characters"):
        verifier.parse(parsed_signature, parsed_payload)


def test_query_string_fallback(verifier: BraintreeWebhookVerifier) -> None:
    signature, payload = braintree_sample(Kind.Check)
    query = urlencode({"bt_signature": signature, "bt_payload": payload.decode("ascii")})
    assert braintree_form_fields(b"", query) == (signature, payload.decode("ascii"))
    assert verifier.parse(*braintree_form_fields(b"", query)).kind == "check"


FIELD_CASES: list[tuple[str, bytes, str, tuple[str | None, str | None]]] = [
    ("nothing", b"", "", (None, None)),
    ("body-only", b"bt_signature=s&bt_payload=p", "", ("s", "p")),
    (
        "body-wins-over-query",
        b"bt_signature=s&bt_payload=p",
        "bt_signature=q&bt_payload=r",
        ("s", "p"),
    ),
    ("per-field-fallback", b"bt_signature=s", "bt_payload=r", ("s", "r")),
    ("blank-body-value-falls-back", b"bt_signature=&bt_payload=p", "bt_signature=q", ("q", "p")),
    ("blank-everywhere", b"bt_signature=&bt_payload=", "bt_payload=", (None, None)),
    ("first-occurrence-wins", b"bt_payload=a&bt_payload=b&bt_signature=s", "", ("s", "a")),
    ("other-fields-ignored", b"foo=bar&bt_signature=s&bt_payload=p&x=", "", ("s", "p")),
    (
        "percent-decoding",
        b"bt_signature=pk%7Cabc%26pk2%7Cdef&bt_payload=AB%2BC%0A",
        "",
        ("pk|abc&pk2|def", "AB+C\n"),
    ),
    ("non-utf8-body", b"bt_signature=s&bt_payload=A\xffB", "", ("s", "A\ufffdB")),
]


@pytest.mark.parametrize(
    ("body", "raw_query", "expected"),
    [case[1:] for case in FIELD_CASES],
    ids=[case[0] for case in FIELD_CASES],
)
def test_form_fields(body: bytes, raw_query: str, expected: tuple[str | None, str | None]) -> None:
    assert braintree_form_fields(body, raw_query) == expected


def test_non_utf8_form_value_fails_as_signature(verifier: BraintreeWebhookVerifier) -> None:
    signature, payload = braintree_form_fields(b"bt_signature=s%7Cx&bt_payload=A\xffB", "")
    with pytest.raises(SignatureError, match="non-ASCII"):
        verifier.parse(signature, payload)


def test_challenge_answer_signs_a_payload_that_only_parses_as_malformed(
    verifier: BraintreeWebhookVerifier,
) -> None:
    # The challenge answer is an HMAC under the payload key, and a hex challenge is a legal
    # payload, so anyone can obtain a "valid" signature for such a payload. It can never
    # decode to a notification, so the worst outcome is MalformedPayloadError, never a result.
    challenge = "0123456789abcdef0123456789abcdef"
    with pytest.raises(MalformedPayloadError):
        verifier.parse(verifier.verify_challenge(challenge), challenge)


# -- unsigned form bodies: bounded before anything is decoded ---------------------------------


@pytest.mark.parametrize(
    ("body", "raw_query"),
    [
        (b"a=1&" * 1000 + b"bt_signature=s&bt_payload=p", ""),
        (b"bt_signature=s&bt_payload=p&" + b"&" * 10, ""),
        (b"", "a=1&" * 1000 + "bt_signature=s&bt_payload=p"),
    ],
    ids=["many-fields", "empty-fields", "many-query-fields"],
)
def test_forms_with_more_fields_than_braintree_sends_are_refused(
    body: bytes, raw_query: str
) -> None:
    with pytest.raises(BadRequestError, match="fields"):
        braintree_form_fields(body, raw_query)


def test_a_foreign_key_is_refused_before_the_payload_is_decoded(
    verifier: BraintreeWebhookVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    signature, _ = braintree_sample(Kind.Check, public_key="some_other_public_key")
    body = braintree_form_body(signature, "%41" * 300_000)  # 1 MiB once encoded
    decoded: list[str] = []
    real_unquote = braintree_signatures.unquote_plus

    def unquote_plus(value: str, *args: object, **kwargs: object) -> str:
        decoded.append(value[:20])
        return real_unquote(value, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(braintree_signatures, "unquote_plus", unquote_plus)
    with pytest.raises(SignatureError, match="no matching public key"):
        verifier.parse_form(body, "")
    assert all(len(value) < 200 for value in decoded)  # the signature only, never the payload


def test_parse_form_reads_a_real_delivery(verifier: BraintreeWebhookVerifier) -> None:
    assert verifier.parse_form(braintree_sample_form(Kind.Check), "").kind == "check"


def test_an_oversized_signature_is_refused_before_it_is_decoded(
    verifier: BraintreeWebhookVerifier,
) -> None:
    body = b"bt_signature=" + PUBLIC_KEY.encode() + b"%7C" + b"%41" * 300_000 + b"&bt_payload=AA"
    with pytest.raises(SignatureError, match="longer than"):
        verifier.parse_form(body, "")
