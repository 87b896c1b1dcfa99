"""Settings: env names, production guard, secret handling."""

from __future__ import annotations

import pytest

from app.config import Environment, Settings
from app.errors import ConfigurationError


def make(**env: str) -> Settings:
    return Settings(_env_file=None, **env)  # type: ignore[call-arg]


def test_defaults_are_development_with_sandbox() -> None:
    settings = make()
    assert settings.bridge_env is Environment.development
    assert settings.attio_base_url == "https://api.attio.com"
    assert settings.uses_attio_sandbox
    settings.check_startup()  # development without a key is fine


def test_reads_contract_names_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIDGE_ENV", "production")
    monkeypatch.setenv("ATTIO_API_KEY", "real-key-0123456789")
    monkeypatch.setenv("ATTIO_BASE_URL", "http://127.0.0.1:8100/")
    monkeypatch.setenv("ATTIO_OWN_ACTOR_IDS", " a1, b2 ,,")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("PORT", "10000")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.is_production
    assert settings.attio_base_url == "http://127.0.0.1:8100"
    assert settings.attio_own_actor_ids == ["a1", "b2"]
    assert settings.log_level == "DEBUG"
    assert settings.port == 10000
    assert not settings.uses_attio_sandbox


@pytest.mark.parametrize("key", [None, "", "changeme", "  CHANGEME  ", "your-api-key"])
def test_production_refuses_missing_or_placeholder_key(key: str | None) -> None:
    env = {"BRIDGE_ENV": "production"}
    if key is not None:
        env["ATTIO_API_KEY"] = key
    with pytest.raises(ConfigurationError, match="ATTIO_API_KEY"):
        make(**env).check_startup()


def test_secrets_never_appear_in_repr() -> None:
    settings = make(ATTIO_API_KEY="sk-very-secret-value", ADMIN_TOKEN="admin-very-secret")
    assert "sk-very-secret-value" not in repr(settings)
    assert "admin-very-secret" not in str(settings.model_dump())
    assert set(settings.secret_values()) == {"sk-very-secret-value", "admin-very-secret"}


def test_invalid_values_are_rejected() -> None:
    with pytest.raises(ValueError):
        make(BRIDGE_ENV="staging")
    with pytest.raises(ValueError):
        make(ATTIO_WRITE_RATE="0")


PRODUCTION = {"BRIDGE_ENV": "production", "ATTIO_API_KEY": "real-key-0123456789"}
# What Render's `generateValue: true` gives: a random 256-bit value, base64 (44 characters).
RENDER_GENERATED = "q3Vt0mZ8c1xN+e7Kp/2LwYbR4sH9jA6dF5gT0uIoEk8="


@pytest.mark.parametrize(
    "token",
    [
        "changeme",
        "CHANGEME-changeme-changeme-changeme",  # long, but an example value
        "replace-me-with-a-long-random-admin-token",
        "your-admin-token-example-value-goes-here",
        "a" * 40,  # long, not random
        "12" * 20,
        "short-but-random-Zk3q9",  # random, too short
    ],
)
def test_production_refuses_a_placeholder_or_short_admin_token(token: str) -> None:
    with pytest.raises(ConfigurationError, match="ADMIN_TOKEN"):
        make(**PRODUCTION, ADMIN_TOKEN=token).check_startup()


def test_production_refuses_a_weak_metrics_token() -> None:
    with pytest.raises(ConfigurationError, match="METRICS_TOKEN"):
        make(**PRODUCTION, METRICS_TOKEN="prometheus").check_startup()


def test_production_accepts_a_generated_admin_token() -> None:
    make(**PRODUCTION, ADMIN_TOKEN=RENDER_GENERATED).check_startup()
    make(**PRODUCTION).check_startup()  # no admin API at all is fine too


def test_development_accepts_a_short_admin_token() -> None:
    make(ADMIN_TOKEN="dev-admin").check_startup()


def test_short_secrets_are_handed_to_the_redactor_too() -> None:
    assert "abc1" in make(ADMIN_TOKEN="abc1", METRICS_TOKEN="m").secret_values()


def test_the_attio_layout_and_plan() -> None:
    assert make().attio_payments_object is True and make().attio_plan is None
    settings = make(ATTIO_PAYMENTS_OBJECT="false", ATTIO_PLAN="Plus")
    assert settings.attio_payments_object is False and settings.attio_plan == "plus"
    with pytest.raises(ValueError):
        make(ATTIO_PLAN="team")


@pytest.mark.parametrize(
    ("reclaim_idle", "lock_ttl"), [("60", 5.0), ("300", 5.0), ("5", 2.5), ("1", 0.5)]
)
def test_a_dead_workers_record_locks_expire_before_its_entries_are_taken_over(
    reclaim_idle: str, lock_ttl: float
) -> None:
    settings = Settings(QUEUE_RECLAIM_IDLE_SECONDS=reclaim_idle)  # type: ignore[call-arg]
    assert settings.record_lock_ttl_seconds == lock_ttl


# -- plain http only to this machine or the private network ---------------------------------

URL_SETTINGS = ("ATTIO_BASE_URL", "ZOHO_ACCOUNTS_URL", "ZOHO_API_BASE_URL", "ZOHO_CRM_NOTIFY_URL")


@pytest.mark.parametrize("name", URL_SETTINGS)
@pytest.mark.parametrize(
    "url",
    ["http://api.attio.com", "http://10.0.0.5.nip.io", "ftp://api.attio.com", "api.attio.com"],
)
def test_production_refuses_urls_that_are_not_https(name: str, url: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        make(**PRODUCTION, **{name: url}).check_values()
    make(**{name: url}).check_values()  # development may use anything


@pytest.mark.parametrize("name", URL_SETTINGS)
@pytest.mark.parametrize(
    "url",
    [
        "https://api.attio.com",
        "http://127.0.0.1:8100",
        "http://localhost:8100",
        "http://[::1]:8100",
        "http://attio-sandbox-a1b2:10000",  # Render's private network: a hostname without a dot
        "http://10.1.2.3:8080",
    ],
)
def test_production_accepts_https_and_private_http(name: str, url: str) -> None:
    make(**PRODUCTION, **{name: url}).check_values()


@pytest.mark.parametrize(
    ("admin_url", "expected"),
    [
        ("attio-bridge-a1b2:10000", "http://attio-bridge-a1b2:10000"),  # Render's hostport
        ("127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("bridge.example.com", "https://bridge.example.com"),  # the token never goes in clear
        ("bridge.example.com:8443/", "https://bridge.example.com:8443"),
    ],
)
def test_an_admin_url_without_a_scheme_is_https_unless_private(
    admin_url: str, expected: str
) -> None:
    assert make(BRIDGE_ADMIN_URL=admin_url).jobs_via_admin_api == expected


def test_production_refuses_a_plain_http_admin_url_to_a_public_host() -> None:
    with pytest.raises(ConfigurationError, match="BRIDGE_ADMIN_URL"):
        make(**PRODUCTION, BRIDGE_ADMIN_URL="http://bridge.example.com").check_values()
    make(**PRODUCTION, BRIDGE_ADMIN_URL="http://attio-bridge-a1b2:10000").check_values()
