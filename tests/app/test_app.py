"""The app shell: health, readiness, error rendering, request ids."""

from __future__ import annotations

import httpx
import pytest
import respx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.metrics import REGISTRY
from app.schema import SCHEMA

ATTIO = "https://attio.test"


def settings(**env: str) -> Settings:
    base = {"ATTIO_API_KEY": "test-key-0123456789", "ATTIO_BASE_URL": ATTIO}
    return Settings(_env_file=None, **{**base, **env})  # type: ignore[call-arg]


def complete_schema_routes(mock: respx.MockRouter) -> None:
    """Answer the schema walk as a workspace that already holds everything."""
    mock.get("/v2/objects").respond(json={"data": [{"api_slug": obj.api_slug} for obj in SCHEMA]})
    for obj in SCHEMA:
        attributes = [
            {"api_slug": a.api_slug, "type": a.type, "is_unique": a.is_unique}
            for a in obj.attributes
        ]
        mock.get(f"/v2/objects/{obj.api_slug}/attributes").respond(json={"data": attributes})
        for a in obj.attributes:
            if a.options:
                mock.get(f"/v2/objects/{obj.api_slug}/attributes/{a.api_slug}/options").respond(
                    json={"data": [{"title": t} for t in a.options]}
                )


@pytest.fixture
def attio():
    with respx.mock(base_url=ATTIO, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def app() -> FastAPI:
    return create_app(settings())


def test_healthz_does_no_io(app: FastAPI, attio: respx.MockRouter) -> None:
    with TestClient(app) as client:
        response = client.get("/healthz")
    assert response.json() == {"status": "ok"}
    assert not attio.calls


def test_readyz_ready_when_attio_reachable_and_schema_complete(
    app: FastAPI, attio: respx.MockRouter
) -> None:
    attio.get("/v2/self").respond(json={"active": True})
    complete_schema_routes(attio)
    with TestClient(app) as client:
        first = client.get("/readyz")
        calls = len(attio.calls)
        second = client.get("/readyz")
    assert first.status_code == 200
    assert first.json() == {"status": "ready"}
    assert second.status_code == 200
    assert len(attio.calls) == calls  # cached: probes do not spend Attio's read budget


def test_readyz_503_when_schema_missing_names_the_gaps_in_the_log_only(
    attio: respx.MockRouter, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(settings())  # after capsys, so its log handler writes to the capture
    attio.get("/v2/self").respond(json={"active": True})
    attio.get("/v2/objects").respond(json={"data": [{"api_slug": "people"}]})
    attio.get("/v2/objects/people/attributes").respond(json={"data": []})
    with TestClient(app) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "not_ready"}  # nothing about what is missing
    log = capsys.readouterr().err
    assert "readiness.not_ready" in log
    assert "attio-bridge bootstrap" in log and "services" in log  # the first gaps: objects


def test_readyz_503_when_attio_unreachable(
    attio: respx.MockRouter, capsys: pytest.CaptureFixture[str]
) -> None:
    attio.get("/v2/self").mock(side_effect=httpx.ConnectError("refused"))
    app = create_app(settings(ATTIO_MAX_ATTEMPTS="1"))
    with TestClient(app) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "not_ready"}
    log = capsys.readouterr().err
    assert "Attio unavailable" in log
    assert "test-key-0123456789" not in log


def test_unknown_route_is_a_json_404(app: FastAPI) -> None:
    with TestClient(app) as client:
        response = client.get("/nope")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "Not Found"}


def test_request_id_is_echoed_or_generated(app: FastAPI) -> None:
    with TestClient(app) as client:
        given = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
        forged = client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"})
    assert given.headers["x-request-id"] == "abc-123"
    assert forged.headers["x-request-id"] != "bad id\nwith newline"
    assert len(forged.headers["x-request-id"]) == 32


def test_openapi_docs_served_in_development(app: FastAPI) -> None:
    with TestClient(app) as client:
        assert client.get("/docs").status_code == 200
        assert "/readyz" in client.get("/openapi.json").json()["paths"]


PRODUCTION = {"BRIDGE_ENV": "production"}


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"])
def test_api_docs_off_in_production(path: str) -> None:
    with TestClient(create_app(settings(**PRODUCTION))) as client:
        response = client.get(path)
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "Not Found"}


def test_api_docs_on_in_production_when_asked_for() -> None:
    with TestClient(create_app(settings(**PRODUCTION, API_DOCS="true"))) as client:
        assert client.get("/docs").status_code == 200
        assert "/admin/events" in client.get("/openapi.json").json()["paths"]


METRICS_TOKEN = "metrics-token-0123456789-abcdefghij"


def test_metrics_404_while_no_token_is_configured(app: FastAPI) -> None:
    with TestClient(app) as client:
        response = client.get("/metrics", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 404
    assert "bridge_" not in response.text


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", f"Basic {METRICS_TOKEN}", f"Bearer {METRICS_TOKEN}x", "Bearer"],
)
def test_metrics_refuse_a_missing_or_wrong_bearer(authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    with TestClient(create_app(settings(METRICS_TOKEN=METRICS_TOKEN))) as client:
        response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert "bridge_" not in response.text


def test_metrics_for_the_bearer_prometheus_sends() -> None:
    with TestClient(create_app(settings(METRICS_TOKEN=METRICS_TOKEN))) as client:
        response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    assert "bridge_" in response.text


@pytest.mark.parametrize("path", ["/healthz", "/nope", "/webhooks/attio"])
def test_every_response_says_nosniff_and_production_adds_hsts(path: str) -> None:
    with TestClient(create_app(settings())) as client:
        development = client.get(path)
    with TestClient(create_app(settings(**PRODUCTION))) as client:
        production = client.get(path)
    assert development.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in development.headers
    assert production.headers["x-content-type-options"] == "nosniff"
    assert production.headers["strict-transport-security"].startswith("max-age=")


def server_timing(response: httpx.Response) -> dict[str, float]:
    metrics = (part.strip().split(";dur=") for part in response.headers["server-timing"].split(","))
    return {name: float(ms) for name, ms in metrics}


def test_server_timing_splits_attio_wait_from_own_work(
    app: FastAPI, attio: respx.MockRouter
) -> None:
    attio.get("/v2/self").respond(json={"active": True})
    complete_schema_routes(attio)
    observed = (
        REGISTRY.get_sample_value("bridge_request_own_seconds_count", {"route": "/readyz"}) or 0.0
    )
    with TestClient(app) as client:
        health = client.get("/healthz")
        ready = client.get("/readyz")
    assert set(server_timing(health)) == {"own"}  # no API call, all of it is the bridge's
    timing = server_timing(ready)
    # Readiness makes several reads: the later ones queue at the client's read limiter.
    assert {"attio", "own"} <= set(timing) <= {"attio", "attio-limiter", "own"}
    assert timing["attio"] > 0 and timing["own"] >= 0
    assert (
        REGISTRY.get_sample_value("bridge_request_own_seconds_count", {"route": "/readyz"})
        == observed + 1
    )


def test_server_timing_lists_each_api_waited_on() -> None:
    from app.timing import RequestTiming

    timing = RequestTiming(waits={"attio": 0.0412, "braintree": 0.120})
    assert timing.server_timing(0.0019) == b"attio;dur=41.20, braintree;dur=120.00, own;dur=1.90"
