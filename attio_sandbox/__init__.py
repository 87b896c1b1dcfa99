"""An in-memory emulation of the part of Attio's REST v2 API that the bridge uses.

Use it in-process::

    sandbox_app = create_sandbox_app(SandboxConfig(faults=FaultConfig(rate_limits=False)))
    transport = httpx.ASGITransport(app=sandbox_app)
    client = httpx.AsyncClient(transport=transport, base_url="http://attio.sandbox")
    sandbox: SandboxState = sandbox_app.state.sandbox

or on its own port: ``python -m attio_sandbox --port 8100`` (see ``--help``), or ``serve(...)``.

Emulated: /v2/self; objects; attributes and select options on objects; record create, assert,
get, PATCH (multiselect values prepended), PUT (replaced), delete and query (shorthand and
verbose filters, sorts, limit/offset); the value types text, number, checkbox, currency, date,
timestamp, rating, select, email-address, phone-number, domain, personal-name and
record-reference; unique attributes; Attio's error bodies, auth and rate limits (429 with an
HTTP-date Retry-After); plus switchable latency and faults (`FaultConfig`).

Webhooks: the /v2/webhooks endpoints, and signed deliveries of `record.created`, `.updated`,
`.deleted` and `.merged` events to every webhook whose subscriptions take them, sent in the
background and retried on non-2xx (`WebhookConfig`; see `attio_sandbox.webhooks` for wiring a
receiver in-process). Merges are simulated with `store.merge_records`; edits by a person with
`actor=state.workspace_member()` on store writes, or the /_sandbox record routes. A webhook's
`status` (active, degraded, inactive) is set with `PUT /_sandbox/webhooks/{id}/status`;
inactive webhooks receive nothing.

Tasks and members: /v2/tasks (create, get, list, update, delete; `state.tasks`) and
/v2/workspace_members (`SandboxConfig.workspace_members`).

Not emulated: lists and entries, notes, task webhooks, events other than record events, status/
location/actor-reference attributes on custom writes, archiving, relationship (two-way)
attributes, default values, drill-down `path` filters and sorts, value history, the merge
endpoint, Attio's limit of 25 deliveries per second per target URL, and score-based query
limits.
"""

from attio_sandbox.app import create_sandbox_app, serve
from attio_sandbox.config import FaultConfig, SandboxConfig, WebhookConfig
from attio_sandbox.journal import JournalEvent
from attio_sandbox.requestlog import RequestLogEntry
from attio_sandbox.state import SandboxState
from attio_sandbox.webhook_messages import Delivery
from attio_sandbox.webhook_registry import Webhook

__all__ = [
    "Delivery",
    "FaultConfig",
    "JournalEvent",
    "RequestLogEntry",
    "SandboxConfig",
    "SandboxState",
    "Webhook",
    "WebhookConfig",
    "create_sandbox_app",
    "serve",
]
