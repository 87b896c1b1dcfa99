"""OpenAPI descriptions the routes cannot infer: webhook bodies and headers, error bodies.

The webhook routes read the raw body themselves (signatures cover the exact bytes), so FastAPI
sees no body parameter; these pieces describe what they accept and answer, for /docs and for
schema-driven clients and fuzzers.
"""

from __future__ import annotations

from typing import Any

from app.routes._intake import JSON

ERROR_BODY = {
    JSON: {
        "schema": {
            "type": "object",
            "required": ["error", "detail"],
            "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
        }
    }
}
# The body `app.error_handlers` renders for invalid parameters (not FastAPI's default shape).
VALIDATION_ERROR = {
    "description": "Invalid parameters or body",
    "content": {
        JSON: {
            "schema": {
                "type": "object",
                "required": ["error", "detail"],
                "properties": {
                    "error": {"type": "string"},
                    "detail": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["loc", "msg"],
                            "properties": {
                                "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                                "msg": {"type": "string"},
                            },
                        },
                    },
                },
            }
        }
    },
}


def _counts(*names: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": list(names),
        "properties": {name: {"type": "integer", "minimum": 0} for name in names},
    }


WEBHOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Every event processed, ignored or recorded in the ledger; in queue mode "
        "(REDIS_URL) the delivery queued for a worker instead",
        "content": {
            JSON: {
                "schema": {
                    "anyOf": [
                        _counts("events", "processed", "ignored", "recorded"),
                        _counts("events", "queued"),
                    ]
                }
            }
        },
    },
    400: {"description": "Body not UTF-8, or not a readable payload", "content": ERROR_BODY},
    401: {"description": "Missing or wrong signature; nothing written", "content": ERROR_BODY},
    404: {"description": "This provider's secret is not configured", "content": ERROR_BODY},
    413: {"description": "Body larger than the configured limit", "content": ERROR_BODY},
    415: {"description": "Content-Type not accepted by this route", "content": ERROR_BODY},
    503: {"description": "Neither processed nor recorded: redeliver", "content": ERROR_BODY},
}
HEX_SHA256 = "^[0-9a-fA-F]{64}$"


def header(
    name: str, description: str, *, required: bool = True, pattern: str = ""
) -> dict[str, Any]:
    schema = {"type": "string", "pattern": pattern} if pattern else {"type": "string"}
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": schema,
    }


def webhook_openapi(bodies: dict[str, dict[str, Any]], *headers: dict[str, Any]) -> dict[str, Any]:
    """`openapi_extra` for a webhook route: the body schema per accepted media type, and the
    headers the route reads."""
    content = {media_type: {"schema": schema} for media_type, schema in bodies.items()}
    extra: dict[str, Any] = {"requestBody": {"required": True, "content": content}}
    if headers:
        extra["parameters"] = list(headers)
    return extra
