"""The sandbox's tasks and workspace members, and the development route that sets a webhook's
status as Attio does after failed deliveries."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from attio_sandbox import SandboxState

AUTH = {"Authorization": "Bearer sandbox-key"}


def task(**changes: object) -> dict:
    body = {
        "content": "Look at the dead ledger entries",
        "format": "plaintext",
        "deadline_at": None,
        "is_completed": False,
        "linked_records": [],
        "assignees": [],
        **changes,
    }
    return {"data": body}


def test_a_task_is_checked_as_attio_documents_it(sandbox_app: FastAPI) -> None:
    with TestClient(sandbox_app) as client:
        for wrong in (
            task(content="x" * 2001),
            task(format="markdown"),
            task(deadline_at="tomorrow"),
            task(assignees=[{"workspace_member_email_address": "nobody@example.com"}]),
            task(assignees=[{"referenced_actor_type": "api-token", "referenced_actor_id": "x"}]),
            {"data": {"content": "no other field"}},
        ):
            assert client.post("/v2/tasks", json=wrong, headers=AUTH).status_code == 400, wrong
        missing = [{"target_object": "people", "target_record_id": "nope"}]
        assert (
            client.post("/v2/tasks", json=task(linked_records=missing), headers=AUTH).status_code
            == 404
        )
        created = client.post("/v2/tasks", json=task(content="x" * 2000), headers=AUTH)
        assert created.status_code == 200
        task_id = created.json()["data"]["id"]["task_id"]
        wrong_field = client.patch(
            f"/v2/tasks/{task_id}", json={"data": {"content": "new"}}, headers=AUTH
        )
        assert wrong_field.status_code == 400  # content cannot be changed


def test_the_webhook_status_is_settable_in_development(
    sandbox_app: FastAPI, sandbox: SandboxState
) -> None:
    webhook = sandbox.webhooks.create(
        "https://bridge.example/webhooks/attio", [{"event_type": "record.created", "filter": None}]
    )
    with TestClient(sandbox_app) as client:
        path = f"/_sandbox/webhooks/{webhook.id}/status"
        answer = client.put(path, json={"data": {"status": "degraded"}})
        assert answer.status_code == 200 and answer.json()["data"]["status"] == "degraded"
        seen = client.get(f"/v2/webhooks/{webhook.id}", headers=AUTH).json()["data"]
        assert seen["status"] == "degraded"
        assert client.put(path, json={"data": {"status": "broken"}}).status_code == 400
    sandbox.webhooks.get(webhook.id).status = "inactive"
    assert not sandbox.webhooks.get(webhook.id).wants(
        {"event_type": "record.created", "id": {}, "actor": {}}
    )  # an inactive webhook receives nothing
