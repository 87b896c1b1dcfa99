"""The console in a real browser: Debian's chromium driven by Playwright, against the bridge as
`./scripts/dev` runs it (embedded Attio sandbox) on a loopback port, with the Zoho fake.

Sign in, see the failed event on the overview, open it, replay it, start a Zoho sync and watch
its progress reach the end, sign out. Every page is captured at 1280 and 375 px into
$CONSOLE_SCREENSHOTS (default test-artifacts/console/).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Page, expect, sync_playwright

from app.events.model import Source
from app.events.sources.attio import attio_event_key
from app.main import create_app
from testkit.fake_zoho import FakeZoho
from testkit.processes import free_port
from testkit.settings import ADMIN_TOKEN, make_settings
from testkit.signing import attio_signed_headers
from testkit.zoho_server import create_app as zoho_app
from testkit.zoho_server import environment as zoho_environment
from tests.e2e.test_ledger import FlakyHandler

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(os.environ.get("CONSOLE_SCREENSHOTS", "test-artifacts/console"))
ZOHO_ITEMS = 600  # three pages of the items list
WIDTHS = (1280, 375)


@dataclass
class Served:
    url: str
    app: object
    server: uvicorn.Server
    thread: threading.Thread


def serve(app: FastAPI | object) -> Served:
    """`app` on a free loopback port, in a thread (uvicorn installs no signal handlers there)."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("server did not start")
        time.sleep(0.05)
    return Served(f"http://127.0.0.1:{port}", app, server, thread)


def stop(served: Served) -> None:
    served.server.should_exit = True
    served.thread.join(timeout=30)


@pytest.fixture
def bridge() -> Iterator[Served]:
    zoho = serve(zoho_app(FakeZoho.with_items(ZOHO_ITEMS, page_latency=0.7)))
    # No Attio key: the embedded sandbox, exactly as ./scripts/dev runs.
    settings = make_settings(
        "https://api.attio.com", attio_api_key="", zoho_crm=False, **zoho_environment(zoho.url)
    )
    app = create_app(settings)
    # The first attempt at an Attio record update fails, so the ledger holds the event.
    app.state.bridge.dispatcher.register(Source.attio, "record.updated", FlakyHandler(failures=1))
    served = serve(app)
    try:
        yield served
    finally:
        stop(served)
        stop(zoho)


def attio_body(key: str, event_type: str = "record.updated") -> bytes:
    event = {
        "event_type": event_type,
        "id": {"workspace_id": "w", "object_id": "people", "record_id": "r0"},
        "actor": {"type": "workspace-member", "id": "m1"},
        "delivery": key,  # one body, hence one event key, per delivery
    }
    return json.dumps({"webhook_id": "wh-1", "events": [event]}).encode()


def deliver(url: str, key: str, event_type: str = "record.updated") -> dict[str, int]:
    body = attio_body(key, event_type)
    headers = {**attio_signed_headers(body), "Idempotency-Key": key}
    answer = httpx.post(f"{url}/webhooks/attio", content=body, headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    counts: dict[str, int] = answer.json()
    return counts


def deliver_failing_event(url: str) -> str:
    """One event the ledger keeps (its first attempt fails), then some that go through or are
    ignored, so the chart has every outcome."""
    assert deliver(url, "browser-1")["recorded"] == 1
    for n in range(4):
        assert deliver(url, f"browser-ok-{n}")["processed"] == 1
    for n in range(2):
        assert deliver(url, f"browser-other-{n}", "note.created")["ignored"] == 1
    return attio_event_key(attio_body("browser-1"), 0)


def capture(page: Page, name: str) -> None:
    """Screenshots at each width; at 375 px nothing may be wider than the screen."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=SCREENSHOTS / f"{name}-{width}.png", full_page=True)
        if width == 375:
            overflow = page.evaluate("document.documentElement.scrollWidth")
            assert overflow <= 375, f"{name} is {overflow} px wide at 375 px"
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})


def test_console_in_a_browser(bridge: Served) -> None:
    assert CHROMIUM, "chromium is not installed: `apt-get install chromium` (.ci/run does)"
    key = deliver_failing_event(bridge.url)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        script_errors: list[str] = []
        page.on("pageerror", lambda error: script_errors.append(str(error)))
        # A script error or anything the Content-Security-Policy refused (an inline script or
        # style would be); a page answered 401 (a wrong token) logs an error too, not counted.
        page.on(
            "console",
            lambda message: (
                script_errors.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )

        # Without a session: the sign-in page. Sign in with the keyboard only.
        page.goto(f"{bridge.url}/console/events")
        expect(page).to_have_url(f"{bridge.url}/console/sign-in")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        capture(page, "sign-in")
        page.get_by_label("Admin token").fill("not the token")
        page.keyboard.press("Enter")
        expect(page.get_by_role("alert")).to_contain_text("not the admin token")
        page.get_by_label("Admin token").focus()
        page.keyboard.type(ADMIN_TOKEN)
        page.keyboard.press("Enter")

        # The overview, with the failed event counted.
        expect(page).to_have_url(f"{bridge.url}/console")
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        for title in ("Attio", "Braintree", "Zoho", "Queue"):
            expect(page.get_by_role("heading", name=title, exact=False).first).to_be_visible()
        failed = page.get_by_role("link", name="1 failed")
        expect(failed).to_be_visible()
        # (The counts are this process's: other tests in the run may have added to them.)
        for outcome in ("processed", "ignored", "failed"):
            expect(page.locator(f"svg rect.o-{outcome}").first).to_be_attached()
        capture(page, "overview")

        # The failed events list, then the event.
        failed.click()
        expect(page.get_by_role("heading", name="Failed events")).to_be_visible()
        expect(page.get_by_role("link", name=key)).to_be_visible()
        capture(page, "events")
        page.get_by_role("link", name=key).click()
        expect(page.locator("#event-status")).to_have_text("failed")
        expect(page.locator("pre.error")).to_contain_text("AttioServerError")
        capture(page, "event")

        # Replay it: the stored request is verified again and goes through.
        page.get_by_role("button", name="Replay this event").click()
        expect(page.get_by_role("status")).to_contain_text("replayed")
        expect(page.locator("#event-status")).to_have_text("replayed")
        capture(page, "event-replayed")

        # A Zoho sync: started from the page, its progress refreshed in place to the end.
        page.get_by_role("link", name="Syncs").click()
        expect(page.get_by_role("heading", name="Syncs")).to_be_visible()
        page.get_by_role("button", name="Start zoho sync").click()
        expect(page.get_by_role("status")).to_contain_text("zoho run started")
        progress = page.locator("#progress-zoho")
        expect(progress).to_be_visible()
        capture(page, "syncs-running")
        expect(progress).to_have_attribute("data-phase", "done", timeout=90_000)
        expect(progress).to_have_attribute("value", str(ZOHO_ITEMS))
        expect(progress).to_have_attribute("max", str(ZOHO_ITEMS))
        section = page.locator("section.sync", has=page.locator("#sync-zoho"))
        expect(section.locator("tbody tr").first).to_contain_text("succeeded")
        expect(section.locator("tbody tr").first).to_contain_text(str(ZOHO_ITEMS))
        capture(page, "syncs")

        # Sign out: back to sign-in, and the console is closed again.
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(f"{bridge.url}/console/sign-in")
        page.goto(f"{bridge.url}/console")
        expect(page).to_have_url(f"{bridge.url}/console/sign-in")
        assert not script_errors, script_errors
        browser.close()
