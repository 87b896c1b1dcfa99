"""Attio webhook signatures.

Attio signs the raw request body only: lowercase hex HMAC-SHA256, key = the webhook secret as
UTF-8 text (not hex-decoded), sent in `Attio-Signature` and, with the same value, in the legacy
`X-Attio-Signature`. There is no timestamp and no `sha256=` prefix; schemes that sign
"{timestamp}.{body}" are third-party inventions and are deliberately not accepted.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from app.errors import SignatureError
from app.signatures._common import HEX_SHA256, header_value

ATTIO_SIGNATURE_HEADER = "Attio-Signature"
ATTIO_LEGACY_SIGNATURE_HEADER = "X-Attio-Signature"


def attio_signature_from_headers(headers: Mapping[str, str]) -> str | None:
    """The signature Attio sent: `Attio-Signature`, else `X-Attio-Signature`; None if neither."""
    return header_value(headers, ATTIO_SIGNATURE_HEADER, ATTIO_LEGACY_SIGNATURE_HEADER)


def verify_attio_signature(body: bytes, signature: str | None, secret: str | None) -> None:
    """Raise `SignatureError` unless `signature` is Attio's HMAC of exactly these body bytes.

    `body` must be the bytes as received: parsing and re-serialising JSON changes them.
    """
    if not secret or not secret.strip():
        raise SignatureError("Attio webhook secret is not configured; no request can be verified")
    if signature is None or not signature.strip():
        raise SignatureError("missing Attio-Signature header")
    presented = signature.strip()
    # Checking the shape first keeps compare_digest on ASCII and rejects e.g. "sha256=…".
    if not HEX_SHA256.fullmatch(presented):
        raise SignatureError("Attio signature is not a 64-character hex HMAC-SHA256 digest")
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode("ascii"), presented.lower().encode("ascii")):
        raise SignatureError("Attio signature does not match the request body")
