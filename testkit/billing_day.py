"""Billing day: a burst of Braintree charges while `sync zoho` backfills, on one Attio budget.

`scenario(name, config, log_dir)` starts the Attio sandbox as a real process (Attio's 25
writes/s and 100 reads/s enforced, 100 ± 20 ms per call), the Braintree API stand-in holding
every charge's customer, subscription and transaction (`braintree_data`: each notification
computes a real billing summary for its person), a Zoho server with `config.items` items, and
the bridge as deployed: web instances (`attio-bridge serve`), and in queue mode a Redis server
and `attio-bridge worker` processes. Then it sends `config.charges` signed
`subscription_charged_successfully` notifications, open loop at `config.rate` per second,
spread over the web instances as a load balancer would, while the Zoho backfill runs. A
delivery not answered 2xx within 30 s (or answered otherwise) is sent again, as Braintree does,
after its `Retry-After` (at most 5 s here instead of Braintree's hour).

The customers work at companies, `config.per_company` people each (customer n at company
n % companies, so a company's people are charged spread over the burst, as on a real billing
day): their addresses are on company domains (`<word>-<k>.io`), which the sandbox links to a
company as Attio does, so every charge also recomputes a company (coalesced: at most one write
per company per 3 s). `per_company=0` puts them on example.com, which gets no company.

New customers by default. With `config.returning`, each customer was charged once before, a
month earlier: those notifications are sent first, untimed, until all is in Attio (companies
included) and a few seconds more, so the coalesced company writes are done; the Braintree
stand-in is then given the month's new transactions (it holds both, so a summary's
lifetime_paid counts two charges) and the timed burst sends the month's charges: same customers
and subscriptions, new transaction ids.

A webhook whose processing overruns the bridge's time budget is answered 2xx once its event is
in the ledger (`bridge_events`, status `failed`); its records reach Attio only when the
retry-due cron replays it. So `attio-bridge events retry-due` runs as the cron job does, on
the ledger's clock compressed 20 times: every 30 s instead of every 10 minutes, with
EVENT_RETRY_SCHEDULE 3,15,90,360,2160 instead of 60,300,1800,7200,43200.

Scenarios:
- `queue`: REDIS_URL set, two web instances, one worker; `attio-bridge sync zoho` runs as its own
  process (it takes its Attio calls from the shared limiter in Redis); the burst starts once the
  sync has started, so the sync's interpreter start-up does not share the web instances' cores
  (on Render a cron job runs on an instance of its own).
- `queue-kill-worker`: the same, the worker SIGKILLed mid-drain and started again (its entries
  are taken over once its heartbeat has expired; QUEUE_RECLAIM_IDLE_SECONDS stays at its default).
- `queue-restart-redis`: the same, Redis restarted mid-burst.
- `inline`: no Redis, one web instance; the sync runs inside it (POST /admin/sync/zoho, as the
  cron job does), so both spend the one process's budget.

The `Run` holds every answer, the Attio calls of the timed burst, the tally of Attio by unique
key and expected values (`testkit.billing_tally`), and which companies' `mrr` or
`paying_people` is not the sum over their people. `bench.billing_day` prints the figures;
`tests/reliability` runs each scenario at a small size in CI.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from testkit.billing_tally import (
    UNIQUE_KEYS,
    Charge,
    Tally,
    company_mismatches,
    key_values,
    tally,
)
from testkit.braintree_api import BraintreeData, braintree_api
from testkit.fake_zoho import FakeZoho
from testkit.processes import free_port, wait_until_up
from testkit.redis_server import RedisServer
from testkit.stack import ROOT, SandboxOptions, Stack, bridge_environment
from testkit.world import (
    MERCHANT_ACCOUNT,
    MONTH,
    BilledCharge,
    Delivery,
    billing_charges,
    billing_company_count,
    billing_deliveries,
    billing_plans,
)
from testkit.zoho_server import environment as zoho_environment

ATTIO_WRITES_PER_SECOND = 25
# A new customer: person (their billing summary, computed from what the Braintree stand-in
# holds, in the same write), subscription, payment. A returning customer: subscription,
# payment, and an update of the person's summary. Plus, either way, the company's writes: at
# least one per company over the day (they coalesce), counted apart.
WRITES_PER_CHARGE = 3
# Time for the company recomputes still scheduled (their delay is 3 s) to run after the earlier
# month, before the timed burst.
COMPANY_SETTLE_SECONDS = 6.0
# What a charge's billing summary puts on its person (a few of its values).
SUMMARY_VALUES = ("billing_status", "mrr", "lifetime_paid", "active_subscriptions")
SENDER_TIMEOUT_SECONDS = 30.0
MAX_RETRY_AFTER_SECONDS = 5.0
DRAIN_DEADLINE_SECONDS = 600.0
ADMIN_TOKEN = "bench-admin-token-0123456789-abcdefghij"
SCENARIOS = ("queue", "queue-kill-worker", "queue-restart-redis", "inline")
# The ledger's clock, compressed 20 times (the cron runs every 10 minutes on Render).
RETRY_DUE_EVERY_SECONDS = 30.0
RETRY_SCHEDULE = "3,15,90,360,2160"
RETRY_DUE_GRACE_SECONDS = 60.0
POLL_SECONDS = 0.5
ALL_CALLS = 10**9  # the sandbox lists its last N calls: all of them
OBJECT_PATH = re.compile(r"^/v2/objects/([^/]+)/records")


@dataclass(frozen=True)
class BillingDayConfig:
    charges: int = 240
    rate: float = 40.0  # charges sent per second
    items: int = 300  # Zoho items `sync zoho` backfills meanwhile
    webs: int = 2  # web instances in queue mode
    seed: int = 1
    per_company: int = 3  # people per company (0: example.com addresses, no company)
    returning: bool = False  # every customer was charged once before, a month earlier

    @property
    def companies(self) -> int:
        return billing_company_count(self.charges, self.per_company)

    def billed(self) -> list[BilledCharge]:
        return billing_charges(
            self.charges, self.seed, per_company=self.per_company, returning=self.returning
        )


@dataclass
class Answer:
    attempt: int
    sent: float
    seconds: float
    status: str  # "200", "503", "timeout", or the transport error's name ("ConnectError")


@dataclass
class Run:
    scenario: str
    answers: dict[int, list[Answer]] = field(default_factory=dict)
    acknowledged: set[int] = field(default_factory=set)
    started: float = 0.0
    everything_in_attio: float | None = None
    calls: dict[str, Any] = field(default_factory=dict)
    tally: Tally = field(default_factory=Tally)
    retry_due_runs: int = 0
    retry_due: Counter[str] = field(default_factory=Counter)  # replay results by status
    notes: list[str] = field(default_factory=list)
    # Billed people carrying each billing summary value, and charge 0's person's summary.
    summaries: dict[str, int] = field(default_factory=dict)
    first_summary: dict[str, Any] = field(default_factory=dict)
    # The day's companies whose mrr or paying_people is not the sum over their people (domains).
    company_mismatches: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Expected:
    """What Attio must hold once a month's charges are applied: per charge its records and
    their values, and per company domain the sums over its people."""

    charges: list[Charge]
    companies: dict[str, dict[str, Any]]


def expected(
    billed: Sequence[BilledCharge], deliveries: Sequence[Delivery], *, earlier: bool = False
) -> Expected:
    """From the world alone: a charge's person carries lifetime_paid = its subscription's price
    times the sales made so far, its subscription the notification's next billing date; each
    company the sums over its people (mrr, paying_people, lifetime_paid)."""
    charges: list[Charge] = []
    sums: dict[str, dict[str, Any]] = {}
    for charge, delivery in zip(billed, deliveries, strict=True):
        sales = 1 if earlier else charge.sales
        charged = charge.earlier_charged if earlier else charge.charged
        payment = charge.earlier_transaction_id if earlier else charge.transaction_id
        keys = {
            "people": charge.customer.email,
            "subscriptions": charge.subscription_id,
            "payments": payment or charge.transaction_id,
        }
        paid = charge.plan.price * sales
        values = {
            "people": {"lifetime_paid": paid},
            "subscriptions": {"next_billing_date": (charged + MONTH).date().isoformat()},
        }
        charges.append(Charge(delivery.event_keys, keys, values))
        if charge.company is not None:
            company = sums.setdefault(
                charge.company,
                {"mrr": Decimal(0), "paying_people": 0, "lifetime_paid": Decimal(0)},
            )
            company["mrr"] += charge.plan.price
            company["paying_people"] += 1
            company["lifetime_paid"] += paid
    return Expected(charges, sums)


def braintree_data(args: BillingDayConfig, billed: Sequence[BilledCharge]) -> BraintreeData:
    """What Braintree holds before the day's charges: the plans (monthly), the merchant account
    in US dollars, and for every charge its customer with their card, their Active
    subscription and, for a returning customer, the sale of a month earlier. `add_sales` adds
    the day's own sales. Every notification's `customer.find` then finds its payer, and the
    bridge computes a real billing summary (MRR, lifetime paid, status) for each."""
    data = BraintreeData()
    data.add_merchant_account(MERCHANT_ACCOUNT, "USD", default=True)
    for plan in billing_plans(args.seed):
        data.add_plan(plan.sku, f"{plan.price:.2f}", billing_frequency=1)
    for charge in billed:
        customer = charge.customer
        data.add_customer(
            customer.id,
            email=customer.email,
            first_name=customer.first_name,
            last_name=customer.last_name,
            token=customer.token,
            updated_at=charge.subscribed,
        )
        price = f"{charge.plan.price:.2f}"
        data.add_subscription(
            charge.subscription_id,
            customer.token,
            charge.plan.sku,
            price,
            created_at=charge.subscribed,
            merchant_account_id=MERCHANT_ACCOUNT,
        )
        if charge.earlier_transaction_id is not None:
            data.add_transaction(
                charge.earlier_transaction_id,
                customer.id,
                price,
                created_at=charge.earlier_charged - timedelta(seconds=3),
                subscription_id=charge.subscription_id,
            )
    return data


def add_sales(data: BraintreeData, billed: Sequence[BilledCharge]) -> None:
    """The day's sales, submitted for settlement (the stand-in serves them from now on)."""
    for charge in billed:
        data.add_transaction(
            charge.transaction_id,
            charge.customer.id,
            f"{charge.plan.price:.2f}",
            created_at=charge.transaction_created,
            subscription_id=charge.subscription_id,
        )


class Processes:
    """The bridge's processes of one scenario, each logging to its own file."""

    def __init__(self, log_dir: Path, env: dict[str, str]) -> None:
        self.log_dir = log_dir
        self.env = env
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
            [sys.executable, "-m", *args],
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.running[name] = process
        return process

    def kill(self, name: str) -> None:
        process = self.running.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    def close(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                process.terminate()
        for process in self.running.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        self.running.clear()


async def send_all(run: Run, deliveries: list[Delivery], web_urls: list[str], rate: float) -> None:
    """Open loop: delivery i leaves at i / rate s, whatever happened to the others."""
    limits = httpx.Limits(max_connections=len(deliveries), max_keepalive_connections=64)
    timeout = httpx.Timeout(SENDER_TIMEOUT_SECONDS, connect=5.0)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        # The schedule starts once the client is ready (building it takes a few milliseconds).
        start = max(run.started, time.monotonic())

        async def deliver(index: int) -> None:
            delivery = deliveries[index]
            attempt = 0
            while time.monotonic() - run.started < DRAIN_DEADLINE_SECONDS:
                attempt += 1
                url = web_urls[(index + attempt - 1) % len(web_urls)] + delivery.path
                sent = time.monotonic()
                retry_after = 1.0
                try:
                    response = await client.post(
                        url, content=delivery.body, headers=delivery.headers
                    )
                    status = str(response.status_code)
                    retry_after = _retry_after(response.headers.get("retry-after"))
                except httpx.TimeoutException:
                    status = "timeout"
                except httpx.TransportError as exc:
                    status = type(exc).__name__
                answer = Answer(attempt, sent - run.started, time.monotonic() - sent, status)
                run.answers.setdefault(index, []).append(answer)
                if status.startswith("2"):
                    run.acknowledged.add(index)
                    return
                await asyncio.sleep(retry_after)

        async def scheduled(index: int) -> None:
            await asyncio.sleep(max(0.0, start + index / rate - time.monotonic()))
            await deliver(index)

        await asyncio.gather(*(scheduled(i) for i in range(len(deliveries))))


def _retry_after(value: str | None) -> float:
    try:
        return min(MAX_RETRY_AFTER_SECONDS, max(0.5, float(value or 1)))
    except ValueError:
        return 1.0


async def check_attio(
    run: Run, stack: Stack, day: Expected, services: list[str], *, with_ledger: bool
) -> Tally:
    """Every record of the objects the day fills (the sandbox's route lists them all, unpaged)."""
    records = {slug: await stack.records(slug) for slug in UNIQUE_KEYS}
    ledger = await stack.records("bridge_events") if with_ledger else []
    return tally(day.charges, run.acknowledged, services, records, ledger, day.companies)


async def read_summaries(run: Run, stack: Stack, day: Expected) -> None:
    """How many of the day's people carry each billing summary value, charge 0's, and the
    companies whose sums do not hold over their people."""
    charges = day.charges
    billed = {charge.records["people"] for charge in charges}
    rows = await stack.records("people")
    run.company_mismatches = company_mismatches(
        rows, await stack.records("companies"), day.companies
    )
    people = {
        key: row.get("values", {})
        for row in rows
        for key in key_values(row, UNIQUE_KEYS["people"])
        if key in billed
    }
    run.summaries = {
        name: sum(1 for values in people.values() if values.get(name) not in (None, "", []))
        for name in SUMMARY_VALUES
    }
    first = people.get(charges[0].records["people"], {}) if charges else {}
    run.first_summary = {name: first.get(name) for name in SUMMARY_VALUES}


async def wait_for_attio(
    run: Run,
    stack: Stack,
    day: Expected,
    services: list[str],
    sending: asyncio.Task[None],
    burst_seconds: float,
) -> None:
    """Until every expected record is in Attio (the companies with their sums) and every sender
    is done, or the deadline.

    Not looked at while the burst is sent: reading every record back is this process's work,
    and would stall the sender's event loop, whose answer times would then be the benchmark's.
    """
    while time.monotonic() - run.started < DRAIN_DEADLINE_SECONDS:
        if run.everything_in_attio is None and time.monotonic() - run.started > burst_seconds:
            found = await check_attio(run, stack, day, services, with_ledger=False)
            if found.complete:
                run.everything_in_attio = time.monotonic() - run.started
        if run.everything_in_attio is not None and sending.done():
            return
        await asyncio.sleep(POLL_SECONDS)
    run.notes.append("not everything reached Attio before the deadline")


async def loop_lag(run: Run, sending: asyncio.Task[None]) -> None:
    """The sender's own event loop, late to wake while the burst is sent: an answer time can be
    no more precise than this."""
    worst = 0.0
    while not sending.done():
        asked = time.monotonic()
        await asyncio.sleep(0.005)
        worst = max(worst, time.monotonic() - asked - 0.005)
    run.notes.append(f"the sender's event loop woke up to {worst * 1000:.0f} ms late")


async def wait_for_line(path: Path, text: str, within_seconds: float) -> None:
    def logged() -> bool:
        return path.exists() and text in path.read_text()

    deadline = time.monotonic() + within_seconds
    while not await asyncio.to_thread(logged):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path.name} did not log {text} within {within_seconds} s")
        await asyncio.sleep(0.05)


async def retry_due_cron(run: Run, stack: Stack, stop: asyncio.Event) -> None:
    """`attio-bridge events retry-due` every RETRY_DUE_EVERY_SECONDS (after the previous run
    ended, as a cron job that never overlaps itself) until `stop` is set."""
    while True:
        try:
            async with asyncio.timeout(RETRY_DUE_EVERY_SECONDS):
                await stop.wait()
            return
        except TimeoutError:
            pass
        try:
            code, stdout = await stack.cli_async("events", "retry-due", "--json")
        except TimeoutError:
            code, stdout = -1, ""
        run.retry_due_runs += 1
        try:
            run.retry_due.update(json.loads(stdout)["counts"])
        except (ValueError, KeyError):
            run.notes.append(f"retry-due exited {code} without a report")


async def scenario(name: str, args: BillingDayConfig, log_root: Path) -> Run:
    run = Run(name)
    queue_mode = name.startswith("queue")
    log_dir = log_root / name
    log_dir.mkdir(parents=True)
    billed = args.billed()
    deliveries = billing_deliveries(billed)
    day = expected(billed, deliveries)
    services = FakeZoho.with_items(args.items).item_ids()
    stack = Stack(log_dir, SandboxOptions(latency_ms=100, jitter_ms=20, seed=args.seed))
    redis = RedisServer() if queue_mode else None
    zoho_port = free_port()
    processes: Processes | None = None
    data = braintree_data(args, billed)
    with braintree_api(data) as braintree_port:
        try:
            await stack.start_sandbox()
            env = bridge_environment(
                stack.sandbox_url,
                braintree_port,
                ADMIN_TOKEN=ADMIN_TOKEN,
                EVENT_RETRY_SCHEDULE=RETRY_SCHEDULE,
                **zoho_environment(f"http://127.0.0.1:{zoho_port}"),
            )
            if redis is not None:
                redis.start()
                env["REDIS_URL"] = redis.url  # and every queue setting at its default
            stack.bridge_env = env
            stack.bootstrap()
            processes = Processes(log_dir, env)
            processes.spawn(
                "zoho", "testkit.zoho_server", "--port", str(zoho_port), "--items", str(args.items)
            )
            webs = args.webs if queue_mode else 1
            web_urls = []
            for n in range(webs):
                port = free_port()
                processes.spawn(f"web{n}", "app", "serve", "--port", str(port))
                web_urls.append(f"http://127.0.0.1:{port}")
            if queue_mode:
                processes.spawn("worker", "app", "worker")
            for url in web_urls:
                await wait_until_up(f"{url}/healthz", 60)
            await wait_until_up(f"http://127.0.0.1:{zoho_port}/oauth/v2/token", 60)
            if args.returning:
                await earlier_month(run, stack, billed, web_urls, args.rate)
            add_sales(data, billed)
            before = await stack.attio_calls()  # the timed burst's calls are counted from here

            if queue_mode:
                # The clock starts once the sync has started (before its first Zoho or Attio
                # call): its interpreter's start-up would otherwise take this machine's cores
                # from the web instances, which on Render run on instances of their own.
                processes.spawn("sync-zoho", "app", "sync", "zoho")
                await wait_for_line(log_dir / "sync-zoho.log", "zoho.sync.started", 60)
            # What exists now lives to the end: kept out of the collector's full passes, which
            # would otherwise stall the sender for a tenth of a second mid-burst.
            gc.collect()
            gc.freeze()
            run.started = time.monotonic()
            if not queue_mode:
                async with httpx.AsyncClient(timeout=30) as client:
                    response = await client.post(
                        f"{web_urls[0]}/admin/sync/zoho",
                        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                    )
                    run.notes.append(f"POST /admin/sync/zoho: {response.status_code}")
            faults = asyncio.create_task(_inject(name, run, processes, redis, args))
            stop_cron = asyncio.Event()
            cron = asyncio.create_task(retry_due_cron(run, stack, stop_cron))
            sending = asyncio.create_task(send_all(run, deliveries, web_urls, args.rate))
            lag = asyncio.create_task(loop_lag(run, sending))
            # Companies included: what a killed worker had scheduled or taken is on the shared
            # schedule in Redis, run by the restarted one (a lease it held, once it runs out).
            burst = args.charges / args.rate + 0.5
            await wait_for_attio(run, stack, day, services, sending, burst)
            stop_cron.set()  # a retry-due run under way finishes, so its replays are counted
            try:
                async with asyncio.timeout(RETRY_DUE_GRACE_SECONDS):
                    await cron
            except TimeoutError:
                run.notes.append("a retry-due run was still under way at the end: stopped")
            await sending  # a send in flight at the deadline ends within the sender's timeout
            await lag
            await faults
            run.calls = _difference(await stack.attio_calls(recent=ALL_CALLS), before)
            run.tally = await check_attio(run, stack, day, services, with_ledger=True)
            await read_summaries(run, stack, day)
        finally:
            if processes is not None:
                processes.close()
            stack.close()
            if redis is not None:
                redis.close()
    return run


async def earlier_month(
    run: Run, stack: Stack, billed: Sequence[BilledCharge], web_urls: list[str], rate: float
) -> None:
    """Returning customers: last month's charges, sent and waited for (untimed) until they are
    all in Attio, companies' sums included, then COMPANY_SETTLE_SECONDS more."""
    deliveries = billing_deliveries(billed, earlier=True)
    month = expected(billed, deliveries, earlier=True)
    seeding = Run(f"{run.scenario} (the earlier month)", started=time.monotonic())
    await send_all(seeding, deliveries, web_urls, rate)
    while True:
        found = await check_attio(seeding, stack, month, [], with_ledger=False)
        if found.complete:
            break
        if time.monotonic() - seeding.started > DRAIN_DEADLINE_SECONDS:
            raise TimeoutError(f"the earlier month did not reach Attio: {found.as_dict()}")
        await asyncio.sleep(POLL_SECONDS)
    took = time.monotonic() - seeding.started
    await asyncio.sleep(COMPANY_SETTLE_SECONDS)
    run.notes.append(
        f"the earlier month's {len(deliveries)} charges were in Attio after {took:.1f} s "
        f"(untimed; then {COMPANY_SETTLE_SECONDS:.0f} s for the last company recomputes)"
    )


async def _inject(
    name: str, run: Run, processes: Processes, redis: RedisServer | None, args: BillingDayConfig
) -> None:
    burst = args.charges / args.rate
    if name == "queue-kill-worker":
        await asyncio.sleep(burst + 2)  # mid-drain: the burst is in, the backlog is not
        processes.kill("worker")
        run.notes.append(f"worker SIGKILLed at {time.monotonic() - run.started:.1f} s")
        await asyncio.sleep(1.0)
        processes.spawn("worker-restarted", "app", "worker")
    elif name == "queue-restart-redis" and redis is not None:
        await asyncio.sleep(burst / 2)
        await asyncio.to_thread(redis.restart)  # the senders go on meanwhile
        run.notes.append(f"Redis restarted at {time.monotonic() - run.started:.1f} s")


def _difference(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key in ("by_kind", "by_status"):
        result[key] = {
            name: count - before.get(key, {}).get(name, 0)
            for name, count in after.get(key, {}).items()
        }
    result["total"] = sum(result["by_kind"].values())
    # Writes Attio applied, per object: what the day needed, the ledger's and any repeats.
    applied = Counter(
        match.group(1)
        for call in after.get("recent", ())[before.get("total", 0) :]
        if call["kind"] == "write"
        and 200 <= call["status"] < 300
        and (match := OBJECT_PATH.match(call["path"]))
    )
    result["writes_applied"] = dict(sorted(applied.items()))
    return result
