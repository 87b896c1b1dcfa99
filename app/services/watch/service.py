"""One watch pass: every runtime check, then the alerts their changes call for.

The report is what `attio-bridge watch` prints and `GET /admin/health` answers: one row per
check (state, since, message, what to do), the alerts sent, and each channel's last failure.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from app.clients.attio import AttioClient, AttioError
from app.clients.attio.values import iso_timestamp
from app.clients.braintree import BraintreeClient
from app.clients.redis import Redis, RedisError
from app.clients.zoho import ZohoClient
from app.config import Settings, secret_is_set
from app.events.deliveries import DeliveryClock
from app.events.queue import EventQueue
from app.events.sources import EventSource
from app.log import SecretRedactor, get_logger
from app.services.alerts import (
    AlertState,
    AttioTaskChannel,
    Channel,
    Finding,
    Notifier,
    Severity,
    SignedWebhookChannel,
    SlackChannel,
    StoredAlert,
)
from app.services.alerts.channels import HTTP_TIMEOUT_SECONDS
from app.services.alerts.notifier import AlertOutcome, AlertStore, Hook
from app.services.doctor.report import Check, Status
from app.services.syncstate import SyncStateStore
from app.services.watch.registry import CheckSpec, Kind, checks
from app.services.watch.runtime import WatchContext

log = get_logger(__name__)

STATES = {
    Status.ok: "ok",
    Status.warn: "warning",
    Status.fail: "critical",
    Status.skipped: "skipped",
}
SEVERITIES = {Status.warn: Severity.warning, Status.fail: Severity.critical}
LAST_SNAPSHOT_KEY = "attio-bridge:watch:last-pass"
FRESH = timedelta(minutes=5)  # `/admin/health` answers a pass younger than this


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class WatchRow:
    check: str
    state: str  # ok | warning | critical | skipped
    since: datetime | None
    message: str
    action: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "state": self.state,
            "since": iso_timestamp(self.since),
            "message": self.message,
            "action": self.action,
            "details": self.details,
        }


@dataclass
class WatchReport:
    checked_at: datetime
    rows: list[WatchRow]
    alerts: dict[str, Any] = field(default_factory=dict)
    channels: dict[str, str] = field(default_factory=dict)  # name: ok, or the last failure

    @property
    def critical(self) -> bool:
        return any(row.state == "critical" for row in self.rows)

    def as_dict(self) -> dict[str, Any]:
        counts = dict.fromkeys(STATES.values(), 0)
        for row in self.rows:
            counts[row.state] += 1
        return {
            "ok": not self.critical,
            "checked_at": iso_timestamp(self.checked_at),
            "counts": counts,
            "checks": [row.as_dict() for row in self.rows],
            "alerts": self.alerts,
            "channels": self.channels,
        }


def build_channels(
    settings: Settings, attio: AttioClient, http: httpx.AsyncClient
) -> list[Channel]:
    """The configured alert channels, in the order they are told."""
    channels: list[Channel] = []
    slack = settings.alert_slack_webhook_url
    if secret_is_set(slack) and slack is not None:
        channels.append(SlackChannel(slack.get_secret_value(), http))
    secret = settings.alert_webhook_secret
    if settings.alert_webhook_url and secret is not None and secret_is_set(secret):
        channels.append(
            SignedWebhookChannel(settings.alert_webhook_url, secret.get_secret_value(), http)
        )
    if settings.alert_attio_assignee:
        channels.append(AttioTaskChannel(attio, settings.alert_attio_assignee))
    return channels


def _since(stored: StoredAlert | None, state: str) -> datetime | None:
    """When the check entered its current state, as far as alerting recorded it."""
    if stored is None:
        return None
    firing = stored.state is AlertState.firing
    return stored.changed_at if firing == (state in ("warning", "critical")) else None


class Watch:
    def __init__(
        self,
        settings: Settings,
        attio: AttioClient,
        *,
        deliveries: DeliveryClock,
        sync_state: SyncStateStore,
        queue: EventQueue | None,
        braintree: BraintreeClient | None,
        make_zoho: Callable[[Settings], ZohoClient],
        braintree_source: EventSource | None = None,
        redis: Redis | None = None,
        on_attio_webhook_back: Hook | None = None,
        alert_transport: httpx.AsyncBaseTransport | None = None,
        retry_wait: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.attio = attio
        self.deliveries = deliveries
        self._sync_state = sync_state
        self._queue = queue
        self._braintree = braintree
        self._make_zoho = make_zoho
        self._braintree_source = braintree_source
        self._redis = redis
        # Called once when `attio.webhook` clears (the webhook is back from degraded,
        # inactive or missing): the place for an Attio -> Braintree catch-up.
        self.on_attio_webhook_back = on_attio_webhook_back
        # Where alert HTTP requests go (None: the network) and the pause between tries.
        self.alert_transport = alert_transport
        self.retry_wait = retry_wait
        self._clock = clock
        self._last: tuple[float, dict[str, Any]] | None = None
        self._redactor = SecretRedactor(settings.secret_values())

    async def _run_checks(self, ctx: WatchContext) -> list[tuple[str, Check]]:
        """Every runtime check at once (each is a few reads), results in registry order."""

        async def run(spec: CheckSpec) -> tuple[str, Check]:
            try:
                check: Check = await spec.run(ctx)
            except Exception as exc:  # one broken check must not hide the others
                log.exception("watch.check_failed", check=spec.id)
                check = Check(spec.id, Status.fail, f"the check failed ({type(exc).__name__})")
            return spec.id, check

        return list(await asyncio.gather(*(run(spec) for spec in checks(Kind.runtime))))

    def _finding(self, check_id: str, check: Check, ctx: WatchContext) -> Finding:
        details = self._redactor.redact(json.loads(json.dumps(check.details, default=str)))
        return Finding(
            check=check_id,
            severity=SEVERITIES.get(check.status),
            message=self._redactor.redact(check.detail),
            action=self._redactor.redact(check.action),
            details=details,
            links=check.links,
            more_links=ctx.more_links.get(check.name),
        )

    async def run_pass(self, *, alert: bool = True) -> WatchReport:
        """Every runtime check, then (`alert`) the alerts due. Without `alert`, the alert
        state is only read (for `since`): nothing is sent or written."""
        now = self._clock()
        ctx = WatchContext(
            settings=self.settings,
            attio=self.attio,
            deliveries=self.deliveries,
            sync_state=self._sync_state,
            queue=self._queue,
            braintree=self._braintree,
            make_zoho=self._make_zoho,
            now=now,
            braintree_source=self._braintree_source,
        )
        results = await self._run_checks(ctx)
        findings = [self._finding(check_id, check, ctx) for check_id, check in results]
        if alert:
            outcome, alert_error = await self._alert(findings, now)
        else:
            outcome, alert_error = await self._states()
        rows = [
            WatchRow(
                check=finding.check,
                state=STATES[check.status],
                since=_since(outcome.states.get(finding.check), STATES[check.status]),
                message=finding.message,
                action=finding.action,
                details=dict(finding.details),
            )
            for finding, (_, check) in zip(findings, results, strict=True)
        ]
        channels: dict[str, str] = {}
        for stored in outcome.states.values():
            for name, kept in stored.channels.items():
                if kept.get("error"):
                    channels[name] = f"failed for {stored.check}: {kept['error']}"
                else:
                    channels.setdefault(name, "ok")
        alerts: dict[str, Any] = {"sent": outcome.sent, "busy": outcome.busy}
        if not alert:
            alerts["note"] = "computed on demand: only `attio-bridge watch` sends alerts"
        if alert_error:
            alerts["error"] = alert_error
        report = WatchReport(now, rows, alerts, channels)
        await self._remember(report)
        return report

    async def _alert(
        self, findings: Sequence[Finding], now: datetime
    ) -> tuple[AlertOutcome, str | None]:
        async with httpx.AsyncClient(
            timeout=HTTP_TIMEOUT_SECONDS, transport=self.alert_transport
        ) as http:
            notifier = Notifier(
                self.attio,
                build_channels(self.settings, self.attio, http),
                repeat_every=timedelta(hours=self.settings.alert_repeat_hours),
                on_resolved=(
                    {"attio.webhook": self.on_attio_webhook_back}
                    if self.on_attio_webhook_back
                    else {}
                ),
                retry_wait=self.retry_wait,
            )
            try:
                return await notifier.process(findings, now), None
            except AttioError as exc:
                log.warning("watch.alerts_failed", error=str(exc))
                return AlertOutcome(), f"alert state could not be read or written: {exc}"

    async def _states(self) -> tuple[AlertOutcome, str | None]:
        try:
            return AlertOutcome(states=await AlertStore(self.attio).load_all()), None
        except AttioError as exc:
            return AlertOutcome(), f"alert state could not be read: {exc}"

    async def _remember(self, report: WatchReport) -> None:
        body = report.as_dict()
        self._last = (time.monotonic(), body)
        if self._redis is not None:
            try:
                await self._redis.set(LAST_SNAPSHOT_KEY, json.dumps(body), ex=3600)
            except RedisError as exc:
                log.warning("watch.last_pass.redis_failed", error=type(exc).__name__)

    async def latest(self) -> dict[str, Any]:
        """The last pass's report if younger than five minutes (this process's or, with Redis,
        any process's), else a pass run now, without alerts: the alert channels are the watch
        cron job's (the web service need not hold their secrets)."""
        if self._last is not None and time.monotonic() - self._last[0] < FRESH.total_seconds():
            return self._last[1]
        if self._redis is not None:
            try:
                raw = await self._redis.get(LAST_SNAPSHOT_KEY)
            except RedisError:
                raw = None
            if raw:
                body: dict[str, Any] = json.loads(raw)
                checked = datetime.fromisoformat(str(body["checked_at"]).replace("Z", "+00:00"))
                if self._clock() - checked < FRESH:
                    return body
        return (await self.run_pass(alert=False)).as_dict()
