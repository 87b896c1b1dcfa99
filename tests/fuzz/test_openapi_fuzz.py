"""Requests generated from the app's own OpenAPI document, for every operation it describes.

Each response goes through schemathesis's default checks: never a 5xx, and a documented status,
content type and body. Attio is the in-process sandbox, so authenticated admin calls really run;
Zoho is the fake one; respx with no routes catches any other HTTP call, so nothing reaches the
network. No generated webhook request is signed, so none may cost a single Attio call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
import respx
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, GenerationMode

from app.clients.braintree import BraintreeClient
from app.main import create_app
from attio_sandbox import SandboxState
from testkit.braintree_api import BraintreeData, braintree_api, sdk_gateway
from testkit.fake_zoho import FakeZoho
from testkit.settings import ADMIN_TOKEN
from tests.conftest import FUZZ_SCALE, make_sandbox
from tests.e2e.conftest import bootstrap, bridge_settings

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
TAGS = ("health", "webhooks", "admin")  # the route tags; each has its test below
EXAMPLES_PER_OPERATION = 25 * FUZZ_SCALE


@dataclass
class Harness:
    app: FastAPI
    sandbox: SandboxState
    schema: schemathesis.BaseSchema

    def attio_calls(self) -> int:
        return len(self.sandbox.requests.entries)

    def operations(self, tag: str) -> list[APIOperation]:
        found = [result.ok() for result in self.schema.get_all_operations()]
        untagged = [op.label for op in found if not set(op.tags or ()) & set(TAGS)]
        assert not untagged, f"not fuzzed by any test here: {untagged}"
        selected = [operation for operation in found if tag in (operation.tags or ())]
        assert selected, f"the OpenAPI document describes no {tag} operation"
        return selected

    def wait_for_sync(self, timeout: float = 10.0) -> None:
        """A sync started by POST /admin/sync/<source> runs on: let it end before the next case."""
        bridge = self.app.state.bridge
        runners = (
            bridge.zoho_service.sync_runner,
            bridge.braintree_service.sync_runner,
            bridge.attio_service.sync_runner,
        )
        for runner in runners:
            deadline = time.monotonic() + timeout
            while runner.running and time.monotonic() < deadline:
                time.sleep(0.01)
            assert not runner.running, f"the {runner.source} sync did not finish"


@pytest.fixture
def harness() -> Iterator[Harness]:
    # Per test: schemathesis ends the app's lifespan (which closes its clients) after each test.
    sandbox_app = make_sandbox()
    # Braintree's API is the stand-in on loopback (a started sync must not reach Braintree).
    with respx.mock(assert_all_called=False), braintree_api(BraintreeData()) as port:
        app = create_app(
            bridge_settings(LOG_LEVEL="CRITICAL"),
            attio_transport=httpx.ASGITransport(app=sandbox_app),
            braintree=BraintreeClient(sdk_gateway(port)),
        )
        asyncio.run(bootstrap(sandbox_app))
        app.state.bridge.zoho_service.use_zoho_client(FakeZoho.with_items(3).client())
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        yield Harness(app, sandbox_app.state.sandbox, schema)


def fuzz(operation: APIOperation, check: Callable[[Case], None]) -> None:
    """`check` on generated cases of one operation, valid and invalid ones."""

    # One inner test per operation, all with the same source: no shared example database.
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=st.one_of(*(operation.as_strategy(mode) for mode in GenerationMode)))
    def run(case: Case) -> None:
        check(case)

    try:
        run()
    except BaseException as exc:
        exc.add_note(f"operation: {operation.label}")
        raise


def test_health(harness: Harness) -> None:
    for operation in harness.operations("health"):
        fuzz(operation, lambda case: case.call_and_validate())


def test_unsigned_webhooks_never_fail_and_never_reach_attio(harness: Harness) -> None:
    def check(case: Case) -> None:
        before = harness.attio_calls()
        response = case.call_and_validate()
        assert harness.attio_calls() == before, "an unsigned webhook reached Attio"
        assert "Traceback" not in response.text

    for operation in harness.operations("webhooks"):
        fuzz(operation, check)


def test_admin_with_and_without_the_token(harness: Harness) -> None:
    def check(case: Case) -> None:
        before = harness.attio_calls()
        response = case.call_and_validate()
        assert harness.attio_calls() == before, "an unauthenticated admin call reached Attio"
        # The token is checked before the body or parameters are read. The admin API is enabled,
        # so a 404 means the path matched no route (a key with a newline, or a ".." resolved).
        assert response.status_code in {401, 404}, response.text
        response = case.call_and_validate(headers=ADMIN)
        assert "Traceback" not in response.text
        if case.path.startswith("/admin/sync"):
            harness.wait_for_sync()

    for operation in harness.operations("admin"):
        fuzz(operation, check)
