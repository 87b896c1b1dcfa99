"""The application factory. The lifespan owns every client, so a worker starts and stops clean."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
import httpx
from fastapi import FastAPI

from app.bridge import build_bridge
from app.clients.attio import AttioClient
from app.clients.redis import connect as connect_redis
from app.config import Settings, get_settings
from app.error_handlers import install_error_handlers
from app.events.delivery_counts import DELIVERIES
from app.log import configure_logging, get_logger
from app.middleware import LoopbackOrAdmin, RequestContextMiddleware
from app.routes import admin, admin_sync, attio, braintree, console, health, zoho
from app.schema import SchemaBootstrap
from app.schema.currencies import check_default_currency
from app.schema.readiness import ReadinessProbe

log = get_logger(__name__)

SANDBOX_BASE_URL = "http://attio.sandbox"
SANDBOX_MOUNT_PATH = "/sandbox"


def _attio_client(settings: Settings, app: FastAPI, transport: httpx.AsyncBaseTransport | None):
    """The real Attio, or in development without a key the embedded sandbox (in-process)."""
    if transport is None and settings.uses_attio_sandbox:
        # Development only: keep it off production imports.
        from attio_sandbox import FaultConfig, SandboxConfig, create_sandbox_app

        # In-memory and private to this process: no rate limits, so startup (the schema
        # bootstrap) is instant. `attio-bridge sandbox` enforces Attio's limits by default.
        sandbox = create_sandbox_app(SandboxConfig(faults=FaultConfig(rate_limits=False)))
        # Lets a developer browse what was written; on a non-loopback address only with the
        # admin token, since it shows ledger bodies and webhook secrets and can reset everything.
        app.mount(SANDBOX_MOUNT_PATH, LoopbackOrAdmin(sandbox, settings.admin_token))
        app.state.attio_mode = "sandbox"
        return AttioClient.from_settings(
            settings.model_copy(
                update={
                    "attio_base_url": SANDBOX_BASE_URL,
                    "attio_write_rate": 1000.0,
                    "attio_read_rate": 1000.0,
                    # Private to this process: nothing to share a budget with.
                    "redis_url": None,
                }
            ),
            api_key="sandbox",
            transport=httpx.ASGITransport(app=sandbox),
        )
    app.state.attio_mode = "live"
    api_key = settings.attio_api_key.get_secret_value() if settings.attio_api_key else ""
    return AttioClient.from_settings(settings, api_key=api_key, transport=transport)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start-up (the sandbox's schema, the queue's connection) and shutdown of what
    `create_app` built; everything it needs is on `app.state`."""
    settings: Settings = app.state.settings
    attio = app.state.attio
    if app.state.attio_mode == "sandbox":
        log.warning(
            "attio.sandbox.enabled",
            detail="ATTIO_API_KEY is not set: every write goes to the in-memory Attio "
            "sandbox, nothing reaches a real workspace",
            browse=f"{SANDBOX_MOUNT_PATH}/_sandbox/objects/<object>/records",
        )
        report = await app.state.schema.run(apply=True)
        log.info("attio.sandbox.schema_ready", created=len(report.created))
    queue = app.state.bridge.queue
    # Asked now, so the first webhook after a deploy finds the connection open (and the
    # worker thread that parses Braintree payloads started), and the log says at once
    # whether deliveries will be queued.
    mode = "inline" if queue is None else (await queue.check()).value
    await anyio.to_thread.run_sync(lambda: None)
    await app.state.bridge.start()
    log.info(
        "bridge.started",
        env=settings.bridge_env.value,
        attio=app.state.attio_mode,
        webhooks=sorted(source.value for source in app.state.bridge.sources),
        queue=mode,
    )
    # The console's delivery chart counts in Redis when there is one (shared with the workers).
    url = settings.redis_url.get_secret_value() if settings.redis_url else ""
    DELIVERIES.use_redis(connect_redis(url, retries=0) if settings.redis_configured else None)
    try:
        yield
    finally:
        if (counted := DELIVERIES.use_redis(None)) is not None:
            await DELIVERIES.drain()
            await counted.aclose()
        # The bridge first: a background Zoho sync writes through `attio`.
        await app.state.bridge.aclose()
        await attio.aclose()
        log.info("bridge.stopped")


def create_app(
    settings: Settings | None = None,
    *,
    attio_transport: httpx.AsyncBaseTransport | None = None,
    **bridge_overrides: Any,
) -> FastAPI:
    """Build the app. Tests route Attio calls to a sandbox or a mock with `attio_transport`
    and replace other clients through `bridge_overrides` (see `build_bridge`)."""
    settings = settings or get_settings()
    settings.check_startup()
    check_default_currency(settings)
    configure_logging(
        settings.log_level,
        json=settings.is_production,
        secrets=settings.secret_values(),
        access_log=settings.access_log,
    )

    # Off in production unless API_DOCS=true: the document lists every admin route.
    docs = settings.api_docs_enabled
    app = FastAPI(
        title="attio-bridge",
        summary="Keeps Attio in step with Zoho and Braintree.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    app.state.attio = _attio_client(settings, app, attio_transport)
    app.state.schema = SchemaBootstrap.from_settings(app.state.attio, settings)
    app.state.readiness = ReadinessProbe(app.state.attio, app.state.schema)
    app.state.bridge = build_bridge(settings, app.state.attio, **bridge_overrides)
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware, hsts=settings.is_production)
    for module in (health, attio, braintree, zoho, admin, admin_sync, console):
        app.include_router(module.router)
    return app
