"""Development without credentials: the embedded Attio sandbox, bootstrapped and browsable."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from testkit.signing import attio_signed_headers


def test_dev_without_key_serves_ready_against_the_sandbox(
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings(_env_file=None, ATTIO_WEBHOOK_SECRET="attio-test-webhook-secret-3f9c1a")  # type: ignore[call-arg]
    assert settings.uses_attio_sandbox
    # TestClient's server address comes from base_url: a server bound to loopback.
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000") as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready"}
        body = json.dumps({"webhook_id": "w", "events": [{"event_type": "note.created"}]})
        delivered = client.post(
            "/webhooks/attio", content=body, headers=attio_signed_headers(body.encode())
        )
        assert delivered.status_code == 200
        listing = client.get("/sandbox/_sandbox/objects/services/records")
        assert listing.status_code == 200
        assert listing.json() == {"data": []}
    assert "attio.sandbox.enabled" in capsys.readouterr().err


def test_production_never_uses_the_sandbox() -> None:
    settings = Settings(_env_file=None, BRIDGE_ENV="production", ATTIO_API_KEY="k" * 20)  # type: ignore[call-arg]
    app = create_app(settings)
    assert app.state.attio_mode == "live"
    assert not any(getattr(route, "path", "") == "/sandbox" for route in app.routes)


SANDBOX_PATHS = [
    "/sandbox/_sandbox/objects/services/records",
    "/sandbox/_sandbox/faults",
    "/sandbox/v2/objects",
]
DEV_ADMIN = "dev-admin-token"


@pytest.mark.parametrize(
    "base_url", ["http://127.0.0.1:8000", "http://[::1]:8000", "http://localhost:8000"]
)
def test_sandbox_routes_open_on_a_loopback_address(base_url: str) -> None:
    with TestClient(create_app(Settings(_env_file=None)), base_url=base_url) as client:  # type: ignore[call-arg]
        assert client.get(SANDBOX_PATHS[0]).status_code == 200


@pytest.mark.parametrize("path", SANDBOX_PATHS)
def test_sandbox_routes_absent_on_other_addresses_without_an_admin_token(path: str) -> None:
    # A server bound to 0.0.0.0 sees the address a request reached, e.g. the LAN's.
    app = create_app(Settings(_env_file=None))  # type: ignore[call-arg]
    with TestClient(app, base_url="http://192.168.1.20:8000") as client:
        response = client.get(path, headers={"Host": "127.0.0.1"})  # the Host header is no proof
        assert response.status_code == 404
        assert client.post("/sandbox/_sandbox/reset").status_code == 404


@pytest.mark.parametrize("path", SANDBOX_PATHS)
def test_sandbox_routes_need_the_admin_token_on_other_addresses(path: str) -> None:
    app = create_app(Settings(_env_file=None, ADMIN_TOKEN=DEV_ADMIN))  # type: ignore[call-arg]
    with TestClient(app, base_url="http://10.0.0.5:8000") as client:
        assert client.get(path).status_code == 401
        assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        if path.startswith("/sandbox/_sandbox"):
            allowed = client.get(path, headers={"Authorization": f"Bearer {DEV_ADMIN}"})
            assert allowed.status_code == 200
