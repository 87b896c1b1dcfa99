"""Billing day in both modes, CI-sized: `testkit.billing_day` (the benchmark's run), fewer charges.

Each scenario starts the Attio sandbox, a Redis server (queue mode), the bridge's web
instances and worker as real processes, and sends signed charges of customers working at
companies (three people each) open loop while `sync zoho` backfills; the worker is SIGKILLed
mid-drain or Redis restarted mid-burst. What is checked holds at any speed: who was answered,
what reached Attio (every company with the sums over its people), what is in the ledger. The
figures (answer times, the ratio to the write floor) are the benchmark's.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from testkit.billing_day import BillingDayConfig, expected, scenario
from testkit.world import billing_deliveries

pytestmark = pytest.mark.reliability

CI_SIZE = BillingDayConfig(charges=80, rate=40.0, items=30, webs=2, seed=3)
NOTHING = {"people": 0, "subscriptions": 0, "payments": 0, "services": 0, "companies": 0}


def run(name: str) -> dict[str, Any]:
    log_root = Path(tempfile.mkdtemp(prefix="billing-day-ci-"))
    day = asyncio.run(scenario(name, CI_SIZE, log_root))
    first = Counter(answers[0].status for answers in day.answers.values())
    return {
        "first_answers": dict(first),
        **day.tally.as_dict(),
        "summaries": day.summaries,
        "company_mismatches": day.company_mismatches,
        "logs": str(log_root),
    }


@pytest.mark.parametrize("name", ["queue", "queue-kill-worker", "queue-restart-redis"])
def test_queue_mode_answers_every_delivery_at_once_and_loses_nothing(name: str) -> None:
    result = run(name)
    assert result["first_answers"] == {"200": CI_SIZE.charges}, result
    assert result["missing"] == NOTHING, result
    assert result["duplicated"] == NOTHING, result
    assert result["stale"] == {}, result
    assert result["company_mismatches"] == [], result
    assert result["ledger"] == {}, result  # nothing waited out the budget or gave up
    assert result["lost"] == 0, result
    # Every payer carries a billing summary computed from the Braintree stand-in.
    assert set(result["summaries"].values()) == {CI_SIZE.charges}, result


def test_inline_mode_refuses_rather_than_half_does_and_loses_nothing() -> None:
    result = run("inline")
    assert result["unacknowledged"] == 0, result
    assert result["missing"] == NOTHING, result
    assert result["duplicated"] == NOTHING, result
    assert result["stale"] == {}, result
    assert result["company_mismatches"] == [], result
    assert result["lost"] == 0, result
    # What was not answered 2xx at once was refused (503), never answered after a half-done try.
    assert set(result["first_answers"]) <= {"200", "503"}, result
    assert result["ledger"] == {}, result


def test_what_a_month_leaves_comes_from_the_world_alone() -> None:
    config = BillingDayConfig(charges=4, per_company=2, returning=True)
    billed = config.billed()
    this_month = expected(billed, billing_deliveries(billed))
    last_month = expected(billed, billing_deliveries(billed, earlier=True), earlier=True)
    price = billed[0].plan.price
    assert config.companies == 2
    assert this_month.charges[0].values["people"] == {"lifetime_paid": 2 * price}
    assert last_month.charges[0].values["people"] == {"lifetime_paid": price}
    assert last_month.charges[0].records["payments"] == billed[0].earlier_transaction_id
    assert this_month.charges[0].records["payments"] == billed[0].transaction_id
    company = billed[0].company
    assert company is not None and company == billed[2].company != billed[1].company
    sums = this_month.companies[company]
    assert sums["mrr"] == billed[0].plan.price + billed[2].plan.price
    assert sums["paying_people"] == 2
    assert sums["lifetime_paid"] == 2 * sums["mrr"]
