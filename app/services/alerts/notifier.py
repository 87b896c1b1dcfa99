"""Alert state in Attio, beside the sync state, and the decision what to tell whom.

One bookkeeping record per check that ever fired (`sync-state:alert:<check>` in
`bridge_events`) holds its state: firing or resolved, severity, first seen, last sent, and what
each channel remembers (the Attio task) or last failed with. A pass reads them all in one
query; only a pass that has something to send takes the `sync-lock:alerts` record, reads the
state again under it and writes what changed, so two passes at once (or a pass after a restart)
never send the same alert twice.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from app.clients.attio import AttioClient
from app.clients.attio.values import first_value, iso_timestamp, read_timestamp
from app.events.ledger import SYNC_STATE_KEY_PREFIX
from app.log import get_logger
from app.schema import BRIDGE_EVENTS, EVENT_KEY
from app.services.alerts.channels import Channel, deliver
from app.services.alerts.model import Alert, AlertState, Links, MoreLinks, Severity
from app.services.syncstate import AttioSyncLock, LockHandle

log = get_logger(__name__)

ALERT_KEY_PREFIX = SYNC_STATE_KEY_PREFIX + "alert:"
ALERT_EVENT_TYPE = "watch.alert"
LOCK_NAME = "alerts"
# A pass sends in seconds; a crashed one's lock is taken over by the pass after next.
LOCK_TTL = timedelta(minutes=5)


_LONG_AGO = datetime.min.replace(tzinfo=UTC)


@dataclass
class StoredAlert:
    check: str
    state: AlertState
    severity: Severity
    first_seen: datetime
    last_sent: datetime
    changed_at: datetime  # when it began firing, or cleared
    message: str = ""
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)  # memory and last error

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "state": self.state.value,
            "severity": self.severity.value,
            "first_seen": iso_timestamp(self.first_seen),
            "last_sent": iso_timestamp(self.last_sent),
            "changed_at": iso_timestamp(self.changed_at),
            "message": self.message,
            "channels": self.channels,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StoredAlert | None:
        try:
            first_seen = read_timestamp(data["first_seen"]) or _LONG_AGO
            return cls(
                check=str(data["check"]),
                state=AlertState(data["state"]),
                severity=Severity(data["severity"]),
                first_seen=first_seen,
                last_sent=read_timestamp(data["last_sent"]) or _LONG_AGO,
                changed_at=read_timestamp(data.get("changed_at")) or first_seen,
                message=str(data.get("message") or ""),
                channels=dict(data.get("channels") or {}),
            )
        except (KeyError, ValueError, TypeError):
            return None

    def failed_channels(self) -> list[str]:
        return sorted(name for name, kept in self.channels.items() if kept.get("error"))


class AlertStore:
    def __init__(self, attio: AttioClient) -> None:
        self._attio = attio

    async def load_all(self) -> dict[str, StoredAlert]:
        rows = await self._attio.query_records(
            BRIDGE_EVENTS, filter={"event_type": ALERT_EVENT_TYPE}, limit=500
        )
        found: dict[str, StoredAlert] = {}
        for row in rows:
            try:
                data = json.loads(first_value(row, "raw_body") or "{}")
            except ValueError:
                continue
            stored = StoredAlert.from_dict(data) if isinstance(data, dict) else None
            if stored is not None:
                found[stored.check] = stored
        return found

    async def save(self, stored: StoredAlert) -> None:
        values = {
            EVENT_KEY: ALERT_KEY_PREFIX + stored.check,
            "event_type": ALERT_EVENT_TYPE,
            "raw_body": json.dumps(stored.as_dict(), sort_keys=True),
            "last_attempt_at": iso_timestamp(stored.last_sent),
        }
        await self._attio.assert_record(BRIDGE_EVENTS, matching_attribute=EVENT_KEY, values=values)


class AlertLock(AttioSyncLock):
    """The sync lock's record, without a `source` (alerts belong to no provider)."""

    def _values(self, source: str, owner: str, expires_at: datetime) -> dict[str, Any]:
        values = super()._values(source, owner, expires_at)
        values.pop("source", None)
        values["event_type"] = "watch.lock"
        return values


@dataclass(frozen=True)
class Finding:
    """What a check says now, as alerting sees it (None severity: clear)."""

    check: str
    severity: Severity | None
    message: str
    action: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    links: Links = ()
    more_links: MoreLinks | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Transition:
    finding: Finding
    state: AlertState
    repeat: bool = False
    only: tuple[str, ...] = ()  # retry just these channels (they failed last time)


def decide(
    previous: StoredAlert | None, finding: Finding, now: datetime, repeat_every: timedelta
) -> Transition | None:
    """What to tell about one check, if anything."""
    firing = previous is not None and previous.state is AlertState.firing
    if finding.severity is None:
        return Transition(finding, AlertState.resolved) if firing else None
    if not firing or previous is None or previous.severity is not finding.severity:
        return Transition(finding, AlertState.firing)
    if finding.severity is Severity.critical and now - previous.last_sent >= repeat_every:
        return Transition(finding, AlertState.firing, repeat=True)
    failed = previous.failed_channels()
    return Transition(finding, AlertState.firing, only=tuple(failed)) if failed else None


@dataclass
class AlertOutcome:
    sent: list[dict[str, Any]] = field(default_factory=list)
    states: dict[str, StoredAlert] = field(default_factory=dict)
    busy: bool = False  # another pass held the lock and is sending


Hook = Callable[[], Awaitable[None]]


class Notifier:
    def __init__(
        self,
        attio: AttioClient,
        channels: Sequence[Channel],
        *,
        repeat_every: timedelta,
        on_resolved: Mapping[str, Hook] | None = None,
        retry_wait: float = 1.0,
    ) -> None:
        self.store = AlertStore(attio)
        self.lock = AlertLock(attio, ttl=LOCK_TTL)
        self.channels = list(channels)
        self._repeat = repeat_every
        self._hooks = dict(on_resolved or {})
        self._retry_wait = retry_wait

    def _plan(
        self, stored: Mapping[str, StoredAlert], findings: Sequence[Finding], now: datetime
    ) -> list[Transition]:
        return [
            transition
            for finding in findings
            if (transition := decide(stored.get(finding.check), finding, now, self._repeat))
        ]

    async def process(self, findings: Sequence[Finding], now: datetime) -> AlertOutcome:
        stored = await self.store.load_all()
        if not self._plan(stored, findings, now):
            return AlertOutcome(states=stored)
        handle = await self.lock.acquire(LOCK_NAME)
        if handle is None:
            log.info("watch.alerts.busy")
            return AlertOutcome(states=stored, busy=True)
        try:
            return await self._send(findings, now, handle)
        finally:
            await self.lock.release(handle)

    async def _send(
        self, findings: Sequence[Finding], now: datetime, _handle: LockHandle
    ) -> AlertOutcome:
        # Read again under the lock: a pass that held it before us may have sent these already.
        stored = await self.store.load_all()
        outcome = AlertOutcome(states=stored)
        for transition in self._plan(stored, findings, now):
            previous = stored.get(transition.finding.check)
            after = await self._tell(transition, previous, now)
            stored[after.check] = after
            await self.store.save(after)
            outcome.sent.append(
                {
                    "check": after.check,
                    "state": transition.state.value,
                    "severity": after.severity.value,
                    "repeat": transition.repeat,
                    "failed_channels": after.failed_channels(),
                }
            )
            hook = self._hooks.get(after.check)
            if transition.state is AlertState.resolved and hook is not None:
                try:
                    await hook()
                except Exception:  # the hook's own failure must not stop the alerts
                    log.exception("watch.hook_failed", check=after.check)
        return outcome

    async def _tell(
        self, transition: Transition, previous: StoredAlert | None, now: datetime
    ) -> StoredAlert:
        finding = transition.finding
        resolved = transition.state is AlertState.resolved
        fresh = not resolved and (previous is None or previous.state is AlertState.resolved)
        first_seen = now if fresh or previous is None else previous.first_seen
        severity = finding.severity or (previous.severity if previous else Severity.warning)
        changed = previous is None or previous.state is not transition.state
        alert = Alert(
            id=f"msg_{uuid.uuid4().hex}",
            check=finding.check,
            severity=severity,
            state=transition.state,
            message=finding.message if not resolved else f"cleared: {finding.message}",
            action=finding.action,
            first_seen=first_seen,
            sent_at=now,
            repeat=transition.repeat,
            details=finding.details,
            links=finding.links,
            more_links=finding.more_links,
        )
        kept = dict(previous.channels) if previous else {}
        for channel in self.channels:
            if transition.only and channel.name not in transition.only:
                continue
            memory = {k: v for k, v in kept.get(channel.name, {}).items() if k != "error"}
            memory, error = await deliver(channel, alert, memory, retry_wait=self._retry_wait)
            kept[channel.name] = {**memory, **({"error": error} if error else {})}
        log.warning(
            "watch.alert",
            check=finding.check,
            state=transition.state.value,
            severity=severity.value,
            repeat=transition.repeat,
        )
        return StoredAlert(
            check=finding.check,
            state=transition.state,
            severity=severity,
            first_seen=first_seen,
            last_sent=now,
            changed_at=now if changed else (previous.changed_at if previous else now),
            message=finding.message,
            channels=kept,
        )
