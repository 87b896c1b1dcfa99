"""Checking HTTP traffic against Attio's OpenAPI document (the committed subset).

`OpenAPIValidator` finds the operation for a method and concrete path, then validates path and
query parameters and the JSON request body against the operation, and a response body against
the schema declared for its status. Schemas are JSON Schema 2020-12 (OpenAPI 3.1); `$ref`s
resolve inside the document through a `referencing` registry.

`ValidatingTransport` wraps any httpx async transport and records every violation in the
traffic passing through it, so a client (the sandbox's or the bridge's own) can be run against it.

Where the document cannot be taken literally, the validator relaxes it; each relaxation is
listed here and applied in `relax`:

1. Formats are not asserted. The document declares `format: date` on fields that hold
   datetimes (e.g. the timestamp value's `value`), so format checking would reject correct
   Attio data. Types, enums, required keys and shapes are still checked.
2. Leftovers of the OpenAPI 3.0 conversion are read as intended: `nullable: true` adds null to
   `type`, and a `type` that allows null also admits null into its `enum` (the attribute
   schema's `config.currency.default_currency_code` is null for non-currency attributes).
3. Record write bodies (`data.values`) accept a single item as well as an array per attribute.
   The schema says array, but its own description and example, and Attio's attribute-type
   guides, send single items for single-value attributes.
4. Error responses accept every code Attio documents for that status, not only the one or two
   the document lists per operation (the newer documents list more; see
   `DOCUMENTED_ERROR_CODES`). Error statuses an operation does not declare at all (401, 429,
   5xx, ...) must still use Attio's error envelope with a matching `status_code`.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.contract.extract_subset import SUBSET_PATH

_BASE_URI = "urn:attio-openapi"
_METHODS = ("get", "put", "post", "patch", "delete")
_ABSENT: Any = object()

# Codes Attio documents per error status across its documents and guides (the newest document,
# via the SDK models generated from it, lists more per operation than the March 2026 copy).
DOCUMENTED_ERROR_CODES: dict[int, frozenset[str]] = {
    400: frozenset(
        {
            "validation_type",
            "value_not_found",
            "missing_value",
            "filter_error",
            "immutable_value",
            "system_edit_unauthorized",
            "multiple_match_results",
            "matching_attribute_definition_not_unique",
            "uniqueness_conflict",
            "duplicate_values",
            "multiple_values_for_single_value_attribute",
        }
    ),
    401: frozenset({"unauthorized"}),
    403: frozenset({"unauthorized", "billing_error"}),
    404: frozenset({"not_found", "merge_in_progress"}),
    409: frozenset({"slug_conflict", "concurrent_write_conflict", "uniqueness_conflict"}),
    429: frozenset({"rate_limit_exceeded"}),
}
_ERROR_TYPES = {401: "auth_error", 403: "auth_error", 429: "rate_limit_error"}


def error_envelope(status: int) -> dict[str, Any]:
    """Attio's error body for a status an operation does not declare."""
    code: dict[str, Any] = {"type": "string"}
    if status in DOCUMENTED_ERROR_CODES:
        code["enum"] = sorted(DOCUMENTED_ERROR_CODES[status])
    error_type: dict[str, Any] = {"type": "string"}
    if status < 500:
        error_type["const"] = _ERROR_TYPES.get(status, "invalid_request_error")
    return {
        "type": "object",
        "properties": {
            "status_code": {"const": status},
            "type": error_type,
            "code": code,
            "message": {"type": "string"},
        },
        "required": ["status_code", "type", "code", "message"],
    }


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def relax(document: dict[str, Any]) -> dict[str, Any]:
    """Apply relaxations 2-4 of the module docstring to a copy of `document`."""
    document = copy.deepcopy(document)
    for node in _walk(document):
        kind = node.get("type")
        if not isinstance(kind, str | list):
            continue
        kinds = [kind] if isinstance(kind, str) else list(kind)
        if node.pop("nullable", False) and "null" not in kinds:
            kinds.append("null")
        if "null" in kinds:
            node["type"] = kinds
            if "enum" in node and None not in node["enum"]:
                node["enum"] = [*node["enum"], None]
    for item in document["paths"].values():
        for operation in item.values():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            for node in _walk(body["schema"] if body else None):
                values = node.get("properties", {}).get("values")
                if isinstance(values, dict) and values.get("additionalProperties") == {
                    "type": "array"
                }:
                    values["additionalProperties"] = {}
            for status, response in operation.get("responses", {}).items():
                schema = response.get("content", {}).get("application/json", {}).get("schema", {})
                code = schema.get("properties", {}).get("code", {})
                if status.isdigit() and "enum" in code:
                    documented = DOCUMENTED_ERROR_CODES.get(int(status), frozenset())
                    code["enum"] = sorted(set(code["enum"]) | documented)
    return document


@dataclass(frozen=True, slots=True)
class Violation:
    method: str
    path: str
    where: str  # "request" or "response"
    status: int | None
    message: str

    def __str__(self) -> str:
        status = f" -> {self.status}" if self.status is not None else ""
        return f"{self.method} {self.path}{status} [{self.where}] {self.message}"


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    pointer: str
    spec: dict[str, Any]

    @property
    def literal_segments(self) -> int:
        return sum(1 for part in self.template.split("/") if part and "{" not in part)


def _pointer(*parts: str) -> str:
    return "/" + "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


def _focus(error: ValidationError) -> ValidationError:
    """For a failed oneOf/anyOf, the error of the alternative that came closest.

    The closest alternative is the one with the fewest errors: for a value object that is the
    alternative of its own `attribute_type`, which names the real problem.
    """
    if not error.context:
        return error
    by_alternative: dict[Any, list[ValidationError]] = {}
    for sub in error.context:
        by_alternative.setdefault(sub.relative_schema_path[0], []).append(sub)
    closest = min(by_alternative.values(), key=len)
    return _focus(best_match(closest))


def _messages(errors: list[ValidationError]) -> list[str]:
    messages = []
    for error in errors:
        focused = _focus(error)
        text = f"{focused.json_path}: {focused.message}"
        messages.append(text if len(text) <= 400 else text[:400] + "...")
    return messages


def _coerce(raw: str, schema: Mapping[str, Any]) -> Any:
    """A query or path parameter (always text on the wire) as its schema's type."""
    kind = schema.get("type")
    if kind == "boolean" and raw in ("true", "false"):
        return raw == "true"
    if kind in ("integer", "number"):
        try:
            number = float(raw)
        except ValueError:
            return raw
        return int(number) if kind == "integer" and number.is_integer() else number
    return raw


class OpenAPIValidator:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = relax(document)
        resource = Resource(contents=self.document, specification=DRAFT202012)
        self._registry: Registry = Registry().with_resource(_BASE_URI, resource)
        operations = []
        for template, item in self.document["paths"].items():
            regex = re.sub(r"\\\{([^}]+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
            for method in _METHODS:
                if method in item:
                    operations.append(
                        Operation(
                            method=method.upper(),
                            template=template,
                            pattern=re.compile(f"^{regex}$"),
                            pointer=_pointer("paths", template, method),
                            spec=item[method],
                        )
                    )
        # The most specific template wins: /records/query before /records/{record_id}.
        self.operations = sorted(operations, key=lambda op: -op.literal_segments)
        self._validators: dict[str, Draft202012Validator] = {}

    @classmethod
    def from_subset(cls, path: Path = SUBSET_PATH) -> OpenAPIValidator:
        return cls(json.loads(path.read_text()))

    def find_operation(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        for operation in self.operations:
            if operation.method != method.upper():
                continue
            match = operation.pattern.match(path)
            if match:
                return operation, match.groupdict()
        return None

    def _validator(self, pointer: str) -> Draft202012Validator:
        validator = self._validators.get(pointer)
        if validator is None:
            ref = f"{_BASE_URI}#{quote(pointer, safe='/~')}"
            validator = Draft202012Validator({"$ref": ref}, registry=self._registry)
            self._validators[pointer] = validator
        return validator

    def _check(self, pointer: str, instance: Any) -> list[str]:
        return _messages(list(self._validator(pointer).iter_errors(instance)))

    def validate_request(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: Any = _ABSENT,
    ) -> list[str]:
        """Problems with a request; `body` left out means the request had none."""
        found = self.find_operation(method, path)
        if found is None:
            return [f"no operation for {method.upper()} {path} in the contract"]
        operation, path_params = found
        problems: list[str] = []
        query = query or {}
        for index, parameter in enumerate(operation.spec.get("parameters", [])):
            name, location = parameter["name"], parameter["in"]
            supplied = path_params if location == "path" else query if location == "query" else {}
            if name not in supplied:
                if parameter.get("required"):
                    problems.append(f"missing required {location} parameter {name!r}")
                continue
            pointer = f"{operation.pointer}/parameters/{index}/schema"
            value = _coerce(supplied[name], parameter["schema"])
            problems += [f"{location} parameter {name!r}: {m}" for m in self._check(pointer, value)]
        request_body = operation.spec.get("requestBody")
        if request_body is None:
            if body is not _ABSENT:
                problems.append("the operation takes no request body")
        elif body is _ABSENT:
            if request_body.get("required"):
                problems.append("the request body is required")
        else:
            pointer = f"{operation.pointer}/requestBody/content/application~1json/schema"
            problems += self._check(pointer, body)
        return problems

    def validate_response(self, method: str, path: str, status: int, body: Any) -> list[str]:
        found = self.find_operation(method, path)
        if found is None:
            return [f"no operation for {method.upper()} {path} in the contract"]
        operation, _ = found
        responses = operation.spec.get("responses", {})
        if str(status) in responses:
            content = responses[str(status)].get("content", {})
            if "application/json" not in content:
                return []
            pointer = f"{operation.pointer}/responses/{status}/content/application~1json/schema"
            return self._check(pointer, body)
        if status < 400:
            return [f"status {status} is not a documented response of this operation"]
        validator = Draft202012Validator(error_envelope(status))
        return _messages(list(validator.iter_errors(body)))


@cache
def subset_validator() -> OpenAPIValidator:
    """The validator for the committed subset, built once per test session."""
    return OpenAPIValidator.from_subset()


def _json(content: bytes) -> Any:
    if not content:
        return _ABSENT
    return json.loads(content)


class ValidatingTransport(httpx.AsyncBaseTransport):
    """Passes traffic through to `inner` and records every contract violation in it.

    Only /v2 paths are checked; anything else (the sandbox's development routes) passes as is.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, validator: OpenAPIValidator) -> None:
        self._inner = inner
        self._validator = validator
        self.violations: list[Violation] = []
        self.checked = 0

    def _record(self, request: httpx.Request, where: str, status: int | None, problems: list[str]):
        for problem in problems:
            violation = Violation(request.method, request.url.path, where, status, problem)
            self.violations.append(violation)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if not path.startswith("/v2"):
            return await self._inner.handle_async_request(request)
        self.checked += 1
        content = await request.aread()
        try:
            body = _json(content)
        except ValueError:
            self._record(request, "request", None, ["the request body is not JSON"])
        else:
            query = dict(request.url.params)
            problems = self._validator.validate_request(request.method, path, query, body)
            self._record(request, "request", None, problems)

        response = await self._inner.handle_async_request(request)
        raw = await response.aread()
        try:
            payload = _json(raw)
        except ValueError:
            self._record(request, "response", response.status_code, ["the body is not JSON"])
        else:
            problems = self._validator.validate_response(
                request.method, path, response.status_code, None if payload is _ABSENT else payload
            )
            self._record(request, "response", response.status_code, problems)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()
