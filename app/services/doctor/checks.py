"""The checks behind `attio-bridge doctor`, one function per system.

Each asks the real system the cheapest question that tells whether the bridge would fail, and
turns every answer (errors included) into rows: nothing here raises for what it finds. A
system that is not configured gives one `skipped` row, never a failure.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from typing import Any

from braintree.exceptions.authentication_error import AuthenticationError
from braintree.exceptions.authorization_error import AuthorizationError

from app.clients.attio import AttioAPIError, AttioClient, AttioError
from app.clients.braintree import BraintreeClient
from app.clients.zoho import (
    ItemsSource,
    ZohoClient,
    ZohoError,
    ZohoNotConfiguredError,
    ZohoScopeError,
    ZohoTokenError,
    zoho_configured,
)
from app.config import Settings, secret_is_set
from app.errors import BridgeError
from app.schema import SchemaBootstrap
from app.services.attio.webhooks import wanted_subscriptions
from app.services.doctor.report import Check, Status

# What the bridge calls: records, the schema it bootstraps, its webhook (SPEC "Required scopes").
REQUIRED_ATTIO_SCOPES = (
    "record_permission:read-write",
    "object_configuration:read-write",
    "webhook:read-write",
)
ATTIO_WEBHOOK_PATH = "/webhooks/attio"
# A CRM channel that expires within this is renewed by the daily cron only just in time.
CHANNEL_WARNING = timedelta(days=1)

# The secret settings, by their variable names; a placeholder counts as unset.
SECRET_SETTINGS = (
    ("ATTIO_API_KEY", "attio_api_key"),
    ("ATTIO_WEBHOOK_SECRET", "attio_webhook_secret"),
    ("ADMIN_TOKEN", "admin_token"),
    ("BRAINTREE_PRIVATE_KEY", "braintree_private_key"),
    ("ZOHO_CLIENT_SECRET", "zoho_client_secret"),
    ("ZOHO_REFRESH_TOKEN", "zoho_refresh_token"),
    ("ZOHO_WEBHOOK_SECRET", "zoho_webhook_secret"),
    ("ZOHO_CRM_NOTIFY_TOKEN", "zoho_crm_notify_token"),
)


def _attio_failure(exc: AttioError) -> str:
    status = exc.attio_status if isinstance(exc, AttioAPIError) else None
    return f"Attio answered {status}: {exc.message}" if status else exc.message


# -- secrets --------------------------------------------------------------------------------


def check_placeholders(settings: Settings) -> list[Check]:
    """Secrets set to a value people paste from examples: the bridge treats them as unset."""
    placeholders = [
        name
        for name, attribute in SECRET_SETTINGS
        if (value := getattr(settings, attribute)) is not None and not secret_is_set(value)
    ]
    if not placeholders:
        return [Check("secrets", Status.ok, "no secret is a placeholder")]
    return [
        Check(
            f"secret {name}",
            Status.fail,
            "looks like a placeholder, so the bridge treats it as unset",
            f"set {name} to the real value, or remove it",
        )
        for name in placeholders
    ]


# -- Attio ----------------------------------------------------------------------------------


async def check_attio(client: AttioClient, settings: Settings) -> list[Check]:
    """Token and scopes, schema, webhook and echo guard, each skipped when an earlier one fails."""
    token, identity = await _attio_token(client)
    if token.status is not Status.ok:
        after = "needs a valid ATTIO_API_KEY"
        names = ("attio scopes", "attio schema", "attio webhook")
        skipped = [Check(name, Status.skipped, after) for name in names]
        return [token, *skipped, _own_actor_ids(settings)]
    rows = [token, _attio_scopes(identity)]
    schema = await _attio_schema(client, settings)
    rows.append(schema)
    if schema.status is Status.ok:
        rows.append(await check_attio_webhook(client, settings))
    else:
        rows.append(Check("attio webhook", Status.skipped, "needs the schema complete"))
    rows.append(_own_actor_ids(settings))
    return rows


async def _attio_token(client: AttioClient) -> tuple[Check, dict[str, Any]]:
    try:
        identity = await client.get_self()
    except AttioError as exc:
        return Check(
            "attio token",
            Status.fail,
            f"Attio refused the token ({_attio_failure(exc)})",
            "check ATTIO_API_KEY and ATTIO_BASE_URL (Attio: Workspace settings > Developers)",
        ), {}
    if not identity.get("active"):
        return Check(
            "attio token",
            Status.fail,
            "Attio reports the token as inactive (revoked or expired)",
            "create a new access token and set ATTIO_API_KEY",
        ), identity
    workspace = identity.get("workspace_name") or identity.get("workspace_slug") or "?"
    return Check("attio token", Status.ok, f"active, workspace {workspace!r}"), identity


def missing_scopes(granted: str) -> list[str]:
    """The required scopes a space-separated `/v2/self` scope string lacks."""
    have = set(granted.split())
    return [scope for scope in REQUIRED_ATTIO_SCOPES if scope not in have]


def _attio_scopes(identity: dict[str, Any]) -> Check:
    missing = missing_scopes(str(identity.get("scope") or ""))
    if missing:
        return Check(
            "attio scopes",
            Status.fail,
            f"the token lacks {', '.join(missing)}",
            "Attio: Workspace settings > Developers > the integration > Scopes: grant "
            f"{', '.join(missing)} (the token keeps working, no new key needed)",
        )
    return Check("attio scopes", Status.ok, ", ".join(REQUIRED_ATTIO_SCOPES))


async def _attio_schema(client: AttioClient, settings: Settings) -> Check:
    try:
        report = await SchemaBootstrap.from_settings(client, settings).run(apply=False)
    except AttioError as exc:
        return Check(
            "attio schema", Status.fail, _attio_failure(exc), "check the token's scopes above"
        )
    if report.complete:
        return Check("attio schema", Status.ok, "every object, attribute and option is there")
    if report.blocked is not None:  # the layout does not fit the workspace's plan
        return Check(
            "attio objects fit the plan",
            Status.fail,
            report.blocked,
            "set ATTIO_PAYMENTS_OBJECT=false or upgrade the Attio plan",
        )
    problems = [f"missing {item}" for item in report.missing]
    problems += [f"conflict: {item}" for item in report.conflicts]
    more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
    shown = "; ".join(problems[:5]) + more
    action = "run `attio-bridge bootstrap`"
    if report.conflicts:
        action = "resolve the conflicts in Attio as described, then run `attio-bridge bootstrap`"
    return Check("attio schema", Status.fail, shown, action)


def _canonical(subscription: dict[str, Any]) -> str:
    return json.dumps(
        {"event_type": subscription.get("event_type"), "filter": subscription.get("filter")},
        sort_keys=True,
    )


async def check_attio_webhook(client: AttioClient, settings: Settings) -> Check:
    """The bridge's Attio webhook: there, subscribed to what the bridge needs, and `active`
    (doctor, and watch's `attio.webhook`)."""
    if not secret_is_set(settings.attio_webhook_secret):
        return Check(
            "attio webhook", Status.skipped, "ATTIO_WEBHOOK_SECRET is unset: /webhooks/attio is off"
        )
    register = "run `attio-bridge webhooks register $PUBLIC_URL`"
    if not settings.public_url:
        return Check(
            "attio webhook",
            Status.warn,
            "PUBLIC_URL is unset, so the bridge's webhook cannot be told apart",
            "set PUBLIC_URL to the bridge's public base URL and run doctor again",
        )
    target = settings.public_url + ATTIO_WEBHOOK_PATH
    try:
        wanted = await wanted_subscriptions(client, settings.attio_own_actor_ids)
        webhooks = await client.list_webhooks()
    except AttioError as exc:
        return Check("attio webhook", Status.fail, _attio_failure(exc), "check the token's scopes")
    webhook = next((w for w in webhooks if w.get("target_url") == target), None)
    if webhook is None:
        others = sorted(
            str(w.get("target_url"))
            for w in webhooks
            if str(w.get("target_url", "")).endswith(ATTIO_WEBHOOK_PATH)
        )
        elsewhere = f" (webhooks for {', '.join(others)} exist)" if others else ""
        detail = f"no Attio webhook points at {target}{elsewhere}"
        return Check("attio webhook", Status.fail, detail, register)
    have = {_canonical(s) for s in webhook.get("subscriptions") or []}
    missing = [s for s in wanted if _canonical(s) not in have]
    if missing:
        return Check(
            "attio webhook",
            Status.fail,
            f"{len(missing)} of the {len(wanted)} subscriptions the bridge needs are missing or "
            "filtered differently (registered before ATTIO_OWN_ACTOR_IDS changed?)",
            register,
        )
    status = webhook.get("status")
    if status == "inactive":
        return Check(
            "attio webhook",
            Status.fail,
            f"the webhook for {target} is inactive: Attio stopped delivering to it",
            "make sure the bridge answers at PUBLIC_URL, then " + register,
        )
    if status == "degraded":
        return Check(
            "attio webhook",
            Status.warn,
            f"the webhook for {target} is degraded: recent deliveries failed",
            "check the bridge's logs and that it answers at PUBLIC_URL",
        )
    return Check("attio webhook", Status.ok, f"{target}, {len(wanted)} subscriptions")


def _own_actor_ids(settings: Settings) -> Check:
    if not secret_is_set(settings.attio_webhook_secret):
        return Check("attio own actor ids", Status.skipped, "no Attio webhook in use")
    if not settings.attio_own_actor_ids:
        return Check(
            "attio own actor ids",
            Status.warn,
            "ATTIO_OWN_ACTOR_IDS is unset: the webhook filter drops every API token's events, "
            "other integrations' edits included",
            "set it to the `created_by_actor` id of a record the bridge wrote, then run "
            "`attio-bridge webhooks register $PUBLIC_URL`",
        )
    # Attio's /v2/self names the workspace and member, not the token's actor id.
    return Check(
        "attio own actor ids",
        Status.ok,
        f"{len(settings.attio_own_actor_ids)} set (Attio cannot say whether it is this token's)",
    )


# -- Braintree ------------------------------------------------------------------------------


def _braintree_missing(settings: Settings) -> list[str]:
    return [
        name
        for name, present in (
            ("BRAINTREE_MERCHANT_ID", bool(settings.braintree_merchant_id)),
            ("BRAINTREE_PUBLIC_KEY", bool(settings.braintree_public_key)),
            ("BRAINTREE_PRIVATE_KEY", secret_is_set(settings.braintree_private_key)),
        )
        if not present
    ]


async def check_braintree(settings: Settings) -> list[Check]:
    missing = _braintree_missing(settings)
    if len(missing) == 3:
        return [Check("braintree credentials", Status.skipped, "Braintree is not configured")]
    if missing:
        return [
            Check(
                "braintree credentials",
                Status.fail,
                f"{', '.join(missing)} unset: /webhooks/braintree is off",
                f"set {', '.join(missing)} (Braintree Control Panel > Settings > API)",
            )
        ]
    client = BraintreeClient.from_settings(settings)
    assert client is not None  # configured, checked above
    where = f"environment {settings.braintree_environment!r}"
    try:
        await client.verify_credentials()
    except AuthenticationError:
        return [
            Check(
                "braintree credentials",
                Status.fail,
                f"Braintree refused the API keys ({where})",
                "check BRAINTREE_MERCHANT_ID, BRAINTREE_PUBLIC_KEY, BRAINTREE_PRIVATE_KEY and "
                "BRAINTREE_ENVIRONMENT (sandbox keys do not work in production)",
            )
        ]
    except AuthorizationError:
        return [
            Check(
                "braintree credentials",
                Status.fail,
                f"Braintree accepted the keys but their role may not read customers ({where})",
                "give the API user a role that can read and edit customers",
            )
        ]
    except Exception as exc:  # the SDK's transport and server errors: reported, not raised
        return [
            Check(
                "braintree credentials",
                Status.fail,
                f"Braintree did not answer ({type(exc).__name__}, {where})",
                "check BRAINTREE_ENVIRONMENT and the network, then run doctor again",
            )
        ]
    return [Check("braintree credentials", Status.ok, f"accepted ({where})")]


# -- Zoho -----------------------------------------------------------------------------------


async def check_zoho(
    settings: Settings,
    make_client: Callable[[Settings], ZohoClient],
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[Check]:
    """Token refresh, one items page, and the CRM channels when CRM notifications are on."""
    crm = settings.zoho_crm_configured
    if not zoho_configured(settings):
        if crm:
            return [
                Check(
                    "zoho token",
                    Status.fail,
                    "CRM notifications are on, but every one is re-fetched through the Zoho API, "
                    "which is not configured",
                    "set ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET and ZOHO_REFRESH_TOKEN",
                )
            ]
        if secret_is_set(settings.zoho_webhook_secret):
            return [
                Check(
                    "zoho token",
                    Status.warn,
                    "the Zoho API is not configured: item webhooks without a time wait in "
                    "bridge_events, and `sync zoho` cannot run",
                    "set ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET and ZOHO_REFRESH_TOKEN",
                )
            ]
        return [Check("zoho", Status.skipped, "Zoho is not configured")]
    try:
        client = make_client(settings)
    except BridgeError as exc:  # an unknown data centre, say
        return [Check("zoho token", Status.fail, exc.message, "fix the Zoho settings named")]
    async with client:
        token = await _zoho_token(client)
        if token.status is not Status.ok:
            rows = [token, Check("zoho items", Status.skipped, "needs a Zoho access token")]
            if crm:
                rows.append(Check("zoho crm channels", Status.skipped, "needs a Zoho access token"))
            return rows
        rows = [token, await _zoho_items(client, ItemsSource(settings.zoho_items_source))]
        if crm:
            rows.extend(await _zoho_channels(client, settings, now()))
        return rows


def _scope_problem(name: str, exc: ZohoScopeError) -> Check:
    needs = " or ".join(exc.scopes) if exc.scopes else "this API's scope"
    return Check(
        name,
        Status.fail,
        f"Zoho refused a fresh access token: the refresh token lacks the scope {needs}",
        f"generate a new refresh token with {needs} added (docs/zoho.md) and set "
        "ZOHO_REFRESH_TOKEN",
    )


async def _zoho_token(client: ZohoClient) -> Check:
    try:
        await client.tokens.get()
    except ZohoTokenError as exc:
        return Check(
            "zoho token",
            Status.fail,
            exc.message,
            "generate a new refresh token in your data centre's API console (docs/zoho.md)",
        )
    except ZohoError as exc:
        return Check("zoho token", Status.fail, str(exc), "run doctor again later")
    return Check("zoho token", Status.ok, "the refresh token mints access tokens")


async def _zoho_items(client: ZohoClient, source: ItemsSource) -> Check:
    try:
        async with aclosing(client.iter_item_pages(source, per_page=1)) as pages:
            async for _page in pages:
                break
    except ZohoScopeError as exc:
        return _scope_problem("zoho items", exc)
    except ZohoNotConfiguredError as exc:
        return Check("zoho items", Status.fail, exc.message, "set ZOHO_ORGANIZATION_ID")
    except ZohoError as exc:
        return Check(
            "zoho items",
            Status.fail,
            str(exc),
            "check ZOHO_ORGANIZATION_ID and ZOHO_ITEMS_SOURCE (books or inventory)",
        )
    return Check("zoho items", Status.ok, f"{source.value} items can be read")


def _expiry(channel: dict[str, Any]) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(channel.get("channel_expiry")))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def check_crm_channels(
    settings: Settings,
    make_client: Callable[[Settings], ZohoClient],
    now: datetime,
    *,
    critical_within: timedelta,
) -> list[Check]:
    """The CRM channels alone (watch's `zoho.crm_channel`): one expiring within
    `critical_within` fails, one within a day warns."""
    try:
        client = make_client(settings)
    except BridgeError as exc:
        return [Check("zoho crm channels", Status.fail, exc.message, "fix the Zoho settings named")]
    async with client:
        return await _zoho_channels(client, settings, now, critical_within=critical_within)


async def _zoho_channels(
    client: ZohoClient,
    settings: Settings,
    now: datetime,
    *,
    critical_within: timedelta = timedelta(0),
) -> list[Check]:
    watch = "run `attio-bridge zoho watch` (the daily cron job renews it)"
    try:
        channels = {str(c.get("channel_id")): c for c in await client.list_watch_channels()}
    except ZohoScopeError as exc:
        return [_scope_problem("zoho crm channels", exc)]
    except ZohoError as exc:
        return [Check("zoho crm channels", Status.fail, str(exc), "run doctor again later")]
    rows = []
    for channel_id in settings.zoho_crm_channel_ids:
        name = f"zoho crm channel {channel_id}"
        channel = channels.get(channel_id)
        expires = _expiry(channel) if channel is not None else None
        if channel is None:
            rows.append(Check(name, Status.fail, "Zoho has no such channel", watch))
        elif expires is None or expires <= now:
            rows.append(Check(name, Status.fail, "expired: Zoho no longer notifies", watch))
        elif expires - now <= critical_within:
            rows.append(Check(name, Status.fail, f"expires {expires.isoformat()}", watch))
        elif expires - now < CHANNEL_WARNING:
            rows.append(Check(name, Status.warn, f"expires {expires.isoformat()}", watch))
        else:
            rows.append(Check(name, Status.ok, f"expires {expires.isoformat()}"))
    return rows
