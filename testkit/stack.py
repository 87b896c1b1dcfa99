"""The processes of a benchmark or reliability run on loopback: sandbox, bridge and CLI.

The bridge runs exactly as deployed (`python -m app serve`, uvicorn, production settings), so it
can be SIGKILLed and restarted, and its CPU time and memory read from /proc. Every process
writes its output to a file in the run's log directory, named in failure messages.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx

from app.clients.attio import AttioClient
from attio_sandbox.config import DEFAULT_ACTOR_ID
from testkit.processes import free_port, wait_until_up
from testkit.settings import bridge_env
from testkit.world import AttioIds

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "bench-attio-key-0123456789"
STARTUP_SECONDS = 60.0  # a cold interpreter on a busy 2-core machine can take a while
CLI_TIMEOUT_SECONDS = 300.0
SEED_CONCURRENCY = 16


@dataclass(frozen=True)
class SandboxOptions:
    """How the sandbox behaves at start; fault rates are switched on later over HTTP."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    seed: int | None = None
    timeout_seconds: float = 3.0
    burst_seconds: float = 1.0
    after_write: bool = False
    rate_limits: bool = True

    def args(self) -> list[str]:
        args = [
            f"--latency-ms={self.latency_ms}",
            f"--jitter-ms={self.jitter_ms}",
            f"--timeout-seconds={self.timeout_seconds}",
            f"--burst-seconds={self.burst_seconds}",
        ]
        if self.seed is not None:
            args.append(f"--seed={self.seed}")
        if self.after_write:
            args.append("--after-write")
        if not self.rate_limits:
            args.append("--no-rate-limits")
        return args


def bridge_environment(sandbox_url: str, braintree_port: int, **extra: str) -> dict[str, str]:
    """Production settings with every provider enabled but Zoho CRM, Attio = the sandbox, and
    Braintree's API = the loopback stand-in on `braintree_port`; no admin API."""
    return bridge_env(
        sandbox_url,
        attio_api_key=API_KEY,
        production=True,
        braintree_port=braintree_port,
        zoho_crm=False,
        admin_token=None,
        # The sandbox's token actor is the bridge's own: its echoes are dropped.
        ATTIO_OWN_ACTOR_IDS=DEFAULT_ACTOR_ID,
        PYTHONUNBUFFERED="1",
        **extra,
    )


@dataclass
class Stack:
    log_dir: Path
    sandbox_options: SandboxOptions
    bridge_env: dict[str, str] = field(default_factory=dict)
    sandbox_port: int = field(default_factory=free_port)
    bridge_port: int = field(default_factory=free_port)
    sandbox: subprocess.Popen[bytes] | None = None
    bridge: subprocess.Popen[bytes] | None = None
    bridge_starts: int = 0
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)  # queue mode
    _logs: list[TextIO] = field(default_factory=list)

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    @property
    def bridge_url(self) -> str:
        return f"http://127.0.0.1:{self.bridge_port}"

    def _spawn(self, args: list[str], log_name: str, env: Mapping[str, str] | None = None):
        log = (self.log_dir / log_name).open("ab")
        self._logs.append(log)  # type: ignore[arg-type]
        return subprocess.Popen(  # noqa: S603 - our own interpreter and modules
            [sys.executable, *args],
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    # -- the sandbox ---------------------------------------------------------------------

    async def start_sandbox(self) -> None:
        args = ["-m", "attio_sandbox", "--port", str(self.sandbox_port), "--api-key", API_KEY]
        self.sandbox = self._spawn([*args, *self.sandbox_options.args()], "sandbox.log")
        await wait_until_up(f"{self.sandbox_url}/_sandbox/faults", STARTUP_SECONDS)

    async def set_faults(self, **changes: Any) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.sandbox_url, timeout=30) as client:
            response = await client.put("/_sandbox/faults", json=changes)
            response.raise_for_status()
            return response.json()

    async def records(self, slug: str) -> list[dict[str, Any]]:
        """Every record of an object as plain values (the sandbox's development route)."""
        async with httpx.AsyncClient(base_url=self.sandbox_url, timeout=60) as client:
            response = await client.get(f"/_sandbox/objects/{slug}/records")
            response.raise_for_status()
            return response.json()["data"]

    async def attio_calls(self, recent: int = 0) -> dict[str, Any]:
        """Counts of the /v2 calls answered so far, by kind, status and injected fault, and
        the last `recent` calls themselves (method, path, status, ...)."""
        async with httpx.AsyncClient(base_url=self.sandbox_url, timeout=60) as client:
            response = await client.get("/_sandbox/requests", params={"recent": recent})
            response.raise_for_status()
            return response.json()

    # -- the bridge ----------------------------------------------------------------------

    async def start_bridge(self) -> None:
        args = ["-m", "app", "serve", "--port", str(self.bridge_port)]
        self.bridge = self._spawn(args, "bridge.log", self.bridge_env)
        self.bridge_starts += 1
        await wait_until_up(f"{self.bridge_url}/healthz", STARTUP_SECONDS)

    def kill_bridge(self) -> None:
        """SIGKILL: no shutdown hook runs, in-flight requests die with the process."""
        if self.bridge is not None:
            self.bridge.send_signal(signal.SIGKILL)
            self.bridge.wait(timeout=30)
            self.bridge = None

    def stop_bridge(self) -> None:
        """SIGTERM: uvicorn finishes in-flight requests, then exits."""
        _stop(self.bridge)
        self.bridge = None

    # -- queue mode workers (the bridge's environment must set REDIS_URL) ---------------

    def start_worker(self) -> subprocess.Popen[bytes]:
        """`attio-bridge worker`; its output goes to worker-<n>.log."""
        worker = self._spawn(
            ["-m", "app", "worker"], f"worker-{len(self.workers) + 1}.log", self.bridge_env
        )
        self.workers.append(worker)
        return worker

    def kill_worker(self, worker: subprocess.Popen[bytes]) -> None:
        """SIGKILL: its taken entries stay pending until another worker reclaims them."""
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)

    # -- the CLI -------------------------------------------------------------------------

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`attio-bridge ARGS` with the bridge's settings; its log lines go to cli.log."""
        with (self.log_dir / "cli.log").open("a") as log:
            return subprocess.run(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "app", *args],
                cwd=ROOT,
                env={**os.environ, **self.bridge_env},
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                timeout=CLI_TIMEOUT_SECONDS,
                check=False,
            )

    async def cli_async(self, *args: str) -> tuple[int, str]:
        """`cli` without blocking the event loop: (exit code, stdout). Cancelling it stops
        the command (SIGTERM, then SIGKILL) so that none outlives the run."""
        with (self.log_dir / "cli.log").open("a") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "app",
                *args,
                cwd=ROOT,
                env={**os.environ, **self.bridge_env},
                stdout=subprocess.PIPE,
                stderr=log,
            )
        try:
            async with asyncio.timeout(CLI_TIMEOUT_SECONDS):
                stdout, _ = await process.communicate()
        except BaseException:
            if process.returncode is None:
                process.terminate()
                try:
                    async with asyncio.timeout(10):
                        await process.wait()
                except TimeoutError:
                    process.kill()
                    await process.wait()
            raise
        return process.returncode or 0, stdout.decode()

    def cli_json(self, *args: str) -> Any:
        result = self.cli(*args, "--json")
        if result.returncode != 0:
            raise RuntimeError(
                f"attio-bridge {' '.join(args)} exited {result.returncode}; "
                f"see {self.log_dir / 'cli.log'}"
            )
        return json.loads(result.stdout)

    def bootstrap(self) -> None:
        result = self.cli("bootstrap")
        if result.returncode != 0:
            raise RuntimeError(f"bootstrap failed: {result.stdout}; see {self.log_dir}/cli.log")

    # -- teardown ------------------------------------------------------------------------

    def close(self) -> None:
        for worker in self.workers:
            _stop(worker)
        _stop(self.bridge)
        _stop(self.sandbox)
        self.bridge = self.sandbox = None
        for log in self._logs:
            log.close()


async def seed_crm(stack: Stack, emails: list[str], *, write_rate: float = 24.0) -> AttioIds:
    """Create the people the CRM holds before any webhook; collect the ids Attio record events
    name (objects, attributes, those people's records)."""
    async with AttioClient(
        api_key=API_KEY, base_url=stack.sandbox_url, write_rate=write_rate
    ) as attio:
        objects = {o["api_slug"]: o["id"]["object_id"] for o in await attio.list_objects()}
        attributes = {
            slug: {
                a["api_slug"]: a["id"]["attribute_id"] for a in await attio.list_attributes(slug)
            }
            for slug in ("people", "subscriptions")
        }
        slots = asyncio.Semaphore(SEED_CONCURRENCY)

        async def person(email: str) -> dict[str, Any]:
            async with slots:
                return await attio.assert_record(
                    "people",
                    matching_attribute="email_addresses",
                    values={"email_addresses": [email]},
                )

        people = await asyncio.gather(*(person(email) for email in emails))
        workspace = (await attio.get_self()).get("workspace_id", "workspace")
    return AttioIds(
        workspace_id=str(workspace),
        objects=objects,
        attributes=attributes,
        people=[person["id"]["record_id"] for person in people],
        own_actor_id=stack.bridge_env["ATTIO_OWN_ACTOR_IDS"],
    )


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
