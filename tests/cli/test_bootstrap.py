"""`attio-bridge bootstrap [--check]` on a workspace too small for the layout: one clear
message, a non-zero exit, nothing created."""

from __future__ import annotations

import asyncio

import pytest
import typer
from typer.testing import CliRunner

import app.cli._common as cli_common
from app.cli.server import bootstrap
from app.config import get_settings
from tests.conftest import make_sandbox, sandbox_attio_client


def invoke(*args: str):
    root = typer.Typer()
    root.command()(bootstrap)
    root.command("other")(lambda: None)  # keep `bootstrap` a named sub-command
    return CliRunner().invoke(root, ["bootstrap", *args])


@pytest.fixture
def plus_workspace(monkeypatch: pytest.MonkeyPatch):
    sandbox = make_sandbox(max_objects=5)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    monkeypatch.setenv("ATTIO_PLAN", "plus")
    monkeypatch.setattr(
        cli_common, "attio_client_for_cli", lambda _s: sandbox_attio_client(sandbox)
    )
    get_settings.cache_clear()
    yield sandbox
    get_settings.cache_clear()


def slugs(sandbox) -> set[str]:
    async def read() -> set[str]:
        async with sandbox_attio_client(sandbox) as client:
            return {o["api_slug"] for o in await client.list_objects()}

    return asyncio.run(read())


@pytest.mark.parametrize("args", [(), ("--check",)])
def test_the_full_layout_on_plus_exits_non_zero_creating_nothing(plus_workspace, args) -> None:
    result = invoke(*args)
    assert result.exit_code == 1
    assert "ERROR the bridge needs 6 Attio objects" in result.output
    assert "ATTIO_PAYMENTS_OBJECT=false" in result.output
    assert slugs(plus_workspace) == {"people", "companies"}


def test_the_smaller_layout_fits(plus_workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATTIO_PAYMENTS_OBJECT", "false")
    get_settings.cache_clear()
    assert invoke().exit_code == 0
    assert "payments" not in slugs(plus_workspace)
    assert invoke("--check").exit_code == 0
