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
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "attio": "sandbox"}
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
