"""Running the sandbox on its own port: `python -m attio_sandbox`."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from attio_sandbox import SandboxConfig
from attio_sandbox import __main__ as command

ROOT = Path(__file__).resolve().parents[2]


def test_command_line_options_become_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, int, SandboxConfig]] = []
    monkeypatch.setattr(command, "serve", lambda *args: calls.append(args))
    command.main(
        [
            "--port", "9100", "--api-key", "sk-test", "--write-rate", "5", "--read-rate", "20",
            "--latency-ms", "15", "--jitter-ms", "5", "--error-rate", "0.1", "--seed", "42",
            "--timeout-rate", "0.05", "--timeout-seconds", "2", "--burst-rate", "0.01",
            "--burst-seconds", "3", "--conflict-rate", "0.02", "--after-write",
            "--fault-methods", "PUT", "PATCH", "--fault-path", "/records",
        ]
    )  # fmt: skip
    ((host, port, config),) = calls
    assert (host, port, config.api_key) == ("127.0.0.1", 9100, "sk-test")
    faults = config.faults
    assert (faults.write_rate, faults.read_rate, faults.rate_limits) == (5, 20, True)
    assert (faults.latency_ms, faults.latency_jitter_ms, faults.seed) == (15, 5, 42)
    assert (faults.server_error_rate, faults.timeout_rate, faults.timeout_seconds) == (0.1, 0.05, 2)
    assert (faults.burst_rate, faults.burst_seconds, faults.conflict_rate) == (0.01, 3, 0.02)
    assert faults.after_write is True
    assert (faults.fault_methods, faults.fault_path_regex) == (["PUT", "PATCH"], "/records")

    command.main(["--no-rate-limits"])
    assert calls[-1][2].faults.rate_limits is False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_serves_on_its_own_port() -> None:
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603 - fixed arguments, our own module
        [sys.executable, "-m", "attio_sandbox", "--port", str(port), "--api-key", "sk-local"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/v2/self",
                    headers={"Authorization": "Bearer sk-local"},
                    timeout=1,
                )
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        assert response.status_code == 200
        assert response.json()["workspace_slug"] == "sandbox"
    finally:
        process.terminate()
        process.wait(timeout=10)
