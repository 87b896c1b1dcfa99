"""The currency codes Attio accepts, and the start refusing any other default."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.config import Settings, get_settings
from app.errors import ConfigurationError
from app.main import create_app
from app.schema.currencies import ATTIO_CURRENCY_CODES, check_default_currency
from attio_sandbox.api import CURRENCY_CODES
from tests.contract.extract_subset import SUBSET_PATH


def make(**env: str) -> Settings:
    return Settings(_env_file=None, **env)  # type: ignore[call-arg]


@pytest.mark.parametrize("code", ["TWD", "TRY", "IDR", "VND", "US", "dollars"])
def test_a_currency_attio_does_not_list_is_refused(code: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        check_default_currency(make(ATTIO_DEFAULT_CURRENCY=code))
    message = refused.value.message
    assert "ATTIO_DEFAULT_CURRENCY" in message and "NTD" in message and "USD" in message


@pytest.mark.parametrize(("given", "used"), [("NTD", "NTD"), ("eur", "EUR"), ("GBP", "GBP")])
def test_listed_currencies_are_accepted(given: str, used: str) -> None:
    settings = make(ATTIO_DEFAULT_CURRENCY=given)
    check_default_currency(settings)
    assert settings.attio_default_currency == used


def test_the_web_service_does_not_start_with_an_unlisted_currency() -> None:
    with pytest.raises(ConfigurationError, match="ATTIO_DEFAULT_CURRENCY"):
        create_app(make(ATTIO_DEFAULT_CURRENCY="TWD"))


def test_a_command_stops_with_one_line_on_an_unlisted_currency(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ATTIO_DEFAULT_CURRENCY", "TWD")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["events", "list"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "ATTIO_DEFAULT_CURRENCY='TWD' is not a currency code" in result.output
    assert "Traceback" not in result.output


def test_currency_codes_are_attios_and_the_sandbox_knows_the_same() -> None:
    """Both lists are the enum of Attio's OpenAPI document (create attribute, currency)."""
    document = json.loads(SUBSET_PATH.read_text())
    schema = json.dumps(document["paths"]["/v2/{target}/{identifier}/attributes"]["post"])
    found = re.search(r'"default_currency_code": \{[^{}]*?"enum": (\[[^\]]*\])', schema)
    assert found is not None
    assert set(json.loads(found.group(1))) == ATTIO_CURRENCY_CODES == CURRENCY_CODES
    assert len(ATTIO_CURRENCY_CODES) == 40
