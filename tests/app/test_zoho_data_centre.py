"""An accounts server of no known Zoho data centre stops the bridge at start-up."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from app.cli import cli as cli_root
from app.cli import server
from app.config import get_settings
from app.errors import ConfigurationError
from app.main import create_app
from testkit.settings import make_settings

UNKNOWN = "https://accounts.zoho.example"


def test_create_app_refuses_an_unknown_accounts_server() -> None:
    settings = make_settings("http://attio.invalid", ZOHO_ACCOUNTS_URL=UNKNOWN)
    with pytest.raises(ConfigurationError) as caught:
        create_app(settings)
    assert "ZOHO_ACCOUNTS_URL" in caught.value.message
    assert "ZOHO_API_BASE_URL" in caught.value.message


def test_an_explicit_api_base_url_is_used_instead() -> None:
    settings = make_settings(
        "http://attio.invalid",
        ZOHO_ACCOUNTS_URL=UNKNOWN,
        ZOHO_API_BASE_URL="https://zoho-proxy.internal",
    )
    assert create_app(settings) is not None


@pytest.mark.parametrize("accounts", ["https://accounts.zoho.ae", "https://accounts.zohocloud.ca"])
def test_known_data_centres_start(accounts: str) -> None:
    assert create_app(make_settings("http://attio.invalid", ZOHO_ACCOUNTS_URL=accounts))


def test_serve_prints_the_error_and_exits_non_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOHO_ACCOUNTS_URL", UNKNOWN)
    monkeypatch.setattr(server.uvicorn, "run", lambda *a, **k: pytest.fail("must not start"))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli_root, ["serve"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "ZOHO_ACCOUNTS_URL" in result.output and "ZOHO_API_BASE_URL" in result.output
