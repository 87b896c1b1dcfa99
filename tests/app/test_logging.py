"""Log lines: JSON in production, request ids, and secrets redacted everywhere."""

from __future__ import annotations

import json
import logging

import pytest

from app.log import REDACTED, SecretRedactor, configure_logging, get_logger


@pytest.fixture(autouse=True)
def _restore_logging():
    yield
    configure_logging("INFO", json=False)


def test_redactor_replaces_known_values_anywhere() -> None:
    redactor = SecretRedactor(["sk-secret-123456"])
    event = {
        "event": "calling with sk-secret-123456 inside",
        "nested": {"list": ["x sk-secret-123456 y"], "raw": b"sk-secret-123456"},
    }
    out = redactor(None, "info", event)
    assert "sk-secret-123456" not in json.dumps(out)
    assert out["event"] == f"calling with {REDACTED} inside"


@pytest.mark.parametrize("key", ["authorization", "api_key", "ADMIN_TOKEN", "client_secret"])
def test_redactor_hides_values_under_credential_keys(key: str) -> None:
    assert SecretRedactor()(None, "info", {key: "whatever"})[key] == REDACTED


def test_redactor_keeps_event_keys() -> None:
    assert SecretRedactor()(None, "info", {"event_key": "abc"})["event_key"] == "abc"


def test_json_lines_redact_configured_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True, secrets=["attio-key-abcdef123"])
    get_logger("test").info("test.event", detail="key=attio-key-abcdef123")
    logging.getLogger("uvicorn.error").warning("stdlib line attio-key-abcdef123")
    lines = [json.loads(line) for line in capsys.readouterr().err.strip().splitlines()]
    assert [line["event"] for line in lines] == ["test.event", f"stdlib line {REDACTED}"]
    assert lines[0]["detail"] == f"key={REDACTED}"
    assert "attio-key-abcdef123" not in json.dumps(lines)
