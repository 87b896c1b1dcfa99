"""Watch's runtime checks: is every feed still arriving, is anything piling up.

Each takes the pass's `WatchContext` and answers one `Check` (doctor's row: ok, warn for a
warning, fail for critical, skipped when it does not apply). Nothing here raises for what it
finds; an error reading a system is a critical row naming it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from app.clients.attio import AttioClient, AttioError
from app.clients.attio.values import first_value, iso_timestamp, record_id
from app.clients.braintree import BraintreeClient
from app.clients.zoho import ZohoClient, zoho_configured
from app.config import Settings, secret_is_set
from app.events.deliveries import DeliveryClock
from app.events.ledger import LedgerStatus, is_bookkeeping_key
from app.events.model import Source
from app.events.queue import EventQueue
from app.events.sources import EventSource
from app.schema import BRIDGE_EVENTS, EVENT_KEY
from app.services.alerts.model import Links, MoreLinks
from app.services.doctor.checks import check_attio_webhook, check_crm_channels
from app.services.doctor.report import Check, Status
from app.services.syncstate import SyncStateStore
from app.services.watch.payers import LedgerPayers

# A CRM channel expiring within this is critical: the daily renewal has failed at least once.
CHANNEL_CRITICAL = timedelta(hours=12)
STUCK_AFTER = timedelta(hours=24)
QUEUE_STALL = timedelta(minutes=5)
NEWEST_KEYS = 5
# Braintree's silence threshold when unset: a quiet stretch this long is unlikely by chance.
BRAINTREE_MIN_SILENCE = timedelta(hours=26)
BILLING_CYCLE = timedelta(days=30)
# How often each sync runs by cron (render.yaml); a last success older than twice this is late.
# Each sync's cron schedule (render.yaml): `sync.<source>` fires when a run is twice overdue.
SYNC_SCHEDULES = {
    "braintree": timedelta(hours=1),
    "zoho": timedelta(hours=6),
    "attio": timedelta(hours=24),  # the Attio -> Braintree catch-up
}


@dataclass
class WatchContext:
    settings: Settings
    attio: AttioClient
    deliveries: DeliveryClock
    sync_state: SyncStateStore
    queue: EventQueue | None
    braintree: BraintreeClient | None
    make_zoho: Callable[[Settings], ZohoClient]
    now: datetime
    # The bridge's Braintree webhook source: a ledger alert's payers are found as a replay
    # parses the stored request (None: Braintree webhooks are off).
    braintree_source: EventSource | None = None
    # What an alert task adds to a check's links if one is created, by check name.
    more_links: dict[str, MoreLinks] = field(default_factory=dict, repr=False)
    # Read once per pass, shared by the three silence checks (which run at the same time).
    _last: dict[Source, datetime | None] | None = field(default=None, repr=False)
    _reading: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    async def last_deliveries(self) -> dict[Source, datetime | None]:
        async with self._reading:
            if self._last is None:
                self._last = await self.deliveries.last()
            return self._last

    def ledger_links(self, check: str, rows: list[Any]) -> Links:
        """The entries an alert about them links; the people who pay in the Braintree ones
        are read only if its Attio task is created (not on every pass while it fires)."""
        payers = LedgerPayers(self.attio, self.braintree, self.braintree_source)
        self.more_links[check] = partial(payers.links, rows)
        return tuple((BRIDGE_EVENTS, record_id(row)) for row in rows)


def _attio_failed(name: str, exc: AttioError) -> Check:
    return Check(name, Status.fail, f"Attio could not be read: {exc}", "run watch again later")


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 2 * 86400:
        return f"{seconds // 86400} d {seconds % 86400 // 3600} h"
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 60} min {seconds % 60} s"


# -- feeds --------------------------------------------------------------------------------------


async def attio_webhook(ctx: WatchContext) -> Check:
    return await check_attio_webhook(ctx.attio, ctx.settings)


async def zoho_crm_channel(ctx: WatchContext) -> Check:
    if not ctx.settings.zoho_crm_configured:
        return Check("zoho crm channel", Status.skipped, "Zoho CRM notifications are off")
    rows = await check_crm_channels(
        ctx.settings, ctx.make_zoho, ctx.now, critical_within=CHANNEL_CRITICAL
    )
    order = (Status.fail, Status.warn, Status.ok, Status.skipped)
    worst = min(rows, key=lambda row: order.index(row.status))
    detail = "; ".join(f"{row.name}: {row.detail}" for row in rows)
    return Check("zoho crm channel", worst.status, detail, worst.action)


def _source_enabled(settings: Settings, source: Source) -> bool:
    if source is Source.attio:
        return secret_is_set(settings.attio_webhook_secret)
    if source is Source.braintree:
        return settings.braintree_configured
    return secret_is_set(settings.zoho_webhook_secret) or settings.zoho_crm_configured


async def silence_threshold(ctx: WatchContext, source: Source) -> tuple[timedelta | None, str]:
    """The source's threshold and where it comes from; None: the check is off."""
    configured = getattr(ctx.settings, f"watch_silence_{source.value}")
    if configured is not None:
        return configured or None, f"WATCH_SILENCE_{source.value.upper()}"
    if source is not Source.braintree or ctx.braintree is None:
        return None, ""
    active = await ctx.braintree.count_active_subscriptions()
    if not active:
        return None, "no Active subscriptions"
    return max(BRAINTREE_MIN_SILENCE, 3 * BILLING_CYCLE / active), f"{active} Active subscriptions"


def silence(source: Source) -> Callable[[WatchContext], Any]:
    async def check(ctx: WatchContext) -> Check:
        name = f"{source.value} silence"
        if not _source_enabled(ctx.settings, source):
            return Check(name, Status.skipped, f"{source.value} webhooks are not enabled")
        try:
            threshold, basis = await silence_threshold(ctx, source)
        except Exception as exc:  # the Braintree SDK's errors: reported, not raised
            return Check(
                name,
                Status.warn,
                f"the threshold could not be derived ({type(exc).__name__})",
                f"set WATCH_SILENCE_{source.value.upper()}, e.g. 26h",
            )
        if threshold is None:
            why = f" ({basis})" if basis else ""
            return Check(
                name, Status.skipped, f"off{why}: set WATCH_SILENCE_{source.value.upper()}"
            )
        last = (await ctx.last_deliveries()).get(source)
        details = {"threshold_seconds": int(threshold.total_seconds()), "basis": basis}
        details["last_delivery_at"] = iso_timestamp(last)
        action = (
            f"check that {source.value} still sends to the bridge (webhook URL, subscription, "
            "credentials); run doctor"
        )
        if last is None:
            return Check(
                name, Status.warn, "no verified delivery recorded yet", action, details=details
            )
        quiet = ctx.now - last
        if quiet > threshold:
            return Check(
                name,
                Status.fail,
                f"no verified delivery for {_duration(quiet)} (threshold {_duration(threshold)}, "
                f"{basis})",
                action,
                details=details,
            )
        return Check(name, Status.ok, f"last verified delivery {_duration(quiet)} ago", "", details)

    return check


# -- the ledger --------------------------------------------------------------------------------


async def ledger_dead(ctx: WatchContext) -> Check:
    """`dead` and `needs_attention` entries: counts per source and status, the newest keys."""
    statuses = (LedgerStatus.dead, LedgerStatus.needs_attention)
    conditions = {"$or": [{"status": status.value} for status in statuses]}
    sorts = [{"direction": "desc", "attribute": "last_attempt_at"}]
    counts: Counter[str] = Counter()
    newest: list[Any] = []
    try:
        async for row in ctx.attio.iter_records(
            BRIDGE_EVENTS, filter=conditions, sorts=sorts, page_size=500
        ):
            key = first_value(row, EVENT_KEY) or ""
            if is_bookkeeping_key(key):
                continue
            counts[f"{first_value(row, 'status')}:{first_value(row, 'source')}"] += 1
            if len(newest) < NEWEST_KEYS:
                newest.append(row)
    except AttioError as exc:
        return _attio_failed("ledger dead", exc)
    if not counts:
        return Check("ledger dead", Status.ok, "no dead or needs_attention entries")
    dead = sum(n for key, n in counts.items() if key.startswith("dead:"))
    parts = [f"{n} {key.replace(':', ' from ')}" for key, n in sorted(counts.items())]
    keys = [first_value(row, EVENT_KEY) or "" for row in newest]
    return Check(
        "ledger dead",
        Status.fail if dead else Status.warn,
        "; ".join(parts) + f"; newest: {', '.join(keys)}",
        "look at them (`attio-bridge events list --status dead`), fix the cause, then set their "
        "status to `replay` in Attio or run `attio-bridge events replay`",
        details={"counts": dict(counts), "newest": keys},
        links=ctx.ledger_links("ledger dead", newest),
    )


async def ledger_stuck(ctx: WatchContext) -> Check:
    """`failed` entries whose first attempt is older than a day: retry-due is not settling them."""
    cutoff = ctx.now - STUCK_AFTER
    conditions = {
        "$and": [
            {"status": LedgerStatus.failed.value},
            {"first_attempt_at": {"$lt": iso_timestamp(cutoff)}},
        ]
    }
    try:
        rows = await ctx.attio.query_records(BRIDGE_EVENTS, filter=conditions, limit=500)
    except AttioError as exc:
        return _attio_failed("ledger stuck", exc)
    if not rows:
        return Check("ledger stuck", Status.ok, "no failed entry older than 24 h")
    keys = [first_value(row, EVENT_KEY) or "" for row in rows[:NEWEST_KEYS]]
    more = "+" if len(rows) == 500 else ""
    return Check(
        "ledger stuck",
        Status.warn,
        f"{len(rows)}{more} failed entries first attempted over 24 h ago (e.g. {', '.join(keys)})",
        "check that the retry-due cron runs, and the errors on these entries",
        details={"count": len(rows), "examples": keys},
        links=ctx.ledger_links("ledger stuck", rows[:NEWEST_KEYS]),
    )


# -- syncs and the queue -----------------------------------------------------------------------


def sync(source: str) -> Callable[[WatchContext], Any]:
    async def check(ctx: WatchContext) -> Check:
        name = f"sync {source}"
        configured = {
            "braintree": ctx.braintree is not None,
            "zoho": zoho_configured(ctx.settings),
            # Braintree reachable and ATTIO_TO_BRAINTREE_SYNC not turned off.
            "attio": ctx.braintree is not None
            and ctx.settings.attio_to_braintree_sync is not False,
        }[source]
        if not configured:
            return Check(name, Status.skipped, f"{source} is not configured")
        try:
            state = await ctx.sync_state.load(source)
        except AttioError as exc:
            return _attio_failed(name, exc)
        run, late = state.last_run, 2 * SYNC_SCHEDULES[source]
        action = f"run `attio-bridge sync {source}` and read its errors; check its cron job"
        if run is None:
            return Check(name, Status.warn, "no run recorded yet", action)
        details = run.as_dict()
        if run.outcome == "failed":
            error = f": {run.error}" if run.error else ""
            return Check(name, Status.fail, f"the last run failed{error}", action, details)
        ended = run.finished_at or run.started_at
        if ctx.now - ended > late:
            return Check(
                name,
                Status.fail,
                f"the last run ended {_duration(ctx.now - ended)} ago (runs every "
                f"{_duration(SYNC_SCHEDULES[source])})",
                action,
                details,
            )
        return Check(name, Status.ok, f"last run {run.outcome}, {_duration(ctx.now - ended)} ago")

    return check


async def queue(ctx: WatchContext) -> Check:
    if ctx.queue is None:
        return Check("queue", Status.skipped, "inline mode (no REDIS_URL)")
    action = "check the worker service (`attio-bridge worker`) and GET /admin/queue"
    try:
        stats = await ctx.queue.stats()
    except Exception as exc:  # Redis errors of any kind: reported, not raised
        return Check(
            "queue", Status.fail, f"Redis could not be read ({type(exc).__name__})", action
        )
    details = stats.as_dict()
    stall = QUEUE_STALL.total_seconds()
    if stats.depth and stats.oldest_age_seconds > stall:
        return Check(
            "queue",
            Status.fail,
            f"{stats.depth} deliveries waiting, the oldest for {stats.oldest_age_seconds:.0f} s",
            action,
            details,
        )
    idle = min((c.idle_seconds for c in stats.consumers), default=None)
    if idle is None or idle > stall:
        return Check(
            "queue", Status.fail, "no worker has read the queue for 5 minutes", action, details
        )
    return Check("queue", Status.ok, f"{stats.depth} waiting, {len(stats.consumers)} workers")
