"""Rules every webhook route follows, checked with Attio mocked so any call would show."""

from __future__ import annotations

import json

import pytest
import respx
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.config import Settings
from app.main import create_app
from testkit.settings import ADMIN_TOKEN, make_settings
from testkit.signing import (
    attio_signature,
    attio_signed_headers,
    braintree_gateway,
    braintree_sample_form,
    zoho_signed_headers,
)

ATTIO = "https://attio.test"
ADMIN = ADMIN_TOKEN
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def settings(**env: str) -> Settings:
    return make_settings(ATTIO, **env)


@pytest.fixture
def attio():
    """Attio with no routes: any call the bridge makes fails the test."""
    with respx.mock(base_url=ATTIO, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def client(attio: respx.MockRouter):
    with TestClient(create_app(settings())) as test_client:
        yield test_client
    assert not attio.calls, "a rejected request must not reach Attio"


def attio_body() -> bytes:
    return json.dumps({"webhook_id": "w", "events": [{"event_type": "record.updated"}]}).encode()


# -- Attio signatures ------------------------------------------------------------------------


def flip_one_byte(body: bytes) -> bytes:
    return body[:10] + bytes([body[10] ^ 0x01]) + body[11:]


@pytest.mark.parametrize(
    "case",
    ["flipped_byte", "wrong_key", "missing_header", "upper_wrong", "lower_wrong", "reserialised"],
)
def test_attio_bad_signatures_get_401(client: TestClient, case: str) -> None:
    body = attio_body()
    headers = attio_signed_headers(body)
    if case == "flipped_byte":
        body = flip_one_byte(body)
    elif case == "wrong_key":
        headers = attio_signed_headers(body, secret="another-secret-value")
    elif case == "missing_header":
        headers = {"Content-Type": "application/json"}
    elif case in {"upper_wrong", "lower_wrong"}:
        wrong = attio_signature(body + b" ")
        wrong = wrong.upper() if case == "upper_wrong" else wrong.lower()
        headers = {"Content-Type": "application/json", "Attio-Signature": wrong}
    elif case == "reserialised":
        body = json.dumps(json.loads(body), indent=2).encode()  # same JSON, other bytes
    response = client.post("/webhooks/attio", content=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_signature"


def test_signed_but_broken_json_is_a_clear_400(client: TestClient) -> None:
    body = b'{"events": [ broken'
    response = client.post("/webhooks/attio", content=body, headers=attio_signed_headers(body))
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_payload"
    assert "Traceback" not in response.text


def test_body_over_1_mib_gets_413(client: TestClient) -> None:
    body = b'{"events": []}' + b" " * (2 * 1024 * 1024)
    response = client.post("/webhooks/attio", content=body, headers=attio_signed_headers(body))
    assert response.status_code == 413


def test_body_over_limit_without_content_length_gets_413(client: TestClient) -> None:
    def chunks():
        for _ in range(40):
            yield b" " * 65536

    response = client.post(
        "/webhooks/attio", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/webhooks/attio", "text/plain"),
        ("/webhooks/attio", "application/x-www-form-urlencoded"),
        ("/webhooks/braintree", "application/json"),
        ("/webhooks/zoho", "text/xml"),
    ],
)
def test_wrong_content_type_gets_415(client: TestClient, path: str, content_type: str) -> None:
    response = client.post(path, content=b"{}", headers={"Content-Type": content_type})
    assert response.status_code == 415


def test_non_utf8_body_gets_400(client: TestClient) -> None:
    body = b'{"events": ["\xff\xfe"]}'
    response = client.post("/webhooks/attio", content=body, headers=attio_signed_headers(body))
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("unset", "path"),
    [
        ("ATTIO_WEBHOOK_SECRET", "/webhooks/attio"),
        ("ZOHO_WEBHOOK_SECRET", "/webhooks/zoho"),
        ("BRAINTREE_PRIVATE_KEY", "/webhooks/braintree"),
        ("ZOHO_CRM_NOTIFY_TOKEN", "/webhooks/zoho/crm"),
    ],
)
def test_provider_without_secret_is_disabled(
    attio: respx.MockRouter, unset: str, path: str
) -> None:
    with TestClient(create_app(settings(**{unset: ""}))) as client:
        response = client.post(path, content=b"{}", headers={"Content-Type": "application/json"})
    assert response.status_code == 404
    assert not attio.calls


# -- Zoho and Braintree signatures -----------------------------------------------------------


def test_correctly_signed_requests_are_accepted(
    attio: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no service handlers registered, each event is acknowledged as ignored."""
    monkeypatch.setattr("app.bridge.register_handlers", lambda *_: None)
    zoho = json.dumps({"item": {"item_id": "1", "last_modified_time": "2026-01-01T00:00:00Z"}})
    requests = [
        ("/webhooks/attio", attio_body(), attio_signed_headers(attio_body())),
        (
            "/webhooks/zoho?action=deleted",
            zoho.encode(),
            zoho_signed_headers(zoho.encode(), raw_query="action=deleted"),
        ),
        (
            "/webhooks/braintree",
            braintree_sample_form("subscription_charged_successfully", "s1"),
            FORM,
        ),
        ("/webhooks/braintree", braintree_sample_form("check"), FORM),
    ]
    with TestClient(create_app(settings())) as client:
        for path, body, headers in requests:
            response = client.post(path, content=body, headers=headers)
            assert response.status_code == 200, (path, response.text)
            assert response.json()["ignored"] == 1
    assert not attio.calls  # ignored events cost no Attio call


def test_zoho_tampered_body_gets_401(client: TestClient) -> None:
    body = json.dumps({"item": {"item_id": "1", "name": "A"}}).encode()
    headers = zoho_signed_headers(body)
    response = client.post("/webhooks/zoho", content=body.replace(b"A", b"B"), headers=headers)
    assert response.status_code == 401


def test_zoho_crm_wrong_token_gets_401(client: TestClient) -> None:
    body = {"module": "Products", "operation": "update", "ids": ["1"], "channel_id": "77"}
    response = client.post("/webhooks/zoho/crm", json={**body, "token": "not-the-token"})
    assert response.status_code == 401


def test_zoho_crm_token_with_a_lone_surrogate_gets_401(client: TestClient) -> None:
    # Valid UTF-8 JSON whose escape decodes to a string with no UTF-8 form.
    body = b'{"token": "\\ud800", "channel_id": "77", "module": "Products", "ids": ["1"]}'
    response = client.post(
        "/webhooks/zoho/crm", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_signature"


def test_braintree_tampered_payload_gets_401(client: TestClient) -> None:
    form = braintree_sample_form("subscription_went_active", "sub_1")
    tampered = form.replace(b"bt_payload=C", b"bt_payload=D", 1)
    assert tampered != form
    response = client.post("/webhooks/braintree", content=tampered, headers=FORM)
    assert response.status_code == 401


def test_braintree_challenge_answers_what_the_sdk_expects(client: TestClient) -> None:
    challenge = "20f9f8ed05f77439fe955c977e4c8a53"
    expected = braintree_gateway().webhook_notification.verify(challenge)
    response = client.get("/webhooks/braintree", params={"bt_challenge": challenge})
    assert response.status_code == 200
    assert response.text == expected
    assert response.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize("challenge", ["not-hex!", "ABCDEF0123456789ABCDEF"])
def test_braintree_bad_challenge_is_400(client: TestClient, challenge: str) -> None:
    response = client.get("/webhooks/braintree", params={"bt_challenge": challenge})
    assert response.status_code == 400


# -- admin auth ------------------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {ADMIN}", ADMIN])
def test_admin_without_valid_token_gets_401(client: TestClient, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/admin/events", headers=headers)
    assert response.status_code == 401
    assert ADMIN not in response.text


@pytest.mark.parametrize("body", [b"{not json", b'{"limit": "many"}', b"\xff\xfe"])
@pytest.mark.parametrize("path", ["/admin/events/replay", "/admin/sync/zoho"])
def test_admin_checks_the_token_before_reading_the_body(
    client: TestClient, path: str, body: bytes
) -> None:
    # A 400/422 would tell a caller without the token that the route exists and reads JSON.
    response = client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


def test_admin_disabled_without_token(attio: respx.MockRouter) -> None:
    with TestClient(create_app(settings(ADMIN_TOKEN=""))) as client:
        response = client.get("/admin/events", headers={"Authorization": f"Bearer {ADMIN}"})
    assert response.status_code == 404


def signature_failures(client: TestClient, token: str, source: str) -> float:
    """The counter as /metrics shows it; 0 while no failure has created the source's label."""
    text = client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "bridge_signature_failures_total" and sample.labels == {
                "source": source
            }:
                return sample.value
    return 0.0


def test_metrics_count_signature_failures(attio: respx.MockRouter) -> None:
    token = "metrics-token-0123456789-abcdefghij"
    with TestClient(create_app(settings(METRICS_TOKEN=token))) as client:
        before = signature_failures(client, token, "attio")
        response = client.post(
            "/webhooks/attio",
            content=attio_body(),
            headers={"Content-Type": "application/json", "Attio-Signature": "0" * 64},
        )
        assert response.status_code == 401
        assert signature_failures(client, token, "attio") == before + 1


# -- floods: refused with a clear 400 before any work -----------------------------------------


def test_a_crm_notification_listing_too_many_ids_is_a_clear_400(client: TestClient) -> None:
    notification = {
        "module": "Products",
        "operation": "update",
        "ids": ["5725767000003000064"] * 300,  # 7 KB of one id: 300 fetches and writes before
        "channel_id": "77",
        "token": "crm-token-0123456789",
    }
    response = client.post("/webhooks/zoho/crm", json=notification)
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_payload"
    assert "300 ids" in response.json()["detail"]


def test_an_unsigned_form_of_many_fields_is_a_clear_400(client: TestClient) -> None:
    body = b"a=1&" * 200_000 + braintree_sample_form("check")
    response = client.post("/webhooks/braintree", content=body, headers=FORM)
    assert response.status_code == 400
    assert "fields" in response.json()["detail"]
