"""Building the sandbox application, and serving it on a port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from attio_sandbox import api, devtools, task_api, webhook_api
from attio_sandbox.config import SandboxConfig
from attio_sandbox.errors import AttioError, not_found
from attio_sandbox.gateway import Gateway, server_error
from attio_sandbox.state import SandboxState


async def _attio_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AttioError)
    return exc.response()


async def _unknown_route(request: Request, _exc: Exception) -> JSONResponse:
    # Wrong paths and wrong methods alike get Attio's 404 body.
    return not_found(f"No route for {request.method} {request.url.path}.").response()


async def _unexpected(_request: Request, _exc: Exception) -> JSONResponse:
    # Starlette still re-raises the exception afterwards, so tests see the real failure.
    return server_error(500).response()


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    # A served sandbox closes its delivery connections; where deliveries run on another loop
    # (a test's), this does nothing.
    state: SandboxState = app.state.sandbox
    await state.webhooks.aclose()


def create_sandbox_app(config: SandboxConfig | None = None) -> FastAPI:
    """An in-memory Attio workspace; its state is `app.state.sandbox`."""
    state = SandboxState(config)
    app = FastAPI(
        title="Attio sandbox", docs_url=None, redoc_url=None, openapi_url=None, lifespan=_lifespan
    )
    app.state.sandbox = state
    app.include_router(api.router)
    app.include_router(webhook_api.router)
    app.include_router(task_api.router)
    app.include_router(devtools.router)
    app.add_exception_handler(AttioError, _attio_error)
    app.add_exception_handler(StarletteHTTPException, _unknown_route)
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(Gateway, state=state)
    return app


def serve(host: str = "127.0.0.1", port: int = 8100, config: SandboxConfig | None = None) -> None:
    """Run the sandbox until interrupted (blocking)."""
    uvicorn.run(create_sandbox_app(config), host=host, port=port, log_level="info")
