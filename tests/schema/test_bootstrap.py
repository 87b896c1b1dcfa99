"""Schema bootstrap against the Attio sandbox: complete, idempotent, honest about conflicts."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from app.clients.attio import AttioClient, AttioConflictError
from app.schema import SCHEMA, SchemaBootstrap
from attio_sandbox import SandboxState
from tests.conftest import sandbox_attio_client


async def snapshot(client: AttioClient) -> dict:
    """Objects, attributes (with ids) and options as Attio reports them."""
    state: dict = {}
    for obj in await client.list_objects():
        slug = obj["api_slug"]
        attributes = {}
        for attribute in await client.list_attributes(slug):
            options = []
            if attribute["type"] == "select":
                options = sorted(
                    o["title"]
                    for o in await client.list_select_options(slug, attribute["api_slug"])
                )
            attributes[attribute["api_slug"]] = (attribute["id"], attribute["type"], options)
        state[slug] = (obj["id"], attributes)
    return state


async def test_bootstrap_twice_leaves_identical_state(
    sandbox_client: tuple[AttioClient, SandboxState],
) -> None:
    client, sandbox = sandbox_client
    bootstrap = SchemaBootstrap(client, currency_code="EUR")
    first = await bootstrap.run(apply=True)
    assert first.complete
    assert "object services" in first.created
    assert "attribute people.braintree_customer_id" in first.created
    after_first = await snapshot(client)

    sandbox.requests.clear()
    second = await bootstrap.run(apply=True)
    assert second.created == [] and second.complete
    assert sandbox.requests.count(kind="write") == 0  # the second run only reads
    assert await snapshot(client) == after_first


async def test_every_declared_attribute_exists_with_its_type(
    sandbox_client: tuple[AttioClient, SandboxState],
) -> None:
    client, _ = sandbox_client
    await SchemaBootstrap(client, currency_code="EUR").run(apply=True)
    for obj in SCHEMA:
        existing = {a["api_slug"]: a for a in await client.list_attributes(obj.api_slug)}
        for spec in obj.attributes:
            attribute = existing[spec.api_slug]
            assert attribute["type"] == spec.type
            assert attribute["is_unique"] == spec.is_unique
            if spec.type == "currency":
                assert attribute["config"]["currency"]["default_currency_code"] == "EUR"
        if obj.unique_key and not obj.standard:
            assert existing[obj.unique_key]["is_unique"]


async def test_check_reports_missing_without_writing(
    sandbox_client: tuple[AttioClient, SandboxState],
) -> None:
    client, sandbox = sandbox_client
    report = await SchemaBootstrap(client, currency_code="USD").run(apply=False)
    assert not report.complete
    assert "object services" in report.missing
    assert "attribute people.braintree_customer_id" in report.missing
    assert sandbox.requests.count(kind="write") == 0


async def test_existing_object_is_reused_and_conflicts_reported(
    sandbox_client: tuple[AttioClient, SandboxState],
) -> None:
    client, _ = sandbox_client
    await client.create_object(api_slug="services", singular_noun="Svc", plural_noun="Svcs")
    wrong = {
        "title": "SKU",
        "description": None,
        "api_slug": "sku",
        "type": "number",
        "is_required": False,
        "is_unique": False,
        "is_multiselect": False,
        "config": {},
    }
    await client.create_attribute("services", wrong)
    report = await SchemaBootstrap(client, currency_code="USD").run(apply=True)
    assert "object services" not in report.created
    assert any("services.sku has type 'number'" in c for c in report.conflicts)
    assert not report.complete


async def test_bootstrap_runs_through_429s(sandbox_app: FastAPI) -> None:
    """With Attio's limits enforced and a client set too fast, 429 retries still finish."""
    sandbox: SandboxState = sandbox_app.state.sandbox
    sandbox.configure_faults(rate_limits=True, write_rate=60, read_rate=100)
    async with sandbox_attio_client(sandbox_app) as fast:
        report = await SchemaBootstrap(fast, currency_code="USD").run(apply=True)
    assert report.complete
    assert sandbox.requests.count(status=429) > 0


async def test_an_archived_option_is_not_present_and_is_restored(
    sandbox_client: tuple[AttioClient, SandboxState],
) -> None:
    """Someone archived "Past Due" in Attio's UI: values with it can no longer be written."""
    client, _sandbox = sandbox_client
    bootstrap = SchemaBootstrap(client, currency_code="USD")
    assert (await bootstrap.run(apply=True)).complete
    option = next(
        o
        for o in await client.list_select_options("subscriptions", "status")
        if o["title"] == "Past Due"
    )
    archived = await client.request(
        "PATCH",
        f"/v2/objects/subscriptions/attributes/status/options/{option['id']['option_id']}",
        json={"data": {"is_archived": True}},
    )
    assert archived["data"]["is_archived"] is True

    check = await bootstrap.run(apply=False)
    assert not check.complete
    assert check.missing == ["option subscriptions.status='Past Due' (archived)"]

    applied = await bootstrap.run(apply=True)
    assert applied.complete
    assert applied.created == ["option subscriptions.status='Past Due' (restored from the archive)"]
    titles = [o["title"] for o in await client.list_select_options("subscriptions", "status")]
    assert titles.count("Past Due") == 1  # restored, not created a second time
    assert (await bootstrap.run(apply=False)).complete


async def test_an_object_named_like_ours_is_a_conflict_that_names_it(
    sandbox_client: tuple[AttioClient, SandboxState],
) -> None:
    """A workspace with its own "Payments" object (another slug): Attio would refuse ours."""
    client, _sandbox = sandbox_client
    await client.create_object(
        api_slug="billing_payments", singular_noun="Payment", plural_noun="Payments"
    )
    for apply in (False, True):
        report = await SchemaBootstrap(client, currency_code="USD").run(apply=apply)
        assert not report.complete
        (conflict,) = report.conflicts
        assert conflict.startswith("object payments: the workspace's object 'billing_payments'")
        assert "Rename that object" in conflict
    slugs = {o["api_slug"] for o in await client.list_objects()}
    assert "payments" not in slugs and {"services", "subscriptions", "bridge_events"} <= slugs


async def test_the_sandbox_refuses_a_taken_noun_as_attio_does(
    sandbox_client: tuple[AttioClient, SandboxState],
) -> None:
    client, _sandbox = sandbox_client
    with pytest.raises(AttioConflictError, match="names are unique"):
        await client.create_object(api_slug="humans", singular_noun="person", plural_noun="Humans")
