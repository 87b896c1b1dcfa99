"""When alerts are sent: once per change, repeated while critical, never twice at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.clients.attio import AttioClient
from app.services.alerts import AlertState, Finding, Notifier, Severity, SlackChannel
from app.services.alerts.notifier import StoredAlert, decide
from tests.services.alerts.conftest import SLACK_URL, Receivers

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


def stored(state: AlertState, severity: Severity, sent: datetime, **channels: str) -> StoredAlert:
    kept = {name: {"error": error} for name, error in channels.items()}
    return StoredAlert("queue", state, severity, sent, sent, sent, "m", kept)


def finding(severity: Severity | None) -> Finding:
    return Finding("queue", severity, "no worker has read the queue for 5 minutes")


firing, resolved = AlertState.firing, AlertState.resolved
warning, critical = Severity.warning, Severity.critical


@pytest.mark.parametrize(
    ("previous", "now", "expected"),
    [
        (None, None, None),  # never fired, still fine
        (None, warning, (firing, False)),  # starts firing
        (stored(firing, warning, NOW), warning, None),  # told already
        (stored(firing, warning, NOW), critical, (firing, False)),  # severity changed
        (stored(firing, critical, NOW - DAY / 2), critical, None),  # not yet time to repeat
        (stored(firing, critical, NOW - DAY), critical, (firing, True)),  # repeated
        (stored(firing, warning, NOW - 3 * DAY), warning, None),  # warnings are not repeated
        (stored(firing, critical, NOW), None, (resolved, False)),  # cleared
        (stored(resolved, critical, NOW), None, None),  # told already
        (stored(resolved, critical, NOW), critical, (firing, False)),  # fires again
    ],
)
def test_decide(
    previous: StoredAlert | None, now: Severity | None, expected: tuple[AlertState, bool] | None
) -> None:
    transition = decide(previous, finding(now), NOW, DAY)
    got = (transition.state, transition.repeat) if transition else None
    assert got == expected


def test_a_channel_that_failed_is_tried_again_alone() -> None:
    previous = stored(firing, warning, NOW, slack="answered HTTP 500")
    transition = decide(previous, finding(warning), NOW, DAY)
    assert transition is not None and transition.only == ("slack",)


def notifier(attio: AttioClient, http: httpx.AsyncClient, **options: object) -> Notifier:
    return Notifier(
        attio,
        [SlackChannel(SLACK_URL, http)],
        repeat_every=DAY,
        retry_wait=0,
        **options,  # type: ignore[arg-type]
    )


async def test_two_passes_at_once_send_one_alert(attio: AttioClient, receivers: Receivers) -> None:
    async with httpx.AsyncClient(transport=receivers.transport) as http:
        findings = [finding(critical)]
        first, second = await asyncio.gather(
            notifier(attio, http).process(findings, NOW),
            notifier(attio, http).process(findings, NOW),
        )
        assert len(first.sent) + len(second.sent) == 1
        assert len(receivers.to(SLACK_URL)) == 1
        # A third pass (a restart, the next cron run) finds it told.
        later = await notifier(attio, http).process(findings, NOW + timedelta(minutes=5))
        assert later.sent == [] and len(receivers.to(SLACK_URL)) == 1


async def test_a_critical_check_is_repeated_then_resolved_once(
    attio: AttioClient, receivers: Receivers
) -> None:
    async with httpx.AsyncClient(transport=receivers.transport) as http:
        for hours in (0, 1, 23, 24, 25):
            await notifier(attio, http).process([finding(critical)], NOW + timedelta(hours=hours))
        for minutes in (0, 5):
            later = NOW + 2 * DAY + timedelta(minutes=minutes)
            await notifier(attio, http).process([finding(None)], later)
    titles = [body["text"].split(":")[0] for body in receivers.bodies(SLACK_URL)]
    assert titles == ["[critical] queue", "[critical] queue (still)", "[resolved] queue"]


async def test_a_failing_channel_is_shown_and_retried_next_pass(
    attio: AttioClient, receivers: Receivers
) -> None:
    receivers.answers[SLACK_URL] = 503
    async with httpx.AsyncClient(transport=receivers.transport) as http:
        outcome = await notifier(attio, http).process([finding(warning)], NOW)
        assert outcome.sent[0]["failed_channels"] == ["slack"]
        assert outcome.states["queue"].channels["slack"]["error"] == "answered HTTP 503"
        receivers.answers[SLACK_URL] = 200
        retried = await notifier(attio, http).process([finding(warning)], NOW)
        assert retried.sent[0]["failed_channels"] == []
    assert len(receivers.to(SLACK_URL)) == 3 + 1


async def test_the_resolve_hook_runs_once_for_its_check(
    attio: AttioClient, receivers: Receivers
) -> None:
    calls: list[str] = []

    async def catch_up() -> None:
        calls.append("catch-up")

    webhook = Finding("attio.webhook", Severity.warning, "degraded")
    back = Finding("attio.webhook", None, "active")
    async with httpx.AsyncClient(transport=receivers.transport) as http:
        hooks = {"on_resolved": {"attio.webhook": catch_up}}
        await notifier(attio, http, **hooks).process([webhook], NOW)
        assert calls == []
        for _ in range(2):
            await notifier(attio, http, **hooks).process([back], NOW)
    assert calls == ["catch-up"]
