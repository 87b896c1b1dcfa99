"""The workspace's shared Attio write budget, taken by several processes at once.

Starts a real redis-server and N processes (standing in for web instances, workers and a cron
job), each with its own `SharedRateLimiter` on the same `writes` bucket, each with C concurrent
callers acquiring as fast as they are let. Every start is stamped with Redis's clock (the
reservation's own time) and with the process's wall clock after its sleep; the benchmark prints:

- aggregate starts per second against the configured rate;
- the most starts in any one-second window (of the reserved times, and of the actual wake-ups,
  which carry the event loop's timer lag), against Attio's 25;
- each process's share, and what one reservation costs (a Redis round trip).

Without Redis each of those processes would take the whole rate for itself (N x 24 writes/s).

    .venv/bin/python -m bench.shared_limit [--processes 3] [--callers 16] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import time
from typing import Any

from app.clients.attio.shared_ratelimit import SharedRateLimiter
from app.clients.redis import connect
from bench._record import add_record_option, recording
from testkit.redis_server import RedisServer

ATTIO_WRITES_PER_SECOND = 25


def _max_in_window(stamps: list[float], window: float = 1.0) -> int:
    stamps = sorted(stamps)
    best, j = 0, 0
    for i, start in enumerate(stamps):
        while j < len(stamps) and stamps[j] < start + window:
            j += 1
        best = max(best, j - i)
    return best


async def _run_process(url: str, rate: float, callers: int, seconds: float) -> dict[str, Any]:
    redis = connect(url)
    limiter = SharedRateLimiter(redis, "writes", rate)
    reserved: list[float] = []
    woke: list[float] = []
    costs: list[float] = []
    stop_at = time.time() + seconds

    async def caller() -> None:
        while time.time() < stop_at:
            asked = time.perf_counter()
            wait, start = await limiter.reserve()
            costs.append(time.perf_counter() - asked)
            if wait > 0:
                await asyncio.sleep(wait)
            reserved.append(start)
            woke.append(time.time())

    await asyncio.gather(*(caller() for _ in range(callers)))
    await redis.aclose()
    return {"reserved": reserved, "woke": woke, "costs": costs}


def _process_main(url: str, rate: float, callers: int, seconds: float, out: Any) -> None:
    out.put(asyncio.run(_run_process(url, rate, callers, seconds)))


def run(processes: int, callers: int, seconds: float, rate: float) -> dict[str, Any]:
    with RedisServer() as server:
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        workers = [
            context.Process(target=_process_main, args=(server.url, rate, callers, seconds, queue))
            for _ in range(processes)
        ]
        for worker in workers:
            worker.start()
        results = [queue.get() for _ in workers]
        for worker in workers:
            worker.join()
    reserved = [s for r in results for s in r["reserved"]]
    woke = [s for r in results for s in r["woke"]]
    costs = [c for r in results for c in r["costs"]]
    # Only starts within the run (the last callers' reservations may lie past its end).
    first = min(reserved)
    span = max(reserved) - first
    return {
        "processes": processes,
        "callers_per_process": callers,
        "configured_rate": rate,
        "starts": len(reserved),
        "aggregate_starts_per_second": round((len(reserved) - 1) / span, 2) if span else None,
        "max_reserved_starts_in_any_second": _max_in_window(reserved),
        "max_actual_starts_in_any_second": _max_in_window(woke),
        "attio_limit": ATTIO_WRITES_PER_SECOND,
        "share_per_process": [len(r["reserved"]) for r in results],
        "reservation_ms_p50": round(statistics.median(costs) * 1000, 3),
        "reservation_ms_p99": round(statistics.quantiles(costs, n=100)[98] * 1000, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--callers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=24.0)
    add_record_option(parser)
    args = parser.parse_args()
    with recording("shared_limit", "One Attio budget across processes", enabled=args.record):
        figures = run(args.processes, args.callers, args.seconds, args.rate)
        print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
