"""A Braintree delivery the write budget cannot start in time: 503 with Retry-After, and not one
Attio call spent on it (Braintree redelivers)."""

from __future__ import annotations

from app.events.admission import Admission
from tests.e2e.conftest import Harness
from tests.services.braintree.support import post, post_fixture, signed_fixture

CHARGE = "subscription_charged_successfully"


def test_a_refused_charge_costs_no_attio_call(harness: Harness) -> None:
    processor = harness.bridge.processor
    assert processor.admission is not None  # no REDIS_URL: inline processing sheds
    processor.admission = Admission(budget_seconds=10, interval=1 / 24, queued_writes=lambda: 500)
    harness.sandbox.requests.clear()
    response = post(harness, signed_fixture(CHARGE))
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 20
    assert response.json()["error"] == "overloaded"
    assert list(harness.sandbox.requests.select()) == []
    # Once the backlog has drained, the redelivery is processed.
    processor.admission = Admission(budget_seconds=10, interval=1 / 24, queued_writes=lambda: 0)
    post_fixture(harness, CHARGE)
    assert len(harness.records("subscriptions")) == 1
