"""The console over HTTP: sign-in, session cookie, CSRF, escaping, redirects, headers."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from http.cookies import SimpleCookie

import pytest
from fastapi.testclient import TestClient

from app.events.model import Source
from app.events.sources.attio import attio_event_key
from app.routes.console import COOKIE
from app.services.console.auth import FREE_FAILURES
from testkit.signing import attio_signed_headers
from tests.e2e.conftest import ADMIN_TOKEN, Harness, start_harness
from tests.e2e.test_ledger import FlakyHandler

SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
PAGES = [
    "/console",
    "/console/events",
    "/console/events?status=dead&page=2",
    "/console/events/attio:delivery-1:0",
    "/console/syncs",
]
FORMS = [
    "/console/sign-out",
    "/console/events/replay",
    "/console/events/replay-matching",
    "/console/syncs/zoho",
    "/console/syncs/braintree",
    "/console/syncs/attio",
]
SCRIPT = "<script>alert('owned')</script>"


@pytest.fixture
def console() -> Iterator[Harness]:
    yield from start_harness()


def sign_in(client: TestClient, token: str = ADMIN_TOKEN):
    return client.post("/console/sign-in", data={"token": token}, follow_redirects=False)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def failed_attio_event(h: Harness, note: str, key: str = "delivery-1") -> str:
    """An Attio delivery whose handler fails, so the ledger holds it; its event_key."""
    h.bridge.dispatcher.register(Source.attio, "record.updated", FlakyHandler(failures=1))
    body = json.dumps(
        {
            "webhook_id": "wh-1",
            "events": [
                {
                    "event_type": "record.updated",
                    "id": {"workspace_id": "w", "object_id": "people", "record_id": "r0"},
                    "actor": {"type": "workspace-member", "id": "m1"},
                    "note": note,
                    "delivery": key,  # one body, hence one event key, per call
                }
            ],
        }
    ).encode()
    headers = {**attio_signed_headers(body), "Idempotency-Key": key}
    response = h.client.post("/webhooks/attio", content=body, headers=headers)
    assert response.json()["recorded"] == 1
    return attio_event_key(body, 0)


def test_off_without_admin_token() -> None:
    for h in start_harness({"ADMIN_TOKEN": ""}):
        for path in [*PAGES, "/console/sign-in", "/console/static/console.css"]:
            assert h.client.get(path, follow_redirects=False).status_code == 404, path
        assert sign_in(h.client, "").status_code == 404


def test_without_a_session_every_console_url_redirects_to_sign_in(console: Harness) -> None:
    client = console.client
    answers = [client.get(path, follow_redirects=False) for path in PAGES]
    answers += [client.post(path, data={"csrf": "x"}, follow_redirects=False) for path in FORMS]
    for answer in answers:
        assert answer.status_code == 303, answer.request.url
        assert answer.headers["location"] == "/console/sign-in"
        assert answer.content == b""
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers[name] == value
    # A forged or tampered cookie is no session either.
    client.cookies.set(COOKIE, "forged.value.here", path="/console")
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_sign_in_failures(console: Harness) -> None:
    for token in ("", "wrong", ADMIN_TOKEN + "x", ADMIN_TOKEN[:-1]):
        console.client.cookies.clear()
        answer = sign_in(console.client, token)
        assert answer.status_code in (401, 422), token
        assert COOKIE not in answer.cookies
        # Throttling is per address; clear it so each token is judged on its own.
        console.bridge.console.auth.throttle.succeeded("testclient")
    assert "not the admin token" in sign_in(console.client, "wrong").text


def test_session_cookie_flags(console: Harness) -> None:
    answer = sign_in(console.client)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console"
    cookie = SimpleCookie(answer.headers["set-cookie"])[COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "strict"
    assert cookie["path"] == "/console"
    assert cookie["max-age"] == str(8 * 3600)
    assert not cookie["secure"]  # development: plain http on loopback
    assert ADMIN_TOKEN not in answer.headers["set-cookie"]
    assert console.client.get("/console").status_code == 200


def test_session_cookie_is_secure_in_production() -> None:
    for h in start_harness({"BRIDGE_ENV": "production"}):
        cookie = SimpleCookie(sign_in(h.client).headers["set-cookie"])[COOKIE]
        assert cookie["secure"] is True
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "strict"


def test_sign_out_ends_the_session_for_good(console: Harness) -> None:
    sign_in(console.client)
    page = console.client.get("/console")
    stolen = console.client.cookies.get(COOKIE)
    answer = console.client.post(
        "/console/sign-out", data={"csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/sign-in"
    assert (
        "Max-Age=0" in answer.headers["set-cookie"]
        or "expires=" in answer.headers["set-cookie"].lower()
    )
    # The old cookie, replayed, is refused.
    console.client.cookies.set(COOKIE, stolen or "", path="/console")
    assert console.client.get("/console", follow_redirects=False).status_code == 303


def test_state_changing_forms_refuse_a_missing_or_wrong_csrf_token(console: Harness) -> None:
    key = failed_attio_event(console, "hello")
    sign_in(console.client)
    good = csrf_of(console.client.get("/console/events").text)
    for path, data in [
        ("/console/events/replay", {"key": key}),
        ("/console/events/replay-matching", {"confirm": "yes"}),
        ("/console/syncs/zoho", {}),
        ("/console/sign-out", {}),
    ]:
        for csrf in (None, "", "0" * 64, good[:-1] + ("0" if good[-1] != "0" else "1")):
            form = {**data, **({"csrf": csrf} if csrf is not None else {})}
            answer = console.client.post(path, data=form, follow_redirects=False)
            assert answer.status_code == 403, (path, csrf)
    # Nothing happened: the event is still failed and the session still works.
    assert console.bridge.zoho_service.sync_runner.last is None
    page = console.client.get(f"/console/events/{key}")
    assert page.status_code == 200
    assert 'id="event-status">failed<' in page.text


def test_a_csrf_token_of_another_session_is_refused(console: Harness) -> None:
    sign_in(console.client)
    first = csrf_of(console.client.get("/console").text)
    console.client.cookies.clear()
    sign_in(console.client)
    second = csrf_of(console.client.get("/console").text)
    assert first != second
    answer = console.client.post("/console/sign-out", data={"csrf": first}, follow_redirects=False)
    assert answer.status_code == 403


def test_payload_is_escaped_and_secrets_redacted(console: Harness) -> None:
    key = failed_attio_event(console, f"{SCRIPT} token={ADMIN_TOKEN}")
    sign_in(console.client)
    for path in (f"/console/events/{key}", "/console/events"):
        html = console.client.get(path).text
        assert "<script>alert" not in html
        assert ADMIN_TOKEN not in html
    html = console.client.get(f"/console/events/{key}").text
    assert "&lt;script&gt;alert(" in html
    assert "[redacted]" in html
    # The only script on any page is the console's own file.
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/console/static/console.js" defer>']


def test_repeated_wrong_tokens_slow_down(console: Harness) -> None:
    for _ in range(FREE_FAILURES):
        assert sign_in(console.client, "wrong").status_code == 401
    # From now on the address must wait before each try: even the right token is turned away.
    for token in ("wrong", ADMIN_TOKEN):
        answer = sign_in(console.client, token)
        assert answer.status_code == 429
        assert int(answer.headers["retry-after"]) >= 1
        assert COOKIE not in answer.cookies
    console.bridge.console.auth.throttle.succeeded("testclient")
    assert sign_in(console.client).status_code == 303


def test_security_headers_on_every_answer(console: Harness) -> None:
    answers = [
        console.client.get("/console/sign-in"),
        console.client.get("/console/static/console.css"),
    ]
    sign_in(console.client)
    answers += [console.client.get(path) for path in [*PAGES[:3], "/console/syncs"]]
    answers.append(console.client.get("/console/events/no-such-key"))
    for answer in answers:
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers[name] == value, answer.request.url
    assert answers[-1].status_code == 404
    assert answers[1].headers["content-type"].startswith("text/css")


def test_replay_one_then_all_that_match_after_a_dry_run_count(console: Harness) -> None:
    first = failed_attio_event(console, "one", key="d-1")
    second = failed_attio_event(console, "two", key="d-2")
    sign_in(console.client)
    listing = console.client.get("/console/events").text
    assert first in listing and second in listing
    csrf = csrf_of(listing)
    answer = console.client.post(
        "/console/events/replay", data={"csrf": csrf, "key": first}, follow_redirects=True
    )
    assert "Replay: <strong>replayed</strong>" in answer.text
    assert 'id="event-status">replayed<' in answer.text
    confirm = console.client.post(
        "/console/events/replay-matching", data={"csrf": csrf, "status": "failed"}
    )
    assert 'id="would-replay">1<' in confirm.text
    assert 'id="event-status"' not in confirm.text
    done = console.client.post(
        "/console/events/replay-matching",
        data={"csrf": csrf, "status": "failed", "confirm": "yes"},
    )
    assert done.status_code == 200
    assert second in done.text and "replayed" in done.text
    assert "No ledger record matches" in console.client.get("/console/events").text


def test_overview_shows_cards_ledger_counts_and_the_chart(console: Harness) -> None:
    failed_attio_event(console, "x")
    sign_in(console.client)
    html = console.client.get("/console").text
    for title in ("Attio", "Braintree", "Zoho", "Queue"):
        assert f'>{title} <span class="badge"' in html
    assert "Counted by this process since it started" in html
    assert "<svg" in html and 'class="o-failed"' in html
    assert '<span class="count">1</span> failed' in html


def test_with_redis_counts_are_shared_and_sign_out_holds_in_every_process(redis_url: str) -> None:
    for one in start_harness({"REDIS_URL": redis_url}):
        for other in start_harness({"REDIS_URL": redis_url}):
            sign_in(one.client)
            cookie = one.client.cookies.get(COOKIE) or ""
            other.client.cookies.set(COOKIE, cookie, path="/console")
            html = other.client.get("/console").text  # the same session, another process
            assert "Counted in Redis by every process" in html
            one.client.post("/console/sign-out", data={"csrf": csrf_of(html)})
            answer = other.client.get("/console", follow_redirects=False)
            assert answer.status_code == 303
            assert answer.headers["location"] == "/console/sign-in"


def test_replay_selected_reports_each_key_and_a_vanished_one_as_refused(console: Harness) -> None:
    first = failed_attio_event(console, "one", key="s-1")
    second = failed_attio_event(console, "two", key="s-2")
    sign_in(console.client)
    csrf = csrf_of(console.client.get("/console/events").text)
    answer = console.client.post(
        "/console/events/replay",
        data={"csrf": csrf, "key": [first, "attio:gone:0", second, first]},
    )
    assert answer.status_code == 200
    rows = re.findall(
        r'<a href="/console/events/[^"]+">([^<]+)</a></td>\s*<td><span class="status s-(\w+)"',
        answer.text,
    )
    assert rows == [(first, "replayed"), ("attio:gone:0", "refused"), (second, "replayed")]


def test_the_syncs_page_lists_every_source_the_bridge_runs(console: Harness) -> None:
    sign_in(console.client)
    page = console.client.get("/console/syncs")
    assert page.status_code == 200
    for source in ("zoho", "braintree", "attio"):
        assert f'action="/console/syncs/{source}"' in page.text, source
