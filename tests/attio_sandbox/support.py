"""Shared constants and small readers for the sandbox tests."""

from __future__ import annotations

from typing import Any

import httpx

BASE_URL = "http://attio.sandbox"
AUTH = {"Authorization": "Bearer sandbox-test-token"}


def values(record: dict[str, Any], slug: str) -> list[dict[str, Any]]:
    """The value objects of one attribute of a rendered record."""
    return record["values"][slug]


def first(record: dict[str, Any], slug: str, prop: str = "value") -> Any:
    items = values(record, slug)
    return items[0][prop] if items else None


def error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert Attio's error envelope with this status and code; return the body."""
    body: dict[str, Any] = response.json()
    assert response.status_code == status, body
    assert body["status_code"] == status
    assert body["code"] == code, body
    assert set(body) == {"status_code", "type", "code", "message"}
    assert isinstance(body["message"], str) and body["message"]
    return body


def write_body(**attribute_values: Any) -> dict[str, Any]:
    return {"data": {"values": attribute_values}}


def attribute_body(api_slug: str, attribute_type: str, **overrides: Any) -> dict[str, Any]:
    """A complete attribute definition (Attio requires every one of these fields)."""
    data: dict[str, Any] = {
        "title": api_slug.replace("_", " ").title(),
        "description": None,
        "api_slug": api_slug,
        "type": attribute_type,
        "is_required": False,
        "is_unique": False,
        "is_multiselect": False,
        "config": {},
    }
    data.update(overrides)
    return {"data": data}
