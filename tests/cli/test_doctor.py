"""`attio-bridge doctor` against the Attio sandbox, the fake Zoho and the Braintree stand-in:
every check healthy, then each one failing as the real system would make it fail."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import braintree
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner, Result

import app.cli._common as cli_common
from app.cli import cli
from app.clients.zoho import ZohoClient
from app.config import get_settings
from app.schema import SchemaBootstrap
from app.services.attio.webhooks import register_webhook
from attio_sandbox import FaultConfig, SandboxConfig, SandboxState, create_sandbox_app
from attio_sandbox.config import DEFAULT_ACTOR_ID
from testkit.braintree_api import BraintreeData, braintree_api
from testkit.fake_zoho import BOOKS_ITEMS_SCOPE, CRM_NOTIFICATIONS_SCOPE, FakeZoho, make_item
from testkit.settings import bridge_env
from testkit.signing import BRAINTREE_TEST_CREDENTIALS
from tests.conftest import SANDBOX_URL, sandbox_attio_client

PUBLIC_URL = "https://bridge.example.com"
TARGET = f"{PUBLIC_URL}/webhooks/attio"
CHANNEL_ID = "1000000068001"
ZOHO_CLIENT_SECRET = "zoho-client-secret-0123456789"
ZOHO_REFRESH_TOKEN = "1000.zoho-refresh-token-0123456789"
CRM_TOKEN = "crm-channel-token-0123456789"


@dataclass
class Doctor:
    attio: FastAPI
    zoho: FakeZoho
    braintree: BraintreeData
    monkeypatch: pytest.MonkeyPatch

    @property
    def sandbox(self) -> SandboxState:
        state: SandboxState = self.attio.state.sandbox
        return state

    def env(self, **variables: str | None) -> None:
        for name, value in variables.items():
            if value is None:
                self.monkeypatch.delenv(name, raising=False)
            else:
                self.monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    def use_attio(self, app: FastAPI) -> None:
        self.attio = app
        self.monkeypatch.setattr(
            cli_common, "attio_client_for_cli", lambda _s: sandbox_attio_client(app)
        )

    def prepare(self, *, bootstrap: bool = True, webhook_actor_ids: list[str] | None = None):
        async def go() -> None:
            async with sandbox_attio_client(self.attio) as client:
                if bootstrap:
                    await SchemaBootstrap(client, currency_code="USD").run(apply=True)
                if webhook_actor_ids is not None:
                    await register_webhook(
                        client, target_url=TARGET, own_actor_ids=webhook_actor_ids
                    )

        asyncio.run(go())

    def watch(self, expires_in: timedelta) -> None:
        expiry = (datetime.now(UTC) + expires_in).replace(microsecond=0).isoformat()
        self.zoho.channels[CHANNEL_ID] = {
            "channel_id": int(CHANNEL_ID),
            "events": ["Products.all"],
            "channel_expiry": expiry,
            "notify_url": f"{PUBLIC_URL}/webhooks/zoho/crm",
            "token": CRM_TOKEN,
        }

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(cli, ["doctor", *args])

    def report(self) -> tuple[int, dict[str, dict[str, str]]]:
        result = self.run("--json")
        body = json.loads(result.stdout)
        return result.exit_code, {row["check"]: row for row in body["checks"]}


def make_attio(**config: Any) -> FastAPI:
    return create_sandbox_app(
        SandboxConfig(faults=FaultConfig(rate_limits=False, seed=7), **config)
    )


@pytest.fixture
def doctor(monkeypatch: pytest.MonkeyPatch) -> Iterator[Doctor]:
    data = BraintreeData(
        credentials=(
            BRAINTREE_TEST_CREDENTIALS["public_key"],
            BRAINTREE_TEST_CREDENTIALS["private_key"],
        )
    )
    zoho = FakeZoho([make_item(1)])
    with braintree_api(data) as port:
        # The SDK reads GATEWAY_PORT once, at import: point its development environment here.
        development = braintree.Environment.Development
        monkeypatch.setattr(development, "_Environment__server", "127.0.0.1")
        monkeypatch.setattr(development, "_Environment__port", str(port))
        monkeypatch.setattr(cli_common, "zoho_client_for_cli", lambda _s: zoho.client())
        for name, value in bridge_env(SANDBOX_URL, braintree_port=port).items():
            monkeypatch.setenv(name, value)
        state = Doctor(make_attio(), zoho, data, monkeypatch)
        state.use_attio(state.attio)
        state.env(
            LOG_LEVEL="WARNING",
            PUBLIC_URL=PUBLIC_URL,
            ATTIO_OWN_ACTOR_IDS=DEFAULT_ACTOR_ID,
            ZOHO_CLIENT_ID="1000.TESTCLIENT",
            ZOHO_CLIENT_SECRET=ZOHO_CLIENT_SECRET,
            ZOHO_REFRESH_TOKEN=ZOHO_REFRESH_TOKEN,
            ZOHO_ORGANIZATION_ID="60000000001",
            ZOHO_CRM_NOTIFY_TOKEN=CRM_TOKEN,
            ZOHO_CRM_CHANNEL_IDS=CHANNEL_ID,
        )
        yield state
    get_settings.cache_clear()


@pytest.fixture
def healthy(doctor: Doctor) -> Doctor:
    doctor.prepare(webhook_actor_ids=[DEFAULT_ACTOR_ID])
    doctor.watch(timedelta(days=5))
    return doctor


def test_a_healthy_deployment_passes_every_check(healthy: Doctor) -> None:
    code, rows = healthy.report()
    assert code == 0
    assert {name: row["result"] for name, row in rows.items()} == {
        "secrets": "ok",
        "attio token": "ok",
        "attio scopes": "ok",
        "attio schema": "ok",
        "attio webhook": "ok",
        "attio own actor ids": "ok",
        "braintree credentials": "ok",
        "zoho token": "ok",
        "zoho items": "ok",
        f"zoho crm channel {CHANNEL_ID}": "ok",
    }
    assert healthy.braintree.calls["GET customer"] == 1  # the one cheap authenticated read


def test_the_text_table_has_a_row_per_check(healthy: Doctor) -> None:
    healthy.env(COLUMNS="200")
    result = healthy.run()
    assert result.exit_code == 0, result.output
    for text in ("check", "result", "what to do", "attio webhook", "zoho items", "ok"):
        assert text in result.stdout


def test_unconfigured_systems_are_skipped_not_failed(doctor: Doctor) -> None:
    doctor.prepare()
    doctor.env(
        **{
            name: None
            for name in (
                "ATTIO_WEBHOOK_SECRET",
                "BRAINTREE_MERCHANT_ID",
                "BRAINTREE_PUBLIC_KEY",
                "BRAINTREE_PRIVATE_KEY",
                "ZOHO_CLIENT_ID",
                "ZOHO_CLIENT_SECRET",
                "ZOHO_REFRESH_TOKEN",
                "ZOHO_WEBHOOK_SECRET",
                "ZOHO_CRM_NOTIFY_TOKEN",
                "ZOHO_CRM_CHANNEL_IDS",
            )
        }
    )
    code, rows = doctor.report()
    assert code == 0
    for name in ("attio webhook", "attio own actor ids", "braintree credentials", "zoho"):
        assert rows[name]["result"] == "skipped", rows[name]
    assert not doctor.zoho.calls and not doctor.braintree.calls


def test_no_secret_is_ever_printed(doctor: Doctor) -> None:
    """Healthy or failing, text or JSON: none of the configured secrets appears."""
    secrets = [
        "test-key-0123456789",  # ATTIO_API_KEY (testkit)
        BRAINTREE_TEST_CREDENTIALS["private_key"],
        ZOHO_CLIENT_SECRET,
        ZOHO_REFRESH_TOKEN,
        CRM_TOKEN,
        *(v for k, v in bridge_env(SANDBOX_URL).items() if k.endswith(("SECRET", "TOKEN"))),
    ]
    doctor.env(COLUMNS="400")
    doctor.prepare(webhook_actor_ids=[DEFAULT_ACTOR_ID])
    doctor.watch(timedelta(days=5))
    outputs = [doctor.run().output, doctor.run("--json").output]
    # Failing everywhere: providers' error messages are shown, secrets still are not.
    doctor.zoho.refresh_token_revoked = True
    doctor.braintree.credentials = ("other", "keys")
    doctor.use_attio(make_attio(api_key="another-key"))
    outputs += [doctor.run().output, doctor.run("--json").output]
    assert "fail" in outputs[-1]
    for output in outputs:
        for secret in secrets:
            assert secret not in output


def test_a_refused_attio_token_fails_and_skips_the_rest_of_attio(doctor: Doctor) -> None:
    doctor.use_attio(make_attio(api_key="another-key"))
    code, rows = doctor.report()
    assert code == 1
    assert rows["attio token"]["result"] == "fail"
    assert "401" in rows["attio token"]["detail"]
    assert "ATTIO_API_KEY" in rows["attio token"]["action"]
    for name in ("attio scopes", "attio schema", "attio webhook"):
        assert rows[name]["result"] == "skipped"


def test_missing_attio_scopes_are_named(doctor: Doctor) -> None:
    doctor.use_attio(make_attio(scopes=("record_permission:read-write", "webhook:read")))
    doctor.prepare(webhook_actor_ids=[DEFAULT_ACTOR_ID])
    code, rows = doctor.report()
    assert code == 1
    scopes = rows["attio scopes"]
    assert scopes["result"] == "fail"
    assert "object_configuration:read-write" in scopes["detail"]
    assert "webhook:read-write" in scopes["detail"]
    assert "record_permission" not in scopes["detail"]


def test_an_incomplete_schema_lists_what_is_missing(doctor: Doctor) -> None:
    doctor.prepare(bootstrap=False)
    code, rows = doctor.report()
    assert code == 1
    schema = rows["attio schema"]
    assert schema["result"] == "fail"
    assert "missing object services" in schema["detail"]
    assert "attio-bridge bootstrap" in schema["action"]
    assert rows["attio webhook"]["result"] == "skipped"


def test_no_webhook_at_public_url_fails(doctor: Doctor) -> None:
    doctor.prepare()
    code, rows = doctor.report()
    assert code == 1
    webhook = rows["attio webhook"]
    assert webhook["result"] == "fail"
    assert TARGET in webhook["detail"]
    assert "webhooks register" in webhook["action"]

    doctor.env(PUBLIC_URL="https://elsewhere.example.com/")
    code, rows = doctor.report()
    assert code == 1
    assert (
        "no Attio webhook points at https://elsewhere.example.com/webhooks/attio"
        in (rows["attio webhook"]["detail"])
    )


def test_a_webhook_registered_for_other_actor_ids_fails(doctor: Doctor) -> None:
    doctor.prepare(webhook_actor_ids=[])  # registered before ATTIO_OWN_ACTOR_IDS was set
    code, rows = doctor.report()
    assert code == 1
    assert "17 of the 17 subscriptions" in rows["attio webhook"]["detail"]


def test_an_inactive_webhook_fails_and_a_degraded_one_warns(healthy: Doctor) -> None:
    (webhook,) = healthy.sandbox.webhooks.registry.webhooks.values()
    webhook.status = "inactive"
    code, rows = healthy.report()
    assert (code, rows["attio webhook"]["result"]) == (1, "fail")
    webhook.status = "degraded"
    code, rows = healthy.report()
    assert (code, rows["attio webhook"]["result"]) == (0, "warn")


def test_unset_public_url_or_actor_ids_warn(healthy: Doctor) -> None:
    healthy.env(PUBLIC_URL=None, ATTIO_OWN_ACTOR_IDS=None)
    code, rows = healthy.report()
    assert code == 0
    assert rows["attio webhook"]["result"] == "warn"
    assert "PUBLIC_URL" in rows["attio webhook"]["detail"]
    assert rows["attio own actor ids"]["result"] == "warn"


def test_refused_braintree_keys_fail(healthy: Doctor) -> None:
    healthy.braintree.credentials = ("test_public_key", "another_private_key")
    code, rows = healthy.report()
    assert code == 1
    row = rows["braintree credentials"]
    assert row["result"] == "fail" and "refused the API keys" in row["detail"]


def test_partial_braintree_settings_fail(healthy: Doctor) -> None:
    healthy.env(BRAINTREE_PUBLIC_KEY=None)
    code, rows = healthy.report()
    assert code == 1
    assert "BRAINTREE_PUBLIC_KEY" in rows["braintree credentials"]["detail"]
    assert not healthy.braintree.calls


def test_a_revoked_zoho_refresh_token_fails(healthy: Doctor) -> None:
    healthy.zoho.refresh_token_revoked = True
    code, rows = healthy.report()
    assert code == 1
    assert rows["zoho token"]["result"] == "fail"
    assert "invalid_code" in rows["zoho token"]["detail"]
    assert rows["zoho items"]["result"] == "skipped"


@pytest.mark.parametrize(
    ("lacking", "row"),
    [(BOOKS_ITEMS_SCOPE, "zoho items"), (CRM_NOTIFICATIONS_SCOPE, "zoho crm channels")],
)
def test_a_missing_zoho_scope_is_named(healthy: Doctor, lacking: str, row: str) -> None:
    """Zoho answers code 57 to a token without the scope; doctor names the scope to add."""
    healthy.zoho.scopes = healthy.zoho.scopes - {lacking}
    code, rows = healthy.report()
    assert code == 1
    assert rows[row]["result"] == "fail"
    assert lacking in rows[row]["detail"] and lacking in rows[row]["action"]
    assert healthy.zoho.tokens_issued == 1  # one mint: a fresh token refused is a scope problem


def test_a_missing_organization_id_fails_the_items_call(healthy: Doctor) -> None:
    healthy.monkeypatch.setattr(
        cli_common, "zoho_client_for_cli", lambda _s: healthy.zoho.client(organization_id=None)
    )
    code, rows = healthy.report()
    assert code == 1
    assert "ZOHO_ORGANIZATION_ID" in rows["zoho items"]["action"]


def test_an_unknown_zoho_data_centre_fails_without_a_traceback(healthy: Doctor) -> None:
    healthy.monkeypatch.setattr(cli_common, "zoho_client_for_cli", ZohoClient.from_settings)
    healthy.env(ZOHO_ACCOUNTS_URL="https://accounts.zoho.example")
    code, rows = healthy.report()
    assert code == 1
    assert rows["zoho token"]["result"] == "fail"
    assert "ZOHO_API_BASE_URL" in rows["zoho token"]["detail"]
    assert rows["attio token"]["result"] == "ok"  # the other systems are still checked


@pytest.mark.parametrize(
    ("expires_in", "result", "exit_code"),
    [
        (timedelta(hours=5), "warn", 0),
        (timedelta(minutes=-1), "fail", 1),
        (None, "fail", 1),
    ],
)
def test_crm_channel_expiry(
    doctor: Doctor, expires_in: timedelta | None, result: str, exit_code: int
) -> None:
    doctor.prepare(webhook_actor_ids=[DEFAULT_ACTOR_ID])
    if expires_in is not None:
        doctor.watch(expires_in)
    code, rows = doctor.report()
    row = rows[f"zoho crm channel {CHANNEL_ID}"]
    assert (code, row["result"]) == (exit_code, result)
    assert "zoho watch" in row["action"]


def test_placeholder_secrets_fail(healthy: Doctor) -> None:
    healthy.env(ADMIN_TOKEN="changeme", ZOHO_WEBHOOK_SECRET="TODO")
    code, rows = healthy.report()
    assert code == 1
    assert rows["secret ADMIN_TOKEN"]["result"] == "fail"
    assert rows["secret ZOHO_WEBHOOK_SECRET"]["result"] == "fail"
    assert "secrets" not in rows


def test_a_layout_too_big_for_the_plan_is_named(doctor: Doctor) -> None:
    """A Plus workspace (5 objects, People and Companies counted) and the full layout."""
    doctor.use_attio(make_attio(max_objects=5))
    doctor.env(ATTIO_PLAN="plus")
    code, rows = doctor.report()
    assert code == 1
    row = rows["attio objects fit the plan"]
    assert row["result"] == "fail" and "ATTIO_PAYMENTS_OBJECT=false" in row["action"]

    doctor.env(ATTIO_PAYMENTS_OBJECT="false")
    doctor.prepare(bootstrap=False)
    _code, rows = doctor.report()
    assert "attio objects fit the plan" not in rows  # it fits: only what is missing is listed
    assert rows["attio schema"]["result"] == "fail"
