"""Signed webhooks at a fixed rate through the bridge (uvicorn) against an Attio with latency.

Starts the Attio sandbox (Attio's rate limits enforced, 40 ± 10 ms per call by default) and the
bridge as a real process, warms it up, then sends `--events` signed webhooks on a fixed
schedule (`--rate` per second, at most `--concurrency` in flight). Reports acknowledged
events/s, latency percentiles, Attio calls per event, the bridge's CPU time per event (utime +
stime from /proc/<pid>/stat), peak RSS (VmHWM) and the bridge's own overhead: latency above the
sandbox's Attio latency (see `overhead_lines`), split by the bridge's `Server-Timing` header.

Two mixes:
- `attio` (default): Attio record events on people (a CRM edit of a name). Each costs one Attio
  read, which names the record, so every webhook's Attio time is matched exactly (by record id
  and time window) and the overhead is measured per webhook.
- `mixed`: the reliability run's mix of Braintree notifications, Zoho items and Attio record
  events, without faults. These write: Attio allows 25 writes/s, so this mix is bounded by the
  write limit; the `Server-Timing` split still holds per webhook, with the time queued at the
  client's Attio limiter reported apart from the bridge's own work.

The sender uses aiohttp, whose client costs a fraction of httpx's CPU per request, so that
the latency measured is the bridge's rather than the load generator's.

    .venv/bin/python -m bench.load [--events 10000] [--rate 50] [--concurrency 32] [--mix attio]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from app.log import configure_logging
from bench._record import add_record_option, recording
from bench._stats import percentile
from testkit.braintree_api import BraintreeData, braintree_api
from testkit.stack import API_KEY, SandboxOptions, Stack, bridge_environment, seed_crm
from testkit.world import AttioIds, Delivery, World, attio_delivery, attio_events, build_world

WARM_UP_EVENTS = 200
DIRECT_READS = 500
PEOPLE = 1000  # distinct records, so that webhooks in flight together never share one
ATTIO_WRITES_PER_SECOND = 25
ATTIO_READS_PER_SECOND = 100


@dataclass
class Sample:
    started: float  # time.monotonic(), comparable with the sandbox's own clock (same host)
    finished: float
    status: int | str
    record_id: str | None  # the person a record event names, to match its Attio calls
    server_timing: dict[str, float] = field(default_factory=dict)  # the bridge's own split, ms


@dataclass
class LoadRun:
    samples: list[Sample] = field(default_factory=list)
    elapsed: float = 0.0
    behind: float = 0.0  # how far the sender fell behind its schedule at worst, seconds


# -- what is sent ----------------------------------------------------------------------------


def person_event(ids: AttioIds, record_id: str, n: int) -> Delivery:
    event = {
        "event_type": "record.updated",
        "id": {
            "workspace_id": ids.workspace_id,
            "object_id": ids.objects["people"],
            "record_id": record_id,
            "attribute_id": ids.attributes["people"]["name"],
        },
        "actor": {"type": "workspace-member", "id": "member-load"},
    }
    return attio_delivery([event], f"load-{n}")


async def seed_people(stack: Stack, count: int) -> AttioIds:
    """People without a Braintree customer: a name edit costs exactly one Attio read."""
    await stack.set_faults(rate_limits=False)  # seeding is setup, not what is measured
    emails = [f"person{n:05d}@example.com" for n in range(count)]
    ids = await seed_crm(stack, emails, write_rate=1000)
    await stack.set_faults(rate_limits=True)
    return ids


# -- sending on a schedule -------------------------------------------------------------------


async def send_at_rate(
    base_url: str,
    deliveries: Sequence[tuple[Delivery, str | None]],
    *,
    rate: float,
    concurrency: int,
    method: str = "POST",
) -> LoadRun:
    """Start delivery i at t0 + i/rate (later only if `concurrency` are still in flight)."""
    run = LoadRun()
    slots = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(base_url, connector=connector, timeout=timeout) as client:

        async def send(delivery: Delivery, record_id: str | None) -> None:
            started = time.monotonic()
            try:
                async with client.request(
                    method, delivery.path, data=delivery.body or None, headers=delivery.headers
                ) as response:
                    await response.read()
                status: int | str = response.status
                timing = parse_server_timing(response.headers.get("server-timing", ""))
            except (aiohttp.ClientError, TimeoutError) as exc:
                status, timing = type(exc).__name__, {}
            finally:
                slots.release()
            run.samples.append(Sample(started, time.monotonic(), status, record_id, timing))

        tasks = []
        t0 = time.monotonic()
        for i, (delivery, record_id) in enumerate(deliveries):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await slots.acquire()
            run.behind = max(run.behind, time.monotonic() - (t0 + i / rate))
            tasks.append(asyncio.create_task(send(delivery, record_id)))
        await asyncio.gather(*tasks)
        run.elapsed = time.monotonic() - t0
    return run


# -- measuring -------------------------------------------------------------------------------


def parse_server_timing(header: str) -> dict[str, float]:
    """`attio;dur=41.20, own;dur=1.90` -> {"attio": 41.2, "own": 1.9} (milliseconds)."""
    timing = {}
    for metric in header.split(","):
        name, _, duration = metric.strip().partition(";dur=")
        if name and duration:
            timing[name] = float(duration)
    return timing


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat (fields 14 and 15)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may contain spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM missing from /proc status")


def attio_ms_per_webhook(samples: Sequence[Sample], calls: Sequence[dict[str, Any]]) -> list[float]:
    """For each record event, the sandbox's time answering its calls (same record, in window)."""
    by_record: dict[str, list[dict[str, Any]]] = {}
    for call in calls:
        by_record.setdefault(call["path"].rsplit("/", 1)[-1], []).append(call)
    totals = []
    for sample in samples:
        matched = [
            call["duration_ms"]
            for call in by_record.get(sample.record_id or "", [])
            if sample.started <= call["at"] <= sample.finished
        ]
        totals.append(sum(matched))
    return totals


async def sandbox_calls(stack: Stack, recent: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=stack.sandbox_url, timeout=120) as client:
        response = await client.get("/_sandbox/requests", params={"recent": recent})
        response.raise_for_status()
        return response.json()


# -- the run ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadConfig:
    events: int = 10_000
    rate: float = 50.0
    concurrency: int = 32
    mix: str = "attio"
    latency_ms: float = 40.0
    jitter_ms: float = 10.0
    seed: int = 1


def workload(
    config: LoadConfig, ids: AttioIds, world: World | None
) -> list[tuple[Delivery, str | None]]:
    """The warm-up and measured deliveries, each with the record id its Attio call names."""
    total = WARM_UP_EVENTS + config.events
    if world is None:
        people = [ids.people[n % len(ids.people)] for n in range(total)]
        return [(person_event(ids, person, n), person) for n, person in enumerate(people)]
    rng = random.Random(config.seed)
    deliveries = world.deliveries(attio_events(ids, world.attio_count, rng))
    return [(d, None) for d in deliveries[:total]]


async def run(config: LoadConfig) -> list[str]:
    configure_logging("WARNING", json=False)
    world = (
        build_world(WARM_UP_EVENTS + config.events, config.seed) if config.mix == "mixed" else None
    )
    data = BraintreeData(**world.braintree_data()) if world else BraintreeData()
    with (
        tempfile.TemporaryDirectory(prefix="attio-bridge-load-") as logs,
        braintree_api(data) as braintree_port,
    ):
        stack = Stack(
            Path(logs),
            SandboxOptions(latency_ms=config.latency_ms, jitter_ms=config.jitter_ms, seed=1),
        )
        # Production logging at INFO, as deployed: its cost is part of the bridge's CPU.
        stack.bridge_env = bridge_environment(stack.sandbox_url, braintree_port)
        try:
            return await _measure(stack, config, world)
        finally:
            stack.close()


@dataclass(frozen=True)
class AttioCalls:
    """The /v2 calls the sandbox answered during the measured phase."""

    reads: int
    writes: int
    rate_limited: int

    @classmethod
    def between(cls, before: dict[str, Any], after: dict[str, Any]) -> AttioCalls:
        def delta(section: str, key: str) -> int:
            return int(after[section].get(key, 0)) - int(before[section].get(key, 0))

        return cls(delta("by_kind", "read"), delta("by_kind", "write"), delta("by_status", "429"))

    @property
    def total(self) -> int:
        return self.reads + self.writes

    def max_events_per_second(self, events: int) -> float:
        """What the client's limiter (95 reads/s, 24 writes/s) allows of this mix."""
        reads, writes = self.reads / events, self.writes / events
        bounds = [95 / reads if reads else float("inf"), 24 / writes if writes else float("inf")]
        return min(bounds)


async def _measure(stack: Stack, config: LoadConfig, world: World | None) -> list[str]:
    await stack.start_sandbox()
    await asyncio.to_thread(stack.bootstrap)
    if world is not None:
        ids = await seed_crm(stack, world.crm_people)
    else:
        ids = await seed_people(stack, PEOPLE)
    items = workload(config, ids, world)
    await stack.start_bridge()
    assert stack.bridge is not None
    pid = stack.bridge.pid
    warm, measured = items[:WARM_UP_EVENTS], items[WARM_UP_EVENTS:]
    await send_at_rate(stack.bridge_url, warm, rate=config.rate, concurrency=config.concurrency)
    before_calls = await sandbox_calls(stack, 0)
    before_cpu = cpu_seconds(pid)
    result = await send_at_rate(
        stack.bridge_url, measured, rate=config.rate, concurrency=config.concurrency
    )
    cpu = cpu_seconds(pid) - before_cpu
    rss = peak_rss_mb(pid)
    calls = AttioCalls.between(before_calls, await sandbox_calls(stack, 0))
    recent = (await sandbox_calls(stack, calls.total))["recent"] if config.mix == "attio" else []
    direct = await direct_reads(stack, ids.people, config) if config.mix == "attio" else []
    return report(config, result, cpu, rss, calls, recent, direct)


async def direct_reads(stack: Stack, people: Sequence[str], config: LoadConfig) -> list[float]:
    """The Attio read a record event costs, sent straight to the sandbox by the bench's own
    client at the same rate: its latency minus the sandbox's time answering it is what the
    sandbox's HTTP server and loopback add to every call (Attio's share, not the bridge's)."""
    count = min(DIRECT_READS, len(people))
    reads = [
        (
            Delivery(
                label="direct",
                source="attio",
                path=f"/v2/objects/people/records/{person}",
                body=b"",
                headers={"Authorization": f"Bearer {API_KEY}"},
                event_keys=(),
            ),
            person,
        )
        for person in people[:count]
    ]
    run = await send_at_rate(
        stack.sandbox_url, reads, rate=config.rate, concurrency=config.concurrency, method="GET"
    )
    answered = (await sandbox_calls(stack, count))["recent"]
    ok = [sample for sample in run.samples if sample.status == 200]
    return [
        (sample.finished - sample.started) * 1000 - sandbox_ms
        for sample, sandbox_ms in zip(ok, attio_ms_per_webhook(ok, answered), strict=True)
    ]


def report(
    config: LoadConfig,
    result: LoadRun,
    cpu: float,
    rss: float,
    calls: AttioCalls,
    recent: list[dict[str, Any]],
    direct: list[float],
) -> list[str]:
    n = len(result.samples)
    statuses = Counter(str(s.status) for s in result.samples)
    ok = [s for s in result.samples if s.status == 200]
    latencies = [(s.finished - s.started) * 1000 for s in ok]
    lines = [
        f"mix {config.mix}: {n} signed webhooks at {config.rate:g}/s, concurrency "
        f"{config.concurrency}; Attio sandbox {config.latency_ms:g} ± {config.jitter_ms:g} ms "
        f"per call, Attio's limits enforced ({ATTIO_WRITES_PER_SECOND} writes/s, "
        f"{ATTIO_READS_PER_SECOND} reads/s)",
        f"statuses         {dict(statuses)}",
        f"acknowledged/s   {len(ok) / result.elapsed:.1f} (sender at most "
        f"{result.behind * 1000:.0f} ms behind schedule)",
        f"latency ms       p50 {percentile(latencies, 0.5):.1f}  p95 "
        f"{percentile(latencies, 0.95):.1f}  p99 {percentile(latencies, 0.99):.1f}",
        f"Attio calls      {calls.total / n:.2f} per event ({calls.reads / n:.2f} reads, "
        f"{calls.writes / n:.2f} writes; {calls.rate_limited} answered 429)",
        f"bridge CPU       {cpu / n * 1000:.2f} ms per event ({cpu:.1f} s for {n} events)",
        f"bridge peak RSS  {rss:.0f} MB (VmHWM after {n + WARM_UP_EVENTS} events)",
    ]
    lines += overhead_lines(config, ok, latencies, recent, direct)
    lines += bound_lines(config, result, calls.max_events_per_second(n))
    return lines


def overhead_lines(
    config: LoadConfig,
    ok: Sequence[Sample],
    latencies: Sequence[float],
    recent: list[dict[str, Any]],
    direct: Sequence[float],
) -> list[str]:
    """The bridge's own overhead: a webhook's latency above the sandbox's Attio latency.

    The sandbox's Attio latency is what a client waits for the same read: the time the sandbox
    took to answer that webhook's call (matched by record id, so record events only) plus what
    its HTTP server and loopback add, measured by `direct_reads` (its median is subtracted, so
    the tail is not flattered). What remains is the bridge: its server, its app and its HTTP
    client, plus the sender's client. The bridge's `Server-Timing` header splits it further.
    """

    def spread(values: Sequence[float]) -> str:
        return " ".join(f"p{int(q * 100)} {percentile(values, q):.1f}" for q in (0.5, 0.95, 0.99))

    lines = []
    if config.mix == "attio" and direct:
        sandbox_ms = attio_ms_per_webhook(ok, recent)
        served = percentile(direct, 0.5)
        beyond = [total - answered for total, answered in zip(latencies, sandbox_ms, strict=True)]
        lines += [
            f"own overhead ms  {spread([ms - served for ms in beyond])}  latency above the "
            "sandbox's Attio latency (target: p50 < 5, p99 < 25)",
            f"  Attio latency  the sandbox's time answering that webhook's read (p50 "
            f"{percentile(sandbox_ms, 0.5):.1f}) + its HTTP server and loopback as a direct "
            f"client sees them ({spread(direct)})",
            f"  not deducted   {spread(beyond)}  latency minus the sandbox's answer time alone",
        ]
    timed = [s for s in ok if "own" in s.server_timing]
    if timed:
        waits = [sum(v for k, v in s.server_timing.items() if k != "own") for s in timed]
        above_wait = [
            (s.finished - s.started) * 1000 - w for s, w in zip(timed, waits, strict=True)
        ]
        queued = [s.server_timing.get("attio-limiter", 0.0) for s in timed]
        lines += [
            f"  in the app     {spread([s.server_timing['own'] for s in timed])}  Server-Timing "
            "`own`: app entry to response, waits excluded",
            f"  above its wait {spread(above_wait)}  latency minus the waits the bridge reports "
            "(its HTTP client counted as Attio's)",
            f"  limiter queue  {spread(queued)}  Server-Timing `attio-limiter`: waiting for "
            "Attio's rate budget",
        ]
    return lines


def bound_lines(config: LoadConfig, result: LoadRun, attio_bound: float) -> list[str]:
    offered = config.rate
    achieved = len(result.samples) / result.elapsed
    limit = (
        f"the client's limiter (a little under Attio's {ATTIO_READS_PER_SECOND} reads/s and "
        f"{ATTIO_WRITES_PER_SECOND} writes/s) allows at most {attio_bound:.0f} events/s of this mix"
    )
    if achieved >= offered * 0.97:
        return [f"bound            the offered rate: the bridge kept up; {limit}"]
    return [f"bound            Attio's rate limits, not the bridge: {limit}; calls queue there"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--mix", choices=("attio", "mixed"), default="attio")
    parser.add_argument("--latency-ms", type=float, default=40.0)
    parser.add_argument("--jitter-ms", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    add_record_option(parser)
    args = parser.parse_args(argv)
    config = LoadConfig(
        events=args.events,
        rate=args.rate,
        concurrency=args.concurrency,
        mix=args.mix,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        seed=args.seed,
    )
    section = "load" if args.mix == "attio" else f"load.{args.mix}"
    with recording(section, f"Load ({args.mix} traffic)", enabled=args.record):
        for line in asyncio.run(run(config)):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
