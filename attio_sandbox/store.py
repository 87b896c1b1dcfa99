"""The emulated workspace: objects, attributes, options and records, with Attio's write rules.

Every record mutation goes through `_apply` (values and index) and `_announce` (journal), so
the equality index and the event journal can never miss a change. A write is validated in full
(values parsed, references resolved, uniqueness checked) before anything is changed, and no
method awaits, so each write is atomic for concurrent requests on the event loop. Writes are
attributed to the API token unless they name another actor (e.g. a workspace member's edit in
Attio's web app).

The equality index maps (attribute, main-property value) to record ids. It serves uniqueness
checks, assert matching, reference matching and `$eq`/`$in` filters without scanning records.
"""

from __future__ import annotations

import itertools
import re
import time
import uuid
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Literal

from attio_sandbox.actors import Actor, api_token
from attio_sandbox.clock import now_timestamp
from attio_sandbox.companies import (
    COMPANY_ATTRIBUTE,
    DOMAINS_ATTRIBUTE,
    EMAILS_ATTRIBUTE,
    company_domain,
    company_name,
)
from attio_sandbox.config import SandboxConfig
from attio_sandbox.errors import (
    AttioError,
    missing_value,
    not_found,
    object_limit,
    slug_conflict,
    validation_error,
    value_not_found,
)
from attio_sandbox.journal import EventType, Journal
from attio_sandbox.model import AttributeDef, ObjectDef, Record, SelectOption, StoredValue
from attio_sandbox.query import compile_filter, compile_sorts, sort_records
from attio_sandbox.values import CREATABLE_TYPES, InvalidValue, index_key, parse_values

_SLUG = re.compile(r"^[a-z][a-z0-9_]*$")
_MULTISELECT_TYPES = frozenset(
    {"select", "record-reference", "domain", "email-address", "phone-number"}
)
# A bare string written to a reference that allows only one of these objects is matched on
# that attribute (an email address for people, a domain for companies).
_STRING_REFERENCE_MATCH = {"people": "email_addresses", "companies": "domains"}

Parsed = dict[str, tuple[AttributeDef, list[dict[str, Any]]]]
Changes = dict[str, list[StoredValue]]
# "new-record": Attio's current merge; "into-original": the behaviour it documented before.
MergeMode = Literal["new-record", "into-original"]


class Workspace:
    def __init__(self, config: SandboxConfig, journal: Journal) -> None:
        self.workspace_id = config.workspace_id
        self.workspace_slug = config.workspace_slug
        # Who the current write is attributed to; see `acting_as`.
        self.actor: Actor = api_token(config.token_actor_id)
        # Records merged away -> the record they live on in (the new record or the original).
        self.merged_into: dict[str, str] = {}
        # New records of merges still "running": record id -> monotonic time they are readable.
        self.merge_in_progress_seconds = config.merge_in_progress_seconds
        self.max_objects = config.max_objects
        self.merging_until: dict[str, float] = {}
        self._journal = journal
        self.objects: dict[str, ObjectDef] = {}
        self._objects_by_slug: dict[str, ObjectDef] = {}
        self._index: dict[str, dict[Hashable, set[str]]] = {}
        self._sequence = itertools.count(1)
        self._seed_standard_objects()

    @contextmanager
    def acting_as(self, actor: Actor | None) -> Iterator[None]:
        """Attribute the writes made inside the block to `actor` (None keeps the API token).

        Safe around store calls, which never await. Around an awaited API call it holds only
        while no other request is writing at the same time.
        """
        if actor is None:
            yield
            return
        previous = self.actor
        self.actor = dict(actor)
        try:
            yield
        finally:
            self.actor = previous

    # Objects -----------------------------------------------------------------------------

    def find_object(self, slug_or_id: str) -> ObjectDef | None:
        return self._objects_by_slug.get(slug_or_id) or self.objects.get(slug_or_id)

    def get_object(self, slug_or_id: str) -> ObjectDef:
        obj = self.find_object(slug_or_id)
        if obj is None:
            raise not_found(f'Object with slug/ID "{slug_or_id}" not found.')
        return obj

    def create_object(self, api_slug: str, singular_noun: str, plural_noun: str) -> ObjectDef:
        if not _SLUG.match(api_slug):
            raise validation_error(
                f'api_slug "{api_slug}" must be lower-case letters, digits and underscores.'
            )
        if api_slug in self._objects_by_slug:
            raise slug_conflict(f'An object with slug "{api_slug}" already exists.')
        # Attio refuses a taken noun as well as a taken slug (its 409 example).
        nouns = {singular_noun.casefold(), plural_noun.casefold()}
        if any(
            {o.singular_noun.casefold(), o.plural_noun.casefold()} & nouns
            for o in self.objects.values()
        ):
            raise slug_conflict("Please ensure your api_slug and names are unique.")
        if self.max_objects is not None and len(self.objects) >= self.max_objects:
            raise object_limit(self.max_objects)
        obj = ObjectDef(str(uuid.uuid4()), api_slug, singular_noun, plural_noun, now_timestamp())
        self.objects[obj.id] = obj
        self._objects_by_slug[api_slug] = obj
        # Maintained by the workspace itself, so never writable.
        self._add_attribute(obj, "record_id", "Record ID", "text", unique=True)
        self._add_attribute(obj, "created_at", "Created at", "timestamp")
        self._add_attribute(obj, "created_by", "Created by", "actor-reference")
        return obj

    def _seed_standard_objects(self) -> None:
        companies = self.create_object("companies", "Company", "Companies")
        self._add_attribute(companies, "name", "Name", "text", writable=True)
        self._add_attribute(
            companies, "domains", "Domains", "domain", writable=True, unique=True, multi=True
        )
        people = self.create_object("people", "Person", "People")
        self._add_attribute(people, "name", "Name", "personal-name", writable=True)
        self._add_attribute(
            people,
            "email_addresses",
            "Email addresses",
            "email-address",
            writable=True,
            unique=True,
            multi=True,
        )
        self._add_attribute(
            people, "phone_numbers", "Phone numbers", "phone-number", writable=True, multi=True
        )
        self._add_attribute(people, "job_title", "Job title", "text", writable=True)
        company = self._add_attribute(
            people, "company", "Company", "record-reference", writable=True
        )
        company.allowed_object_ids = [companies.id]

    # Attributes --------------------------------------------------------------------------

    def _add_attribute(
        self,
        obj: ObjectDef,
        api_slug: str,
        title: str,
        attribute_type: str,
        *,
        writable: bool = False,
        unique: bool = False,
        multi: bool = False,
    ) -> AttributeDef:
        """A standard attribute: system-defined, and writable only where Attio allows it."""
        attribute = AttributeDef(
            object_id=obj.id,
            title=title,
            api_slug=api_slug,
            type=attribute_type,
            is_unique=unique,
            is_multiselect=multi,
            is_system=True,
            is_writable=writable,
        )
        self._register(obj, attribute)
        return attribute

    def _register(self, obj: ObjectDef, attribute: AttributeDef) -> None:
        obj.attributes[attribute.id] = attribute
        obj.attributes_by_slug[attribute.api_slug] = attribute
        self._index[attribute.id] = {}

    def get_attribute(self, object_ref: str, attribute_ref: str) -> AttributeDef:
        obj = self.get_object(object_ref)
        attribute = obj.find_attribute(attribute_ref)
        if attribute is None:
            raise not_found(
                f'Attribute with slug/ID "{attribute_ref}" not found on object "{obj.api_slug}".'
            )
        return attribute

    def create_attribute(
        self,
        object_ref: str,
        *,
        title: str,
        description: str | None,
        api_slug: str,
        attribute_type: str,
        is_required: bool,
        is_unique: bool,
        is_multiselect: bool,
        currency_code: str | None = None,
        currency_display: str | None = None,
        allowed_objects: list[str] | None = None,
    ) -> AttributeDef:
        obj = self.get_object(object_ref)
        if not _SLUG.match(api_slug):
            raise validation_error(
                f'api_slug "{api_slug}" must be lower-case letters, digits and underscores.'
            )
        if api_slug in obj.attributes_by_slug:
            raise slug_conflict(
                f'An attribute with slug "{api_slug}" already exists on object "{obj.api_slug}".'
            )
        if attribute_type not in CREATABLE_TYPES:
            raise validation_error(
                f'Attributes of type "{attribute_type}" cannot be created on objects here.'
            )
        if attribute_type == "select" and is_unique:
            raise validation_error("Select attributes cannot be unique.")
        if is_multiselect and attribute_type not in _MULTISELECT_TYPES:
            raise validation_error(f'Attributes of type "{attribute_type}" cannot be multiselect.')
        allowed_object_ids: list[str] | None = None
        if attribute_type == "record-reference":
            if not allowed_objects:
                raise validation_error(
                    "Record-reference attributes need config.record_reference.allowed_objects."
                )
            allowed_object_ids = []
            for ref in allowed_objects:
                target = self.find_object(ref)
                if target is None:
                    raise validation_error(f'Allowed object "{ref}" does not exist.')
                allowed_object_ids.append(target.id)
        attribute = AttributeDef(
            object_id=obj.id,
            title=title,
            api_slug=api_slug,
            type=attribute_type,
            description=description,
            is_required=is_required,
            is_unique=is_unique,
            is_multiselect=is_multiselect,
            currency_code=(currency_code or "USD") if attribute_type == "currency" else None,
            currency_display=(currency_display or "symbol")
            if attribute_type == "currency"
            else None,
            allowed_object_ids=allowed_object_ids,
        )
        self._register(obj, attribute)
        return attribute

    def create_option(self, object_ref: str, attribute_ref: str, title: str) -> SelectOption:
        attribute = self.get_attribute(object_ref, attribute_ref)
        if attribute.type != "select":
            raise validation_error(f'Attribute "{attribute.api_slug}" is not a select attribute.')
        if any(option.title == title for option in attribute.options.values()):
            raise slug_conflict(
                f'A select option titled "{title}" already exists on "{attribute.api_slug}".'
            )
        option = SelectOption(str(uuid.uuid4()), title)
        attribute.options[option.id] = option
        return option

    def update_option(
        self,
        object_ref: str,
        attribute_ref: str,
        option_ref: str,
        *,
        title: str | None = None,
        is_archived: bool | None = None,
    ) -> SelectOption:
        """Rename or (un)archive an option, named by its id or its title (as Attio allows)."""
        attribute = self.get_attribute(object_ref, attribute_ref)
        if attribute.type != "select":
            raise validation_error(f'Attribute "{attribute.api_slug}" is not a select attribute.')
        option = attribute.options.get(option_ref) or next(
            (o for o in attribute.options.values() if o.title == option_ref), None
        )
        if option is None:
            raise not_found(f'Select option with title/ID "{option_ref}" not found.')
        if title is not None and title != option.title:
            if any(other.title == title for other in attribute.options.values()):
                raise slug_conflict(
                    f'A select option titled "{title}" already exists on "{attribute.api_slug}".'
                )
            option.title = title
        if is_archived is not None:
            option.is_archived = is_archived
        return option

    # Records: reads ------------------------------------------------------------------------

    def check_readable(self, record_id: str) -> None:
        """A merge's new record cannot be read until the merge has completed."""
        until = self.merging_until.get(record_id)
        if until is None:
            return
        if time.monotonic() < until:
            raise AttioError(404, "merge_in_progress", f'Record "{record_id}" is being merged.')
        del self.merging_until[record_id]

    def get_record(self, object_ref: str, record_id: str) -> Record:
        obj = self.get_object(object_ref)
        record = obj.records.get(record_id)
        if record is None:
            raise not_found(f'Record with ID "{record_id}" not found.')
        return record

    def query_records(
        self,
        object_ref: str,
        *,
        filter: Any = None,
        sorts: Any = None,
        limit: int = 500,
        offset: int = 0,
    ) -> list[Record]:
        obj = self.get_object(object_ref)
        node = compile_filter(obj, filter or {}, self.find_object)
        sort_keys = compile_sorts(obj, sorts or [])
        candidate_ids = node.candidates(self._index)
        if candidate_ids is None:
            candidates = list(obj.records.values())
        else:
            candidates = sorted((obj.records[i] for i in candidate_ids), key=lambda r: r.seq)
        if not sort_keys:
            # Creation order needs no sort, so stop as soon as the page is full.
            page: list[Record] = []
            skipped = 0
            for record in candidates:
                if len(page) >= limit:
                    break
                if node.matches(record):
                    if skipped < offset:
                        skipped += 1
                    else:
                        page.append(record)
            return page
        matching = sort_records([r for r in candidates if node.matches(r)], sort_keys)
        return matching[offset : offset + limit]

    # Records: writes -----------------------------------------------------------------------

    # `actor` on a write names who made it (default: the API token), e.g. a workspace member.

    def create_record(
        self, object_ref: str, values: dict[str, Any], *, actor: Actor | None = None
    ) -> Record:
        obj = self.get_object(object_ref)
        with self.acting_as(actor):
            return self._create(obj, self._parse(obj, values))

    def update_record(
        self,
        object_ref: str,
        record_id: str,
        values: dict[str, Any],
        *,
        append: bool,
        actor: Actor | None = None,
    ) -> Record:
        """PATCH (`append=True`: multiselect values are prepended) or PUT (overwritten)."""
        obj = self.get_object(object_ref)
        record = self.get_record(obj.id, record_id)
        with self.acting_as(actor):
            parsed = self._parse(obj, values)
            appended = {aid for aid, (attr, _) in parsed.items() if append and attr.is_multiselect}
            self._update(obj, record, parsed, appended)
        return record

    def assert_record(
        self,
        object_ref: str,
        matching_attribute: str,
        values: dict[str, Any],
        *,
        actor: Actor | None = None,
    ) -> Record:
        with self.acting_as(actor):
            return self._assert(object_ref, matching_attribute, values)

    def _assert(self, object_ref: str, matching_attribute: str, values: dict[str, Any]) -> Record:
        """Update the one record holding the matching value, or create one if none does."""
        obj = self.get_object(object_ref)
        matcher = obj.find_attribute(matching_attribute)
        if matcher is None:
            raise value_not_found(
                f'Cannot find attribute with slug/ID "{matching_attribute}" '
                f'on object "{obj.api_slug}".'
            )
        if not matcher.is_unique:
            raise AttioError(
                400,
                "matching_attribute_definition_not_unique",
                f'The matching attribute "{matcher.api_slug}" must be a unique attribute.',
            )
        parsed = self._parse(obj, values)
        wanted = parsed.get(matcher.id, (matcher, []))[1]
        if not wanted:
            raise missing_value(
                f'The request has no value for the matching attribute "{matcher.api_slug}".'
            )
        holders = self._holders(matcher, wanted)
        if len(holders) > 1:
            raise AttioError(
                400,
                "multiple_match_results",
                f'{len(holders)} records match on "{matcher.api_slug}"; assert needs at most one.',
            )
        if not holders:
            return self._create(obj, parsed)
        record = obj.records[holders.pop()]
        # The matching attribute keeps its values and gains the new ones; other multiselect
        # attributes are replaced by exactly what was sent.
        appended = {matcher.id} if matcher.is_multiselect else set()
        self._update(obj, record, parsed, appended)
        return record

    def delete_record(self, object_ref: str, record_id: str, *, actor: Actor | None = None) -> None:
        obj = self.get_object(object_ref)
        record = self.get_record(obj.id, record_id)
        with self.acting_as(actor):
            self._remove(obj, record)
            self._announce("record.deleted", obj, record.id)
            self._drop_references_to(obj, record.id)

    def merge_records(
        self,
        object_ref: str,
        original_id: str,
        duplicate_id: str,
        *,
        mode: MergeMode = "new-record",
        actor: Actor | None = None,
    ) -> Record:
        """Merge two records of one object as Attio does; returns the record that survives.

        "new-record" (Attio's current behaviour): a new record holds the values of both, the
        two originals are marked merged (they leave the object; `merged_into` maps them to the
        new record), and two `record.merged` events fire, each with the new record's id and one
        original as `duplicate_record_id`. "into-original" (the older behaviour): the
        duplicate's values are copied into the original, the duplicate is deleted, and one
        `record.merged` event fires. Only those events fire.

        Attio says only that the result holds the values of both. Here a single-value attribute
        keeps the original's value where it has one, else takes the duplicate's; multiselect
        attributes keep both. References to a merged-away record are moved to the survivor
        (Attio's docs are silent; dropping them would lose the records' relationships).
        """
        obj = self.get_object(object_ref)
        original = self.get_record(obj.id, original_id)
        duplicate = self.get_record(obj.id, duplicate_id)
        if original.id == duplicate.id:
            raise validation_error("A record cannot be merged with itself.")
        with self.acting_as(actor):
            if mode == "into-original":
                self._retire(obj, duplicate, original.id)
                self._apply(obj, original, self._combined(obj, original, duplicate))
                self._announce_merge(obj, original.id, duplicate.id)
                return original
            combined = self._combined(obj, original, duplicate)
            at = now_timestamp()
            survivor = Record(
                id=str(uuid.uuid4()), object_id=obj.id, seq=next(self._sequence), created_at=at
            )
            for merged in (original, duplicate):
                self._retire(obj, merged, survivor.id)
            self._apply(obj, survivor, combined | self._system_values(obj, survivor.id, at))
            obj.records[survivor.id] = survivor
            if self.merge_in_progress_seconds > 0:
                readable_at = time.monotonic() + self.merge_in_progress_seconds
                self.merging_until[survivor.id] = readable_at
            for merged in (original, duplicate):
                self._announce_merge(obj, survivor.id, merged.id)
            return survivor

    # Reference resolution (called while parsing values) -----------------------------------

    def resolve_reference(self, attribute: AttributeDef, item: Any) -> tuple[str, str]:
        allowed = [self.objects[i] for i in attribute.allowed_object_ids or ()]
        if isinstance(item, str):
            if len(allowed) != 1 or allowed[0].api_slug not in _STRING_REFERENCE_MATCH:
                raise InvalidValue("expected an object with target_object and target_record_id")
            target = allowed[0]
            matcher = target.attributes_by_slug[_STRING_REFERENCE_MATCH[target.api_slug]]
            return target.api_slug, self._match_one(target, matcher, [item])
        if not isinstance(item, dict) or not isinstance(item.get("target_object"), str):
            raise InvalidValue('expected an object with "target_object"')
        found = self.find_object(item["target_object"])
        if found is None:
            raise value_not_found(f'Object with slug/ID "{item["target_object"]}" not found.')
        target = found
        if target.id not in (attribute.allowed_object_ids or ()):
            raise InvalidValue(f'records of "{target.api_slug}" cannot be referenced here')
        rest = {key: value for key, value in item.items() if key != "target_object"}
        if len(rest) != 1:
            raise InvalidValue("expected target_record_id or exactly one matching attribute")
        ((key, raw),) = rest.items()
        if key == "target_record_id":
            if not isinstance(raw, str) or raw not in target.records:
                raise value_not_found(
                    f'Referenced record "{raw}" of object "{target.api_slug}" not found.'
                )
            return target.api_slug, raw
        found_matcher = target.find_attribute(key)
        if found_matcher is None:
            raise value_not_found(
                f'Cannot find attribute with slug/ID "{key}" on object "{target.api_slug}".'
            )
        matcher = found_matcher
        return target.api_slug, self._match_one(
            target, matcher, raw if isinstance(raw, list) else [raw]
        )

    def _match_one(self, target: ObjectDef, matcher: AttributeDef, raw: list[Any]) -> str:
        wanted = parse_values(matcher, raw, self)
        if not wanted:
            raise InvalidValue(f'no value given to match on "{matcher.api_slug}"')
        holders = self._holders(matcher, wanted)
        if not holders:
            raise value_not_found(
                f'No "{target.api_slug}" record matches the given "{matcher.api_slug}".'
            )
        if len(holders) > 1:
            raise AttioError(
                400,
                "multiple_match_results",
                f'Several "{target.api_slug}" records match the given "{matcher.api_slug}".',
            )
        return holders.pop()

    # Internals -----------------------------------------------------------------------------

    def _parse(self, obj: ObjectDef, values: dict[str, Any]) -> Parsed:
        parsed: Parsed = {}
        for key, raw in values.items():
            attribute = obj.find_attribute(key)
            if attribute is None:
                raise value_not_found(
                    f'Cannot find attribute with slug/ID "{key}" on object "{obj.api_slug}".'
                )
            if not attribute.is_writable:
                raise validation_error(f'Attribute "{attribute.api_slug}" cannot be written.')
            parsed[attribute.id] = (attribute, parse_values(attribute, raw, self))
        return parsed

    def _holders(self, attribute: AttributeDef, wanted: list[dict[str, Any]]) -> set[str]:
        by_key = self._index[attribute.id]
        holders: set[str] = set()
        for fields in wanted:
            holders |= by_key.get(index_key(attribute, fields), set())
        return holders

    def _stored(self, fields: dict[str, Any], at: str) -> StoredValue:
        return StoredValue(fields=fields, active_from=at, actor=self.actor)

    def _system_values(self, obj: ObjectDef, record_id: str, at: str) -> Changes:
        """The values the workspace maintains: record id, creation time and creator."""
        system = obj.attributes_by_slug
        creator = {
            "referenced_actor_type": self.actor["type"],
            "referenced_actor_id": self.actor["id"],
        }
        return {
            system["record_id"].id: [self._stored({"value": record_id}, at)],
            system["created_at"].id: [self._stored({"value": at}, at)],
            system["created_by"].id: [self._stored(creator, at)],
        }

    def _create(self, obj: ObjectDef, parsed: Parsed) -> Record:
        for attribute in obj.attributes.values():
            if attribute.is_required and not parsed.get(attribute.id, (attribute, []))[1]:
                raise missing_value(f'Required attribute "{attribute.api_slug}" has no value.')
        at = now_timestamp()
        record = Record(
            id=str(uuid.uuid4()), object_id=obj.id, seq=next(self._sequence), created_at=at
        )
        changes = {
            aid: [self._stored(fields, at) for fields in items]
            for aid, (_, items) in parsed.items()
            if items
        }
        changes |= self._system_values(obj, record.id, at)
        self._check_unique(obj, record.id, changes)
        self._apply(obj, record, changes)
        obj.records[record.id] = record
        self._announce("record.created", obj, record.id)
        self._link_company(obj, record, parsed, before=None)
        return record

    def _update(self, obj: ObjectDef, record: Record, parsed: Parsed, appended: set[str]) -> None:
        before = self._company_domain_of(obj, record)
        at = now_timestamp()
        changes: dict[str, list[StoredValue]] = {}
        for aid, (attribute, items) in parsed.items():
            existing = record.values.get(aid, [])
            by_key = {index_key(attribute, value.fields): value for value in existing}
            if aid in appended:
                fresh = [f for f in items if index_key(attribute, f) not in by_key]
                changes[aid] = [self._stored(f, at) for f in fresh] + existing
            else:
                # Unchanged values keep their StoredValue, so their active_from survives.
                kept = [by_key.get(index_key(attribute, f)) for f in items]
                changes[aid] = [
                    old if old is not None and old.fields == f else self._stored(f, at)
                    for old, f in zip(kept, items, strict=True)
                ]
            if attribute.is_required and not changes[aid]:
                raise missing_value(f'Required attribute "{attribute.api_slug}" cannot be cleared.')
        self._check_unique(obj, record.id, changes)
        for aid in self._apply(obj, record, changes):
            self._announce("record.updated", obj, record.id, aid)
        self._link_company(obj, record, parsed, before=before)

    # People and companies (see `attio_sandbox.companies`) --------------------------------

    def _company_domain_of(self, obj: ObjectDef, record: Record) -> str | None:
        emails = obj.attributes_by_slug.get(EMAILS_ATTRIBUTE)
        if obj.api_slug != "people" or emails is None:
            return None
        return company_domain(value.fields for value in record.values.get(emails.id, []))

    def _link_company(
        self, obj: ObjectDef, record: Record, parsed: Parsed, *, before: str | None
    ) -> None:
        """Link a person whose addresses were written to their domain's company."""
        if obj.api_slug != "people":
            return
        emails = obj.attributes_by_slug[EMAILS_ATTRIBUTE]
        link = obj.attributes_by_slug[COMPANY_ATTRIBUTE]
        if emails.id not in parsed or link.id in parsed:  # no new address, or chosen by hand
            return
        domain = self._company_domain_of(obj, record)
        held = record.values.get(link.id, [])
        if domain is None or (held and domain == before):
            return
        current = held[0].fields["target_record_id"] if held else None
        if current is not None and not self._company_holds(current, before):
            return  # a company chosen by hand stays
        company = self._company_for(domain)
        if company == current:
            return
        fields = {"target_object": "companies", "target_record_id": company}
        for aid in self._apply(obj, record, {link.id: [self._stored(fields, now_timestamp())]}):
            self._announce("record.updated", obj, record.id, aid)

    def _company_holds(self, company_id: str, domain: str | None) -> bool:
        companies = self.get_object("companies")
        domains = companies.attributes_by_slug[DOMAINS_ATTRIBUTE]
        return domain is not None and company_id in self._index[domains.id].get(domain, set())

    def _company_for(self, domain: str) -> str:
        """The company holding `domain`, or a new one made of it."""
        companies = self.get_object("companies")
        domains = companies.attributes_by_slug[DOMAINS_ATTRIBUTE]
        holders = self._index[domains.id].get(domain)
        if holders:
            return min(holders, key=lambda rid: companies.records[rid].seq)
        values = {DOMAINS_ATTRIBUTE: [domain], "name": company_name(domain)}
        return self._create(companies, self._parse(companies, values)).id

    def _check_unique(
        self, obj: ObjectDef, record_id: str, changes: dict[str, list[StoredValue]]
    ) -> None:
        for aid, values in changes.items():
            attribute = obj.attributes[aid]
            if not attribute.is_unique:
                continue
            by_key = self._index[aid]
            for value in values:
                key = index_key(attribute, value.fields)
                if by_key.get(key, set()) - {record_id}:
                    raise AttioError(
                        400,
                        "uniqueness_conflict",
                        f'Another record already has the value "{key}" for the unique '
                        f'attribute "{attribute.api_slug}".',
                    )

    def _apply(
        self, obj: ObjectDef, record: Record, changes: dict[str, list[StoredValue]]
    ) -> list[str]:
        """Store new values and keep the index in step; returns the attributes that changed."""
        changed: list[str] = []
        for aid, new in changes.items():
            old = record.values.get(aid, [])
            if [v.fields for v in old] == [v.fields for v in new]:
                continue
            attribute = obj.attributes[aid]
            self._unindex(attribute, record.id, old)
            until = new[0].active_from if new else now_timestamp()
            kept = [v.fields for v in new]
            record.history.setdefault(aid, []).extend(
                replace(v, active_until=until) for v in old if v.fields not in kept
            )
            by_key = self._index[aid]
            for value in new:
                by_key.setdefault(index_key(attribute, value.fields), set()).add(record.id)
            if new:
                record.values[aid] = new
            else:
                record.values.pop(aid, None)
            changed.append(aid)
        return changed

    def _unindex(self, attribute: AttributeDef, record_id: str, values: list[StoredValue]) -> None:
        by_key = self._index[attribute.id]
        for value in values:
            key = index_key(attribute, value.fields)
            holders = by_key.get(key)
            if holders is not None:
                holders.discard(record_id)
                if not holders:
                    del by_key[key]

    def _remove(self, obj: ObjectDef, record: Record) -> None:
        del obj.records[record.id]
        for attribute_id, values in record.values.items():
            self._unindex(obj.attributes[attribute_id], record.id, values)

    def _references_to(
        self, target: ObjectDef, record_id: str
    ) -> Iterator[tuple[ObjectDef, AttributeDef, Record]]:
        """Every (object, reference attribute, holder record) pointing at the record."""
        for obj in self.objects.values():
            for attribute in obj.attributes.values():
                if attribute.type != "record-reference" or target.id not in (
                    attribute.allowed_object_ids or ()
                ):
                    continue
                for holder_id in list(self._index[attribute.id].get(record_id, ())):
                    yield obj, attribute, obj.records[holder_id]

    def _drop_references_to(self, target: ObjectDef, record_id: str) -> None:
        """Attio removes references to a deleted record; each holder gets an update event."""
        for obj, attribute, holder in list(self._references_to(target, record_id)):
            remaining = [
                value
                for value in holder.values[attribute.id]
                if value.fields["target_record_id"] != record_id
            ]
            for aid in self._apply(obj, holder, {attribute.id: remaining}):
                self._announce("record.updated", obj, holder.id, aid)

    def _combined(self, obj: ObjectDef, original: Record, duplicate: Record) -> Changes:
        """The writable values of both records, the original's first (see `merge_records`)."""
        combined: Changes = {}
        for attribute in obj.attributes.values():
            if not attribute.is_writable:
                continue
            mine = original.values.get(attribute.id, [])
            theirs = duplicate.values.get(attribute.id, [])
            if attribute.is_multiselect:
                seen = {index_key(attribute, value.fields) for value in mine}
                values = mine + [v for v in theirs if index_key(attribute, v.fields) not in seen]
            else:
                values = mine or theirs
            if values:
                combined[attribute.id] = values
        return combined

    def _retire(self, obj: ObjectDef, record: Record, survivor_id: str) -> None:
        """Take a merged-away record out of the object and move references to the survivor.

        The moved references are part of the merge, so they fire no events of their own.
        """
        self._remove(obj, record)
        self.merged_into[record.id] = survivor_id
        for holder_obj, attribute, holder in list(self._references_to(obj, record.id)):
            at = now_timestamp()
            moved: list[StoredValue] = []
            for value in holder.values[attribute.id]:
                fields = value.fields
                if fields["target_record_id"] == record.id:
                    fields = {**fields, "target_record_id": survivor_id}
                if all(fields != kept.fields for kept in moved):
                    moved.append(value if fields is value.fields else self._stored(fields, at))
            self._apply(holder_obj, holder, {attribute.id: moved})

    def _announce_merge(self, obj: ObjectDef, survivor_id: str, merged_id: str) -> None:
        self._journal.append(
            "record.merged",
            workspace_id=self.workspace_id,
            object_id=obj.id,
            record_id=survivor_id,
            actor=self.actor,
            duplicate_object_id=obj.id,
            duplicate_record_id=merged_id,
        )

    def _announce(
        self,
        event_type: EventType,
        obj: ObjectDef,
        record_id: str,
        attribute_id: str | None = None,
    ) -> None:
        self._journal.append(
            event_type,
            workspace_id=self.workspace_id,
            object_id=obj.id,
            record_id=record_id,
            actor=self.actor,
            attribute_id=attribute_id,
        )
