"""`attio-bridge events ...` against the Attio sandbox."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

import app.cli._common as cli_common
from app.cli import cli
from app.config import get_settings
from app.events.ledger import DEFAULT_PRUNE_LIMIT
from app.events.model import Source
from testkit.signing import ATTIO_TEST_SECRET
from tests.conftest import sandbox_attio_client
from tests.e2e.conftest import Harness
from tests.e2e.test_ledger import UPDATED, FlakyHandler, attio_delivery, ledger, post_attio


@pytest.fixture
def cli_env(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The CLI reads settings from the environment and talks to the harness's sandbox."""
    monkeypatch.setenv("ATTIO_API_KEY", "sandbox-key-0123456789")
    monkeypatch.setenv("ATTIO_WEBHOOK_SECRET", ATTIO_TEST_SECRET)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    get_settings.cache_clear()
    monkeypatch.setattr(
        cli_common,
        "attio_client_for_cli",
        lambda _settings: sandbox_attio_client(harness.sandbox_app),
    )
    yield CliRunner()
    get_settings.cache_clear()


def seed_failed(harness: Harness, key: str) -> None:
    harness.bridge.dispatcher.register(Source.attio, "record.updated", FlakyHandler(failures=9))
    post_attio(harness, attio_delivery("record.updated"), key=key)


def test_events_list_json(harness: Harness, cli_env: CliRunner) -> None:
    seed_failed(harness, "d1")
    result = cli_env.invoke(cli, ["events", "list", "--status", "failed", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [row["event_key"] for row in rows] == [UPDATED]
    assert rows[0]["status"] == "failed"


def test_events_replay_dry_run_then_for_real(harness: Harness, cli_env: CliRunner) -> None:
    seed_failed(harness, "d1")
    dry = cli_env.invoke(cli, ["events", "replay", UPDATED, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would_replay" in dry.stdout
    assert ledger(harness)[UPDATED]["status"] == "failed"
    # The CLI process has no handler for record.updated: processing it is a no-op success.
    done = cli_env.invoke(cli, ["events", "replay", "--status", "failed"])
    assert done.exit_code == 0, done.output
    assert "replayed=1" in done.stdout
    assert ledger(harness)[UPDATED]["status"] == "replayed"


def test_events_replay_needs_a_key_or_a_filter(cli_env: CliRunner) -> None:
    result = cli_env.invoke(cli, ["events", "replay"])
    assert result.exit_code == 2


def test_events_retry_due_with_nothing_due(harness: Harness, cli_env: CliRunner) -> None:
    seed_failed(harness, "d1")  # next attempt in 60 s: not due yet
    result = cli_env.invoke(cli, ["events", "retry-due"])
    assert result.exit_code == 0, result.output
    assert "0 event(s): nothing to do" in result.stdout


def test_commands_refuse_the_throwaway_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ATTIO_API_KEY", raising=False)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["events", "list"])
    get_settings.cache_clear()
    assert result.exit_code == 1
    assert "ATTIO_API_KEY is not set" in result.output


def seed_ledger(harness: Harness, rows: dict[str, tuple[str, int]]) -> None:
    """Ledger records by key: (status, days since the last attempt)."""
    now = datetime.now(UTC)

    async def write() -> None:
        async with harness.attio_client() as attio:
            for key, (status, days) in rows.items():
                when = (now - timedelta(days=days)).isoformat().replace("+00:00", "Z")
                values = {
                    "event_key": key,
                    "status": status,
                    "source": "attio",
                    "event_type": "record.updated",
                    "last_attempt_at": when,
                }
                await attio.assert_record(
                    "bridge_events", matching_attribute="event_key", values=values
                )

    asyncio.run(write())


PRUNE_ROWS = {
    "old-replayed": ("replayed", 40),
    "new-replayed": ("replayed", 5),
    "old-failed": ("failed", 40),
    "old-dead": ("dead", 90),
    "old-attention": ("needs_attention", 90),
}


def test_events_prune_deletes_only_old_settled_records(
    harness: Harness, cli_env: CliRunner
) -> None:
    seed_ledger(harness, PRUNE_ROWS)
    dry = cli_env.invoke(cli, ["events", "prune", "--older-than", "30", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would delete 1 record(s)" in dry.stdout and "old-replayed" in dry.stdout
    assert set(ledger(harness)) == set(PRUNE_ROWS)

    done = cli_env.invoke(cli, ["events", "prune", "--older-than", "30", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["deleted"] == 1
    assert set(ledger(harness)) == set(PRUNE_ROWS) - {"old-replayed"}
    again = cli_env.invoke(cli, ["events", "prune", "--older-than", "30"])
    assert "deleted 0 record(s)" in again.stdout


def test_events_prune_deletes_at_most_limit_records_a_run(
    harness: Harness, cli_env: CliRunner
) -> None:
    old = {f"old-{n}": ("replayed", 40 + n) for n in range(5)}
    seed_ledger(harness, {**old, "new-replayed": ("replayed", 5)})
    first = cli_env.invoke(cli, ["events", "prune", "--older-than", "30", "--limit", "2"])
    assert first.exit_code == 0, first.output
    assert "deleted 2 record(s)" in first.stdout and "--limit" in first.stdout  # more remain
    assert set(ledger(harness)) == {"old-0", "old-1", "old-2", "new-replayed"}  # oldest first
    rest = cli_env.invoke(cli, ["events", "prune", "--older-than", "30", "--json"])
    assert json.loads(rest.stdout)["deleted"] == 3
    assert set(ledger(harness)) == {"new-replayed"}


def test_events_prune_limit_has_a_default_and_bounds(cli_env: CliRunner) -> None:
    assert (
        cli_env.invoke(cli, ["events", "prune", "--older-than", "30", "--limit", "0"]).exit_code
        == 2
    )
    help_text = cli_env.invoke(cli, ["events", "prune", "--help"]).stdout
    assert "--limit" in help_text and str(DEFAULT_PRUNE_LIMIT) in help_text


@pytest.mark.parametrize("status", ["failed", "dead", "needs_attention", "replayed,failed", ""])
def test_events_prune_refuses_records_that_still_ask_for_work(
    harness: Harness, cli_env: CliRunner, status: str
) -> None:
    seed_ledger(harness, PRUNE_ROWS)
    result = cli_env.invoke(cli, ["events", "prune", "--older-than", "1", "--status", status])
    assert result.exit_code == 2
    assert "only settled records can be pruned" in result.output
    assert set(ledger(harness)) == set(PRUNE_ROWS)
