"""Attio's plan object limits: bootstrap works out what the layout needs before creating
anything, and says what would fit (the sandbox enforces the limit as a workspace would)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.clients.attio import AttioClient
from app.schema import SchemaBootstrap, schema_for
from app.schema.bootstrap import object_budget
from app.schema.readiness import ReadinessProbe
from attio_sandbox import SandboxState
from tests.conftest import make_sandbox, sandbox_attio_client

FULL = schema_for(payments_object=True)
FOLDED = schema_for(payments_object=False)
STANDARD = {"people", "companies"}


@pytest.fixture
async def plus() -> AsyncIterator[tuple[AttioClient, SandboxState]]:
    """A workspace on Attio's Plus plan: five objects, People and Companies included."""
    app = make_sandbox(max_objects=5)
    async with sandbox_attio_client(app) as client:
        yield client, app.state.sandbox


async def slugs(client: AttioClient) -> set[str]:
    return {o["api_slug"] for o in await client.list_objects()}


@pytest.mark.parametrize(
    ("schema", "present", "plan", "fits"),
    [
        (FULL, STANDARD, None, True),  # unknown plan: nothing to check against
        (FULL, STANDARD, "enterprise", True),
        (FULL, STANDARD, "pro", True),
        (FULL, STANDARD, "plus", False),  # 6 > 5
        (FOLDED, STANDARD, "plus", True),  # 5
        (FOLDED, STANDARD | {"deals"}, "plus", False),  # the workspace's own objects count
        (FOLDED, STANDARD, "free", False),
        (FULL, STANDARD | {"services", "subscriptions", "bridge_events", "payments"}, "pro", True),
    ],
)
def test_object_budget(schema, present: set[str], plan: str | None, fits: bool) -> None:
    assert (object_budget(schema, present, plan) is None) is fits


def test_the_message_says_needed_present_limits_and_the_fix() -> None:
    message = object_budget(FULL, STANDARD, "plus")
    assert message is not None
    assert "needs 6 Attio objects (2 present, 4 to create" in message
    assert "the plus plan (ATTIO_PLAN) allows 5" in message
    assert "3 objects on Free, 5 on Plus, 12 on Pro" in message
    assert "People and Companies count" in message
    assert "ATTIO_PAYMENTS_OBJECT=false" in message and "5 objects, which fits" in message
    free = object_budget(FULL, STANDARD, "free")
    assert free is not None and "No layout fits" in free


async def test_a_layout_that_cannot_fit_creates_nothing(
    plus: tuple[AttioClient, SandboxState],
) -> None:
    client, sandbox = plus
    sandbox.requests.clear()
    report = await SchemaBootstrap(client, currency_code="USD", plan="plus").run(apply=True)
    assert not report.complete and report.created == []
    assert report.blocked is not None and "ATTIO_PAYMENTS_OBJECT=false" in report.blocked
    assert report.summary().startswith("ERROR the bridge needs 6 Attio objects")
    assert sandbox.requests.count(kind="write") == 0
    assert await slugs(client) == STANDARD


async def test_check_and_readiness_report_the_limit(
    plus: tuple[AttioClient, SandboxState],
) -> None:
    client, sandbox = plus
    bootstrap = SchemaBootstrap(client, currency_code="USD", plan="plus")
    assert (await bootstrap.run(apply=False)).blocked is not None
    readiness = await ReadinessProbe(client, bootstrap).check()
    assert not readiness.ready and readiness.reason is not None
    assert "needs 6 Attio objects" in readiness.reason
    assert sandbox.requests.count(kind="write") == 0


async def test_the_smaller_layout_fits_plus(plus: tuple[AttioClient, SandboxState]) -> None:
    client, _ = plus
    bootstrap = SchemaBootstrap(client, currency_code="USD", schema=FOLDED, plan="plus")
    report = await bootstrap.run(apply=True)
    assert report.complete, report.summary()
    assert await slugs(client) == STANDARD | {"services", "subscriptions", "bridge_events"}
    assert (await bootstrap.run(apply=False)).complete


async def test_without_a_plan_attios_refusal_stops_it_with_the_same_advice(
    plus: tuple[AttioClient, SandboxState],
) -> None:
    client, _ = plus
    report = await SchemaBootstrap(client, currency_code="USD").run(apply=True)
    assert report.blocked is not None
    assert "Attio refused object 6, so the workspace's plan allows 5" in report.blocked
    assert "object_limit_reached" in report.blocked  # Attio's own answer, quoted
    assert "ATTIO_PAYMENTS_OBJECT=false" in report.blocked and "ATTIO_PLAN" in report.blocked
    # `payments` is created last: what was created is what the smaller layout needs too.
    assert await slugs(client) == STANDARD | {"services", "subscriptions", "bridge_events"}
    report = await SchemaBootstrap(client, currency_code="USD", schema=FOLDED).run(apply=True)
    assert report.complete, report.summary()


async def test_a_conflict_on_create_is_reused_when_the_object_exists(
    sandbox_client: tuple[AttioClient, SandboxState], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another instance created it between our read and our create: Attio's 409 is no refusal."""
    client, _ = sandbox_client
    create = client.create_object

    async def raced(**body: str) -> dict:
        await create(**body)  # the other instance's create
        return await create(**body)  # ours: 409 slug_conflict

    monkeypatch.setattr(client, "create_object", raced)
    report = await SchemaBootstrap(client, currency_code="USD").run(apply=True)
    assert report.complete and report.blocked is None, report.summary()


async def test_the_billing_summary_extends_people_and_companies_without_an_object(
    plus: tuple[AttioClient, SandboxState],
) -> None:
    """The summary lives on Attio's standard objects: the compact layout still fits Plus."""
    client, _ = plus
    report = await SchemaBootstrap(client, currency_code="EUR", schema=FOLDED, plan="plus").run(
        apply=True
    )
    assert report.complete, report.summary()
    assert len(await slugs(client)) == 5
    companies = {a["api_slug"]: a for a in await client.list_attributes("companies")}
    people = {a["api_slug"]: a for a in await client.list_attributes("people")}
    for summary in (companies, people):
        assert summary["mrr"]["type"] == "currency"
        assert summary["mrr"]["config"]["currency"]["default_currency_code"] == "EUR"
        assert summary["billing_status"]["type"] == "select"
    assert companies["paying_people"]["type"] == "number"
    assert "paying_people" not in people
