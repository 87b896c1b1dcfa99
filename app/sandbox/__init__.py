"""An in-memory emulation of the part of Attio's REST v2 API that the bridge uses.

Use it in-process::

    sandbox_app = create_sandbox_app(SandboxConfig(faults=FaultConfig(rate_limits=False)))
    transport = httpx.ASGITransport(app=sandbox_app)
    client = httpx.AsyncClient(transport=transport, base_url="http://attio.sandbox")
    sandbox: SandboxState = sandbox_app.state.sandbox

or on its own port: ``python -m app.sandbox --port 8100`` (see ``--help``), or ``serve(...)``.

Emulated: /v2/self; objects; attributes and select options on objects; record create, assert,
get, PATCH (multiselect values prepended), PUT (replaced), delete and query (shorthand and
verbose filters, sorts, limit/offset); the value types text, number, checkbox, currency, date,
timestamp, rating, select, email-address, phone-number, domain, personal-name and
record-reference; unique attributes; Attio's error bodies, auth and rate limits (429 with an
HTTP-date Retry-After); plus switchable latency and faults (`FaultConfig`).

Not emulated: lists and entries, notes, tasks, webhooks endpoints, status/location/actor-reference
attributes on custom writes, archiving, relationship (two-way) attributes, default values,
drill-down `path` filters and sorts, value history, and score-based query limits.
"""

from app.sandbox.app import create_sandbox_app, serve
from app.sandbox.config import FaultConfig, SandboxConfig
from app.sandbox.journal import JournalEvent
from app.sandbox.requestlog import RequestLogEntry
from app.sandbox.state import SandboxState

__all__ = [
    "FaultConfig",
    "JournalEvent",
    "RequestLogEntry",
    "SandboxConfig",
    "SandboxState",
    "create_sandbox_app",
    "serve",
]
