"""`attio-bridge webhooks register`: the Attio webhook that sends record events to the bridge."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli import _common
from app.schema import schema_for
from app.services.attio.webhooks import Registration, register_webhook, watched_objects

webhooks_cli = typer.Typer(help="The Attio webhook that sends record events to the bridge.")


@webhooks_cli.command("register")
def webhooks_register(
    url: Annotated[
        str, typer.Argument(help="The bridge's public URL, e.g. https://x.onrender.com")
    ],
) -> None:
    """Create (or update) the Attio webhook for this bridge and print its secret."""
    target = url.rstrip("/")
    if not target.endswith("/webhooks/attio"):
        target += "/webhooks/attio"
    if not target.startswith("https://") and "://127.0.0.1" not in target:
        typer.secho("warning: Attio only delivers to https:// URLs", fg="yellow", err=True)
    settings = _common.load_settings()

    async def go() -> Registration:
        async with _common.attio_client_for_cli(settings) as client:
            return await register_webhook(
                client,
                target_url=target,
                own_actor_ids=settings.attio_own_actor_ids,
                watched=watched_objects(schema_for(payments_object=settings.attio_payments_object)),
            )

    registration = _common.run(go)
    verb = "created" if registration.created else "updated"
    typer.echo(
        f"{verb} webhook {registration.webhook_id} -> {target} "
        f"({registration.subscriptions} subscriptions)"
    )
    if registration.secret:
        typer.echo("Set this on the bridge (Attio shows it only once):")
        typer.echo(f"ATTIO_WEBHOOK_SECRET={registration.secret}")
    else:
        typer.echo("The secret is unchanged: keep the ATTIO_WEBHOOK_SECRET you have.")
    if not settings.attio_own_actor_ids:
        typer.secho(
            "note: ATTIO_OWN_ACTOR_IDS is unset, so the filter excludes every API token's "
            "events; set it and run this again to exclude only the bridge's own.",
            fg="yellow",
            err=True,
        )
