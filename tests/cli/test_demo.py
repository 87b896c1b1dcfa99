"""`./scripts/dev`'s server (`serve --dev-secrets`) and `attio-bridge demo` against it, end to end:
the server runs as its own process, as a developer starts it."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from app.cli.demo import NEW_PHONE, PLAN_ID, ZOHO_ITEM_ID, demo
from app.cli.devsetup import GATEWAY_PORT, development_setup, read_secrets_file
from app.cli.server import serve
from app.config import Settings, get_settings
from testkit.braintree_api import sdk_gateway
from testkit.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
# Settings a developer's shell or CI may carry that would change what the server enables.
CLEARED = ("ATTIO_", "BRAINTREE_", "ZOHO_", "REDIS_URL", "BRIDGE_", "ADMIN_TOKEN", "PORT")


@dataclass
class DevServer:
    url: str
    secrets_file: Path
    output: Path
    process: subprocess.Popen[bytes]

    def records(self, obj: str) -> list[dict]:
        answer = httpx.get(f"{self.url}/sandbox/_sandbox/objects/{obj}/records")
        answer.raise_for_status()
        return answer.json()["data"]


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED)}
    return {**env, "GATEWAY_PORT": str(free_port()), "PYTHONUNBUFFERED": "1"}


def _wait_ready(server: DevServer, within_seconds: float = 60.0) -> None:
    deadline = time.monotonic() + within_seconds
    while time.monotonic() < deadline:
        assert server.process.poll() is None, server.output.read_text()
        try:
            if httpx.get(f"{server.url}/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the dev server did not get ready:\n{server.output.read_text()}")


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[DevServer]:
    port = free_port()
    secrets_file = tmp_path / "venv" / "dev-secrets.env"
    output = tmp_path / "server.log"
    command = [sys.executable, "-m", "app", "serve", "--dev-secrets", "--port", str(port)]
    command += ["--secrets-file", str(secrets_file)]
    with output.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command,
            cwd=tmp_path,  # no `.env` of the developer's
            env={**_environment(), "PYTHONPATH": str(ROOT)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = DevServer(f"http://127.0.0.1:{port}", secrets_file, output, process)
    try:
        _wait_ready(server)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=30)


def run_demo(*args: str):
    root = typer.Typer()
    root.command()(demo)
    root.command("other")(lambda: None)  # keep `demo` a named sub-command
    return CliRunner().invoke(root, ["demo", *args])


def test_demo_shows_each_delivery_land_and_the_edit_reach_braintree(dev_server: DevServer):
    secrets = read_secrets_file(dev_server.secrets_file)
    assert stat.S_IMODE(dev_server.secrets_file.stat().st_mode) == 0o600
    # Printed once at start-up, as written to the file.
    printed = dev_server.output.read_text()
    for name in (
        "ATTIO_WEBHOOK_SECRET",
        "ZOHO_WEBHOOK_SECRET",
        "BRAINTREE_PRIVATE_KEY",
        "ADMIN_TOKEN",
    ):
        assert f"{name}={secrets[name]}" in printed
    assert "webhooks=['attio', 'braintree', 'zoho']" in printed
    # The console is on, behind its sign-in, with the printed admin token.
    assert f"Console: {dev_server.url}/console" in printed
    with httpx.Client(base_url=dev_server.url, follow_redirects=False) as client:
        assert client.get("/console").headers["location"] == "/console/sign-in"
        signed_in = client.post("/console/sign-in", data={"token": secrets["ADMIN_TOKEN"]})
        assert signed_in.headers["location"] == "/console"
        assert "Overview" in client.get("/console").text

    result = run_demo("--url", dev_server.url, "--secrets-file", str(dev_server.secrets_file))
    assert result.exit_code == 0, result.output
    output = result.output
    assert output.count("-> 200 ") == 3
    customer_id = re.search(r"customer (demo_[0-9a-f]+) created", output)
    assert customer_id, output
    tag = customer_id[1].removeprefix("demo_")
    assert re.search(rf"services: name=Pro plan \(demo\)  zoho_item_id={ZOHO_ITEM_ID} ", output)
    assert re.search(rf"people: name=Ada Lovelace  email_addresses=ada\.{tag}@example\.com", output)
    subscription = re.search(rf"subscriptions: braintree_subscription_id=sub_{tag} .*", output)
    assert subscription and f"plan_id={PLAN_ID}" in subscription[0]
    assert "person=Ada Lovelace (people)" in subscription[0]
    assert "service=Pro plan (demo) (services)" in subscription[0]
    payment = re.search(rf"payments: braintree_transaction_id=txn_{tag} .*", output)
    assert payment and f"subscription=sub_{tag} (subscriptions)" in payment[0]
    assert f"customer demo_{tag}: phone={NEW_PHONE} (was empty)" in output

    # What the demo printed is what the sandbox holds ...
    people = {p["values"]["braintree_customer_id"]: p for p in dev_server.records("people")}
    # Attio keeps the number in E.164 form.
    assert people[f"demo_{tag}"]["values"]["phone_numbers"] == [NEW_PHONE.replace(" ", "")]
    subscriptions = dev_server.records("subscriptions")
    assert [s["values"]["person"] for s in subscriptions] == [people[f"demo_{tag}"]["record_id"]]
    # ... and the Braintree stand-in got the customer update, through its API.
    gateway = sdk_gateway(
        int(secrets[GATEWAY_PORT]),
        (secrets["BRAINTREE_PUBLIC_KEY"], secrets["BRAINTREE_PRIVATE_KEY"]),
    )
    assert gateway.customer.find(f"demo_{tag}").phone == NEW_PHONE

    # A second run: a new customer, the same service.
    again = run_demo("--url", dev_server.url, "--secrets-file", str(dev_server.secrets_file))
    assert again.exit_code == 0, again.output
    assert len(dev_server.records("services")) == 1
    assert len(dev_server.records("subscriptions")) == 2

    # The secrets live as long as the server.
    dev_server.process.terminate()
    dev_server.process.wait(timeout=30)
    assert not dev_server.secrets_file.exists()


def test_demo_without_a_dev_server_says_how_to_start_one(tmp_path: Path) -> None:
    result = run_demo("--secrets-file", str(tmp_path / "missing.env"))
    assert result.exit_code == 1
    assert "start the server with ./scripts/dev" in result.output


def test_production_refuses_dev_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIDGE_ENV", "production")
    monkeypatch.setenv("ATTIO_API_KEY", "k" * 40)
    get_settings.cache_clear()
    root = typer.Typer()
    root.command()(serve)
    root.command("other")(lambda: None)
    secrets_file = tmp_path / "dev-secrets.env"
    try:
        result = CliRunner().invoke(
            root, ["serve", "--dev-secrets", "--secrets-file", str(secrets_file)]
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "--dev-secrets is for development only" in result.output
    assert not secrets_file.exists()


def test_configured_secrets_are_kept_and_never_printed(tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        ZOHO_WEBHOOK_SECRET="my-own-zoho-secret",
        BRAINTREE_MERCHANT_ID="m",
        BRAINTREE_PUBLIC_KEY="pub",
        BRAINTREE_PRIVATE_KEY="my-own-private-key",
    )
    secrets_file = tmp_path / "dev-secrets.env"
    with development_setup(settings, url="http://127.0.0.1:1", secrets_file=secrets_file) as setup:
        # Braintree is configured
        assert set(setup.environ) == {"ATTIO_WEBHOOK_SECRET", "ADMIN_TOKEN"}
        assert setup.braintree_port is None
        banner = setup.banner()
        assert "my-own" not in banner and "ZOHO_WEBHOOK_SECRET (yours" in banner
        written = read_secrets_file(secrets_file)
        assert written["ZOHO_WEBHOOK_SECRET"] == "my-own-zoho-secret"
        assert written["ATTIO_WEBHOOK_SECRET"] == setup.environ["ATTIO_WEBHOOK_SECRET"]
        assert GATEWAY_PORT not in written
    assert not secrets_file.exists()
