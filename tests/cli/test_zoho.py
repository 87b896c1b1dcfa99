"""`attio-bridge zoho watch | channels`: the CRM notification channel against a fake Zoho."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

import app.cli._common as cli_common
import app.cli.zoho as cli_zoho
from app.config import get_settings
from testkit.fake_zoho import FakeZoho

NOTIFY_URL = "https://bridge.example.com/webhooks/zoho/crm"


@pytest.fixture
def zoho(monkeypatch: pytest.MonkeyPatch):
    fake = FakeZoho()
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    monkeypatch.setenv("ZOHO_CRM_NOTIFY_TOKEN", "crm-channel-token-0123456789")
    monkeypatch.setenv("ZOHO_CRM_CHANNEL_IDS", "1000000068001")
    monkeypatch.setattr(cli_common, "zoho_client_for_cli", lambda _s: fake.client())
    get_settings.cache_clear()
    yield fake
    get_settings.cache_clear()


def invoke(*args: str):
    root = typer.Typer()
    root.add_typer(cli_zoho.zoho_cli, name="zoho")
    return CliRunner().invoke(root, ["zoho", *args])


def test_watch_creates_then_renews_the_channel(zoho: FakeZoho) -> None:
    created = invoke("watch", "--notify-url", NOTIFY_URL)
    assert created.exit_code == 0, created.output
    assert created.stdout.startswith("created channel 1000000068001 (Products.all), expires ")
    channel = zoho.channels["1000000068001"]
    assert channel["notify_url"] == NOTIFY_URL
    assert channel["token"] == "crm-channel-token-0123456789"
    assert channel["events"] == ["Products.all"]

    renewed = invoke("watch", "--notify-url", NOTIFY_URL, "--days", "2", "--json")
    assert renewed.exit_code == 0, renewed.output
    assert json.loads(renewed.stdout)["action"] == "renewed"
    assert zoho.calls["PATCH /crm/v8/actions/watch"] == 1


def test_channels_lists_without_the_token(zoho: FakeZoho) -> None:
    invoke("watch", "--notify-url", NOTIFY_URL)
    listed = invoke("channels", "--json")
    assert listed.exit_code == 0, listed.output
    (channel,) = json.loads(listed.stdout)
    assert channel["channel_id"] == 1000000068001 and "token" not in channel


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["watch"], "ZOHO_CRM_NOTIFY_URL"),
        (["watch", "--notify-url", NOTIFY_URL, "--channel-id", "42"], "ZOHO_CRM_CHANNEL_IDS"),
        # The channel's token travels in every callback body: never in clear over the internet.
        (["watch", "--notify-url", "http://bridge.example.com/webhooks/zoho/crm"], "https"),
        (["watch", "--notify-url", "bridge.example.com/webhooks/zoho/crm"], "https"),
    ],
)
def test_watch_refuses_what_the_intake_would_reject(
    zoho: FakeZoho, args: list[str], message: str
) -> None:
    result = invoke(*args)
    assert result.exit_code == 1
    assert message in result.output
    assert not zoho.channels
