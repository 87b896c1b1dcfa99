"""Where alerts go: a Slack incoming webhook, a Standard-Webhooks-signed JSON POST, an Attio
task. Each channel sends one alert; `deliver` retries it and never raises."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx
from standardwebhooks.webhooks import Webhook
from tenacity import AsyncRetrying, stop_after_attempt, wait_exponential

from app.clients.attio import AttioClient, AttioValidationError
from app.clients.attio.values import iso_timestamp
from app.errors import BridgeError
from app.log import get_logger
from app.services.alerts.model import Alert, AlertState

log = get_logger(__name__)

SEND_ATTEMPTS = 3
HTTP_TIMEOUT_SECONDS = 10.0
TASK_DEADLINE = timedelta(days=1)
# The objects Attio's task schema lists for `linked_records` ("at present, only people and
# companies"); links to others are tried first, and left off if refused.
TASK_LINK_OBJECTS = frozenset({"people", "companies"})


class ChannelError(BridgeError):
    code = "alert_channel_failed"
    status_code = 502


class Channel(Protocol):
    name: str

    async def send(self, alert: Alert, memory: dict[str, Any]) -> dict[str, Any]:
        """Send; returns what the channel must remember for this check (e.g. a task id)."""
        ...


def _text(alert: Alert) -> str:
    lines = [f"{alert.title}: {alert.message}"]
    if alert.action and alert.state is AlertState.firing:
        lines.append(f"What to do: {alert.action}")
    lines.append(f"First seen {iso_timestamp(alert.first_seen)}")
    return "\n".join(lines)


async def _post(
    client: httpx.AsyncClient, url: str, body: bytes, headers: Mapping[str, str]
) -> None:
    try:
        response = await client.post(url, content=body, headers=dict(headers))
    except httpx.HTTPError as exc:
        raise ChannelError(f"no answer ({type(exc).__name__})") from None
    if response.status_code >= 300:
        raise ChannelError(f"answered HTTP {response.status_code}")


class SlackChannel:
    """Slack's incoming-webhook JSON (`text` plus blocks); Mattermost and Rocket.Chat take it."""

    name = "slack"

    def __init__(self, url: str, client: httpx.AsyncClient) -> None:
        self._url = url
        self._client = client

    @staticmethod
    def body(alert: Alert) -> dict[str, Any]:
        fields = [f"*Check*\n`{alert.check}`", f"*State*\n{alert.state.value}"]
        if alert.state is AlertState.firing:
            fields.append(f"*Severity*\n{alert.severity.value}")
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": alert.title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": alert.message[:3000]}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
        ]
        if alert.action and alert.state is AlertState.firing:
            text = f"*What to do*: {alert.action}"[:3000]
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
        first = f"First seen {iso_timestamp(alert.first_seen)} · attio-bridge watch"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": first}]})
        return {"text": _text(alert), "blocks": blocks}

    async def send(self, alert: Alert, memory: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(self.body(alert)).encode()
        await _post(self._client, self._url, body, {"Content-Type": "application/json"})
        return memory


class SignedWebhookChannel:
    """JSON signed as the Standard Webhooks specification says (`webhook-id`,
    `webhook-timestamp`, `webhook-signature: v1,...`), with the `standardwebhooks` library."""

    name = "webhook"

    def __init__(self, url: str, secret: str, client: httpx.AsyncClient) -> None:
        self._url = url
        self._signer = Webhook(secret)
        self._client = client

    def signed(self, alert: Alert) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(alert.as_payload(), sort_keys=True).encode()
        # The time of this attempt: receivers refuse timestamps more than 5 minutes off.
        now = datetime.now(UTC)
        headers = {
            "Content-Type": "application/json",
            "webhook-id": alert.id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self._signer.sign(alert.id, now, body),
        }
        return body, headers

    async def send(self, alert: Alert, memory: dict[str, Any]) -> dict[str, Any]:
        body, headers = self.signed(alert)
        await _post(self._client, self._url, body, headers)
        return memory


class AttioTaskChannel:
    """A task for ALERT_ATTIO_ASSIGNEE, due in a day, linked to the records concerned;
    completed when the check clears. One open task per check: a repeat moves its deadline."""

    name = "attio_task"

    def __init__(self, attio: AttioClient, assignee_email: str) -> None:
        self._attio = attio
        self._email = assignee_email.strip().lower()

    async def _member_id(self) -> str:
        for member in await self._attio.list_workspace_members():
            if str(member.get("email_address", "")).lower() == self._email:
                return str(member["id"]["workspace_member_id"])
        raise ChannelError("ALERT_ATTIO_ASSIGNEE is not a member of the Attio workspace")

    async def send(self, alert: Alert, memory: dict[str, Any]) -> dict[str, Any]:
        task_id = memory.get("task_id")
        deadline = iso_timestamp(alert.sent_at + TASK_DEADLINE)
        if alert.state is AlertState.resolved:
            if task_id:
                await self._attio.update_task(task_id, is_completed=True)
            return {}
        if task_id:
            await self._attio.update_task(task_id, deadline_at=deadline)
            return memory
        member = await self._member_id()
        task = await self._create_linked(alert, deadline, member)
        return {"task_id": task["id"]["task_id"]}

    async def _create_linked(
        self, alert: Alert, deadline: str | None, member: str
    ) -> dict[str, Any]:
        """The task with every link; should Attio refuse them, with the people and companies
        only, then with none: the task matters more than its links."""
        links = alert.links
        if alert.more_links is not None:
            links += tuple(link for link in await alert.more_links() if link not in links)
        standard = tuple(link for link in links if link[0] in TASK_LINK_OBJECTS)
        # Each attempt links fewer records than the one before; the last links none.
        attempts = list(dict.fromkeys((links, standard, ())))
        for attempt in attempts[:-1]:
            try:
                return await self._create(alert, deadline, member, attempt)
            except AttioValidationError:
                # Attio's task schema says linked records are "at present, only people and
                # companies": a custom object's (the ledger entry) may be refused.
                log.warning("alert.task_links_refused", check=alert.check, links=len(attempt))
        return await self._create(alert, deadline, member, attempts[-1])

    async def _create(
        self, alert: Alert, deadline: str | None, member: str, links: tuple[tuple[str, str], ...]
    ) -> dict[str, Any]:
        return await self._attio.create_task(
            content=_text(alert), deadline_at=deadline, assignee_ids=[member], linked_records=links
        )


async def deliver(
    channel: Channel, alert: Alert, memory: dict[str, Any], *, retry_wait: float = 1.0
) -> tuple[dict[str, Any], str | None]:
    """Send with up to three attempts; (memory, None) on success, (memory, error) after."""
    try:
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(SEND_ATTEMPTS),
            wait=wait_exponential(multiplier=retry_wait, max=10 * retry_wait),
            reraise=True,
        ):
            with attempt:
                return await channel.send(alert, dict(memory)), None
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a failing channel is reported, never fatal to the pass
        error = exc.message if isinstance(exc, BridgeError) else type(exc).__name__
        log.warning("alert.channel_failed", channel=channel.name, check=alert.check, error=error)
        return memory, error
    raise AssertionError("unreachable")  # pragma: no cover
