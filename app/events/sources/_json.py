"""JSON decoding for verified bodies: any failure is the sender's mistake, a clear 400."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from app.errors import MalformedPayloadError


def decode_json_object(body: bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise MalformedPayloadError(f"{what} body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MalformedPayloadError(f"{what} body must be a JSON object")
    return data


def body_digest(body: bytes) -> str:
    """A stable stand-in key when a provider sends no id for a delivery."""
    return hashlib.sha256(body).hexdigest()[:32]
