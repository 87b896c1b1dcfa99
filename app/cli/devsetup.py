"""`./scripts/dev` (`attio-bridge serve --dev-secrets`): every webhook route on, for development.

Each webhook route exists only when its provider's secret is configured. In development this
generates the missing ones for the server's lifetime, prints them once, and writes them (0600)
to a file the `demo` command signs with. Without Braintree credentials it starts the Braintree
stand-in (`braintree_sandbox`) on the port the SDK's development environment names
(`GATEWAY_PORT`, 3000 by default), so the bridge's own Braintree client reaches it through the
same settings and code as production's. Production refuses all of it.
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import braintree

from app.config import Settings, secret_is_set
from app.errors import ConfigurationError

# Beside the interpreter of this install: `.venv/dev-secrets.env` for ./scripts/dev.
DEFAULT_SECRETS_FILE = Path(sys.prefix) / "dev-secrets.env"
DEV_URL = "BRIDGE_DEV_URL"
GATEWAY_PORT = "BRAINTREE_GATEWAY_PORT"
DEV_MERCHANT_ID = "dev_merchant"


@dataclass
class DevSetup:
    url: str
    secrets_file: Path
    # Settings to add to the environment (generated, or the stand-in's), by variable name.
    environ: dict[str, str] = field(default_factory=dict)
    # Settings the developer configured that the demo signs with too (never printed).
    configured: dict[str, str] = field(default_factory=dict)
    braintree_port: int | None = None

    def file_text(self) -> str:
        lines = [
            f"# Secrets of the attio-bridge development server at {self.url} (pid {os.getpid()}).",
            "# Written at its start, removed when it stops; `attio-bridge demo` signs with them.",
            f"{DEV_URL}={self.url}",
        ]
        lines += [f"{name}={value}" for name, value in {**self.configured, **self.environ}.items()]
        if self.braintree_port is not None:
            lines.append(f"{GATEWAY_PORT}={self.braintree_port}")
        return "\n".join(lines) + "\n"

    def banner(self) -> str:
        shown = {k: v for k, v in self.environ.items() if k != "BRAINTREE_ENVIRONMENT"}
        lines = ["Development webhooks: every route is on, with secrets made for this run:"]
        lines += [f"  {name}={value}" for name, value in shown.items()]
        lines += [f"  {name} (yours, from the settings)" for name in self.configured]
        if self.braintree_port is not None:
            lines.append(f"  Braintree stand-in: http://127.0.0.1:{self.braintree_port}")
        lines.append(f"Console: {self.url}/console (sign in with ADMIN_TOKEN)")
        lines.append(f"Also in {self.secrets_file} until this server stops.")
        lines.append("Try it, in another terminal: .venv/bin/attio-bridge demo")
        return "\n".join(lines)


def read_secrets_file(path: Path) -> dict[str, str]:
    """The `NAME=value` lines of a development secrets file."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            values[name.strip()] = value.strip()
    return values


def _token() -> str:
    return secrets.token_urlsafe(32)


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)


@contextmanager
def development_setup(settings: Settings, *, url: str, secrets_file: Path) -> Iterator[DevSetup]:
    """Generate what is missing, start the Braintree stand-in if needed, write the secrets
    file; on exit stop the stand-in and remove the file."""
    if settings.is_production:
        raise ConfigurationError(
            "--dev-secrets is for development only; BRIDGE_ENV=production refuses it"
        )
    setup = DevSetup(url=url, secrets_file=secrets_file)
    for name, secret in (
        ("ATTIO_WEBHOOK_SECRET", settings.attio_webhook_secret),
        ("ZOHO_WEBHOOK_SECRET", settings.zoho_webhook_secret),
        # The admin API and the console (/console) are off without it.
        ("ADMIN_TOKEN", settings.admin_token),
    ):
        if secret is not None and secret_is_set(secret):
            setup.configured[name] = secret.get_secret_value()
        else:
            setup.environ[name] = _token()
    with ExitStack() as stack:
        if not settings.braintree_configured:
            setup.braintree_port = stack.enter_context(_braintree_stand_in(setup))
        _write_private(secrets_file, setup.file_text())
        stack.callback(secrets_file.unlink, missing_ok=True)
        stack.enter_context(_sigterm_exits())
        yield setup


def _exit(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@contextmanager
def _sigterm_exits() -> Iterator[None]:
    """uvicorn shuts down on SIGTERM and then raises it again; with the default handler the
    process would die there without removing the secrets file or stopping the stand-in."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _braintree_stand_in(setup: DevSetup) -> Iterator[int]:
    try:
        # Development only: the stand-in is not part of the production image.
        from braintree_sandbox import BraintreeData, braintree_api
    except ImportError:
        raise ConfigurationError(
            "the Braintree stand-in (braintree_sandbox) is not installed here, only in a "
            "checkout; set the BRAINTREE_* credentials or run ./scripts/dev from a checkout"
        ) from None

    public_key, private_key = f"dev_{secrets.token_hex(8)}", secrets.token_hex(24)
    # The SDK's development environment (read from GATEWAY_PORT when the SDK is imported).
    port = int(braintree.Environment.Development.port)
    with ExitStack() as stack:
        try:
            data = BraintreeData(credentials=(public_key, private_key))
            bound = stack.enter_context(braintree_api(data, port=port))
        except OSError as exc:
            raise ConfigurationError(
                f"cannot serve the Braintree stand-in on 127.0.0.1:{port} ({exc.strerror}); "
                "set GATEWAY_PORT to a free port (./scripts/dev picks one)"
            ) from None
        setup.environ |= {
            "BRAINTREE_ENVIRONMENT": "development",
            "BRAINTREE_MERCHANT_ID": DEV_MERCHANT_ID,
            "BRAINTREE_PUBLIC_KEY": public_key,
            "BRAINTREE_PRIVATE_KEY": private_key,
        }
        yield bound
