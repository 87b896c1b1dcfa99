"""The `attio-bridge` command line (also `python -m app`): one module per command group."""

from __future__ import annotations

import typer

from app.cli import server
from app.cli.demo import demo
from app.cli.doctor import doctor
from app.cli.events import events_cli
from app.cli.sync import sync_cli
from app.cli.watch import watch
from app.cli.webhooks import webhooks_cli
from app.cli.worker import worker
from app.cli.zoho import zoho_cli

cli = typer.Typer(
    name="attio-bridge",
    help="Keeps Attio in step with Zoho and Braintree.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,  # a traceback could show settings; errors print one line
)
cli.add_typer(sync_cli, name="sync")
cli.add_typer(zoho_cli, name="zoho")
cli.add_typer(events_cli, name="events")
cli.add_typer(webhooks_cli, name="webhooks")
for command in (server.serve, server.bootstrap, server.sandbox):
    cli.command()(command)
cli.command()(doctor)
cli.command()(demo)
cli.command()(worker)
cli.command()(watch)


def main() -> None:
    cli()
