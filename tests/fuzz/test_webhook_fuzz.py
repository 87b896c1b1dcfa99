"""Random requests against every webhook route: never a 5xx, never an Attio call unless signed.

Attio is mocked with no routes at all, so any call the bridge made would fail the test.
"""

from __future__ import annotations

import json

import pytest
import respx
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.main import create_app
from tests.conftest import FUZZ_SCALE
from tests.routes.test_intake_rules import ATTIO
from tests.routes.test_intake_rules import settings as bridge_settings

ROUTES = ["/webhooks/attio", "/webhooks/braintree", "/webhooks/zoho", "/webhooks/zoho/crm"]
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/x-www-form-urlencoded",
    "text/plain",
    "multipart/form-data; boundary=x",
    "",
]
SIGNATURE_HEADERS = ["Attio-Signature", "X-Attio-Signature", "X-Zoho-Webhook-Signature"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.one_of(
    st.binary(max_size=512),
    st.text(max_size=512).map(lambda t: t.encode("utf-8", "surrogatepass")),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {"events": st.lists(st.dictionaries(st.text(max_size=10), json_values), max_size=3)}
    ).map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {"bt_signature": st.text(max_size=80), "bt_payload": st.text(max_size=200)}
    ).map(lambda d: "&".join(f"{k}={v}" for k, v in d.items()).encode("utf-8", "replace")),
)
signature_values = st.one_of(
    st.text(max_size=100),
    st.text(alphabet="0123456789abcdefABCDEF", min_size=64, max_size=64),
    st.binary(max_size=40).map(lambda b: b.hex()),
)


@pytest.fixture(scope="module")
def client():
    with respx.mock(base_url=ATTIO, assert_all_called=False) as attio:
        with TestClient(create_app(bridge_settings(LOG_LEVEL="ERROR"))) as test_client:
            yield test_client
        assert not attio.calls, "an unsigned request reached Attio"


@settings(
    max_examples=300 * FUZZ_SCALE,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    route=st.sampled_from(ROUTES),
    body=bodies,
    content_type=st.sampled_from(CONTENT_TYPES),
    signature_header=st.sampled_from(SIGNATURE_HEADERS),
    signature=signature_values,
    query=st.sampled_from(["", "bt_signature=x&bt_payload=y", "a=1&a=2", "%ff=%fe"]),
)
def test_random_requests_never_5xx_and_never_reach_attio(
    client: TestClient,
    route: str,
    body: bytes,
    content_type: str,
    signature_header: str,
    signature: str,
    query: str,
) -> None:
    headers: dict[str, str | bytes] = {"Content-Type": content_type} if content_type else {}
    # Raw bytes: header values may carry any octet, not only ASCII.
    headers[signature_header] = signature.encode("utf-8").replace(b"\r", b"").replace(b"\n", b"")
    url = f"{route}?{query}" if query else route
    response = client.post(url, content=body, headers=headers)
    assert response.status_code < 500, response.text
    assert response.status_code in {400, 401, 404, 413, 415, 422}
    assert "Traceback" not in response.text


@settings(
    max_examples=100 * FUZZ_SCALE,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(challenge=st.text(max_size=80))
def test_random_braintree_challenges_never_5xx(client: TestClient, challenge: str) -> None:
    response = client.get("/webhooks/braintree", params={"bt_challenge": challenge})
    assert response.status_code in {200, 400, 422}
