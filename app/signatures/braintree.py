"""Braintree webhook signatures, checked by the official SDK.

A notification is a form POST with `bt_signature` ("<public_key>|<hex>" pairs joined by "&") and
`bt_payload` (line-wrapped base64 of an XML document). The SDK's HMAC covers the exact base64
text, newlines included, so the payload is handed over unchanged; the SDK itself also accepts
a payload whose trailing newline was stripped.

The SDK raises `InvalidSignatureError` for every signature failure, but lets other errors
through: `UnicodeEncodeError` for a non-ASCII text payload (before any HMAC), and expat /
`KeyError` / decoding errors once the signature has matched. Inputs are normalised here first, so
that anything other than `InvalidSignatureError` coming out of the SDK can only come from
parsing a payload whose signature was already proven.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

import braintree
from braintree.exceptions.configuration_error import ConfigurationError as SdkConfigurationError
from braintree.exceptions.invalid_challenge_error import InvalidChallengeError
from braintree.exceptions.invalid_signature_error import InvalidSignatureError

from app.errors import BadRequestError, ConfigurationError, MalformedPayloadError, SignatureError

BT_SIGNATURE = "bt_signature"
BT_PAYLOAD = "bt_payload"
BT_CHALLENGE = "bt_challenge"

# The SDK's own pattern is "^[a-f0-9]{20,32}$", whose "$" also admits a trailing newline;
# Braintree never sends one, so fullmatch is used to keep the accepted set exact.
_CHALLENGE = re.compile(r"[a-f0-9]{20,32}")


# Braintree posts exactly two fields; a little room is left for a proxy's additions. Counted on
# the raw text, so a form of thousands of fields is refused before any of it is decoded.
MAX_FORM_FIELDS = 4
_FIELD_NAMES = frozenset({BT_SIGNATURE, BT_PAYLOAD})
_LONGEST_NAME = 3 * max(len(name) for name in _FIELD_NAMES)  # every character %-escaped
# A bt_signature is "<public key>|<40 hex>" pairs, one per key the merchant has: far below this.
_LONGEST_SIGNATURE = 4096


def _encoded_fields(encoded: str, where: str) -> dict[str, str]:
    """The still-encoded values of the first `bt_signature` and `bt_payload` in `encoded`.

    Split as `parse_qsl` does ("&" only, blank parts skipped, "+" is a space), but only the
    two names Braintree sends are decoded, and their values only when asked for.
    """
    if encoded.count("&") >= MAX_FORM_FIELDS:
        raise BadRequestError(
            f"Braintree notification {where} has more than {MAX_FORM_FIELDS} fields; "
            f"Braintree sends two ({BT_SIGNATURE}, {BT_PAYLOAD})"
        )
    values: dict[str, str] = {}
    for part in encoded.split("&"):
        name, _, value = part.partition("=")
        if not part or len(name) > _LONGEST_NAME:
            continue
        name = unquote_plus(name)
        if name in _FIELD_NAMES:
            values.setdefault(name, value)
    return values


class _Form:
    """A notification's form: the body's fields, each falling back to the query's."""

    def __init__(self, body: bytes, raw_query: str) -> None:
        # Braintree's fields are ASCII; undecodable bytes become U+FFFD, which fails verification.
        self._sources = (
            _encoded_fields(body.decode("utf-8", errors="replace"), "body"),
            _encoded_fields(raw_query, "URL"),
        )

    def get(self, name: str) -> str | None:
        encoded = self.encoded(name)
        return unquote_plus(encoded, errors="replace") if encoded else None

    def encoded(self, name: str) -> str | None:
        return next((encoded for source in self._sources if (encoded := source.get(name))), None)


def braintree_form_fields(body: bytes, raw_query: str) -> tuple[str | None, str | None]:
    """`(bt_signature, bt_payload)` from a form-urlencoded body, each falling back to the query.

    The query fallback covers the Control Panel's old test call, which sent both fields in the
    URL. Blank or absent fields are None. Values are URL-decoded exactly once: "%2B" becomes "+",
    "%0A" a newline, and a raw "+" a space (which the SDK then rejects as tampering). The first
    occurrence of a repeated field wins. More than `MAX_FORM_FIELDS` fields is a 400.
    """
    form = _Form(body, raw_query)
    return form.get(BT_SIGNATURE), form.get(BT_PAYLOAD)


def _required(name: str, value: str | None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"Braintree {name} is not set; Braintree webhooks stay disabled")
    if value != value.strip():
        raise ConfigurationError(f"Braintree {name} has leading or trailing whitespace")
    return value


class BraintreeWebhookVerifier:
    """Verifies and parses Braintree notifications with one long-lived SDK gateway.

    Only the public and private keys take part in verification; the environment and merchant
    id are required because the SDK's `Configuration` requires them. All methods are
    synchronous and CPU-bound (HMAC, base64, minidom): run `parse_form` off the event loop.
    """

    def __init__(
        self,
        *,
        environment: str | braintree.Environment,
        merchant_id: str,
        public_key: str,
        private_key: str,
    ) -> None:
        merchant_id = _required("merchant id", merchant_id)
        public_key = _required("public key", public_key)
        private_key = _required("private key", private_key)
        # The SDK encodes the private key as ASCII on every HMAC; fail at startup instead.
        if not private_key.isascii():
            raise ConfigurationError("Braintree private key must be ASCII")
        # bt_signature uses "|" and "&" as separators, so such a key could never match.
        if "|" in public_key or "&" in public_key:
            raise ConfigurationError("Braintree public key must not contain '|' or '&'")
        try:
            config = braintree.Configuration(
                environment=braintree.Environment.parse_environment(environment),
                merchant_id=merchant_id,
                public_key=public_key,
                private_key=private_key,
            )
        except SdkConfigurationError as exc:
            raise ConfigurationError(f"invalid Braintree configuration: {exc}") from None
        if config.environment is None:
            raise ConfigurationError("Braintree environment is not set")
        self._gateway = braintree.BraintreeGateway(config)

    def parse(
        self, bt_signature: str | None, bt_payload: str | bytes | None
    ) -> braintree.WebhookNotification:
        """The notification, if `bt_signature` is a valid signature of `bt_payload`.

        Raises `SignatureError` when the request is not proven to come from Braintree, and
        `MalformedPayloadError` when it is signed but is not a readable notification.
        """
        if not isinstance(bt_signature, str) or not bt_signature.strip():
            raise SignatureError("Braintree notification has no bt_signature")
        payload = _payload_bytes(bt_payload)
        try:
            return self._gateway.webhook_notification.parse(bt_signature, payload)
        except InvalidSignatureError as exc:
            # The SDK's messages name the failed check, never a key or the expected digest.
            raise SignatureError(f"Braintree signature rejected: {exc}") from exc
        except Exception as exc:
            raise MalformedPayloadError(
                "Braintree notification is signed but is not a readable notification "
                f"({type(exc).__name__})"
            ) from exc

    def parse_form(self, body: bytes, raw_query: str) -> braintree.WebhookNotification:
        """`parse` for a request as received, doing the cheap checks first.

        The field count is checked before anything is decoded, and the signature must name
        this merchant's public key before the (up to body-sized) payload is decoded.
        """
        form = _Form(body, raw_query)
        if len(form.encoded(BT_SIGNATURE) or "") > _LONGEST_SIGNATURE:
            raise SignatureError("Braintree bt_signature is longer than any Braintree sends")
        signature = form.get(BT_SIGNATURE)
        if signature is not None and not self._names_our_key(signature):
            raise SignatureError("Braintree signature rejected: no matching public key")
        return self.parse(signature, form.get(BT_PAYLOAD))

    def _names_our_key(self, bt_signature: str) -> bool:
        # The SDK's own reading of "<public key>|<hex>" pairs joined by "&".
        public_key = self._gateway.config.public_key
        pairs = (pair.split("|") for pair in bt_signature.split("&") if "|" in pair)
        return any(pair[0] == public_key for pair in pairs)

    def verify_challenge(self, challenge: str) -> str:
        """The answer to the `bt_challenge` GET Braintree sends when a destination is created."""
        if not isinstance(challenge, str) or not _CHALLENGE.fullmatch(challenge):
            raise BadRequestError("bt_challenge must be 20 to 32 lowercase hex characters")
        try:
            return self._gateway.webhook_notification.verify(challenge)
        except (InvalidChallengeError, TypeError):
            raise BadRequestError("bt_challenge was rejected") from None


def _payload_bytes(bt_payload: str | bytes | None) -> bytes:
    if bt_payload is None:
        raise SignatureError("Braintree notification has no bt_payload")
    if isinstance(bt_payload, str):
        # Same conversion the SDK makes, but a non-ASCII payload is a tampered one, not a bug.
        try:
            payload = bt_payload.encode("ascii")
        except UnicodeEncodeError:
            raise SignatureError("Braintree bt_payload contains non-ASCII characters") from None
    elif isinstance(bt_payload, bytes | bytearray | memoryview):
        payload = bytes(bt_payload)
    else:
        raise SignatureError("Braintree bt_payload is not text")
    if not payload.strip():
        raise SignatureError("Braintree notification has an empty bt_payload")
    return payload
