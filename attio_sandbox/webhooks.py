"""The sandbox's webhooks, as tests use them: `state.webhooks`.

Attio's webhooks in one place: manage them (`create`, `get`, `all`, `update`, `delete`; the
same checks as `/v2/webhooks`), and every record change in the journal becomes a signed
delivery to each webhook whose subscriptions take it.

In-process delivery into the app under test, in an async test::

    state.webhooks.transport = httpx.ASGITransport(app=bridge_app)
    state.webhooks.create("https://bridge.test/webhooks/attio", subscriptions, secret=SECRET)
    ...  # writes through the API, or `state.store` with `actor=state.workspace_member()`
    await state.webhooks.drain()
    state.webhooks.deliveries  # what was sent, and each attempt's answer

With a TestClient, bind its loop first (`client.portal.call(state.webhooks.start)`) and wait
with `state.webhooks.wait_idle()`. Without a transport, deliveries go over the network.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from attio_sandbox.config import WebhookConfig
from attio_sandbox.journal import JournalEvent
from attio_sandbox.webhook_messages import Delivery
from attio_sandbox.webhook_registry import UNCHANGED, Webhook, WebhookRegistry, render_webhook
from attio_sandbox.webhook_sender import WebhookSender


class Webhooks:
    def __init__(self, workspace_id: str, config: WebhookConfig) -> None:
        self.workspace_id = workspace_id
        self._initial = config
        self.registry = WebhookRegistry(config.model_copy(deep=True))
        self.sender = WebhookSender(self.registry)

    # Settings and wiring -------------------------------------------------------------------

    @property
    def config(self) -> WebhookConfig:
        """The live delivery settings; change fields at runtime (validated on assignment)."""
        return self.registry.config

    @config.setter
    def config(self, config: WebhookConfig) -> None:
        self.registry.config = config

    @property
    def transport(self) -> httpx.AsyncBaseTransport | None:
        """Where deliveries go: None for the network, or e.g. `httpx.ASGITransport(app=...)`."""
        return self.sender.transport

    @transport.setter
    def transport(self, transport: httpx.AsyncBaseTransport | None) -> None:
        self.sender.transport = transport

    # Management ------------------------------------------------------------------------------

    def create(self, target_url: str, subscriptions: Any, *, secret: str | None = None) -> Webhook:
        """A webhook, as `POST /v2/webhooks` makes it; `secret` fixes its signing secret."""
        return self.registry.create(target_url, subscriptions, secret=secret)

    def get(self, webhook_id: str) -> Webhook:
        return self.registry.get(webhook_id)

    def all(self) -> list[Webhook]:
        return list(self.registry.webhooks.values())

    def update(
        self, webhook_id: str, *, target_url: Any = UNCHANGED, subscriptions: Any = UNCHANGED
    ) -> Webhook:
        return self.registry.update(webhook_id, target_url=target_url, subscriptions=subscriptions)

    def delete(self, webhook_id: str) -> None:
        self.registry.delete(webhook_id)

    def render(self, webhook: Webhook, *, with_secret: bool = False) -> dict[str, Any]:
        return render_webhook(self.workspace_id, webhook, with_secret=with_secret)

    # Deliveries ------------------------------------------------------------------------------

    def on_event(self, event: JournalEvent) -> None:
        """Journal listener: queue the event for every webhook that takes it."""
        if not self.registry.webhooks:
            return  # the common case in tests and benchmarks: no work at all
        payload = event.webhook_event()
        targets = self.registry.receiving(payload)
        if targets:
            self.sender.enqueue([(webhook, payload) for webhook in targets])

    @property
    def deliveries(self) -> list[Delivery]:
        """Every delivery made so far, oldest first, with its attempts and their answers."""
        return self.sender.deliveries

    def delivered_events(self, webhook_id: str | None = None) -> list[dict[str, Any]]:
        """The events of the deliveries answered 2xx, in the order they were made."""
        return [
            event
            for delivery in self.sender.deliveries
            if delivery.state == "delivered"
            and (webhook_id is None or delivery.webhook_id == webhook_id)
            for event in delivery.events
        ]

    @property
    def idle(self) -> bool:
        return self.sender.idle

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Send from `loop` (default: the running loop); see `webhook_sender`."""
        self.sender.start(loop)

    async def drain(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 (see WebhookSender)
        """Wait until every delivery is answered 2xx or out of retries."""
        await self.sender.drain(timeout)

    def wait_idle(self, timeout: float = 5.0) -> None:
        """`drain()` for synchronous tests whose delivery loop runs in another thread."""
        self.sender.wait_idle(timeout)

    async def aclose(self) -> None:
        await self.sender.aclose()

    def summary(self, recent: int = 50) -> dict[str, Any]:
        return self.sender.summary(recent)

    def reset(self) -> None:
        """No webhooks, no deliveries, the configured settings; the transport is kept."""
        self.sender.clear()
        self.registry.clear()
        self.registry.config = self._initial.model_copy(deep=True)
