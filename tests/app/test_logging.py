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


@pytest.mark.parametrize(
    "text",
    ["token=abc1", "abc1", "Bearer abc1", '{"password": "abc1"}', "abc1,next", "see 'abc1'"],
)
def test_short_secrets_are_redacted_as_whole_tokens(text: str) -> None:
    out = SecretRedactor(["abc1"])(None, "info", {"event": "x", "detail": text})
    assert "abc1" not in out["detail"]
    assert REDACTED in out["detail"]


@pytest.mark.parametrize("text", ["abc12", "xabc1", "zabc1y", "abc1_2"])
def test_short_secrets_inside_longer_words_are_left_alone(text: str) -> None:
    # Redacting every occurrence of a 4-character secret would mangle ordinary ids.
    assert SecretRedactor(["abc1"])(None, "info", {"detail": text})["detail"] == text


def test_long_secrets_are_redacted_inside_anything() -> None:
    out = SecretRedactor(["sk-long-secret"])(None, "info", {"detail": "xsk-long-secrety"})
    assert out["detail"] == f"x{REDACTED}y"


def test_short_configured_secret_never_reaches_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True, secrets=["k9"])
    get_logger("t").info("admin.login", header="Bearer k9", url="/x?key=k9&x=1")
    line = capsys.readouterr().err
    assert "k9" not in line.replace(REDACTED, "")


def test_uvicorn_access_lines_off_unless_asked_for() -> None:
    # uvicorn writes an access line exactly when this logger has a handler (parents included).
    access = logging.getLogger("uvicorn.access")
    configure_logging("INFO", json=True)
    assert not access.hasHandlers()
    configure_logging("INFO", json=True, access_log=True)
    assert access.hasHandlers()
