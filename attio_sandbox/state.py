"""Everything one sandbox instance holds; available as `app.state.sandbox`.

Tests use it directly: seed or inspect data through `store`, count calls in `requests`, read
record events from `journal`, change `faults` (or call `configure_faults`) mid-test, and manage
webhooks and wait for their deliveries through `webhooks`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from typing import Any

from attio_sandbox.actors import Actor, workspace_member
from attio_sandbox.config import FaultConfig, SandboxConfig
from attio_sandbox.faults import FaultInjector
from attio_sandbox.journal import Journal
from attio_sandbox.ratelimit import SlidingWindowLimiter
from attio_sandbox.requestlog import RequestLog
from attio_sandbox.store import Workspace
from attio_sandbox.tasks import Tasks
from attio_sandbox.webhooks import Webhooks


class SandboxState:
    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        # Reported by /v2/self as the token's issue time.
        self.issued_at = int(time.time())
        self.journal = Journal()
        self.requests = RequestLog()
        self.limiter = SlidingWindowLimiter()
        self.injector = FaultInjector()
        self.faults: FaultConfig = self.config.faults.model_copy(deep=True)
        self.store = Workspace(self.config, self.journal)
        self.webhooks = Webhooks(self.config.workspace_id, self.config.webhooks)
        self.tasks = Tasks(self.config.workspace_id, self.config.workspace_members)
        self.journal.subscribe(self.webhooks.on_event)

    def workspace_member(self, member_id: str | None = None) -> Actor:
        """The actor of an edit made in Attio's web app (default: the token's authorizer).

        Pass it as `actor=` to a store write to simulate a person's change.
        """
        return workspace_member(member_id or self.config.workspace_member_id)

    def configure_faults(self, **changes: Any) -> FaultConfig:
        """Change the named fault settings, keep the others; ends any 429 burst in progress.

        Raises pydantic's ValidationError for unknown fields or out-of-range values.
        """
        updated = FaultConfig.model_validate(self.faults.model_dump() | changes)
        self.faults = updated
        self.injector.end_burst()
        if "seed" in changes:
            # Setting a seed again restarts the same fault sequence.
            self.injector.reseed(updated.seed)
        return updated

    def reset(self) -> None:
        """Back to the start: standard objects only, empty logs, the configured faults, no
        webhooks or deliveries.

        Journal listeners stay subscribed, and the webhook transport stays set.
        """
        self.journal.clear()
        self.requests.clear()
        self.limiter.clear()
        self.injector.clear()
        self.faults = self.config.faults.model_copy(deep=True)
        self.store = Workspace(self.config, self.journal)
        self.webhooks.reset()
        self.tasks.clear()

    def authorized(self, authorization: str | None) -> bool:
        """Bearer token (or Basic with the token as user name), as Attio accepts them."""
        token = _token(authorization or "")
        if not token:
            return False
        expected = self.config.api_key
        return expected is None or hmac.compare_digest(token.encode(), expected.encode())


def _token(authorization: str) -> str:
    scheme, _, credentials = authorization.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer":
        return credentials
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[0]
    return ""
