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


def body_digest(body: bytes, query: str = "") -> str:
    """A stable digest of what was signed: part of a key, or a stand-in when there is no id.

    The query's length goes first, so no split of the same bytes between query and body
    gives the same digest.
    """
    digest = hashlib.sha256(f"{len(query)}:{query}".encode() if query else b"")
    digest.update(body)
    return digest.hexdigest()[:32]
