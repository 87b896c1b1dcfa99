"""The fault-injection run itself: sandbox with faults, a bridge that gets SIGKILLed, checks.

`run(config)` starts the Attio sandbox (5xx, 429 bursts with Retry-After, calls held until they
time out, errors striking after writes apply) and the bridge as a real uvicorn process,
bootstraps the schema, delivers a `testkit.world` of signed Braintree, Zoho and Attio events
from concurrent senders that redeliver until they get a 2xx, SIGKILLs and restarts the bridge
on the way, then stops the faults and runs `attio-bridge events retry-due` until nothing is due.
The result says whether every entity has exactly one Attio record holding the newest values and
every event was processed or is in `bridge_events`.

`bench.reliability` is the command-line run; `tests/reliability` runs a short one in CI.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.log import configure_logging
from testkit.braintree_api import BraintreeData, braintree_api
from testkit.senders import Senders, SendReport
from testkit.stack import SandboxOptions, Stack, bridge_environment, seed_crm
from testkit.verify import (
    Problems,
    Snapshot,
    check_ledger,
    check_records,
    instant,
    ledger_counts,
    linked_services,
)
from testkit.world import AttioIds, Delivery, World, attio_events, build_world

OBJECTS = ("people", "services", "subscriptions", "payments")
MAX_RETRY_ROUNDS = 10
MAX_WAIT_FOR_DUE_SECONDS = 10.0
RESTART_PAUSE_SECONDS = 0.5  # the bridge stays down a moment: senders meet a closed port


@dataclass(frozen=True)
class ReliabilityConfig:
    events: int = 1000
    kills: int = 2
    senders: int = 8
    seed: int = 1
    error_rate: float = 0.10
    timeout_rate: float = 0.02
    # Per call; with ~40 calls/s this starts a one-second burst of 429s every few seconds.
    burst_rate: float = 0.01
    burst_seconds: float = 1.0
    # How long the sandbox holds a "timed out" call; the bridge's client gives up before.
    timeout_seconds: float = 3.0
    attio_timeout_seconds: float = 2.0
    # Fewer client attempts and a shorter budget than the defaults (6, 10 s), so that some
    # events do fail under these faults and the ledger and `retry-due` are exercised.
    attio_max_attempts: int = 2
    budget_seconds: float = 5.0
    latency_ms: float = 15.0
    jitter_ms: float = 10.0
    after_write: bool = True
    deadline_seconds: float = 1800.0
    log_dir: Path | None = None


@dataclass
class ReliabilityResult:
    counts: dict[str, int]  # delivered, redelivered, retried, failed, replayed
    problems: Problems
    report: list[str] = field(default_factory=list)
    log_dir: Path | None = None
    deliveries: int = 0  # distinct requests the providers had to get through
    kills: int = 0
    injected_faults: int = 0  # Attio calls answered with an injected fault

    @property
    def ok(self) -> bool:
        return not self.problems


# -- setting up ------------------------------------------------------------------------------


def faults_on(config: ReliabilityConfig) -> dict[str, float]:
    return {
        "server_error_rate": config.error_rate,
        "timeout_rate": config.timeout_rate,
        "burst_rate": config.burst_rate,
    }


FAULTS_OFF = {"server_error_rate": 0.0, "timeout_rate": 0.0, "burst_rate": 0.0}


# -- the run ---------------------------------------------------------------------------------


class Killer:
    """SIGKILLs the bridge when given shares of the deliveries are acknowledged, then restarts."""

    def __init__(self, stack: Stack, total: int, kills: int) -> None:
        self._stack = stack
        self._thresholds = [total * (n + 1) // (kills + 1) for n in range(kills)]
        self._reached = asyncio.Event()
        self._acknowledged = 0
        self.kills: list[int] = []  # acknowledged deliveries at each kill

    def on_ack(self, acknowledged: int) -> None:
        self._acknowledged = acknowledged
        if self._thresholds and acknowledged >= self._thresholds[0]:
            self._reached.set()

    async def run(self) -> None:
        while self._thresholds:
            await self._reached.wait()
            self._reached.clear()
            self._thresholds.pop(0)
            self._stack.kill_bridge()
            self.kills.append(self._acknowledged)
            await asyncio.sleep(RESTART_PAUSE_SECONDS)
            await self._stack.start_bridge()


async def deliver(
    stack: Stack, world: World, ids: AttioIds, config: ReliabilityConfig
) -> tuple[list[Delivery], SendReport, list[int]]:
    """Send every delivery until acknowledged, killing and restarting the bridge on the way."""
    rng = random.Random(config.seed + 2)
    deliveries = world.deliveries(attio_events(ids, world.attio_count, rng))
    killer = Killer(stack, len(deliveries), config.kills)
    senders = Senders(
        stack.bridge_url,
        deliveries,
        concurrency=config.senders,
        deadline_seconds=config.deadline_seconds,
        seed=config.seed,
    )
    kills = asyncio.create_task(killer.run())

    def stop_if_failed(task: asyncio.Task[None]) -> None:
        # A bridge that does not come back would leave the senders failing until the deadline.
        if not task.cancelled() and task.exception() is not None:
            senders.stop()

    kills.add_done_callback(stop_if_failed)
    report = await senders.run(on_ack=killer.on_ack)
    if not kills.done():
        kills.cancel()  # a threshold not reached (deliveries were abandoned)
    (outcome,) = await asyncio.gather(kills, return_exceptions=True)
    if isinstance(outcome, Exception):
        raise outcome
    return deliveries, report, killer.kills


async def retry_until_settled(stack: Stack) -> tuple[Counter[str], int]:
    """`events retry-due` until no ledger record is failed (bounded rounds)."""
    results: Counter[str] = Counter()
    rounds = 0
    for rounds in range(1, MAX_RETRY_ROUNDS + 1):  # noqa: B007 - reported after the loop
        report = await asyncio.to_thread(stack.cli_json, "events", "retry-due")
        results.update({k: v for k, v in report["counts"].items() if v})
        failed = [row for row in await stack.records("bridge_events") if _status(row) == "failed"]
        if not failed:
            break
        await asyncio.sleep(_seconds_until_due(failed))
    return results, rounds


def _status(row: dict[str, Any]) -> str | None:
    return row["values"].get("status")


def _seconds_until_due(rows: list[dict[str, Any]]) -> float:
    due = [instant(row["values"].get("next_attempt_at")) for row in rows]
    latest = max((moment for moment in due if moment is not None), default=None)
    if latest is None:
        return 1.0
    wait = (latest - datetime.now(UTC)).total_seconds() + 0.2
    return min(MAX_WAIT_FOR_DUE_SECONDS, max(0.2, wait))


# -- reporting -------------------------------------------------------------------------------


def summarize(
    config: ReliabilityConfig,
    report: SendReport,
    kills: list[int],
    retries: tuple[Counter[str], int],
    ledger: list[dict[str, Any]],
    calls: dict[str, Any],
    snapshot: Snapshot,
) -> tuple[dict[str, int], list[str]]:
    statuses = ledger_counts(ledger)
    retried, rounds = retries
    counts = {
        "delivered": report.acknowledged,
        "redelivered": report.redelivered,
        "retried": sum(retried.values()),
        "failed": report.outcomes["recorded"],
        "replayed": statuses["replayed"],
    }
    records = {obj: len(snapshot.records[obj]) for obj in OBJECTS}
    lines = [
        f"events {config.events}, senders {config.senders}, kills {config.kills}, "
        f"seed {config.seed}; Attio faults: {config.error_rate:.0%} 5xx, "
        f"{config.timeout_rate:.0%} timeouts ({config.timeout_seconds:g} s), 429 bursts "
        f"({config.burst_rate:.1%} per call, {config.burst_seconds:g} s), after-write "
        f"{'on' if config.after_write else 'off'}",
        f"delivered    {counts['delivered']} deliveries acknowledged in {report.elapsed:.1f} s "
        f"({dict(report.outcomes)})",
        f"redelivered  {counts['redelivered']} (answers {dict(report.statuses)})",
        f"killed       bridge SIGKILLed {len(kills)} time(s), at {kills} acknowledged",
        f"failed       {counts['failed']} event(s) recorded in bridge_events by the live bridge",
        f"retried      {counts['retried']} re-attempt(s) by events retry-due in {rounds} "
        f"round(s) ({dict(retried)})",
        f"replayed     {counts['replayed']} ledger record(s) now replayed "
        f"(ledger by status: {dict(statuses)})",
        f"Attio calls  {calls['total']} ({calls['by_kind']}); injected {calls['by_fault']}",
        f"records      {records}; {linked_services(snapshot)} subscription(s) linked to a service",
    ]
    return counts, lines


# -- the whole run ---------------------------------------------------------------------------


@contextmanager
def log_directory(config: ReliabilityConfig) -> Iterator[Path]:
    if config.log_dir is not None:
        config.log_dir.mkdir(parents=True, exist_ok=True)
        yield config.log_dir
        return
    with tempfile.TemporaryDirectory(prefix="attio-bridge-reliability-") as directory:
        yield Path(directory)


async def run(config: ReliabilityConfig, *, keep_logs: bool = False) -> ReliabilityResult:
    configure_logging("WARNING", json=False)  # the driver's own Attio client: quiet
    world = build_world(config.events, config.seed)
    data = BraintreeData(**world.braintree_data())
    with log_directory(config) as log_dir, braintree_api(data) as braintree_port:
        stack = Stack(
            log_dir,
            SandboxOptions(
                latency_ms=config.latency_ms,
                jitter_ms=config.jitter_ms,
                seed=config.seed,
                timeout_seconds=config.timeout_seconds,
                burst_seconds=config.burst_seconds,
                after_write=config.after_write,
            ),
        )
        stack.bridge_env = bridge_environment(
            stack.sandbox_url,
            braintree_port,
            EVENT_RETRY_SCHEDULE="1,1,2",
            ATTIO_TIMEOUT_SECONDS=str(config.attio_timeout_seconds),
            ATTIO_MAX_ATTEMPTS=str(config.attio_max_attempts),
            EVENT_PROCESSING_BUDGET_SECONDS=str(config.budget_seconds),
        )
        try:
            result = await _run(stack, world, config)
        finally:
            stack.close()
        result.report.append(f"Braintree API calls {dict(data.calls)}")
        if result.problems:
            (log_dir / "problems.txt").write_text("\n".join(result.problems.lines(limit=None)))
        if config.log_dir is not None:
            result.log_dir = config.log_dir
        elif not result.ok or keep_logs:
            result.log_dir = _keep(log_dir)
    return result


async def _run(stack: Stack, world: World, config: ReliabilityConfig) -> ReliabilityResult:
    await stack.start_sandbox()
    await asyncio.to_thread(stack.bootstrap)
    ids = await seed_crm(stack, world.crm_people)
    await stack.set_faults(**faults_on(config))
    await stack.start_bridge()
    deliveries, report, kills = await deliver(stack, world, ids, config)
    stack.stop_bridge()
    await stack.set_faults(**FAULTS_OFF)
    retries = await retry_until_settled(stack)
    records = {obj: await stack.records(obj) for obj in (*OBJECTS, "bridge_events")}
    snapshot = Snapshot(records)
    ledger = records["bridge_events"]
    problems = check_records(world.expected, snapshot, world.crm_people)
    for index in report.abandoned:
        problems.add("delivery never acknowledged (lost)", deliveries[index].label)
    problems.merge(check_ledger(ledger, deliveries, report.final))
    calls = await stack.attio_calls()
    counts, lines = summarize(config, report, kills, retries, ledger, calls, snapshot)
    return ReliabilityResult(
        counts=counts,
        problems=problems,
        report=lines,
        deliveries=len(deliveries),
        kills=len(kills),
        injected_faults=sum(calls["by_fault"].values()),
    )


def _keep(log_dir: Path) -> Path:
    """Copy a temporary log directory somewhere that outlives the run."""
    kept = Path(tempfile.mkdtemp(prefix="attio-bridge-reliability-logs-"))
    shutil.copytree(log_dir, kept, dirs_exist_ok=True)
    return kept
