"""Proof under fire: signed webhooks through a faulty Attio and a bridge that gets SIGKILLed.

Starts the Attio sandbox (about 10 % 5xx, bursts of 429 with Retry-After, about 2 % calls held
and then timed out, errors striking after writes apply) and the bridge as a real uvicorn process,
bootstraps the schema, and delivers signed events from concurrent senders that behave like the
real providers: Braintree notifications (subscriptions, charges, settlements, disbursements and
disputes of customers holding several subscriptions, partly out of order, XML signed by the
SDK), Zoho item webhooks and Attio record events. The bridge is SIGKILLed and restarted during
the run. Then the faults stop and `attio-bridge events retry-due` runs until nothing is due.

It then checks the README's promises: every entity has exactly one Attio record holding the
newest values, every event is processed or in `bridge_events`, none is lost. Exit status 1 if
any check fails.

    .venv/bin/python -m bench.reliability [--events 1000] [--kills 2] [--senders 8] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from bench._record import add_record_option, recording
from testkit.reliability import ReliabilityConfig, ReliabilityResult, run


def print_result(result: ReliabilityResult) -> None:
    for line in result.report:
        print(line)
    if result.ok:
        print("checks       passed: one record per entity with the newest values; every event")
        print("             processed or in bridge_events; none lost")
    else:
        print("checks       FAILED")
        for line in result.problems.lines():
            print(f"  {line}")
    if result.log_dir:
        print(f"logs         {result.log_dir}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-dir", type=Path, help="keep process logs here")
    add_record_option(parser)
    args = parser.parse_args(argv)
    config = ReliabilityConfig(
        events=args.events,
        kills=args.kills,
        senders=args.senders,
        seed=args.seed,
        log_dir=args.log_dir,
    )
    started = time.monotonic()
    with recording("reliability", "Fault injection", enabled=args.record):
        result = asyncio.run(run(config))
        print_result(result)
        print(f"run time     {time.monotonic() - started:.0f} s")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
