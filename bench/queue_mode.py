"""Queue mode under a burst: answer times at the webhook, drain time to Attio, nothing lost.

Starts a real redis-server, the Attio sandbox (Attio's 25 writes/s and 100 reads/s enforced,
80-120 ms latency), the bridge (`serve`, production settings, REDIS_URL set) and one
`attio-bridge worker`, bootstraps the schema, then sends N signed Zoho item webhooks (new
items, one Attio write each) open loop at a fixed rate, redelivering anything not answered 2xx
as Zoho's senders would. Optionally the worker is SIGKILLed halfway through the drain (a second
worker takes over its entries once the killed one's heartbeat has expired; every queue setting
is at its default), or Redis is restarted mid-burst (the web service processes inline meanwhile).

Prints: answers 2xx at the first attempt, answer p50/p99, Attio calls and 429s, the time until
every item is in Attio against the write floor (writes / 25 per second), lost and duplicated
items. Exit status 1 if an item is lost or duplicated.

    .venv/bin/python -m bench.queue_mode [--items 240] [--rate 40] [--kill-worker] [--restart-redis]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench._record import add_record_option, recording
from bench._stats import percentile
from testkit.fake_zoho import ITEM
from testkit.processes import free_port
from testkit.redis_server import RedisServer
from testkit.signing import zoho_signed_headers
from testkit.stack import SandboxOptions, Stack, bridge_environment

ATTIO_WRITES_PER_SECOND = 25
DRAIN_DEADLINE_SECONDS = 600
RETRY_DUE_EVERY_SECONDS = 5.0


@dataclass
class Answers:
    first: Counter[str] = field(default_factory=Counter)  # status of each first attempt
    latencies: list[float] = field(default_factory=list)  # seconds, first attempts answered 2xx
    redeliveries: int = 0
    abandoned: int = 0


def item(n: int) -> dict[str, object]:
    return {**ITEM, "item_id": f"31{n:011d}", "name": f"Workshop {n}", "sku": f"SVC-B{n}"}


async def send(client: httpx.AsyncClient, n: int, answers: Answers) -> None:
    body = json.dumps({"item": item(n)}).encode()
    headers = zoho_signed_headers(body)
    for attempt in range(20):
        started = time.monotonic()
        try:
            response = await client.post("/webhooks/zoho", content=body, headers=headers)
            status = str(response.status_code)
        except httpx.HTTPError:
            status = "connection"
        if attempt == 0:
            answers.first[status] += 1
        if status.startswith("2"):
            if attempt == 0:
                answers.latencies.append(time.monotonic() - started)
            return
        answers.redeliveries += 1
        await asyncio.sleep(1.0)
    answers.abandoned += 1


async def written(stack: Stack) -> Counter[str]:
    return Counter(r["values"]["zoho_item_id"] for r in await stack.records("services"))


async def run(args: argparse.Namespace, log_dir: Path) -> int:
    with RedisServer() as redis:
        stack = Stack(log_dir, SandboxOptions(latency_ms=100, jitter_ms=20, seed=7))
        stack.bridge_env = bridge_environment(
            stack.sandbox_url,
            free_port(),
            REDIS_URL=redis.url,
            EVENT_RETRY_SCHEDULE="1,2,5,10,30",  # minutes in production, seconds here
        )
        try:
            await stack.start_sandbox()
            stack.bootstrap()
            await stack.start_bridge()
            baseline = await stack.attio_calls()
            worker = stack.start_worker()
            answers = Answers()
            recorded = retry_runs = 0
            limits = httpx.Limits(max_connections=200)
            async with httpx.AsyncClient(
                base_url=stack.bridge_url, timeout=60, limits=limits
            ) as client:
                started = time.monotonic()
                senders = []
                restarted = None
                for n in range(args.items):
                    await asyncio.sleep(max(0.0, started + n / args.rate - time.monotonic()))
                    senders.append(asyncio.create_task(send(client, n, answers)))
                    if args.restart_redis and n == args.items // 2:
                        # Off the event loop: the senders keep their schedule meanwhile.
                        restarted = asyncio.create_task(asyncio.to_thread(redis.restart))
                await asyncio.gather(*senders)
                if restarted is not None:
                    await restarted
                sent_in = time.monotonic() - started
                killed = False
                next_retry = time.monotonic() + RETRY_DUE_EVERY_SECONDS
                while time.monotonic() - started < DRAIN_DEADLINE_SECONDS:
                    counts = await written(stack)
                    if len(counts) >= args.items:
                        break
                    if args.kill_worker and not killed and len(counts) >= args.items // 2:
                        stack.kill_worker(worker)
                        stack.start_worker()
                        killed = True
                    if time.monotonic() >= next_retry:
                        # What the retry-due cron does: events recorded as failed (e.g. while
                        # Redis was down and the web service processed inline) are queued.
                        failed = [
                            r
                            for r in await stack.records("bridge_events")
                            if r["values"]["status"] == "failed"
                        ]
                        recorded = max(recorded, len(failed))
                        if failed:
                            await asyncio.to_thread(stack.cli, "events", "retry-due")
                            retry_runs += 1
                        next_retry = time.monotonic() + RETRY_DUE_EVERY_SECONDS
                    await asyncio.sleep(0.25)
                drained_in = time.monotonic() - started
            counts = await written(stack)
            calls = await stack.attio_calls()
        finally:
            stack.close()  # SIGTERM to the workers, the bridge and the sandbox

    kinds = Counter(calls["by_kind"]) - Counter(baseline["by_kind"])
    statuses = Counter(calls["by_status"]) - Counter(baseline["by_status"])
    total_calls = sum(kinds.values())
    lost = args.items - len(counts)
    duplicated = sum(1 for c in counts.values() if c > 1)
    floor = args.items / ATTIO_WRITES_PER_SECOND
    mode = "worker SIGKILLed mid-drain" if args.kill_worker else "one worker"
    if args.restart_redis:
        mode += ", Redis restarted mid-burst"
    print(f"run            {args.items} Zoho items at {args.rate:g}/s, queue mode, {mode}")
    first_2xx = sum(v for k, v in answers.first.items() if k.startswith("2"))
    print(f"first answers  {first_2xx}/{args.items} 2xx  {dict(answers.first)}")
    if answers.latencies:
        p50 = percentile(answers.latencies, 0.5) * 1000
        p99 = percentile(answers.latencies, 0.99) * 1000
        print(f"answer time    p50 {p50:.1f} ms  p99 {p99:.1f} ms  (first attempts answered 2xx)")
    print(f"redeliveries   {answers.redeliveries}  abandoned {answers.abandoned}")
    print(f"sent in        {sent_in:.1f} s")
    share = statuses.get("429", 0) / total_calls if total_calls else 0.0
    print(
        f"attio calls    {total_calls} ({dict(kinds)}); 429: {statuses.get('429', 0)} ({share:.1%})"
    )
    ratio = drained_in / floor
    print(f"all in attio   {drained_in:.1f} s = {ratio:.2f} x the {floor:.1f} s write floor")
    print(f"ledger         {recorded} recorded as failed; `events retry-due` ran {retry_runs} x")
    print(f"lost           {lost}  duplicated {duplicated}")
    print(f"logs           {log_dir}")
    return 0 if lost == 0 and duplicated == 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=240)
    parser.add_argument("--rate", type=float, default=40.0, help="deliveries per second")
    parser.add_argument("--kill-worker", action="store_true")
    parser.add_argument("--restart-redis", action="store_true")
    parser.add_argument("--log-dir", type=Path, help="keep process logs here")
    add_record_option(parser)
    args = parser.parse_args(argv)
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="attio-bridge-queue-bench-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    variant = "kill-worker" if args.kill_worker else "restart-redis" if args.restart_redis else ""
    section = f"queue_mode.{variant}" if variant else "queue_mode"
    with recording(section, "Queue mode", enabled=args.record):
        return asyncio.run(run(args, log_dir))


if __name__ == "__main__":
    sys.exit(main())
