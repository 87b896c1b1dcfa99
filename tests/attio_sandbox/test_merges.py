"""Merging records (both of Attio's shapes) and writes attributed to a workspace member."""

from __future__ import annotations

import httpx
import pytest

from attio_sandbox import SandboxState
from attio_sandbox.config import DEFAULT_WORKSPACE_MEMBER_ID
from attio_sandbox.errors import AttioError
from tests.attio_sandbox.support import error, values

PEOPLE = "/v2/objects/people/records"


def emails(sandbox: SandboxState, record_id: str) -> list[str]:
    record = sandbox.store.get_record("people", record_id)
    attribute = sandbox.store.get_object("people").attributes_by_slug["email_addresses"]
    return [value.fields["email_address"] for value in record.values[attribute.id]]


@pytest.fixture
def pair(sandbox: SandboxState) -> tuple[str, str, str]:
    """Two people and a company referring to the second one (as its `owner`)."""
    store = sandbox.store
    store.create_attribute(
        "companies",
        title="Owner",
        description=None,
        api_slug="owner",
        attribute_type="record-reference",
        is_required=False,
        is_unique=False,
        is_multiselect=False,
        allowed_objects=["people"],
    )
    original = store.create_record(
        "people", {"email_addresses": ["ada@example.com"], "job_title": "Countess"}
    )
    duplicate = store.create_record(
        "people", {"email_addresses": ["ada@work.example"], "job_title": "Analyst", "name": "Ada"}
    )
    company = store.create_record(
        "companies",
        {"name": "Acme", "owner": [{"target_object": "people", "target_record_id": duplicate.id}]},
    )
    sandbox.journal.clear()
    return original.id, duplicate.id, company.id


def owner(sandbox: SandboxState, company_id: str) -> str:
    company = sandbox.store.get_record("companies", company_id)
    attribute = sandbox.store.get_object("companies").attributes_by_slug["owner"]
    (value,) = company.values[attribute.id]
    record_id: str = value.fields["target_record_id"]
    return record_id


async def test_new_record_merge(
    client: httpx.AsyncClient, sandbox: SandboxState, pair: tuple[str, str, str]
) -> None:
    original, duplicate, company = pair
    survivor = sandbox.store.merge_records("people", original, duplicate)
    assert survivor.id not in (original, duplicate)
    # The original's values win; multiselect attributes keep both.
    assert emails(sandbox, survivor.id) == ["ada@example.com", "ada@work.example"]
    rendered = (await client.get(f"{PEOPLE}/{survivor.id}")).json()["data"]
    assert values(rendered, "job_title")[0]["value"] == "Countess"
    assert values(rendered, "name")[0]["full_name"] == "Ada"
    assert values(rendered, "record_id")[0]["value"] == survivor.id

    for merged in (original, duplicate):
        error(await client.get(f"{PEOPLE}/{merged}"), 404, "not_found")
        assert sandbox.store.merged_into[merged] == survivor.id
    assert owner(sandbox, company) == survivor.id
    # The merged email addresses are free for, and found on, the new record only.
    query = {"filter": {"email_addresses": "ada@work.example"}}
    found = (await client.post(f"{PEOPLE}/query", json=query)).json()["data"]
    assert [r["id"]["record_id"] for r in found] == [survivor.id]

    assert [(e.event_type, e.record_id, e.duplicate_record_id) for e in sandbox.journal.events] == [
        ("record.merged", survivor.id, original),
        ("record.merged", survivor.id, duplicate),
    ]


async def test_older_merge_into_the_original(
    client: httpx.AsyncClient, sandbox: SandboxState, pair: tuple[str, str, str]
) -> None:
    original, duplicate, company = pair
    member = sandbox.workspace_member()
    survivor = sandbox.store.merge_records(
        "people", original, duplicate, mode="into-original", actor=member
    )
    assert survivor.id == original
    assert emails(sandbox, original) == ["ada@example.com", "ada@work.example"]
    error(await client.get(f"{PEOPLE}/{duplicate}"), 404, "not_found")
    assert owner(sandbox, company) == original
    (event,) = sandbox.journal.events
    assert event.webhook_event() == {
        "event_type": "record.merged",
        "id": {
            "workspace_id": sandbox.config.workspace_id,
            "object_id": sandbox.store.get_object("people").id,
            "record_id": original,
        },
        "duplicate_object_id": sandbox.store.get_object("people").id,
        "duplicate_record_id": duplicate,
        "actor": {"type": "workspace-member", "id": DEFAULT_WORKSPACE_MEMBER_ID},
    }


def test_merge_errors(sandbox: SandboxState, pair: tuple[str, str, str]) -> None:
    original, _, company = pair
    with pytest.raises(AttioError) as same:
        sandbox.store.merge_records("people", original, original)
    assert same.value.code == "validation_type"
    with pytest.raises(AttioError) as other_object:
        sandbox.store.merge_records("people", original, company)
    assert other_object.value.status_code == 404
    assert sandbox.journal.events == []


async def test_member_writes_carry_the_members_actor(
    client: httpx.AsyncClient, sandbox: SandboxState
) -> None:
    member = sandbox.workspace_member()
    record = sandbox.store.assert_record(
        "people", "email_addresses", {"email_addresses": ["a@example.com"]}, actor=member
    )
    rendered = (await client.get(f"{PEOPLE}/{record.id}")).json()["data"]
    assert values(rendered, "email_addresses")[0]["created_by_actor"] == member
    assert values(rendered, "created_by")[0]["referenced_actor_type"] == "workspace-member"
    # Later writes are the token's again.
    sandbox.store.update_record("people", record.id, {"job_title": "x"}, append=True)
    assert [e.actor["type"] for e in sandbox.journal.events] == ["workspace-member", "api-token"]
    with sandbox.store.acting_as(sandbox.workspace_member("another-member")):
        await client.delete(f"{PEOPLE}/{record.id}")
    assert sandbox.journal.events[-1].actor == {"type": "workspace-member", "id": "another-member"}


def test_a_merged_record_is_unreadable_while_the_merge_runs(
    sandbox: SandboxState, pair: tuple[str, str, str]
) -> None:
    sandbox.store.merge_in_progress_seconds = 3600.0
    original, duplicate, _company = pair
    merged = sandbox.store.merge_records("people", original, duplicate, mode="new-record")
    with pytest.raises(AttioError) as running:
        sandbox.store.check_readable(merged.id)
    assert (running.value.status_code, running.value.code) == (404, "merge_in_progress")
    sandbox.store.merging_until[merged.id] = 0.0  # the merge has completed
    sandbox.store.check_readable(merged.id)
    assert merged.id not in sandbox.store.merging_until
