"""Webhook subscription filters: checking one as Attio does, and matching events against it.

A filter is `null` (every event passes) or an object with exactly one key, `$and` or `$or`,
holding a list of conditions `{field, operator, value}`. `field` is a dot path into the event
(`actor.type`, `id.object_id`), the operator `equals` or `not_equals`, the value a string.
Filters cannot nest.

Attio does not say what a path that is absent from an event compares as; here it has no value,
so `equals` fails and `not_equals` passes (an event without `id.attribute_id` is "not equal" to
any attribute).
"""

from __future__ import annotations

import re
from typing import Any

from attio_sandbox.errors import validation_error

OPERATORS = frozenset({"equals", "not_equals"})
_CONDITION_KEYS = frozenset({"field", "operator", "value"})
_PATH = re.compile(r"^[a-z_]+(\.[a-z_]+)*$")

Filter = dict[str, list[dict[str, str]]]


def check_filter(raw: Any, where: str = "filter") -> Filter | None:
    """The filter as given, or Attio's 400 `validation_type` naming what is wrong."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in ("$and", "$or"):
        raise validation_error(f'"{where}" must be null or an object with one key, $and or $or.')
    ((combinator, conditions),) = raw.items()
    if not isinstance(conditions, list):
        raise validation_error(f'"{where}.{combinator}" must be an array of conditions.')
    for index, condition in enumerate(conditions):
        _check_condition(condition, f"{where}.{combinator}[{index}]")
    return {combinator: [dict(condition) for condition in conditions]}


def _check_condition(condition: Any, where: str) -> None:
    if not isinstance(condition, dict) or set(condition) != _CONDITION_KEYS:
        raise validation_error(
            f'"{where}" must be an object with exactly "field", "operator" and "value".'
        )
    field = condition["field"]
    if not isinstance(field, str) or not _PATH.match(field):
        raise validation_error(f'"{where}.field" must be a dot path such as "actor.type".')
    if condition["operator"] not in OPERATORS:
        raise validation_error(f'"{where}.operator" must be "equals" or "not_equals".')
    if not isinstance(condition["value"], str):
        raise validation_error(f'"{where}.value" must be a string.')


def _lookup(event: dict[str, Any], path: str) -> Any:
    node: Any = event
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def matches(event_filter: Filter | None, event: dict[str, Any]) -> bool:
    """Whether a webhook event (as delivered) passes the filter."""
    if event_filter is None:
        return True
    ((combinator, conditions),) = event_filter.items()
    results = (
        (_lookup(event, c["field"]) == c["value"]) == (c["operator"] == "equals")
        for c in conditions
    )
    return all(results) if combinator == "$and" else any(results)
