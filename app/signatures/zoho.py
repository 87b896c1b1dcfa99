"""Zoho webhook authentication.

Finance suite (Books, Inventory, Billing): `X-Zoho-Webhook-Signature` is HMAC-SHA256, key = the
webhook's secret token as UTF-8, over a message built from the request:

1. every query-string pair, plus the form fields when the body is
   `application/x-www-form-urlencoded`, all URL-decoded;
2. sorted by key, ties by value;
3. concatenated as key + value with no separators;
4. followed by the raw body bytes when the body is not a form (JSON in practice).

Zoho's text does not say whether the digest is sent as hex or base64, so both encodings of the
same digest are accepted. Zoho Payments reuses the header name with a `t=…,v=…` format; that
never verifies here.

CRM has no signature: the Notification API echoes a shared `token` and the subscribed
`channel_id` in the JSON body, checked by `verify_zoho_crm_token`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Collection, Mapping
from urllib.parse import parse_qsl

from app.errors import BadRequestError, SignatureError
from app.signatures._common import HEX_SHA256, header_value

ZOHO_SIGNATURE_HEADER = "X-Zoho-Webhook-Signature"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

# Zoho documents no limit on a webhook's fields; this one is ours (a webhook's parameters are
# typed in by hand). Counted on the raw text, before any decoding or sorting.
MAX_SIGNED_FIELDS = 100

# Standard-alphabet, padded base64 of a 32-byte digest: 43 characters + "=".
_BASE64_SHA256 = re.compile(r"[A-Za-z0-9+/]{43}=")


def zoho_signature_from_headers(headers: Mapping[str, str]) -> str | None:
    return header_value(headers, ZOHO_SIGNATURE_HEADER)


def _is_form(content_type: str | None) -> bool:
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() == FORM_CONTENT_TYPE


def _decoded_pairs(encoded: str) -> list[tuple[str, str]]:
    # Blank values are signed too ("key" + ""); invalid UTF-8 in %-escapes raises instead of
    # being replaced, so two different requests can never share one signing message.
    return parse_qsl(encoded, keep_blank_values=True, errors="strict")


def zoho_signing_message(raw_query: str, body: bytes, content_type: str | None) -> bytes:
    """The exact bytes Zoho signs for a request.

    `raw_query` is the query string as received, without the leading "?". A form body is folded
    into the sorted pairs and not appended; any other body is appended unchanged (an empty body
    appends nothing). Raises `ValueError` when the query or form data is not valid UTF-8, and
    `BadRequestError` for more than `MAX_SIGNED_FIELDS` fields.
    """
    form = _is_form(content_type)
    fields = raw_query.count("&") + (body.count(b"&") if form else 0)
    if fields >= MAX_SIGNED_FIELDS:
        raise BadRequestError(
            f"Zoho webhook has more than {MAX_SIGNED_FIELDS} URL parameters and form fields"
        )
    pairs = _decoded_pairs(raw_query)
    tail = body
    if form:
        pairs += _decoded_pairs(body.decode("utf-8"))
        tail = b""
    pairs.sort()
    return "".join(key + value for key, value in pairs).encode("utf-8") + tail


def verify_zoho_signature(
    *,
    body: bytes,
    raw_query: str,
    content_type: str | None,
    signature: str | None,
    secret: str | None,
) -> None:
    """Raise `SignatureError` unless `signature` is Zoho's HMAC of this query string and body.

    Accepts the digest as hex (any case) or as standard padded base64.
    """
    if not secret or not secret.strip():
        raise SignatureError("Zoho webhook secret is not configured; no request can be verified")
    if signature is None or not signature.strip():
        raise SignatureError("missing X-Zoho-Webhook-Signature header")
    presented = signature.strip()
    try:
        message = zoho_signing_message(raw_query, body, content_type)
    except ValueError:
        raise SignatureError(
            "Zoho webhook cannot be verified: its query or form data is not valid UTF-8"
        ) from None
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    # Shape checks first: they keep compare_digest on ASCII and reveal nothing about the digest.
    if HEX_SHA256.fullmatch(presented):
        matches = hmac.compare_digest(
            digest.hex().encode("ascii"), presented.lower().encode("ascii")
        )
    elif _BASE64_SHA256.fullmatch(presented):
        matches = hmac.compare_digest(base64.b64encode(digest), presented.encode("ascii"))
    else:
        raise SignatureError("Zoho signature is neither hex nor base64 of an HMAC-SHA256 digest")
    if not matches:
        raise SignatureError("Zoho signature does not match the request")


def _channel_text(channel_id: object) -> str | None:
    # Zoho documents channel_id as a long; JSON may carry it as a number or a string.
    if isinstance(channel_id, bool):
        return None
    if isinstance(channel_id, int):
        return str(channel_id)
    if isinstance(channel_id, str) and channel_id.strip():
        return channel_id.strip()
    return None


def verify_zoho_crm_token(
    token: str | None,
    expected: str | None,
    channel_id: str | int | None,
    known_channel_ids: Collection[str | int],
) -> None:
    """Raise `SignatureError` unless a CRM notification has the shared token and a known channel.

    The token is a bearer secret echoed in the body, so this proves only that the sender knows
    it; callers should still re-fetch records rather than trust the body.
    """
    if not expected or not expected.strip():
        raise SignatureError(
            "Zoho CRM notification token is not configured; nothing can be verified"
        )
    if not isinstance(token, str) or not token:
        raise SignatureError("Zoho CRM notification carries no token")
    try:
        presented = token.encode("utf-8")
    except UnicodeEncodeError:
        # JSON escapes can carry lone surrogates ("\ud800"), which have no UTF-8 form.
        raise SignatureError("Zoho CRM notification token is not valid text") from None
    if not hmac.compare_digest(presented, expected.encode("utf-8")):
        raise SignatureError("Zoho CRM notification token does not match")
    channel = _channel_text(channel_id)
    known = {text for text in (_channel_text(c) for c in known_channel_ids) if text is not None}
    if channel is None or channel not in known:
        raise SignatureError("Zoho CRM notification is for an unknown channel")
