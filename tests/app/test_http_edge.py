"""The HTTP edge as deployed: `attio-bridge serve` (uvicorn) on a loopback port, attacked with
raw sockets. Short deadlines keep it quick; waits are bounded and generous, never timed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from pydantic import ValidationError

from app.config import Settings
from app.serving import DeadlineH11Protocol, uvicorn_options
from testkit.processes import free_port
from testkit.signing import ATTIO_TEST_SECRET

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 1  # header, body and keep-alive deadlines of the server under test
MAX_CONCURRENCY = 12
PATIENCE = 15.0  # how long a test waits for something that should happen within ~1 s


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=PATIENCE)
        return sock

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def rss_kib(self, field: str = "VmRSS") -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
        raise AssertionError(f"{field} not in /proc status")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("edge") / "bridge.log"
    env = {
        **os.environ,
        "BRIDGE_ENV": "development",  # the embedded sandbox: no Attio needed
        "ATTIO_WEBHOOK_SECRET": ATTIO_TEST_SECRET,
        "HTTP_HEADER_TIMEOUT_SECONDS": str(DEADLINE_SECONDS),
        "HTTP_BODY_TIMEOUT_SECONDS": str(DEADLINE_SECONDS),
        "HTTP_KEEPALIVE_TIMEOUT_SECONDS": str(DEADLINE_SECONDS),
        "HTTP_MAX_CONCURRENCY": str(MAX_CONCURRENCY),
        "LOG_LEVEL": "INFO",
    }
    env.pop("ATTIO_API_KEY", None)
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "app", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    running = Server(port, process, log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the bridge did not start:\n{running.log()}")
            time.sleep(0.1)
        yield running
    finally:
        process.terminate()
        process.wait(timeout=30)


def read_until_closed(sock: socket.socket, within: float = PATIENCE) -> bytes:
    """Everything the server sends until it closes the connection; fails if it never does."""
    sock.settimeout(within)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass
    except TimeoutError:
        raise AssertionError(
            f"connection still open after {within} s: {received[:200]!r}"
        ) from None
    return received


def send_huge_header(sock: socket.socket, megabytes: int, name: bytes = b"X-Pad") -> None:
    """A request head with one header of `megabytes` MB, sent until the server hangs up."""
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + name + b": "
    chunk = b"a" * 65536
    try:
        sock.sendall(head)
        for _ in range(megabytes * 16):
            sock.sendall(chunk)
    except (ConnectionResetError, BrokenPipeError):
        pass  # refused part-way: what we want


def wait_for_log(server: Server, text: str) -> str:
    deadline = time.monotonic() + PATIENCE
    while text not in (log := server.log()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never logged:\n{log[-3000:]}")
        time.sleep(0.1)
    return log


# -- headers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [b"X-Pad", b"Authorization"])
def test_a_head_over_the_limit_gets_400_and_the_connection_closed(
    server: Server, name: bytes
) -> None:
    with server.connect() as sock:
        send_huge_header(sock, megabytes=2, name=name)
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 400 ")


def test_a_head_under_the_limit_is_served(server: Server) -> None:
    response = httpx.get(
        f"http://127.0.0.1:{server.port}/healthz", headers={"X-Pad": "a" * 30_000}, timeout=10
    )
    assert response.status_code == 200


def test_huge_heads_leave_memory_where_it_was(server: Server) -> None:
    before = server.rss_kib()
    sockets = [server.connect() for _ in range(8)]
    try:
        for sock in sockets:
            send_huge_header(sock, megabytes=12)
    finally:
        for sock in sockets:
            sock.close()
    # Eight 12 MB heads buffered would be ~100 MB; refused at 64 KiB they cost next to nothing.
    assert server.rss_kib() - before < 30_000
    assert server.rss_kib("VmHWM") - before < 30_000
    assert httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=10).status_code == 200


# -- deadlines -------------------------------------------------------------------------------


def test_an_idle_new_connection_is_closed(server: Server) -> None:
    with server.connect() as sock:
        assert read_until_closed(sock) == b""


def test_a_head_sent_a_byte_at_a_time_is_cut_off(server: Server) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200
    started = time.monotonic()
    with server.connect() as sock:
        try:
            for byte in head:
                sock.sendall(bytes([byte]))
                time.sleep(0.05)
                if time.monotonic() - started > PATIENCE:
                    raise AssertionError("a slow head was never cut off")
        except (ConnectionResetError, BrokenPipeError):
            return
        assert read_until_closed(sock) == b""  # closed before the head was complete


def test_an_idle_keep_alive_connection_is_closed(server: Server) -> None:
    with server.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 200 ")


def test_a_body_sent_slowly_gets_408_and_the_connection_closed(server: Server) -> None:
    head = (
        b"POST /webhooks/attio HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    )
    started = time.monotonic()
    answer = b""
    with server.connect() as sock:
        sock.sendall(head)
        sock.settimeout(0.2)
        try:
            while time.monotonic() - started < PATIENCE:
                sock.sendall(b" ")
                try:
                    answer += sock.recv(65536)
                except TimeoutError:
                    continue
                if answer:
                    break
            answer += read_until_closed(sock)
        except (ConnectionResetError, BrokenPipeError):
            pass
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:300]
    assert b'"request_timeout"' in answer


def test_connections_beyond_the_concurrency_limit_get_503(server: Server) -> None:
    idle = [server.connect() for _ in range(MAX_CONCURRENCY)]
    try:
        with server.connect() as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            sock.settimeout(PATIENCE)
            answer = sock.recv(65536)
    finally:
        for sock in idle:
            sock.close()
    assert answer.startswith(b"HTTP/1.1 503 ")


# -- what a response and the log show ---------------------------------------------------------


def test_no_server_banner_and_nosniff(server: Server) -> None:
    response = httpx.get(f"http://127.0.0.1:{server.port}/healthz?q=visible-query", timeout=10)
    assert "server" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"


def test_no_access_log_lines(server: Server) -> None:
    httpx.get(f"http://127.0.0.1:{server.port}/healthz?q=access-probe-7f3", timeout=10)
    httpx.get(f"http://127.0.0.1:{server.port}/readyz", timeout=10)
    wait_for_log(server, "schema.check.done")  # the readiness check's own line: log is flushed
    log = server.log()
    assert "access-probe-7f3" not in log
    assert "uvicorn.access" not in log and '"GET /healthz' not in log


def test_a_client_leaving_mid_body_is_logged_at_info_without_a_traceback(
    server: Server,
) -> None:
    with server.connect() as sock:
        sock.sendall(
            b"POST /webhooks/attio HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n" + b'{"partial":'
        )
        time.sleep(0.2)  # the route is reading the body now
    log = wait_for_log(server, "request.client_disconnected")
    line = next(line for line in log.splitlines() if "request.client_disconnected" in line)
    assert "info" in line
    assert "request.crashed" not in log
    assert "Traceback" not in log


def test_serve_and_the_image_share_one_uvicorn_configuration() -> None:
    settings = Settings(_env_file=None, HTTP_MAX_HEADER_BYTES="32768")  # type: ignore[call-arg]
    options = uvicorn_options(settings, host="127.0.0.1", port=8000)
    assert options["http"] is DeadlineH11Protocol
    assert options["h11_max_incomplete_event_size"] == 32768
    assert options["server_header"] is False and options["access_log"] is False
    assert options["limit_concurrency"] == settings.http_max_concurrency
    assert options["forwarded_allow_ips"] is None  # trusted only with --proxy-headers


async def _client_seen(settings: Settings, peer: str, forwarded_for: str) -> tuple[str, str]:
    """The client address and scheme the app sees through uvicorn's proxy-header handling."""
    seen: dict[str, object] = {}

    async def app(scope: dict, receive: object, send: object) -> None:
        seen.update(client=scope["client"], scheme=scope["scheme"])

    options = uvicorn_options(settings, host="127.0.0.1", port=8000, proxy_headers=True)
    options.pop("http")
    config = uvicorn.Config(app, **options)
    config.load()
    scope = {
        "type": "http",
        "scheme": "http",
        "client": (peer, 40000),
        "headers": [(b"x-forwarded-for", forwarded_for.encode()), (b"x-forwarded-proto", b"https")],
    }
    await config.loaded_app(scope, None, None)
    return seen["client"][0], seen["scheme"]  # type: ignore[index]


async def test_forwarded_headers_are_believed_only_from_the_configured_proxies() -> None:
    default = Settings(_env_file=None)  # type: ignore[call-arg]
    # Anyone on the internet: X-Forwarded-For is theirs to write, so it is not believed.
    assert await _client_seen(default, "203.0.113.9", "10.9.9.9") == ("203.0.113.9", "http")
    assert await _client_seen(default, "127.0.0.1", "198.51.100.7") == ("198.51.100.7", "https")
    render = Settings(_env_file=None, FORWARDED_ALLOW_IPS="10.0.0.0/8")  # type: ignore[call-arg]
    assert await _client_seen(render, "10.1.2.3", "198.51.100.7") == ("198.51.100.7", "https")
    assert await _client_seen(render, "203.0.113.9", "10.9.9.9") == ("203.0.113.9", "http")


@pytest.mark.parametrize("value", ["10.0.0.1/8", "not-an-ip", "10.0.0.0/8,,x"])
def test_forwarded_allow_ips_must_be_addresses_or_networks(value: str) -> None:
    with pytest.raises(ValidationError, match="FORWARDED_ALLOW_IPS"):
        Settings(_env_file=None, FORWARDED_ALLOW_IPS=value)  # type: ignore[call-arg]
