"""Zoho → Attio services sync: initial backfill and reconciliation against Attio's limits.

Starts the Attio sandbox as its own process, enforcing Attio's limits (25 writes/s, 100 reads/s)
with realistic latency, and serves a fake Zoho of N items in-process (httpx MockTransport, with
a per-page delay). Runs the real sync engine with production client settings (Attio: 24
writes/s and 95 reads/s, 6 attempts; Zoho: 95 requests/min) and reports:

- initial backfill of N items vs the floor N / 25 s, clean and with 429 bursts injected;
- reconciliation of N items of which 1 % changed (median of several runs), and its writes;
- with `--crm-products M`, a catalogue of M Zoho CRM products as well (CRM configured: the
  run reads the items, then the products; 1 % of each changed per reconciliation);
- peak RSS of this process (sync engine, clients and fake Zoho; the sandbox stands in for
  Attio and is not counted).

    .venv/bin/python -m bench.zoho_sync [--items 5000] [--crm-products 0] [--backfills 1]
        [--reconciles 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any

from app.clients.attio import AttioClient
from app.clients.zoho import ItemsSource
from app.clients.zoho.client import zoho_backoff
from app.events.ledger import Ledger
from app.log import configure_logging
from app.schema import SchemaBootstrap
from app.services.zoho.sync.catalogues import catalogues_for
from app.services.zoho.sync.engine import ZohoServicesSync
from app.services.zoho.sync.report import SyncReport
from bench._record import add_record_option, recording
from bench._sandbox import peak_rss_mb, sandbox_call, sandbox_get
from bench.attio_webhooks import process
from testkit.fake_zoho import FakeZoho
from testkit.processes import free_port, wait_until_up

ATTIO_WRITES_PER_SECOND = 25


@dataclass
class Measurement:
    label: str
    elapsed: float
    report: SyncReport
    attio_writes: int  # write calls the sandbox answered (429s included)
    rate_limited: int  # 429s answered, reads and writes
    faults: dict[str, int]  # 429s by cause: rate_limit_burst (injected) or rate_limited

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "elapsed_seconds": round(self.elapsed, 2),
            "counts": self.report.counts.as_dict(),
            "error": self.report.error,
            "attio_write_calls": self.attio_writes,
            "attio_429s": self.rate_limited,
            "attio_faults": self.faults,
        }


async def fresh_workspace(url: str, faults: dict[str, Any]) -> None:
    """Empty sandbox, schema created (untimed), then the faults under test switched on."""
    await sandbox_call(url, "POST", "/_sandbox/reset")
    async with AttioClient(api_key="bench", base_url=url) as attio:
        await SchemaBootstrap(attio, currency_code="USD").run(apply=True)
    if faults:
        await sandbox_call(url, "PUT", "/_sandbox/faults", faults)


async def measure(label: str, url: str, zoho: FakeZoho) -> Measurement:
    before = await sandbox_get(url, "/_sandbox/requests")
    async with (
        AttioClient(api_key="bench", base_url=url) as attio,
        zoho.client(requests_per_minute=95, wait=zoho_backoff, throttle_pause=2.0) as client,
    ):
        catalogues = catalogues_for(ItemsSource.books, crm=bool(zoho.crm_products))
        sync = ZohoServicesSync(attio, client, Ledger(attio), catalogues=catalogues)
        started = time.perf_counter()
        report = await sync.run()
        elapsed = time.perf_counter() - started
    after = await sandbox_get(url, "/_sandbox/requests")
    writes = after["by_kind"].get("write", 0) - before["by_kind"].get("write", 0)
    limited = after["by_status"].get("429", 0) - before["by_status"].get("429", 0)
    faults = {
        name: count - before["by_fault"].get(name, 0)
        for name, count in after["by_fault"].items()
        if count - before["by_fault"].get(name, 0)
    }
    result = Measurement(label, elapsed, report, writes, limited, faults)
    print(
        f"  {label:<34} {elapsed:7.1f} s  {report.counts.line()}  "
        f"(Attio write calls {writes}, 429s {limited} {faults or ''})",
        file=sys.stderr,
        flush=True,
    )
    return result


async def backfill(url: str, zoho: FakeZoho, faults: dict[str, Any], label: str) -> Measurement:
    await fresh_workspace(url, faults)
    return await measure(label, url, zoho)


async def reconciliations(url: str, zoho: FakeZoho, runs: int) -> list[Measurement]:
    if runs < 1:
        return []
    await fresh_workspace(url, {})
    items = len(zoho.items)
    await measure("(setup) backfill", url, zoho)
    changed_per_run = max(1, items // 100)
    products_per_run = len(zoho.crm_products) // 100
    results = []
    for run in range(runs):
        ids = zoho.item_ids()[run * changed_per_run : (run + 1) * changed_per_run]
        zoho.change(ids, rate=1234.5, description=f"Changed in run {run}")
        products = zoho.crm_product_ids()[run * products_per_run : (run + 1) * products_per_run]
        zoho.change_crm(products, Unit_Price=1234.5, Description=f"Changed in run {run}")
        changed = len(ids) + len(products)
        results.append(await measure(f"reconcile {run + 1} ({changed} changed)", url, zoho))
    return results


async def main(args: argparse.Namespace) -> dict[str, Any]:
    def zoho() -> FakeZoho:
        fake = FakeZoho.with_items(args.items, page_latency=args.zoho_latency_ms / 1000)
        return fake.add_crm_products(args.crm_products)

    configure_logging("ERROR", json=False)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sandbox = [
        sys.executable, "-m", "attio_sandbox", "--port", str(port),
        "--write-rate", "25", "--read-rate", "100",
        "--latency-ms", str(args.latency_ms), "--jitter-ms", str(args.jitter_ms),
        "--seed", "7",
    ]  # fmt: skip
    bursts = {"burst_rate": args.burst_rate, "burst_seconds": args.burst_seconds}
    with process(sandbox):
        await wait_until_up(f"{url}/_sandbox/faults")
        clean = [
            await backfill(url, zoho(), {}, f"backfill {n + 1}")
            for n in range(args.backfills if "backfill" in args.only else 0)
        ]
        bursty = [
            await backfill(url, zoho(), bursts, f"backfill {n + 1} with 429 bursts")
            for n in range(args.backfills if "bursts" in args.only else 0)
        ]
        runs = args.reconciles if "reconcile" in args.only else 0
        reconcile = await reconciliations(url, zoho(), runs)
    return {
        "items": args.items,
        "crm_products": args.crm_products,
        "floor_seconds": (args.items + args.crm_products) / ATTIO_WRITES_PER_SECOND,
        "backfill": [m.as_dict() for m in clean],
        "backfill_with_429s": [m.as_dict() for m in bursty],
        "reconciliation": [m.as_dict() for m in reconcile],
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "settings": vars(args),
    }


def _median(runs: list[dict[str, Any]], key: str = "elapsed_seconds") -> float:
    return statistics.median(run[key] for run in runs)


def print_summary(result: dict[str, Any]) -> None:
    settings, floor = result["settings"], result["floor_seconds"]
    print(
        f"Zoho -> Attio services sync, {result['items']} items, {result['crm_products']} CRM "
        "products. Sandbox: 25 writes/s, 100 reads/s, "
        f"latency {settings['latency_ms']:g} ms +/- {settings['jitter_ms']:g}; "
        f"Zoho: {settings['zoho_latency_ms']:g} ms per page of 200"
    )

    def backfill_line(label: str, runs: list[dict[str, Any]]) -> None:
        if not runs:
            return
        elapsed = _median(runs)
        failures = sum(run["counts"]["failed"] for run in runs)
        created = [run["counts"]["created"] for run in runs]
        limited = [run["attio_429s"] for run in runs]
        print(
            f"{label:<30} median {elapsed:7.1f} s over {len(runs)} run(s)  floor {floor:.0f} s  "
            f"ratio {elapsed / floor:.3f}x  created {created}  failures {failures}  429s {limited}"
        )

    backfill_line("initial backfill", result["backfill"])
    backfill_line(
        f"  with 429 bursts ({settings['burst_rate']:g}/call, {settings['burst_seconds']:g} s)",
        result["backfill_with_429s"],
    )
    runs = result["reconciliation"]
    if not runs:
        print(f"{'peak RSS':<30} {result['peak_rss_mb']:.1f} MB")
        return
    writes = [run["counts"]["updated"] + run["counts"]["created"] for run in runs]
    print(
        f"{'reconciliation, 1% changed':<30} median {_median(runs):7.1f} s over {len(runs)} "
        f"run(s)  (each {[run['elapsed_seconds'] for run in runs]})  writes {writes}  "
        f"failures {sum(run['counts']['failed'] for run in runs)}"
    )
    print(f"{'peak RSS':<30} {result['peak_rss_mb']:.1f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--crm-products", type=int, default=0, help="CRM products as well")
    parser.add_argument("--backfills", type=int, default=1, help="runs of each backfill variant")
    parser.add_argument("--reconciles", type=int, default=5, help="reconciliation runs")
    parser.add_argument("--latency-ms", type=float, default=60.0)
    parser.add_argument("--jitter-ms", type=float, default=20.0)
    parser.add_argument("--zoho-latency-ms", type=float, default=300.0)
    parser.add_argument("--burst-rate", type=float, default=0.001, help="chance a call starts one")
    parser.add_argument("--burst-seconds", type=float, default=1.0)
    parser.add_argument(
        "--only",
        nargs="+",
        choices=("backfill", "bursts", "reconcile"),
        default=("backfill", "bursts", "reconcile"),
        help="scenarios to run (default: all)",
    )
    parser.add_argument("--json", action="store_true", help="also print the raw results as JSON")
    add_record_option(parser)
    arguments = parser.parse_args()
    section = "zoho_sync.crm" if arguments.crm_products else "zoho_sync"
    title = "Zoho backfill and reconciliation"
    with recording(section, title, enabled=arguments.record):
        outcome = asyncio.run(main(arguments))
        print_summary(outcome)
    if arguments.json:
        print(json.dumps(outcome, indent=2))
