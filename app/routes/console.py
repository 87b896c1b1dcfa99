"""The web console (`/console`): HTTP only, i.e. forms, cookies, redirects and rendering.

Off (404) unless ADMIN_TOKEN is set. Every page but sign-in and the two static files needs a
session; without one it answers a redirect to the sign-in page and nothing else. What the pages
show and do is `app.services.console`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from app.errors import BridgeError, NotFoundError
from app.events.ledger import LedgerStatus
from app.events.model import Source
from app.routes._intake import bridge_of
from app.services.console import (
    PAGE_SIZE,
    Console,
    EventFilter,
    Session,
)

PREFIX = "/console"
SIGN_IN = f"{PREFIX}/sign-in"
COOKIE = "attio_bridge_console"
HERE = Path(__file__).parent
STATIC_DIR = HERE / "console_static"
STATIC_FILES = {"console.css": "text/css", "console.js": "text/javascript"}
PUBLIC_PATHS = {SIGN_IN} | {f"{PREFIX}/static/{name}" for name in STATIC_FILES}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}

templates = Jinja2Templates(directory=HERE / "console_templates")
templates.env.filters["q"] = lambda value: quote(str(value), safe="")


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


templates.env.filters["when"] = _when


def console_of(request: Request) -> Console:
    console = bridge_of(request).console
    if console is None:  # a bridge built without one
        raise NotFoundError("The console is not enabled on this bridge")
    return console


def session_of(request: Request) -> Session:
    session: Session = request.state.console_session
    return session


def _enabled(request: Request) -> bool:
    token = bridge_of(request).settings.admin_token
    return bool(token and token.get_secret_value())


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    session = getattr(request.state, "console_session", None)
    context |= {"csrf": session.csrf_token if session else "", "signed_in": session is not None}
    return templates.TemplateResponse(request, template, context, status_code=status_code)


class ConsoleRoute(APIRoute):
    """404 when off; the session check before anything else; the console's headers on every
    answer (redirects and errors too); a deliberate error rendered as a page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            if not _enabled(request):
                raise NotFoundError("Not Found")  # like the admin API: absent when off
            response = await self._answer(request, handler)
            response.headers.update(SECURITY_HEADERS)
            response.headers.setdefault("Cache-Control", "no-store")
            return response

        return guarded

    @staticmethod
    async def _answer(
        request: Request, handler: Callable[[Request], Coroutine[Any, Any, Response]]
    ) -> Response:
        console = console_of(request)
        session = await console.auth.session_from(request.cookies.get(COOKIE))
        request.state.console_session = session
        if session is None and request.url.path not in PUBLIC_PATHS:
            return RedirectResponse(SIGN_IN, status_code=303)
        try:
            return await handler(request)
        except BridgeError as exc:
            return render(
                request, "error.html", exc.status_code, title="Error", message=exc.message
            )


router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

Csrf = Annotated[str, Form()]


def _refuse_csrf(request: Request, presented: str) -> HTMLResponse | None:
    if console_of(request).auth.csrf_ok(session_of(request), presented):
        return None
    message = "The form's security token is missing or does not match your session."
    return render(request, "error.html", 403, title="Refused", message=message)


# -- sign-in ---------------------------------------------------------------------------------


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/sign-in")
async def sign_in_page(request: Request) -> Response:
    if getattr(request.state, "console_session", None) is not None:
        return RedirectResponse(PREFIX, status_code=303)
    return render(request, "sign_in.html", title="Sign in")


@router.post("/sign-in")
async def sign_in(request: Request, token: Annotated[str, Form()] = "") -> Response:
    auth = console_of(request).auth
    address = _client_address(request)
    wait = auth.throttle.wait_seconds(address)
    if wait > 0:
        message = f"Too many wrong tokens from your address: try again in {wait:.0f} s."
        response = render(request, "sign_in.html", 429, title="Sign in", error=message)
        response.headers["Retry-After"] = str(max(1, round(wait)))
        return response
    if not auth.token_matches(token):
        auth.throttle.failed(address)
        message = "That is not the admin token."
        return render(request, "sign_in.html", 401, title="Sign in", error=message)
    auth.throttle.succeeded(address)
    _, cookie = auth.new_session()
    signed_in = RedirectResponse(PREFIX, status_code=303)
    signed_in.set_cookie(
        COOKIE,
        cookie,
        max_age=auth.max_age,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=console_of(request).secure_cookie,
    )
    return signed_in


@router.post("/sign-out")
async def sign_out(request: Request, csrf: Csrf = "") -> Response:
    if (refused := _refuse_csrf(request, csrf)) is not None:
        return refused
    await console_of(request).auth.revoke(session_of(request))
    response = RedirectResponse(SIGN_IN, status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX, httponly=True, samesite="strict")
    return response


@router.get("/static/{name}")
async def static(name: str) -> Response:
    if name not in STATIC_FILES:
        raise NotFoundError("Not Found")
    return FileResponse(STATIC_DIR / name, media_type=STATIC_FILES[name])


# -- overview --------------------------------------------------------------------------------


@router.get("")
async def overview(request: Request) -> Response:
    report, chart = await console_of(request).service.overview()
    return render(request, "overview.html", title="Overview", report=report, chart=chart)


# -- failed events ---------------------------------------------------------------------------


def _event_filter(status: str | None, source: str | None, event_type: str | None) -> EventFilter:
    """The page's filter; an unknown value is ignored rather than an error (a hand-edited URL)."""
    statuses = {s.value: s for s in LedgerStatus}
    sources = {s.value: s for s in Source}
    return EventFilter(
        status=statuses.get(status or "") if status is not None else LedgerStatus.failed,
        source=sources.get(source or ""),
        event_type=(event_type or "").strip() or None,
    )


@router.get("/events")
async def events(
    request: Request,
    status: str | None = None,
    source: str | None = None,
    event_type: str | None = None,
    page: int = 1,
) -> Response:
    selection = _event_filter(status, source, event_type)
    listing = await console_of(request).service.events(selection, page)
    return render(
        request,
        "events.html",
        title="Failed events",
        listing=listing,
        selection=selection,
        query=urlencode(selection.query()),
        statuses=[s.value for s in LedgerStatus],
        sources=[s.value for s in Source],
        page_size=PAGE_SIZE,
    )


@router.post("/events/replay")
async def replay_selected(
    request: Request, csrf: Csrf = "", key: Annotated[list[str] | None, Form()] = None
) -> Response:
    if (refused := _refuse_csrf(request, csrf)) is not None:
        return refused
    keys = key or []
    if not keys:
        return render(
            request,
            "error.html",
            400,
            title="Nothing selected",
            message="Select one or more events to replay.",
        )
    report = await console_of(request).service.replay_keys(keys)
    if len(keys) == 1:
        result = report.results[0]
        where = f"{PREFIX}/events/{quote(result.event_key, safe='')}"
        return RedirectResponse(f"{where}?{urlencode({'result': result.status.value})}", 303)
    return render(request, "replayed.html", title="Replayed", report=report)


@router.post("/events/replay-matching")
async def replay_matching(
    request: Request,
    csrf: Csrf = "",
    status: Annotated[str, Form()] = "failed",
    source: Annotated[str, Form()] = "",
    event_type: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
) -> Response:
    """First the dry-run count and a confirmation form; with `confirm`, the replay."""
    if (refused := _refuse_csrf(request, csrf)) is not None:
        return refused
    selection = _event_filter(status, source, event_type)
    service = console_of(request).service
    if confirm != "yes":
        dry_run = (await service.dry_run_matching(selection)).counts()
        return render(
            request,
            "confirm_replay.html",
            title="Replay all",
            selection=selection,
            count=dry_run["would_replay"],
            refused=dry_run["refused"],
        )
    report = await service.replay_matching(selection)
    return render(request, "replayed.html", title="Replayed", report=report)


@router.get("/events/{event_key:path}")
async def event(request: Request, event_key: str, result: str | None = None) -> Response:
    view = await console_of(request).service.event(event_key)
    return render(request, "event.html", title="Event", view=view, result=result)


# -- syncs -----------------------------------------------------------------------------------


@router.get("/syncs")
async def syncs(request: Request, message: str | None = None) -> Response:
    views = await console_of(request).service.syncs()
    live = any(view.running for view in views)
    return render(request, "syncs.html", title="Syncs", views=views, live=live, message=message)


@router.post("/syncs/{source}")
async def start_sync(
    request: Request, source: str, csrf: Csrf = "", dry_run: Annotated[str, Form()] = ""
) -> Response:
    if (refused := _refuse_csrf(request, csrf)) is not None:
        return refused
    service = console_of(request).service
    try:
        await service.start_sync(source, dry_run=dry_run == "yes")
    except BridgeError as exc:
        if exc.status_code == 404:
            raise
        views = await service.syncs()
        return render(
            request,
            "syncs.html",
            exc.status_code,
            title="Syncs",
            views=views,
            live=False,
            message=exc.message,
        )
    kind = "dry run" if dry_run == "yes" else "run"
    return RedirectResponse(
        f"{PREFIX}/syncs?{urlencode({'message': f'{source} {kind} started'})}", 303
    )
