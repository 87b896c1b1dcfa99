"""Every log line of a busy run, checked for every configured secret."""

from __future__ import annotations

import json

import pytest

from app.events.model import Source
from testkit.signing import (
    ATTIO_TEST_SECRET,
    BRAINTREE_TEST_CREDENTIALS,
    ZOHO_TEST_SECRET,
    braintree_sample_form,
    zoho_signed_headers,
)
from tests.e2e.conftest import ADMIN_TOKEN, start_harness
from tests.e2e.test_ledger import FlakyHandler, attio_delivery, post_attio

SECRETS = {
    "ATTIO_API_KEY": "attio-live-key-5b1e0c7d9a",
    "ZOHO_REFRESH_TOKEN": "1000.zoho-refresh-token-77aa",
    "ZOHO_CLIENT_SECRET": "zoho-client-secret-0c3d",
    "ZOHO_CRM_NOTIFY_TOKEN": "crm-notify-token-91fe",
    "METRICS_TOKEN": "metrics-token-4d2a9c0e1b7f3a5d6e8c",
}
KNOWN = [
    *SECRETS.values(),
    ATTIO_TEST_SECRET,
    ZOHO_TEST_SECRET,
    ADMIN_TOKEN,
    BRAINTREE_TEST_CREDENTIALS["private_key"],
]


def test_no_configured_secret_appears_in_any_log_line(capsys: pytest.CaptureFixture[str]) -> None:
    env = {**SECRETS, "BRIDGE_ENV": "production", "LOG_LEVEL": "DEBUG", "ZOHO_CRM_CHANNEL_IDS": "9"}
    env["ATTIO_BASE_URL"] = "http://attio-sandbox"  # production: plain http on a private host
    for h in start_harness(env):
        h.bridge.dispatcher.register(Source.attio, "record.updated", FlakyHandler(failures=1))
        post_attio(h, attio_delivery("record.updated"), key="a")  # fails: ledger
        post_attio(h, attio_delivery("record.updated"), key="a")  # redelivered: replayed
        h.client.post(
            "/webhooks/attio", content=b"{}", headers={"Attio-Signature": ATTIO_TEST_SECRET}
        )  # a secret pasted as a signature
        body = json.dumps({"item": {"item_id": "1"}}).encode()
        h.client.post("/webhooks/zoho", content=body, headers=zoho_signed_headers(body))
        h.client.post(
            "/webhooks/braintree",
            content=braintree_sample_form("subscription_went_active", "s1"),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        crm = {"module": "Products", "operation": "update", "ids": ["1"], "channel_id": "9"}
        h.client.post("/webhooks/zoho/crm", json={**crm, "token": SECRETS["ZOHO_CRM_NOTIFY_TOKEN"]})
        h.client.post("/webhooks/zoho/crm", json={**crm, "token": "wrong"})
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        h.client.get("/admin/events", headers=admin)
        h.client.get("/admin/events", headers={"Authorization": "Bearer wrong"})
        detail = h.client.get("/admin/events/attio:a:0", headers=admin)
        for secret in KNOWN:
            assert secret not in detail.text
        h.client.get("/readyz")
        h.client.get("/metrics", headers={"Authorization": f"Bearer {SECRETS['METRICS_TOKEN']}"})
    output = capsys.readouterr()
    logs = output.err + output.out
    assert logs.count("\n") > 10, "the run should have logged plenty"
    for secret in KNOWN:
        assert secret not in logs, f"a configured secret leaked into the logs: {secret[:6]}..."
