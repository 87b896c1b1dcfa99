"""Each alert channel: Slack's JSON, the Standard-Webhooks-signed alert, the Attio task."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from app.clients.attio import AttioClient, AttioValidationError
from app.schema import BRIDGE_EVENTS, EVENT_KEY, PEOPLE
from app.services.alerts import (
    Alert,
    AlertState,
    AttioTaskChannel,
    Severity,
    SignedWebhookChannel,
    SlackChannel,
)
from app.services.alerts.channels import deliver
from attio_sandbox import SandboxState
from tests.services.alerts.conftest import ALERT_SECRET, ALERT_URL, SLACK_URL, Receivers

NOW = datetime.now(UTC)


def alert(state: AlertState = AlertState.firing, **changes: object) -> Alert:
    fields: dict[str, object] = {
        "id": "msg_1",
        "check": "attio.webhook",
        "severity": Severity.warning,
        "state": state,
        "message": "the webhook for https://b/webhooks/attio is degraded",
        "action": "check the bridge's logs",
        "first_seen": NOW,
        "sent_at": NOW,
        "details": {"status": "degraded"},
        **changes,
    }
    return Alert(**fields)  # type: ignore[arg-type]


async def test_slack_gets_text_and_blocks(receivers: Receivers) -> None:
    async with httpx.AsyncClient(transport=receivers.transport) as http:
        memory, error = await deliver(SlackChannel(SLACK_URL, http), alert(), {})
    assert error is None and memory == {}
    (body,) = receivers.bodies(SLACK_URL)
    assert body["text"].startswith("[warning] attio.webhook: the webhook for")
    assert "What to do: check the bridge's logs" in body["text"]
    assert body["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "[warning] attio.webhook"},
    }


async def test_the_webhook_alert_verifies_with_standardwebhooks(receivers: Receivers) -> None:
    async with httpx.AsyncClient(transport=receivers.transport) as http:
        channel = SignedWebhookChannel(ALERT_URL, ALERT_SECRET, http)
        _, error = await deliver(channel, alert(AlertState.resolved), {})
    assert error is None
    (request,) = receivers.to(ALERT_URL)
    payload = Webhook(ALERT_SECRET).verify(request.content, dict(request.headers))
    assert payload["check"] == "attio.webhook" and payload["state"] == "resolved"
    assert payload["severity"] == "warning" and payload["details"] == {"status": "degraded"}
    assert request.headers["webhook-id"] == "msg_1"
    assert request.headers["webhook-signature"].startswith("v1,")
    tampered = request.content.replace(b"resolved", b"firing")
    try:
        Webhook(ALERT_SECRET).verify(tampered, dict(request.headers))
    except Exception as exc:
        assert type(exc).__name__ == "WebhookVerificationError"
    else:
        raise AssertionError("a changed body must not verify")


async def test_a_failing_channel_is_tried_three_times_then_reported(
    receivers: Receivers,
) -> None:
    receivers.answers[SLACK_URL] = 500
    async with httpx.AsyncClient(transport=receivers.transport) as http:
        memory, error = await deliver(SlackChannel(SLACK_URL, http), alert(), {}, retry_wait=0)
    assert error == "answered HTTP 500" and memory == {}
    assert len(receivers.to(SLACK_URL)) == 3
    assert SLACK_URL not in error  # the URL is a secret: never in what watch shows


async def test_an_attio_task_is_assigned_linked_and_completed_on_resolve(
    attio: AttioClient, sandbox: SandboxState
) -> None:
    entry = await attio.assert_record(
        BRIDGE_EVENTS,
        matching_attribute=EVENT_KEY,
        values={EVENT_KEY: "bt:1", "source": "braintree", "status": "dead"},
    )
    link = (BRIDGE_EVENTS, entry["id"]["record_id"])
    channel = AttioTaskChannel(attio, "Operator@Sandbox.test")
    memory, error = await deliver(channel, alert(links=(link,)), {})
    assert error is None
    task = sandbox.tasks.get(memory["task_id"])
    assert task.assignees == [sandbox.config.workspace_member_id]
    assert task.linked_records == [(sandbox.store.get_object(BRIDGE_EVENTS).id, link[1])]
    assert "attio.webhook" in task.content and not task.is_completed
    assert task.deadline_at is not None and task.deadline_at[:10] == (
        (NOW + timedelta(days=1)).strftime("%Y-%m-%d")
    )
    again, _ = await deliver(channel, alert(repeat=True), memory)
    assert again == memory and len(sandbox.tasks.tasks) == 1  # one open task per check
    cleared, _ = await deliver(channel, alert(AlertState.resolved), memory)
    assert cleared == {} and sandbox.tasks.get(memory["task_id"]).is_completed


async def test_an_unknown_assignee_is_a_channel_failure(attio: AttioClient) -> None:
    channel = AttioTaskChannel(attio, "nobody@example.com")
    _, error = await deliver(channel, alert(), {}, retry_wait=0)
    assert error == "ALERT_ATTIO_ASSIGNEE is not a member of the Attio workspace"


def refuse_custom_object_links(
    attio: AttioClient, monkeypatch: pytest.MonkeyPatch
) -> list[list[str]]:
    """Attio refusing task links other than people and companies (its schema: "at present,
    only people and companies"); answers the objects each attempt linked."""
    create = attio.create_task
    tried: list[list[str]] = []

    async def people_and_companies_only(**task: Any) -> dict[str, Any]:
        tried.append([obj for obj, _ in task["linked_records"]])
        if any(obj not in ("people", "companies") for obj, _ in task["linked_records"]):
            raise AttioValidationError("Invalid linked record", attio_status=400)
        return await create(**task)

    monkeypatch.setattr(attio, "create_task", people_and_companies_only)
    return tried


async def dead_entry_link(attio: AttioClient) -> tuple[str, str]:
    entry = await attio.assert_record(
        BRIDGE_EVENTS, matching_attribute=EVENT_KEY, values={EVENT_KEY: "bt:1", "status": "dead"}
    )
    return (BRIDGE_EVENTS, entry["id"]["record_id"])


async def test_a_task_whose_links_attio_refuses_is_created_without_them(
    attio: AttioClient, sandbox: SandboxState, monkeypatch: pytest.MonkeyPatch
) -> None:
    tried = refuse_custom_object_links(attio, monkeypatch)
    link = await dead_entry_link(attio)
    memory, error = await deliver(
        AttioTaskChannel(attio, "operator@sandbox.test"), alert(links=(link,)), {}
    )
    assert error is None and sandbox.tasks.get(memory["task_id"]).linked_records == []
    assert tried == [[BRIDGE_EVENTS], []]


async def test_refused_links_are_retried_with_the_person_alone(
    attio: AttioClient, sandbox: SandboxState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger entry's link refused, the person's (which Attio's schema lists) is kept."""
    tried = refuse_custom_object_links(attio, monkeypatch)
    ada = await attio.assert_record(
        PEOPLE, matching_attribute="email_addresses", values={"email_addresses": ["a@x.test"]}
    )
    links = (await dead_entry_link(attio), (PEOPLE, ada["id"]["record_id"]))
    memory, error = await deliver(
        AttioTaskChannel(attio, "operator@sandbox.test"), alert(links=links), {}
    )
    assert error is None and tried == [[BRIDGE_EVENTS, PEOPLE], [PEOPLE]]
    people = sandbox.store.get_object(PEOPLE).id
    assert sandbox.tasks.get(memory["task_id"]).linked_records == [(people, links[1][1])]
