"""Attio's record query language: filters compiled to predicates, and sorts.

A filter compiles once into a small tree. Each node can also name the records that could match
using the equality index (`candidates`), so a lookup by email, domain or a unique id touches a
handful of records instead of scanning the object; the full predicate then confirms each one.

Semantics, from Attio's filtering guide and attribute-type pages:
- `{"slug": value}` is `$eq` on the type's main property; several keys are an implicit `$and`.
- `{"slug": {"$op": ...}}` applies operators to the main property; `{"slug": {"prop": ...}}`
  targets a property (`full_name`, `email_domain`, `target_record_id`, ...).
- A record matches an attribute condition when one of its values satisfies every operator and
  property in it (so `{"company": {"target_object": ..., "target_record_id": ...}}` must hold
  for the same reference).
- `$contains`, `$starts_with` and `$ends_with` ignore case.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from attio_sandbox.clock import parse_date, parse_timestamp
from attio_sandbox.errors import filter_error, validation_error, value_not_found
from attio_sandbox.model import AttributeDef, ObjectDef, Record, StoredValue
from attio_sandbox.values import DEFAULT_PROPERTY, PROPERTY_ALIASES, PROPERTY_KINDS, Kind

Index = Mapping[str, Mapping[Hashable, set[str]]]
FindObject = Callable[[str], ObjectDef | None]

_EQUALITY = frozenset({"$eq", "$in", "$not_empty"})
_STRING_OPERATORS = frozenset({"$contains", "$starts_with", "$ends_with"})
_ORDER_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "$lt": operator.lt,
    "$lte": operator.le,
    "$gt": operator.gt,
    "$gte": operator.ge,
}
_STRING_KINDS = frozenset({"text", "folded", "phone"})
_ORDERED_KINDS = frozenset({"number", "date", "timestamp"})
_PHONE_FORMATTING = re.compile(r"[\s\-().]")


class _NoMatch:
    """Operand for a select option or object that does not exist: equal to nothing."""

    def __repr__(self) -> str:
        return "<no match>"


NO_MATCH = _NoMatch()


class Node(Protocol):
    def matches(self, record: Record) -> bool: ...

    def candidates(self, index: Index) -> set[str] | None:
        """Ids of every record that could match, or None when only a scan can tell."""
        ...


@dataclass(frozen=True, slots=True)
class AllOf:
    children: tuple[Node, ...]

    def matches(self, record: Record) -> bool:
        return all(child.matches(record) for child in self.children)

    def candidates(self, index: Index) -> set[str] | None:
        best: set[str] | None = None
        for child in self.children:
            found = child.candidates(index)
            if found is not None and (best is None or len(found) < len(best)):
                best = found
        return best


@dataclass(frozen=True, slots=True)
class AnyOf:
    children: tuple[Node, ...]

    def matches(self, record: Record) -> bool:
        return any(child.matches(record) for child in self.children)

    def candidates(self, index: Index) -> set[str] | None:
        union: set[str] = set()
        for child in self.children:
            found = child.candidates(index)
            if found is None:
                return None
            union |= found
        return union


@dataclass(frozen=True, slots=True)
class Negation:
    child: Node

    def matches(self, record: Record) -> bool:
        return not self.child.matches(record)

    def candidates(self, index: Index) -> set[str] | None:
        return None


@dataclass(frozen=True, slots=True)
class Condition:
    prop: str
    op: str
    operand: Any

    def test(self, value: StoredValue) -> bool:
        actual = value.active_from if self.prop == "active_from" else value.fields.get(self.prop)
        op = self.op
        if op == "$eq":
            return bool(actual == self.operand)
        if op == "$in":
            return actual in self.operand
        if op == "$not_empty":
            return (actual is not None and actual != "") == self.operand
        if op in _STRING_OPERATORS:
            if not isinstance(actual, str):
                return False
            folded = actual.casefold()
            if op == "$contains":
                return self.operand in folded
            if op == "$starts_with":
                return folded.startswith(self.operand)
            return folded.endswith(self.operand)
        return actual is not None and _ORDER_OPERATORS[op](actual, self.operand)


@dataclass(frozen=True, slots=True)
class AttributeTest:
    attribute: AttributeDef
    conditions: tuple[Condition, ...]

    def matches(self, record: Record) -> bool:
        values = record.values.get(self.attribute.id)
        if not values:
            # Only "has no value" holds for a record without values.
            return all(c.op == "$not_empty" and c.operand is False for c in self.conditions)
        return any(all(c.test(value) for c in self.conditions) for value in values)

    def candidates(self, index: Index) -> set[str] | None:
        main = DEFAULT_PROPERTY[self.attribute.type]
        by_key = index.get(self.attribute.id, {})
        for condition in self.conditions:
            if condition.prop != main:
                continue
            if condition.op == "$eq":
                return set(by_key.get(condition.operand, ()))
            if condition.op == "$in":
                found: set[str] = set()
                for key in condition.operand:
                    found |= by_key.get(key, set())
                return found
        return None


def compile_filter(obj: ObjectDef, raw: Any, find_object: FindObject) -> Node:
    if not isinstance(raw, dict):
        raise filter_error("The filter must be an object.")
    nodes: list[Node] = []
    for key, value in raw.items():
        if key in ("$and", "$or"):
            if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
                raise filter_error(f"{key} expects an array of filter objects.")
            children = tuple(compile_filter(obj, item, find_object) for item in value)
            nodes.append(AllOf(children) if key == "$and" else AnyOf(children))
        elif key == "$not":
            nodes.append(Negation(compile_filter(obj, value, find_object)))
        elif key in ("path", "constraints"):
            raise filter_error("Path (drill-down) filters are not supported by the sandbox.")
        elif key.startswith("$"):
            raise filter_error(f'Unknown logical operator "{key}".')
        else:
            attribute = obj.find_attribute(key)
            if attribute is None:
                raise filter_error(
                    f'Cannot filter by unknown attribute "{key}" on object "{obj.api_slug}".'
                )
            nodes.append(_compile_attribute(attribute, value, find_object))
    return nodes[0] if len(nodes) == 1 else AllOf(tuple(nodes))


def _compile_attribute(attribute: AttributeDef, raw: Any, find_object: FindObject) -> AttributeTest:
    main = DEFAULT_PROPERTY[attribute.type]
    conditions: list[Condition] = []
    if isinstance(raw, dict):
        if not raw:
            raise filter_error(f'Empty condition for attribute "{attribute.api_slug}".')
        operators = [key for key in raw if key.startswith("$")]
        if len(operators) == len(raw):
            conditions += _operators(attribute, main, raw, find_object)
        elif operators:
            raise filter_error(
                f'Condition for "{attribute.api_slug}" mixes operators and property names.'
            )
        else:
            for name, sub in raw.items():
                prop = _property(attribute, name)
                if isinstance(sub, dict):
                    if not sub or not all(key.startswith("$") for key in sub):
                        raise filter_error(
                            f'Condition for "{attribute.api_slug}.{prop}" must use operators.'
                        )
                    conditions += _operators(attribute, prop, sub, find_object)
                else:
                    conditions.append(_condition(attribute, prop, "$eq", sub, find_object))
    elif raw is None or isinstance(raw, list):
        raise filter_error(f'Invalid condition for attribute "{attribute.api_slug}".')
    else:
        conditions.append(_condition(attribute, main, "$eq", raw, find_object))
    return AttributeTest(attribute, tuple(conditions))


def _property(attribute: AttributeDef, name: str) -> str:
    prop = PROPERTY_ALIASES.get(name, name)
    if prop != "active_from" and prop not in PROPERTY_KINDS[attribute.type]:
        raise filter_error(
            f'Attribute "{attribute.api_slug}" of type {attribute.type} '
            f'has no filterable property "{name}".'
        )
    return prop


def _operators(
    attribute: AttributeDef, prop: str, raw: dict[str, Any], find_object: FindObject
) -> list[Condition]:
    return [_condition(attribute, prop, op, value, find_object) for op, value in raw.items()]


def _kind(attribute: AttributeDef, prop: str) -> Kind:
    return "timestamp" if prop == "active_from" else PROPERTY_KINDS[attribute.type][prop]


def _condition(
    attribute: AttributeDef, prop: str, op: str, value: Any, find_object: FindObject
) -> Condition:
    kind = _kind(attribute, prop)
    where = f'"{attribute.api_slug}" ({attribute.type}, property {prop})'
    if op == "$not_empty":
        if not isinstance(value, bool):
            raise filter_error(f"$not_empty on {where} expects true or false.")
        return Condition(prop, op, value)
    if op == "$in":
        if not isinstance(value, list):
            raise filter_error(f"$in on {where} expects an array.")
        operands = frozenset(_operand(kind, item, attribute, find_object, where) for item in value)
        return Condition(prop, op, operands)
    if op == "$eq":
        return Condition(prop, op, _operand(kind, value, attribute, find_object, where))
    if op in _STRING_OPERATORS and kind in _STRING_KINDS:
        if not isinstance(value, str):
            raise filter_error(f"{op} on {where} expects a string.")
        text = _PHONE_FORMATTING.sub("", value) if kind == "phone" else value
        return Condition(prop, op, text.casefold())
    if op in _ORDER_OPERATORS and kind in _ORDERED_KINDS:
        return Condition(prop, op, _operand(kind, value, attribute, find_object, where))
    if op in _EQUALITY or op in _STRING_OPERATORS or op in _ORDER_OPERATORS:
        raise filter_error(f"Operator {op} is not supported on {where}.")
    raise filter_error(f'Unknown comparison operator "{op}" on {where}.')


def _operand(
    kind: Kind, value: Any, attribute: AttributeDef, find_object: FindObject, where: str
) -> Any:
    """The operand normalised the way stored values were, so a plain comparison decides."""
    if kind == "boolean":
        if value in ("true", "false"):
            return value == "true"
        if isinstance(value, bool):
            return value
        raise filter_error(f"{where} compares with true or false, got {value!r}.")
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise filter_error(f"{where} compares with a number, got {value!r}.")
        return float(value)
    if not isinstance(value, str):
        raise filter_error(f"{where} compares with a string, got {value!r}.")
    try:
        if kind == "date":
            return parse_date(value)
        if kind == "timestamp":
            return parse_timestamp(value)
    except ValueError as exc:
        raise filter_error(f"{where}: {exc}") from None
    if kind == "folded":
        return value.lower()
    if kind == "country":
        return value.upper()
    if kind == "phone":
        return _PHONE_FORMATTING.sub("", value)
    if kind == "option":
        option = attribute.find_option(value)
        return option.id if option is not None else NO_MATCH
    if kind == "object":
        target = find_object(value)
        return target.api_slug if target is not None else NO_MATCH
    return value


@dataclass(frozen=True, slots=True)
class SortKey:
    attribute: AttributeDef
    prop: str
    descending: bool

    def value(self, record: Record) -> Any:
        values = record.values.get(self.attribute.id)
        if not values:
            return None
        actual = values[0].fields.get(self.prop)
        if self.prop == "option" and actual is not None:
            return self.attribute.options[actual].title
        return actual


def compile_sorts(obj: ObjectDef, raw: Any) -> list[SortKey]:
    if not isinstance(raw, list):
        raise validation_error("sorts must be an array.")
    keys: list[SortKey] = []
    for item in raw:
        if not isinstance(item, dict) or item.get("direction") not in ("asc", "desc"):
            raise validation_error('Each sort needs a "direction" of "asc" or "desc".')
        if "path" in item:
            raise validation_error("Path sorts are not supported by the sandbox.")
        ref = item.get("attribute")
        attribute = obj.find_attribute(ref) if isinstance(ref, str) else None
        if attribute is None:
            raise value_not_found(f'Cannot sort by unknown attribute "{ref}".')
        field = item.get("field")
        prop = DEFAULT_PROPERTY[attribute.type]
        if field is not None:
            prop = PROPERTY_ALIASES.get(field, str(field))
            if prop not in PROPERTY_KINDS[attribute.type]:
                raise validation_error(
                    f'Attribute "{attribute.api_slug}" has no sortable field "{field}".'
                )
        keys.append(SortKey(attribute, prop, item["direction"] == "desc"))
    return keys


def sort_records(records: list[Record], keys: list[SortKey]) -> list[Record]:
    """Stable multi-key sort; records without a value come last in either direction."""
    for key in reversed(keys):
        present: list[tuple[Any, Record]] = []
        missing: list[Record] = []
        for record in records:
            value = key.value(record)
            if value is None:
                missing.append(record)
            else:
                present.append((value, record))
        present.sort(key=lambda pair: pair[0], reverse=key.descending)
        records = [record for _, record in present] + missing
    return records
