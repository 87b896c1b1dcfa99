"""Every check the bridge knows, once: doctor runs the configuration checks, watch the runtime
ones. Logic two of them share (the Attio webhook, the Zoho CRM channels) lives in one function
in `app.services.doctor.checks` and is registered here under both."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from app.clients.attio import AttioClient
from app.clients.zoho import ZohoClient
from app.config import Settings
from app.events.model import Source
from app.services.doctor import (
    Check,
    Report,
    Status,
    check_attio,
    check_braintree,
    check_placeholders,
    check_zoho,
)
from app.services.watch import runtime
from app.services.watch.runtime import WatchContext


class Kind(StrEnum):
    config = "config"  # doctor: would the bridge work as configured?
    runtime = "runtime"  # watch: is it working now?


@dataclass(frozen=True)
class CheckSpec:
    id: str  # stable: alerts, `/admin/health` and docs name checks by it
    kind: Kind
    run: Callable[[Any], Awaitable[Any]]  # config: list[Check]; runtime: one Check


@dataclass
class DoctorContext:
    settings: Settings
    attio: AttioClient | None
    attio_error: str  # why there is no Attio client (ATTIO_API_KEY unset)
    make_zoho: Callable[[Settings], ZohoClient]


async def _secrets(ctx: DoctorContext) -> list[Check]:
    return check_placeholders(ctx.settings)


async def _attio(ctx: DoctorContext) -> list[Check]:
    if ctx.attio is None:
        return [Check("attio token", Status.fail, ctx.attio_error, "set ATTIO_API_KEY")]
    return await check_attio(ctx.attio, ctx.settings)


async def _braintree(ctx: DoctorContext) -> list[Check]:
    return await check_braintree(ctx.settings)


async def _zoho(ctx: DoctorContext) -> list[Check]:
    return await check_zoho(ctx.settings, ctx.make_zoho)


REGISTRY: tuple[CheckSpec, ...] = (
    CheckSpec("secrets", Kind.config, _secrets),
    CheckSpec("attio", Kind.config, _attio),  # token, scopes, schema, then attio.webhook's check
    CheckSpec("braintree", Kind.config, _braintree),
    CheckSpec("zoho", Kind.config, _zoho),  # token, items, then zoho.crm_channel's check
    CheckSpec("attio.webhook", Kind.runtime, runtime.attio_webhook),
    CheckSpec("zoho.crm_channel", Kind.runtime, runtime.zoho_crm_channel),
    *(CheckSpec(f"{s.value}.silence", Kind.runtime, runtime.silence(s)) for s in Source),
    CheckSpec("ledger.dead", Kind.runtime, runtime.ledger_dead),
    CheckSpec("ledger.stuck", Kind.runtime, runtime.ledger_stuck),
    *(
        CheckSpec(f"sync.{source}", Kind.runtime, runtime.sync(source))
        for source in runtime.SYNC_SCHEDULES
    ),
    CheckSpec("queue", Kind.runtime, runtime.queue),
)


def checks(kind: Kind) -> tuple[CheckSpec, ...]:
    return tuple(spec for spec in REGISTRY if spec.kind is kind)


async def run_config_checks(ctx: DoctorContext) -> Report:
    """Doctor's report: every configuration check's rows, in registry order."""
    report = Report()
    for spec in checks(Kind.config):
        report.extend(await spec.run(ctx))
    return report


async def run_runtime_check(spec: CheckSpec, ctx: WatchContext) -> Check:
    check: Check = await spec.run(ctx)
    return check
