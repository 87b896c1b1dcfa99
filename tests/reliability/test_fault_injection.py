"""The processing promises of docs/webhooks.md under fire: the CI-sized run of `bench.reliability`.

The sandbox injects 5xx, 429 bursts and timeouts (some striking after a write applied), the
bridge runs as a real uvicorn process and is SIGKILLed once, and 200 signed Braintree, Zoho and
Attio events arrive out of order from concurrent senders that redeliver until they get a 2xx.
The full run is `.venv/bin/python -m bench.reliability` (1,000 events, two kills).
"""

from __future__ import annotations

import asyncio

import pytest

from testkit.reliability import ReliabilityConfig, ReliabilityResult, run

pytestmark = pytest.mark.reliability

CI_RUN = ReliabilityConfig(events=200, kills=1, senders=6, seed=7, deadline_seconds=300)


@pytest.fixture(scope="module")
def result() -> ReliabilityResult:
    return asyncio.run(run(CI_RUN))


def explain(result: ReliabilityResult) -> str:
    return "\n".join([*result.report, *result.problems.lines(), f"logs: {result.log_dir}"])


def test_the_run_was_under_fire(result: ReliabilityResult) -> None:
    assert result.kills == CI_RUN.kills, explain(result)
    assert result.injected_faults > 0, explain(result)


def test_every_delivery_is_acknowledged_and_none_is_lost(result: ReliabilityResult) -> None:
    assert result.counts["delivered"] == result.deliveries, explain(result)
    assert "delivery never acknowledged (lost)" not in result.problems.by_kind, explain(result)


def test_every_event_is_processed_or_in_the_ledger_and_nothing_stays_failed(
    result: ReliabilityResult,
) -> None:
    ledger_kinds = [kind for kind in result.problems.by_kind if "ledger" in kind]
    ledger_kinds += [
        kind
        for kind in ("recorded but not in bridge_events", "answer does not add up")
        if kind in result.problems.by_kind
    ]
    assert not ledger_kinds, explain(result)


def test_every_entity_has_exactly_one_record_with_the_newest_values(
    result: ReliabilityResult,
) -> None:
    assert result.ok, explain(result)
