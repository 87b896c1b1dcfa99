"""Braintree → Attio sync: backfill of an account and hourly reconciliation, at Attio's limits.

Starts the Attio sandbox as its own process, enforcing Attio's limits (25 writes/s, 100 reads/s)
with realistic latency, and serves the loopback Braintree stand-in (`testkit.braintree_api`) in
this process, 150 ms per call; the official SDK talks to it and pages its searches by 50 as it
does against Braintree. Each run is the command itself, `python -m app sync braintree --json`,
started as its own process with the deployed settings (production logging; Attio: 24 writes/s,
95 reads/s, 6 attempts; no Redis), so its lock, run record and watermark live in Attio and its
memory is its own. What each run did is read from the sandbox's request log (every attempt that
reached Attio, by object and status). It reports:

- the backfill of an account into an empty workspace vs the write-limit floor (the record
  writes the account needs / 25 s): the command's wall time (its start-up included) and the
  run's own, the write calls the sandbox saw, failures, 429s, and the steady write rate
  between the first and the last write the sandbox received;
- hourly reconciliations (median of several) with 1 % of subscriptions and 1 % of
  transactions changed in the window: elapsed, record writes vs records changed, and the
  run's own bookkeeping writes (lock, run record, watermark) apart;
- a run with nothing changed: its record writes (zero) and bookkeeping writes;
- peak RSS of each command (its own `ru_maxrss` from `wait4`, i.e. VmHWM: the interpreter, the
  bridge, the SDK and the sync; neither the stand-in nor the sandbox, which are processes of
  their own), the largest of them, and what `sync braintree --help` alone peaks at (the
  interpreter and the imports every run starts with).

    .venv/bin/python -m bench.braintree_sync [--subscriptions 2000] [--customers 1500]
        [--transactions 10000] [--reconciles 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from app.clients.attio import AttioClient
from app.log import configure_logging
from app.schema import SchemaBootstrap
from bench._record import add_record_option, recording
from bench._sandbox import sandbox_call, sandbox_get
from bench.attio_webhooks import ROOT, process
from testkit.braintree_api import BraintreeData, braintree_api
from testkit.processes import free_port, wait_until_up
from testkit.settings import ATTIO_TEST_API_KEY, bridge_env, make_settings

ATTIO_WRITES_PER_SECOND = 25
# What the account's data lands in (companies: the sums over their people, docs/revenue.md).
RECORD_OBJECTS = ("subscriptions", "payments", "people", "companies")


@dataclass
class Measurement:
    label: str
    elapsed: float  # the command's wall time, start-up included
    run_seconds: float  # the run's own time, as its report gives it
    counts: dict[str, Any]
    failed: int
    error: str | None
    changed: int  # records the run had to write (from what was seeded or changed)
    record_writes: int  # write calls to subscriptions, payments and people (429s included)
    bookkeeping_writes: int  # the run's lock, run record and watermark, ledger
    sandbox_writes: int  # write calls the sandbox answered
    rate_limited: int  # 429s the sandbox answered, reads and writes
    braintree_calls: int
    peak_rss_mb: float  # the command's own peak resident set (VmHWM)
    writes_by_object: dict[str, int] = field(default_factory=dict)
    # Where the time went: the first and last write after the start, the rate between them.
    first_write: float | None = None
    last_write: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "elapsed_seconds": round(self.elapsed, 2),
            "run_seconds": round(self.run_seconds, 2),
            "records_to_write": self.changed,
            "record_writes": self.record_writes,
            "bookkeeping_writes": self.bookkeeping_writes,
            "sandbox_write_calls": self.sandbox_writes,
            "attio_429s": self.rate_limited,
            "braintree_calls": self.braintree_calls,
            "writes_by_object": self.writes_by_object,
            "first_write_seconds": _round(self.first_write),
            "last_write_seconds": _round(self.last_write),
            "steady_writes_per_second": _round(self.steady_rate),
            "peak_rss_mb": self.peak_rss_mb,
            "counts": self.counts,
            "failed": self.failed,
            "error": self.error,
        }

    @property
    def steady_rate(self) -> float | None:
        first, last = self.first_write, self.last_write
        if first is None or last is None or last <= first:
            return None
        return (self.sandbox_writes - 1) / (last - first)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def failed_records(counts: dict[str, Any]) -> int:
    return sum(c.get("failed", 0) for c in counts.values() if isinstance(c, dict))


def call_object(path: str) -> str:
    """The object a /v2 call touches (`payments`), or its collection (`objects`, `lists`)."""
    parts = path.split("/")
    return parts[3] if len(parts) > 3 and parts[2] == "objects" else parts[2]


@dataclass(frozen=True)
class Command:
    """One finished command: its exit code, output, wall time and peak RSS."""

    returncode: int
    stdout: str
    stderr: str
    elapsed: float
    peak_rss_mb: float


def run_command(args: list[str], env: dict[str, str]) -> Command:
    """Run `args` to its end and read that process's own peak RSS from `wait4`'s rusage
    (`ru_maxrss`: kilobytes on Linux), which covers the child alone."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.monotonic()
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=err)  # noqa: S603
        _pid, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return Command(proc.returncode, out.read(), err.read(), elapsed, usage.ru_maxrss / 1024)


class Bench:
    def __init__(self, url: str, data: BraintreeData, braintree_port: int) -> None:
        self.url = url
        self.data = data
        # The command's environment as deployed (production: JSON logs at INFO), the Braintree
        # SDK pointed at the stand-in.
        self.env = {
            **os.environ,
            **bridge_env(url, production=True, braintree_port=braintree_port),
        }
        self.settings = make_settings(url)

    async def fresh_workspace(self) -> None:
        """Empty sandbox, the layout's schema created (untimed)."""
        await sandbox_call(self.url, "POST", "/_sandbox/reset")
        async with AttioClient(api_key=ATTIO_TEST_API_KEY, base_url=self.url) as attio:
            report = await SchemaBootstrap.from_settings(attio, self.settings).run(apply=True)
            if not report.complete:
                raise RuntimeError(f"schema bootstrap incomplete: {report.summary()}")

    async def prefill(self) -> None:
        """The account's records in Attio, written by the command with Attio's limits (and
        the sandbox's latency) switched off; untimed."""
        faults = await sandbox_get(self.url, "/_sandbox/faults")
        await sandbox_call(
            self.url, "PUT", "/_sandbox/faults", {"rate_limits": False, "latency_ms": 0.0}
        )
        fast = {**self.env, "ATTIO_WRITE_RATE": "2000", "ATTIO_READ_RATE": "2000"}
        args = [sys.executable, "-m", "app", "sync", "braintree", "--json", "--concurrency", "32"]
        started = time.monotonic()
        command = await asyncio.to_thread(run_command, args, fast)
        keep = ("rate_limits", "latency_ms")
        await sandbox_call(self.url, "PUT", "/_sandbox/faults", {k: faults[k] for k in keep})
        print(
            f"  prefill (no limits, untimed): {time.monotonic() - started:.1f} s, exit "
            f"{command.returncode}, peak RSS {command.peak_rss_mb:.1f} MB",
            file=sys.stderr,
            flush=True,
        )
        if command.returncode != 0:
            raise RuntimeError(f"the prefill failed: {command.stderr[-2000:]}")

    async def measure(self, label: str, changed: int) -> Measurement:
        """One run of the command: a process of its own, the watermark from Attio."""
        before = await sandbox_get(self.url, "/_sandbox/requests")
        braintree_before = sum(self.data.calls.values())
        args = [sys.executable, "-m", "app", "sync", "braintree", "--json"]
        started = time.monotonic()  # the sandbox's clock too (CLOCK_MONOTONIC on Linux)
        command = await asyncio.to_thread(run_command, args, self.env)
        try:
            report = json.loads(command.stdout)
        except json.JSONDecodeError:
            raise RuntimeError(
                f"the run crashed (exit {command.returncode}): {command.stderr[-2000:]}"
            ) from None
        total = (await sandbox_get(self.url, "/_sandbox/requests"))["total"]
        after = await sandbox_get(self.url, "/_sandbox/requests", recent=total - before["total"])
        calls = after["recent"]
        writes_by_object: Counter[str] = Counter()
        write_times = []
        for call in calls:
            if call["kind"] == "write":
                writes_by_object[call_object(call["path"])] += 1
                write_times.append(call["at"] - started)
        record_writes = sum(writes_by_object[obj] for obj in RECORD_OBJECTS)
        result = Measurement(
            label=label,
            elapsed=command.elapsed,
            run_seconds=report["elapsed_seconds"],
            counts=report["counts"],
            failed=failed_records(report["counts"]),
            error=report["error"],
            changed=changed,
            record_writes=record_writes,
            bookkeeping_writes=sum(writes_by_object.values()) - record_writes,
            sandbox_writes=len(write_times),
            rate_limited=sum(1 for call in calls if call["status"] == 429),
            braintree_calls=sum(self.data.calls.values()) - braintree_before,
            peak_rss_mb=round(command.peak_rss_mb, 1),
            writes_by_object=dict(writes_by_object),
            first_write=min(write_times, default=None),
            last_write=max(write_times, default=None),
        )
        aborted = f", ABORTED {result.error}" if result.error else ""
        print(
            f"  {label:<40} {result.elapsed:7.1f} s (run {result.run_seconds:.1f} s)  to write "
            f"{changed}, record writes {record_writes} {dict(writes_by_object)}, sandbox write "
            f"calls {result.sandbox_writes}, 429s {result.rate_limited}, failed "
            f"{result.failed}{aborted}; writes from {_round(result.first_write)} to "
            f"{_round(result.last_write)} s at {_round(result.steady_rate)}/s; peak RSS "
            f"{result.peak_rss_mb} MB",
            file=sys.stderr,
            flush=True,
        )
        return result


def records_needed(data: BraintreeData) -> int:
    """Record writes an empty workspace needs: each subscription, each transaction (a payment),
    each paying customer (a person, their billing summary in the same write), and each company
    of theirs once (the seeded example.com addresses make none)."""
    tokens = {s["payment_method_token"] for s in data.subscriptions.values()}
    payers: set[str | None] = {data.payment_methods.get(token) for token in tokens}
    payers |= {(t.get("customer") or {}).get("id") for t in data.transactions.values()}
    payers.discard(None)
    domains = {
        str(data.customers[p].get("email", "")).rpartition("@")[2]
        for p in payers
        if p in data.customers
    }
    companies = len(domains - {"", "example.com"})
    return len(data.subscriptions) + len(data.transactions) + len(payers) + companies


def change_window(data: BraintreeData, run: int, share: float, at: datetime) -> int:
    """Change `share` of subscriptions and of transactions in Braintree, as of `at`, the way
    an hour of a live account changes them: subscriptions canceled or past due; charges
    submitted earlier settled, and new charges of today (which the next hour settles).
    Returns the records that now differ from Attio."""
    subscriptions = max(1, round(len(data.subscriptions) * share))
    transactions = max(1, round(len(data.transactions) * share))
    live = [s for s in data.subscriptions.values() if s["status"] in ("Active", "Past Due")]
    for n, subscription in enumerate(live[:subscriptions]):
        if subscription["status"] == "Active" and n % 2:
            data.set_subscription_status(subscription["id"], "Past Due", at)
        else:
            data.cancel_subscription(subscription["id"], at)
    pending = [t for t in data.transactions.values() if t["status"] == "submitted_for_settlement"]
    settled = pending[:transactions]
    for transaction in settled:
        data.settle_transaction(transaction["id"], at)
    # The rest of the hour's changes are new charges of live subscriptions.
    billed = [s for s in data.subscriptions.values() if s["status"] == "Active"]
    for n in range(transactions - len(settled)):
        subscription = billed[n % len(billed)]
        customer = data.payment_methods[subscription["payment_method_token"]]
        data.add_transaction(
            f"txn_r{run:02d}_{n:05d}",
            customer,
            subscription["price"],
            created_at=at,
            subscription_id=subscription["id"],
        )
    return min(subscriptions, len(live)) + transactions


async def main(args: argparse.Namespace) -> dict[str, Any]:
    configure_logging("ERROR", json=False)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sandbox = [
        sys.executable, "-m", "attio_sandbox", "--port", str(port),
        "--write-rate", "25", "--read-rate", "100",
        "--latency-ms", str(args.latency_ms), "--jitter-ms", str(args.jitter_ms),
        "--seed", "7",
    ]  # fmt: skip
    now = datetime.now(UTC).replace(microsecond=0)
    data = BraintreeData(latency_seconds=args.braintree_latency_ms / 1000)
    # Plans with their billing frequency and the merchant accounts' currencies: the summaries'
    # MRR needs them (the seeded subscriptions are on these plans).
    data.seed_catalogue()
    # A year of the account up to two hours ago (its last day's charges not yet settled).
    data.seed_account(
        args.customers,
        args.subscriptions,
        args.transactions,
        start=now - timedelta(days=365, hours=2),
        days=365,
    )
    needed = records_needed(data)
    reconciles: list[Measurement] = []
    with process(sandbox), braintree_api(data) as braintree_port:
        await wait_until_up(f"{url}/_sandbox/faults")
        bench = Bench(url, data, braintree_port)
        # What the command weighs before it syncs anything: interpreter, imports, settings.
        help_args = [sys.executable, "-m", "app", "sync", "braintree", "--help"]
        startup_rss = (await asyncio.to_thread(run_command, help_args, bench.env)).peak_rss_mb
        await bench.fresh_workspace()
        if args.prefill:
            # A large account's workspace, filled without Attio's limits: untimed, then the
            # limits back for the reconciliations measured.
            await bench.prefill()
        backfill = await bench.measure(
            "prefilled: catch-up run" if args.prefill else "backfill (empty workspace)",
            0 if args.prefill else needed,
        )
        for run in range(args.reconciles):
            # The window of an hourly run: the watermark less the overlap, to now.
            at = datetime.now(UTC).replace(microsecond=0)
            changed = change_window(data, run, args.changed, at)
            label = f"reconcile {run + 1} ({changed} changed)"
            reconciles.append(await bench.measure(label, changed))
        unchanged = await bench.measure("reconcile, nothing changed", 0)
    return {
        "subscriptions": args.subscriptions,
        "customers": args.customers,
        "transactions": args.transactions,
        "records_needed": needed,
        "floor_seconds": needed / ATTIO_WRITES_PER_SECOND,
        "backfill": backfill.as_dict(),
        "reconciliation": [m.as_dict() for m in reconciles],
        "unchanged": unchanged.as_dict(),
        "peak_rss_mb": max(m.peak_rss_mb for m in [backfill, *reconciles, unchanged]),
        "startup_rss_mb": round(startup_rss, 1),
        "settings": vars(args),
    }


def print_summary(result: dict[str, Any]) -> None:
    settings, floor = result["settings"], result["floor_seconds"]
    print(
        f"Braintree -> Attio sync: {result['subscriptions']} subscriptions, "
        f"{result['customers']} customers, {result['transactions']} transactions. Sandbox: "
        f"25 writes/s, 100 reads/s, latency {settings['latency_ms']:g} ms +/- "
        f"{settings['jitter_ms']:g}; Braintree stand-in {settings['braintree_latency_ms']:g} ms "
        f"per call, pages of 50"
    )
    backfill = result["backfill"]
    elapsed = backfill["elapsed_seconds"]
    if settings.get("prefill"):
        print(
            f"{'catch-up after the prefill':<28} {elapsed:7.1f} s (run "
            f"{backfill['run_seconds']:.1f} s)  record writes {backfill['record_writes']} "
            f"{backfill['writes_by_object']}  Braintree calls {backfill['braintree_calls']}  "
            f"peak RSS {backfill['peak_rss_mb']:.1f} MB"
        )
    else:
        _print_backfill(result, backfill, floor)
    _print_reconciliation(result, backfill)


def _print_backfill(result: dict[str, Any], backfill: dict[str, Any], floor: float) -> None:
    elapsed = backfill["elapsed_seconds"]
    print(
        f"{'backfill':<28} {elapsed:7.1f} s (run {backfill['run_seconds']:.1f} s)  "
        f"floor {floor:.1f} s "
        f"({result['records_needed']} record writes needed / 25)  ratio {elapsed / floor:.3f}x  "
        f"record writes {backfill['record_writes']} {backfill['writes_by_object']}  "
        f"sandbox write calls {backfill['sandbox_write_calls']}  "
        f"failures {backfill['failed']}  429s {backfill['attio_429s']}  steady "
        f"{backfill['steady_writes_per_second']} writes/s"
        + (f"  ABORTED: {backfill['error']}" if backfill["error"] else "")
    )


def _print_reconciliation(result: dict[str, Any], backfill: dict[str, Any]) -> None:
    runs = result["reconciliation"]
    if runs:
        median = statistics.median(run["elapsed_seconds"] for run in runs)
        print(
            f"{'reconciliation, 1% changed':<28} median {median:.1f} s over {len(runs)} run(s) "
            f"(each {[run['elapsed_seconds'] for run in runs]})  record writes "
            f"{[run['record_writes'] for run in runs]} vs records changed "
            f"{[run['records_to_write'] for run in runs]}  bookkeeping writes "
            f"{[run['bookkeeping_writes'] for run in runs]}  failures "
            f"{sum(run['failed'] for run in runs)}  429s {[run['attio_429s'] for run in runs]}"
        )
    unchanged = result["unchanged"]
    print(
        f"{'reconciliation, no change':<28} {unchanged['elapsed_seconds']:7.1f} s  record writes "
        f"{unchanged['record_writes']}  bookkeeping writes {unchanged['bookkeeping_writes']}  "
        f"Braintree calls {unchanged['braintree_calls']}"
    )
    print(
        f"{'peak RSS of the command':<28} {result['peak_rss_mb']:.1f} MB (backfill "
        f"{backfill['peak_rss_mb']:.1f} MB, reconciliations "
        f"{[run['peak_rss_mb'] for run in [*runs, unchanged]]}; each run its own process, its "
        f"VmHWM; the stand-in and the sandbox not included; `--help` alone "
        f"{result['startup_rss_mb']:.1f} MB)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=2000)
    parser.add_argument("--customers", type=int, default=1500)
    parser.add_argument("--transactions", type=int, default=10000)
    parser.add_argument("--reconciles", type=int, default=3, help="reconciliation runs")
    parser.add_argument("--changed", type=float, default=0.01, help="share changed per run")
    parser.add_argument("--latency-ms", type=float, default=60.0)
    parser.add_argument("--jitter-ms", type=float, default=20.0)
    parser.add_argument("--braintree-latency-ms", type=float, default=150.0)
    parser.add_argument(
        "--prefill",
        action="store_true",
        help="fill the workspace without Attio's limits first (untimed) and measure only the "
        "catch-up and reconciliation runs: for large accounts (--subscriptions 20000), whose "
        "backfill at 25 writes/s takes hours",
    )
    parser.add_argument("--json", action="store_true", help="also print the raw results as JSON")
    add_record_option(parser)
    arguments = parser.parse_args()
    title = "Braintree backfill and reconciliation"
    name = "braintree_sync"
    if arguments.prefill:
        title, name = f"{title}, {arguments.subscriptions} subscriptions prefilled", f"{name}_large"
    with recording(name, title, enabled=arguments.record):
        outcome = asyncio.run(main(arguments))
        print_summary(outcome)
    if arguments.json:
        print(json.dumps(outcome, indent=2))
