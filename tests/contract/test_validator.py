"""The validator itself: it catches malformed traffic, relaxes only what it documents, and the
committed subset covers exactly the sandbox's routes."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from attio_sandbox import api, task_api, webhook_api
from attio_sandbox.config import DEFAULT_ACTOR_ID
from tests.contract.extract_subset import OPERATIONS, SUBSET_PATH, extract
from tests.contract.openapi import OpenAPIValidator, ValidatingTransport

RECORD_ID = "7a1c9e5e-0000-4000-8000-000000000000"
UUID = "5f1c0b6e-7d0a-4a53-9a59-5ad6b0a7a001"
RECORD_PATH = f"/v2/objects/people/records/{RECORD_ID}"


def text_value(value: Any = "x", **overrides: Any) -> dict[str, Any]:
    item = {
        "active_from": "2026-01-01T00:00:00.000000000Z",
        "active_until": None,
        "created_by_actor": {"type": "api-token", "id": DEFAULT_ACTOR_ID},
        "value": value,
        "attribute_type": "text",
    }
    return item | overrides


def record(**record_values: Any) -> dict[str, Any]:
    return {
        "data": {
            "id": {"workspace_id": UUID, "object_id": UUID, "record_id": RECORD_ID},
            "created_at": "2026-01-01T00:00:00.000000000Z",
            "web_url": f"https://app.attio.com/sandbox/person/{RECORD_ID}",
            "values": record_values,
        }
    }


def error_body(status: int, code: str, error_type: str = "invalid_request_error") -> dict:
    return {"status_code": status, "type": error_type, "code": code, "message": "m"}


# Malformed traffic is caught ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "fragment"),
    [
        ("POST", "/v2/objects/people/attributes", {}, {"data": {"title": "x"}}, "required"),
        ("POST", "/v2/objects", {}, {"data": {"api_slug": "x"}}, "singular_noun"),
        ("POST", "/v2/objects/people/records/query", {}, {"limit": "ten"}, "limit"),
        ("PUT", "/v2/objects/people/records", {}, {"data": {"values": {}}}, "matching_attribute"),
        ("PATCH", RECORD_PATH, {}, {"data": {"values": {}, "x": 1}}, "Additional"),
        ("POST", "/v2/objects/people/records", {}, {"values": {}}, "data"),
        ("GET", "/v2/lizards/people/attributes", {}, None, "target"),
        ("GET", "/v2/objects/people/attributes", {"limit": "lots"}, None, "limit"),
        ("GET", "/v2/objects", {}, {"unexpected": True}, "no request body"),
        ("POST", "/v2/objects", {}, None, "required"),
        ("GET", "/v2/unknown", {}, None, "no operation"),
    ],
)
def test_malformed_requests_are_reported(
    validator: OpenAPIValidator,
    method: str,
    path: str,
    query: dict,
    body: Any,
    fragment: str,
) -> None:
    arguments = {"body": body} if body is not None else {}
    problems = validator.validate_request(method, path, query, **arguments)
    assert problems, "a malformed request passed"
    assert any(fragment in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        ("GET", RECORD_PATH, 200, {"data": {"values": {}}}),
        ("GET", RECORD_PATH, 200, record(x=[text_value(5)])),
        ("GET", RECORD_PATH, 200, record(x=text_value())),
        (
            "GET",
            RECORD_PATH,
            200,
            record(x=[text_value(attribute_type="texty")]),
        ),
        ("GET", RECORD_PATH, 200, record(x=[text_value(extra=1)])),
        ("GET", "/v2/self", 200, {"active": True, "scope": "x"}),
        ("GET", "/v2/objects", 200, {"data": [{"api_slug": "people"}]}),
        ("GET", "/v2/objects/people", 404, error_body(404, "gone")),
        ("GET", "/v2/objects/people", 404, {"status_code": 404, "type": "invalid_request_error"}),
        ("GET", "/v2/objects/people", 401, error_body(401, "unauthorized")),
        ("GET", "/v2/objects/people", 429, error_body(429, "slow_down", "rate_limit_error")),
        ("GET", "/v2/objects/people", 503, error_body(500, "x", "api_error")),
        ("DELETE", RECORD_PATH, 204, None),
    ],
)
def test_malformed_responses_are_reported(
    validator: OpenAPIValidator, method: str, path: str, status: int, body: Any
) -> None:
    assert validator.validate_response(method, path, status, body), "a malformed response passed"


async def test_the_transport_records_violations_in_both_directions(
    validator: OpenAPIValidator,
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": {"api_slug": 7}})

    transport = ValidatingTransport(httpx.MockTransport(answer), validator)
    async with httpx.AsyncClient(transport=transport, base_url="http://attio.test") as client:
        response = await client.post("/v2/objects", json={"data": {"api_slug": "x"}})
        await client.get("/_sandbox/faults")  # outside /v2: passed through unchecked
    assert response.json() == {"data": {"api_slug": 7}}  # the client still gets the body
    assert transport.checked == 1
    directions = {violation.where for violation in transport.violations}
    assert directions == {"request", "response"}
    assert all(v.method == "POST" and v.path == "/v2/objects" for v in transport.violations)
    assert "POST /v2/objects -> 200 [response]" in str(transport.violations[-1])


async def test_non_json_bodies_are_violations(validator: OpenAPIValidator) -> None:
    transport = ValidatingTransport(
        httpx.MockTransport(lambda request: httpx.Response(200, text="<html>")), validator
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://attio.test") as client:
        await client.post("/v2/objects", content=b"not json")
    assert [v.message for v in transport.violations] == [
        "the request body is not JSON",
        "the body is not JSON",
    ]


# Relaxations are exactly the documented ones ----------------------------------------------


def test_documented_relaxations(validator: OpenAPIValidator) -> None:
    path = RECORD_PATH
    # 1. A timestamp in a field the document declares `format: date`.
    timestamp = text_value("2026-01-01T12:00:00.000000000Z", attribute_type="timestamp")
    assert validator.validate_response("GET", path, 200, record(seen=[timestamp])) == []
    # 2. Null where the document says nullable (or allows null but enumerates strings).
    attribute = json.loads(SUBSET_PATH.read_text())["components"]["schemas"]["attribute"]
    assert "null" in attribute["properties"]["description"]["type"]
    system_actor = text_value(created_by_actor={"type": "system", "id": None})
    assert validator.validate_response("GET", path, 200, record(x=[system_actor])) == []
    # 3. Single items in write bodies.
    body = {"data": {"values": {"job_title": "CTO", "email_addresses": ["a@b.com"]}}}
    assert validator.validate_request("PATCH", path, {}, body) == []
    # 4. Codes Attio documents elsewhere, and undeclared error statuses in Attio's envelope.
    not_unique = error_body(400, "matching_attribute_definition_not_unique")
    query = {"matching_attribute": "job_title"}
    assert validator.validate_response("PUT", "/v2/objects/people/records", 400, not_unique) == []
    assert validator.validate_request("PUT", "/v2/objects/people/records", query, body) == []
    limited = error_body(429, "rate_limit_exceeded", "rate_limit_error")
    assert validator.validate_response("GET", "/v2/objects", 429, limited) == []
    unknown_code = error_body(400, "something_else")
    assert validator.validate_response("PUT", "/v2/objects/people/records", 400, unknown_code)


def test_relax_leaves_the_committed_subset_untouched(validator: OpenAPIValidator) -> None:
    committed = json.loads(SUBSET_PATH.read_text())
    untouched = copy.deepcopy(committed)
    OpenAPIValidator(committed)
    assert committed == untouched
    assert validator.document != committed


# The subset and the sandbox match --------------------------------------------------------


def _normalise(path: str) -> str:
    path = re.sub(r"\{[^}]+\}", "{}", path)
    return path.replace("/v2/{}/{}/attributes", "/v2/objects/{}/attributes")


def test_the_sandbox_serves_exactly_the_contract_operations(validator: OpenAPIValidator) -> None:
    served = {
        (method, _normalise(route.path))
        for router in (api.router, webhook_api.router, task_api.router)
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    contract = {(op.method, _normalise(op.template)) for op in validator.operations}
    assert served == contract


def test_subset_holds_the_listed_operations_and_resolves_every_reference() -> None:
    subset = json.loads(SUBSET_PATH.read_text())
    listed = {(method, path) for path, item in subset["paths"].items() for method in item}
    assert listed == set(OPERATIONS)
    assert len(subset["info"]["x-subset-of"]["sha256"]) == 64
    text = SUBSET_PATH.read_text()
    for ref in set(re.findall(r'"\$ref": "([^"]+)"', text)):
        node: Any = subset
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        assert isinstance(node, dict), ref


def test_extract_follows_references_transitively() -> None:
    operation = {"responses": {"200": {"$ref": "#/components/schemas/a"}}}
    paths: dict[str, dict[str, Any]] = {}
    for method, path in OPERATIONS:
        paths.setdefault(path, {})[method] = operation
    document = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "servers": [],
        "security": [],
        "paths": paths,
        "components": {
            "securitySchemes": {},
            "schemas": {
                "a": {"properties": {"b": {"$ref": "#/components/schemas/b"}}},
                "b": {"type": "string"},
                "unused": {"type": "number"},
            },
        },
    }
    subset = extract(document, "0" * 64)
    assert set(subset["components"]["schemas"]) == {"a", "b"}
    assert subset["info"]["x-subset-of"]["sha256"] == "0" * 64
