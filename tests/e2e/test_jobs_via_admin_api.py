"""Scheduled jobs without Redis: with BRIDGE_ADMIN_URL the CLI asks the web service to run them,
so one process spends the Attio budget."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

import app.cli._admin as cli_admin
import app.cli._common as cli_common
import app.cli.sync as cli_sync
from app.cli import cli
from app.config import Settings, get_settings
from app.events.model import Source
from tests.e2e.conftest import ADMIN_TOKEN, Harness
from tests.e2e.test_ledger import FlakyHandler, attio_delivery, ledger, post_attio

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.mark.parametrize(
    ("admin_url", "redis_url", "expected"),
    [
        (None, None, None),  # runs itself
        ("attio-bridge:10000", None, "http://attio-bridge:10000"),  # Render's hostport
        ("https://bridge.example.com/", None, "https://bridge.example.com"),
        ("attio-bridge:10000", "redis://kv:6379", None),  # the budget is shared through Redis
        ("  ", None, None),
    ],
)
def test_when_jobs_run_on_the_web_service(
    admin_url: str | None, redis_url: str | None, expected: str | None
) -> None:
    env = {"BRIDGE_ADMIN_URL": admin_url, "REDIS_URL": redis_url}
    settings = Settings.model_validate({k: v for k, v in env.items() if v is not None})
    assert settings.jobs_via_admin_api == expected


@pytest.fixture
def via_admin(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """The CLI with BRIDGE_ADMIN_URL set, its admin calls served by the harness's app; any
    direct Attio client would be a failure."""
    monkeypatch.setenv("BRIDGE_ADMIN_URL", "attio-bridge:10000")
    monkeypatch.setenv("ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("ATTIO_API_KEY", "sandbox-key-0123456789")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    get_settings.cache_clear()
    seen: list[str] = []

    def open_client(base_url: str) -> contextlib.nullcontext:  # type: ignore[type-arg]
        seen.append(base_url)
        return contextlib.nullcontext(harness.client)

    def no_direct_attio(_settings: Settings) -> None:
        raise AssertionError("the job called Attio itself")

    monkeypatch.setattr(cli_admin, "open_client", open_client)
    monkeypatch.setattr(cli_common, "attio_client_for_cli", no_direct_attio)
    yield CliRunner()
    assert seen and set(seen) == {"http://attio-bridge:10000"}
    get_settings.cache_clear()


def test_retry_due_runs_on_the_web_service(harness: Harness, via_admin: CliRunner) -> None:
    harness.bridge.dispatcher.register(Source.attio, "record.updated", FlakyHandler(failures=9))
    post_attio(harness, attio_delivery("record.updated"), key="d1")
    result = via_admin.invoke(cli, ["events", "retry-due"])
    assert result.exit_code == 0, result.output
    assert "0 event(s): nothing to do" in result.stdout  # next attempt in 60 s
    as_json = via_admin.invoke(cli, ["events", "retry-due", "--json"])
    assert json.loads(as_json.stdout)["counts"]["replayed"] == 0


def test_prune_runs_on_the_web_service(harness: Harness, via_admin: CliRunner) -> None:
    result = via_admin.invoke(cli, ["events", "prune", "--older-than", "30", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would delete 0 record(s)" in result.stdout


def test_the_admin_endpoints(harness: Harness) -> None:
    due = harness.client.post("/admin/events/retry-due", json={"limit": 10}, headers=ADMIN)
    assert due.status_code == 200 and due.json()["results"] == []
    assert harness.client.post("/admin/events/retry-due", headers=ADMIN).status_code == 200
    body = {"older_than_days": 30, "dry_run": True}
    pruned = harness.client.post("/admin/events/prune", json=body, headers=ADMIN)
    assert pruned.status_code == 200 and pruned.json()["deleted"] == 0
    # Only settled records can be pruned; the token is required.
    limited = harness.client.post("/admin/events/prune", json={**body, "limit": 5}, headers=ADMIN)
    assert limited.status_code == 200 and limited.json()["limit"] == 5
    assert (
        harness.client.post(
            "/admin/events/prune", json={**body, "limit": 0}, headers=ADMIN
        ).status_code
        == 422
    )
    bad = {**body, "statuses": ["failed"]}
    assert harness.client.post("/admin/events/prune", json=bad, headers=ADMIN).status_code == 422
    assert harness.client.post("/admin/events/prune", json=body).status_code == 401
    assert ledger(harness) == {}


def test_an_unreachable_web_service_fails_the_job(
    monkeypatch: pytest.MonkeyPatch, harness: Harness
) -> None:
    monkeypatch.setenv("BRIDGE_ADMIN_URL", "127.0.0.1:9")
    monkeypatch.setenv("ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["events", "retry-due"])
        assert result.exit_code == 1
        assert ADMIN_TOKEN not in result.output
    finally:
        get_settings.cache_clear()


def invoke_with_admin_api(
    monkeypatch: pytest.MonkeyPatch, admin_call: Callable[..., dict], args: list[str]
) -> Any:  # click's Result (click comes with typer)
    """The CLI with BRIDGE_ADMIN_URL set and its admin calls answered by `admin_call`."""
    monkeypatch.setattr(cli_sync, "admin_call", admin_call)
    monkeypatch.setattr(cli_sync, "POLL_SECONDS", 0.0)
    monkeypatch.setenv("BRIDGE_ADMIN_URL", "attio-bridge:10000")
    monkeypatch.setenv("ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(cli, args)
    finally:
        get_settings.cache_clear()


def test_sync_zoho_starts_on_the_web_service_and_waits_for_its_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, str]] = []
    statuses = iter(
        [
            {"running": True, "last_run": {"run_id": "r1", "status": "running"}},
            {
                "running": False,
                "last_run": {
                    "run_id": "r1",
                    "status": "succeeded",
                    "summary": {"counts": {"created": 3, "failed": 0}},
                },
            },
        ]
    )

    def admin_call(_settings: Settings, method: str, path: str, **_: object) -> dict:
        calls.append((method, path))
        return {"run_id": "r1", "status": "running"} if method == "POST" else next(statuses)

    result = invoke_with_admin_api(monkeypatch, admin_call, ["sync", "zoho"])
    assert result.exit_code == 0, result.output
    assert "sync r1 on the web service: succeeded created=3 failed=0" in result.stdout
    assert calls == [
        ("POST", "/admin/sync/zoho"),
        ("GET", "/admin/sync/zoho"),
        ("GET", "/admin/sync/zoho"),
    ]


@pytest.mark.parametrize("source", ["zoho", "braintree", "attio"])
def test_a_run_that_disappears_from_the_web_service_fails_the_job(
    monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    # The web service restarted mid-run: its new process knows no such run, and nothing runs.
    statuses = iter(
        [
            {"running": True, "last_run": {"run_id": "r1", "status": "running"}},
            {"running": False, "last_run": None},
            {"running": False, "last_run": None},
        ]
    )

    def admin_call(_settings: Settings, method: str, path: str, **_: object) -> dict:
        return {"run_id": "r1", "status": "running"} if method == "POST" else next(statuses)

    result = invoke_with_admin_api(monkeypatch, admin_call, ["sync", source])
    assert result.exit_code == 1
    assert "r1" in result.output and "no longer" in result.output


def test_a_run_that_never_ends_fails_the_job_at_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cli_sync, "POLL_DEADLINE_SECONDS", 0.0)
    polls: list[str] = []

    def admin_call(_settings: Settings, method: str, path: str, **_: object) -> dict:
        polls.append(method)
        if method == "POST":
            return {"run_id": "r1", "status": "running"}
        return {"running": True, "last_run": {"run_id": "r1", "status": "running"}}

    result = invoke_with_admin_api(monkeypatch, admin_call, ["sync", "zoho"])
    assert result.exit_code == 1
    assert "did not finish" in result.output
    assert polls == ["POST", "GET"]


@pytest.mark.parametrize(
    ("args", "counts", "exit_code", "post"),
    [
        (
            ["sync", "braintree"],
            {"created": 2, "failed": 0, "subscription": {"created": 2, "failed": 0}, "stale": 0},
            0,
            "/admin/sync/braintree",
        ),
        (
            ["sync", "braintree", "--since", "2026-11-01", "--dry-run"],
            {"updated": 1, "failed": 1, "transaction": {"updated": 1, "failed": 1}, "stale": 0},
            1,  # a record failed: the cron job says so
            "/admin/sync/braintree?dry_run=true&since=2026-11-01T00%3A00%3A00%2B00%3A00",
        ),
    ],
)
def test_sync_braintree_starts_on_the_web_service_and_waits_for_its_run(
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    counts: dict[str, object],
    exit_code: int,
    post: str,
) -> None:
    calls: list[tuple[str, str]] = []
    done = {"running": False, "last_run": {"run_id": "b1", "status": "succeeded"}}
    done["last_run"]["summary"] = {"counts": counts}  # type: ignore[index]

    def admin_call(_settings: Settings, method: str, path: str, **_: object) -> dict:
        calls.append((method, path))
        return {"run_id": "b1", "status": "running"} if method == "POST" else done

    result = invoke_with_admin_api(monkeypatch, admin_call, args)
    assert result.exit_code == exit_code, result.output
    # The totals and notes, then each object's.
    totals = " ".join(f"{k}={v}" for k, v in counts.items() if not isinstance(v, dict))
    assert f"sync b1 on the web service: succeeded {totals} " in result.stdout
    assert calls == [("POST", post), ("GET", "/admin/sync/braintree")]
