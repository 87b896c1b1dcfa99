"""Billing day: a burst of Braintree charges while `sync zoho` backfills, on one Attio budget.

The run itself (processes, scenarios, what is counted) is `testkit.billing_day`; this prints,
per scenario: first answers (statuses, p50/p99/max latency, the five slowest and when they were
sent), every answer's worst latency, Attio calls, writes and 429s, the writes Attio applied per
object (ledger records and a replay's repeated writes included) and the company writes per
charge, the time until every expected record is in Attio (by its unique key, with the values
the charge leaves, and every company with the sums over its people) against the write floor
(writes needed / 25 s: per charge its person with the billing summary, its subscription and its
payment, for a returning customer the update of their summary instead of the person's
creation; at least one write per company; the Zoho items), how many of the day's people carry
the summary's values (the Braintree stand-in holds every charge's customer, subscription and
transactions, so each notification computes one), the companies whose `mrr` or
`paying_people` is not the sum over their people (should be none), the retry-due runs and what
they replayed, and at the end: deliveries never acknowledged, records missing, stale and
duplicated per object, ledger records by status, and how much is owed (missing, but a sender or
the ledger still holds it) or lost (missing, acknowledged, and in no ledger record asking for
work).

Customers work at companies of `--per-company` people (default 3; 0: example.com addresses,
no company). With `--returning`, every customer was charged a month earlier: that month is sent
first and waited for, untimed, and only the next month's charges are timed and counted;
`--record` keeps that run in a section of its own (`billing_day.<scenario>.returning`).

Every queue setting is at its default (QUEUE_RECLAIM_IDLE_SECONDS 60 included): a killed
worker's entries are taken over when its heartbeat expires.

Scenarios: `queue` (REDIS_URL set, two web instances, one worker, `sync zoho` as its own
process), `queue-kill-worker` (the worker SIGKILLed mid-drain and started again),
`queue-restart-redis` (Redis restarted mid-burst) and `inline` (no Redis, one web instance, the
sync inside it through POST /admin/sync/zoho).

    .venv/bin/python -m bench.billing_day [--scenario all] [--charges 240] [--rate 40]
        [--per-company 3] [--returning]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from bench._record import add_record_option, recording
from bench._stats import percentile
from testkit.billing_day import (
    ATTIO_WRITES_PER_SECOND,
    SCENARIOS,
    WRITES_PER_CHARGE,
    BillingDayConfig,
    Run,
    scenario,
)

TARGET_FLOOR_RATIO = 1.15
TARGET_SLACK_SECONDS = 5.0


def summary(run: Run, args: BillingDayConfig) -> dict[str, Any]:
    first = [answers[0] for answers in run.answers.values()]
    every = [answer for answers in run.answers.values() for answer in answers]
    first_2xx = [a for a in first if a.status.startswith("2")]
    within_1s = [a for a in first_2xx if a.seconds <= 1.0]
    # Each company needs at least one write, however its people's charges coalesce.
    needed = args.charges * WRITES_PER_CHARGE + args.companies + args.items
    floor = needed / ATTIO_WRITES_PER_SECOND
    calls = run.calls.get("total", 0)
    limited = run.calls.get("by_status", {}).get("429", 0)
    writes = run.calls.get("by_kind", {}).get("write", 0)
    drained = run.everything_in_attio
    company_writes = run.calls.get("writes_applied", {}).get("companies", 0)
    return {
        "scenario": run.scenario,
        "customers": "returning" if args.returning else "new",
        "companies": args.companies,
        "first_answers": dict(Counter(a.status for a in first)),
        "first_2xx": len(first_2xx),
        "first_2xx_within_1s_share": round(len(within_1s) / len(first), 4) if first else 0.0,
        "first_answer_p50_ms": round(percentile([a.seconds for a in first], 0.5) * 1000, 1),
        "first_answer_p99_ms": round(percentile([a.seconds for a in first], 0.99) * 1000, 1),
        "first_answer_max_ms": round(max(a.seconds for a in first) * 1000, 1),
        "any_answer_max_ms": round(max(a.seconds for a in every) * 1000, 1),
        "slowest_first": [
            (round(a.sent, 1), round(a.seconds * 1000, 1))
            for a in sorted(first, key=lambda a: a.seconds)[-5:]
        ],
        "sends": len(every),
        "attio_calls": calls,
        "attio_writes": writes,
        "writes_needed": needed,
        "attio_429": limited,
        "attio_429_share": round(limited / calls, 4) if calls else 0.0,
        "writes_applied": run.calls.get("writes_applied", {}),
        "company_writes_per_charge": round(company_writes / args.charges, 3)
        if args.charges
        else 0.0,
        "company_mrr_mismatches": len(run.company_mismatches),
        "everything_in_attio_s": round(drained, 1) if drained is not None else None,
        "write_floor_s": round(floor, 1),
        "ratio_to_floor": round(drained / floor, 2) if drained is not None else None,
        # The target: everything in Attio within 1.15 times the write floor plus 5 s.
        "target_s": round(TARGET_FLOOR_RATIO * floor + TARGET_SLACK_SECONDS, 1),
        "retry_due_runs": run.retry_due_runs,
        "retry_due": {status: n for status, n in sorted(run.retry_due.items()) if n},
        **run.tally.as_dict(),
        "people_with_summary": run.summaries,
        "first_summary": run.first_summary,
        "notes": run.notes,
    }


def print_summary(result: dict[str, Any]) -> None:
    print(
        f"\n== {result['scenario']}, {result['customers']} customers, "
        f"{result['companies']} companies"
    )
    print(
        f"first answers   {result['first_answers']}  2xx at first attempt "
        f"{result['first_2xx']} ({result['first_2xx_within_1s_share'] * 100:.1f} % within 1 s); "
        f"p50 {result['first_answer_p50_ms']} ms, "
        f"p99 {result['first_answer_p99_ms']} ms, max {result['first_answer_max_ms']} ms"
    )
    print(f"every answer    max {result['any_answer_max_ms']} ms over {result['sends']} sends")
    slowest = ", ".join(f"{ms} ms at {at} s" for at, ms in result["slowest_first"])
    print(f"slowest first   {slowest} (sent at, from the start)")
    print(
        f"Attio           {result['attio_calls']} calls, {result['attio_writes']} writes "
        f"(needed {result['writes_needed']}), 429s {result['attio_429']} "
        f"({result['attio_429_share'] * 100:.2f} %)"
    )
    print(f"writes applied  {result['writes_applied']}")
    print(
        f"companies       {result['company_writes_per_charge']} company writes per charge; "
        f"{result['company_mrr_mismatches']} of {result['companies']} companies whose mrr or "
        f"paying_people is not the sum over their people"
    )
    print(
        f"in Attio after  {result['everything_in_attio_s']} s; write floor "
        f"{result['write_floor_s']} s; ratio {result['ratio_to_floor']}; target "
        f"{result['target_s']} s (1.15 x floor + 5 s)"
    )
    print(
        f"summaries       {result['people_with_summary']} of {result['first_2xx']} people "
        f"carry each value; charge 0: {result['first_summary']}"
    )
    print(f"retry-due       {result['retry_due_runs']} runs, replays {result['retry_due']}")
    print(f"unacknowledged  {result['unacknowledged']} deliveries never answered 2xx")
    print(f"missing         {result['missing']}")
    print(f"duplicated      {result['duplicated']}")
    print(f"stale           {result['stale']} (present without the charge's values)")
    print(f"ledger          {result['ledger']}")
    print(f"owed {result['owed']} (a sender or the ledger still holds it), lost {result['lost']}")
    for note in result["notes"]:
        print(f"note            {note}")


async def main(args: argparse.Namespace) -> list[dict[str, Any]]:
    names = SCENARIOS if args.scenario == "all" else (args.scenario,)
    config = BillingDayConfig(
        charges=args.charges,
        rate=args.rate,
        items=args.items,
        webs=args.webs,
        seed=args.seed,
        per_company=args.per_company,
        returning=args.returning,
    )
    log_root = Path(args.log_dir or tempfile.mkdtemp(prefix="billing-day-"))
    results = []
    for name in names:
        run = await scenario(name, config, log_root)
        result = summary(run, config)
        print_summary(result)
        results.append(result)
    print(f"\nlogs            {log_root}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=(*SCENARIOS, "all"), default="all")
    parser.add_argument("--charges", type=int, default=240)
    parser.add_argument("--rate", type=float, default=40.0)
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--webs", type=int, default=2, help="web instances in queue mode")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--per-company", type=int, default=3, help="people per company (0: no company)"
    )
    parser.add_argument(
        "--returning",
        action="store_true",
        help="every customer was charged a month earlier (sent first, untimed)",
    )
    parser.add_argument("--log-dir", help="keep process logs here")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    add_record_option(parser)
    arguments = parser.parse_args()
    section = "billing_day" if arguments.scenario == "all" else f"billing_day.{arguments.scenario}"
    title = "Billing day"
    if arguments.returning:
        section, title = f"{section}.returning", "Billing day, returning customers"
    with recording(section, title, enabled=arguments.record):
        figures = asyncio.run(main(arguments))
    if arguments.json:
        print(json.dumps(figures, indent=2))
