"""`attio-bridge webhooks register`: the Attio webhook that sends record events to the bridge."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

import typer

from app.cli import _common
from app.schema import schema_for
from app.services.attio.webhooks import Registration, register_webhook, watched_objects

webhooks_cli = typer.Typer(help="The Attio webhook that sends record events to the bridge.")


# Plain http only for a bridge on this machine (local work against the sandbox).
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def url_problem(url: str) -> str | None:
    """Why `url` cannot be the bridge's public URL, or None when it can."""
    try:
        parts = urlsplit(url.strip())
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return f"{url!r} is not a valid URL"
    if parts.scheme not in ("https", "http") or not hostname:
        return f"{url!r} must be an https:// URL with a host, e.g. https://x.onrender.com"
    if parts.scheme == "http" and hostname not in LOOPBACK_HOSTS:
        return (
            f"{url!r} is http: Attio delivers to https:// URLs only (plain http is allowed "
            f"for {', '.join(sorted(LOOPBACK_HOSTS))} alone, for local work)"
        )
    if parts.username is not None or parts.password is not None:
        return f"{url!r} must not carry credentials"
    if parts.query or parts.fragment:
        return f"{url!r} must not have a query or fragment"
    return None


@webhooks_cli.command("register")
def webhooks_register(
    url: Annotated[
        str, typer.Argument(help="The bridge's public URL, e.g. https://x.onrender.com")
    ],
) -> None:
    """Create (or update) the Attio webhook for this bridge and print its secret."""
    problem = url_problem(url)
    if problem:
        typer.secho(f"error: {problem}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    target = url.rstrip("/")
    if not target.endswith("/webhooks/attio"):
        target += "/webhooks/attio"
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
