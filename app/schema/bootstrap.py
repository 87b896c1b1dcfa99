"""Create, idempotently, every object, attribute and select option the bridge writes.

Running it twice changes nothing: what exists is reused, a slug conflict on create (another
instance got there first) is treated as "exists". The same walk without writes tells /readyz
whether the schema is complete.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.clients.attio import AttioAPIError, AttioClient, AttioConflictError
from app.config import Settings
from app.log import get_logger
from app.schema.definitions import (
    PAYMENTS,
    PLAN_OBJECT_LIMITS,
    SCHEMA,
    STANDARD_OBJECTS,
    AttributeSpec,
    ObjectSpec,
    schema_for,
)

log = get_logger(__name__)


@dataclass
class SchemaReport:
    """What a bootstrap did (apply=True) or would do (apply=False)."""

    created: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    blocked: str | None = None  # the schema cannot fit the workspace: nothing was created

    @property
    def complete(self) -> bool:
        return not self.missing and not self.conflicts and self.blocked is None

    @property
    def problems(self) -> list[str]:
        return ([self.blocked] if self.blocked else []) + self.missing + self.conflicts

    def summary(self) -> str:
        lines = [f"created {item}" for item in self.created]
        if self.blocked is not None:
            return "\n".join([*lines, f"ERROR {self.blocked}"])
        lines += [f"missing {item}" for item in self.missing]
        lines += [f"CONFLICT {item}" for item in self.conflicts]
        return "\n".join(lines) or "schema complete, nothing to do"


def _attribute_conflict(spec: AttributeSpec, existing: dict[str, Any]) -> str | None:
    """An existing attribute the bridge cannot use as is (Attio cannot change a type)."""
    if existing.get("type") != spec.type:
        return f"has type {existing.get('type')!r}, the bridge needs {spec.type!r}"
    if spec.is_unique and not existing.get("is_unique"):
        return "is not unique; the bridge upserts by it, so mark it unique in Attio"
    if bool(existing.get("is_multiselect")) != spec.is_multiselect:
        return "has a different multiselect setting"
    return None


def _name_taken(spec: ObjectSpec, workspace: list[dict[str, Any]]) -> str | None:
    """Attio refuses an object whose singular or plural noun another object has."""
    wanted = {spec.singular_noun.casefold(), spec.plural_noun.casefold()}
    for other in workspace:
        nouns = {str(other.get(key) or "").casefold() for key in ("singular_noun", "plural_noun")}
        if taken := wanted & nouns:
            return (
                f"the workspace's object {other.get('api_slug')!r} is already named "
                f"{sorted(taken)[0]!r}, and Attio needs object names to be unique. Rename that "
                f"object in Attio (Settings > Objects), or give it the slug {spec.api_slug!r} "
                "if it is meant to be the bridge's, then run `attio-bridge bootstrap` again."
            )
    return None


_LIMITS_TEXT = (
    "Attio allows 3 objects on Free, 5 on Plus, 12 on Pro (one help page says 8) and any "
    "number on Enterprise; People and Companies count"
)


class _Refused(Exception):
    """Attio refused to create an object although no object holds its slug or nouns."""

    def __init__(self, answer: str, created: tuple[str, ...] = ()) -> None:
        super().__init__(answer)
        self.answer = answer
        self.created = created  # objects this run created before the refusal


def _to_create(schema: tuple[ObjectSpec, ...], present: set[str]) -> list[str]:
    return [o.api_slug for o in schema if not o.standard and o.api_slug not in present]


def object_budget(
    schema: tuple[ObjectSpec, ...],
    present: set[str],
    plan: str | None,
    *,
    refusal: str | None = None,
) -> str | None:
    """Why the layout cannot fit the workspace's plan, or None when it fits (or is unknown).

    `present` is every object the workspace has (all count); `refusal` is Attio's answer when
    it refused a create, which is how the limit shows without `ATTIO_PLAN`.
    """
    counted = present | set(STANDARD_OBJECTS)
    new = _to_create(schema, counted)
    needed = len(counted) + len(new)
    limit = PLAN_OBJECT_LIMITS.get(plan) if plan else None
    if refusal is not None:
        limit = len(counted)  # Attio refused one more than the workspace has
        allowed = f"Attio refused object {limit + 1}, so the workspace's plan allows {limit}"
    elif limit is None or needed <= limit:
        return None
    else:
        allowed = f"the {plan} plan (ATTIO_PLAN) allows {limit}"
    message = (
        f"the bridge needs {needed} Attio objects ({len(counted)} present, "
        f"{len(new)} to create: {', '.join(new)}) but {allowed}. {_LIMITS_TEXT}."
    )
    if refusal is not None:
        message += f" Attio answered: {refusal}."
    smaller = len(counted) + len(_to_create(schema_for(payments_object=False), counted))
    if any(o.api_slug == PAYMENTS for o in schema) and smaller <= limit:
        message += (
            f" Set ATTIO_PAYMENTS_OBJECT=false (payments kept on their subscription): "
            f"{smaller} objects, which fits."
        )
    else:
        message += " No layout fits: remove objects the workspace does not use, or upgrade."
    if plan is None:
        message += " Set ATTIO_PLAN so the next run checks before creating anything."
    return message


class SchemaBootstrap:
    def __init__(
        self,
        client: AttioClient,
        *,
        currency_code: str,
        schema: tuple[ObjectSpec, ...] = SCHEMA,
        plan: str | None = None,
    ) -> None:
        self._client = client
        self._currency_code = currency_code
        self._schema = schema
        self._plan = plan

    @classmethod
    def from_settings(cls, client: AttioClient, settings: Settings) -> SchemaBootstrap:
        """The layout (`ATTIO_PAYMENTS_OBJECT`) and plan (`ATTIO_PLAN`) the settings name."""
        return cls(
            client,
            currency_code=settings.attio_default_currency,
            schema=schema_for(payments_object=settings.attio_payments_object),
            plan=settings.attio_plan,
        )

    async def run(self, *, apply: bool) -> SchemaReport:
        report = SchemaReport()
        workspace = await self._client.list_objects()
        existing_objects = {o["api_slug"] for o in workspace}
        # Checked before the first create, so a layout that cannot fit creates nothing.
        report.blocked = object_budget(self._schema, existing_objects, self._plan)
        if report.blocked is None:
            try:
                await self._walk(report, workspace, existing_objects, apply=apply)
            except _Refused as refused:
                present = existing_objects | set(refused.created)
                report.blocked = object_budget(
                    self._schema, present, self._plan, refusal=refused.answer
                )
        # A missing object is the problem to see first; its attributes' lines follow from it.
        report.missing.sort(key=lambda item: not item.startswith("object "))
        log.info(
            "schema.bootstrap.done" if apply else "schema.check.done",
            created=len(report.created),
            missing=len(report.missing),
            conflicts=len(report.conflicts),
            blocked=report.blocked is not None,
        )
        return report

    async def _walk(
        self,
        report: SchemaReport,
        workspace: list[dict[str, Any]],
        existing_objects: set[str],
        *,
        apply: bool,
    ) -> None:
        created: list[str] = []
        for obj in self._schema:
            if obj.api_slug not in existing_objects:
                if (problem := _name_taken(obj, workspace)) is not None:
                    report.conflicts.append(f"object {obj.api_slug}: {problem}")
                    continue
                if obj.standard or not apply:
                    report.missing.append(f"object {obj.api_slug}")
                    continue
                try:
                    await self._create_object(obj)
                except _Refused as refused:
                    raise _Refused(refused.answer, tuple(created)) from None
                created.append(obj.api_slug)
                report.created.append(f"object {obj.api_slug}")
            await self._ensure_attributes(obj, report, apply=apply)

    async def _create_object(self, obj: ObjectSpec) -> None:
        try:
            await self._client.create_object(
                api_slug=obj.api_slug, singular_noun=obj.singular_noun, plural_noun=obj.plural_noun
            )
        except AttioConflictError as exc:
            if exc.retryable:
                raise
            # Created concurrently (reuse it), unless it is still absent: then Attio refused it.
            if obj.api_slug not in {o["api_slug"] for o in await self._client.list_objects()}:
                raise _Refused(str(exc)) from None
            log.info("schema.object.exists", object=obj.api_slug)
        except AttioAPIError as exc:
            if exc.retryable or exc.attio_status == 401:
                raise
            # Attio's answer at the plan's object limit is not documented: any refusal of a
            # create that names no slug or noun conflict is read as that limit.
            log.warning("schema.object.refused", object=obj.api_slug, error=str(exc))
            raise _Refused(str(exc)) from None

    async def _ensure_attributes(self, obj: ObjectSpec, report: SchemaReport, *, apply: bool):
        existing = {a["api_slug"]: a for a in await self._client.list_attributes(obj.api_slug)}
        for spec in obj.attributes:
            name = f"attribute {obj.api_slug}.{spec.api_slug}"
            current = existing.get(spec.api_slug)
            if current is not None:
                if problem := _attribute_conflict(spec, current):
                    report.conflicts.append(f"{name} {problem}")
                    continue
            elif not apply:
                report.missing.append(name)
                continue
            else:
                await self._create_attribute(obj, spec)
                report.created.append(name)
            if spec.options:
                await self._ensure_options(
                    obj, spec, report, apply=apply, known=current is not None
                )

    async def _create_attribute(self, obj: ObjectSpec, spec: AttributeSpec) -> None:
        body = spec.create_body(currency_code=self._currency_code)
        try:
            await self._client.create_attribute(obj.api_slug, body)
        except AttioConflictError:
            log.info("schema.attribute.exists", object=obj.api_slug, attribute=spec.api_slug)

    async def _ensure_options(
        self,
        obj: ObjectSpec,
        spec: AttributeSpec,
        report: SchemaReport,
        *,
        apply: bool,
        known: bool,
    ) -> None:
        titles: set[str] = set()
        archived: dict[str, str] = {}  # title -> option id
        if known:  # a freshly created attribute has no options yet: skip the read
            options = await self._client.list_select_options(obj.api_slug, spec.api_slug)
            titles = {o["title"] for o in options if not o.get("is_archived")}
            archived = {o["title"]: o["id"]["option_id"] for o in options if o.get("is_archived")}
        for title in spec.options:
            if title in titles:
                continue
            name = f"option {obj.api_slug}.{spec.api_slug}={title!r}"
            if title in archived:  # an archived option cannot take values: it is not there
                if not apply:
                    report.missing.append(f"{name} (archived)")
                    continue
                await self._client.restore_select_option(
                    obj.api_slug, spec.api_slug, archived[title]
                )
                report.created.append(f"{name} (restored from the archive)")
                continue
            if not apply:
                report.missing.append(name)
                continue
            try:
                await self._client.create_select_option(obj.api_slug, spec.api_slug, title)
            except AttioConflictError:
                continue  # created concurrently, or archived under that title: it exists
            report.created.append(name)
