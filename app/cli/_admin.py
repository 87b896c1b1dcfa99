"""Scheduled jobs run by the web service: the CLI side of `BRIDGE_ADMIN_URL`.

Without Redis there is no shared Attio budget, so a cron job that called Attio itself would spend
a second one next to the web service's. With `BRIDGE_ADMIN_URL` set, the job's command asks the
web service (admin API, bearer ADMIN_TOKEN) to run it instead and prints what it reports.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import httpx

from app.config import Settings
from app.errors import BridgeError, ConfigurationError

# A retry-due run of 500 events at 24 writes/s takes about a minute; a long sync is polled.
JOB_TIMEOUT_SECONDS = 900.0


class AdminAPIError(BridgeError):
    code = "admin_api_error"


def _open(base_url: str) -> AbstractContextManager[httpx.Client]:
    return httpx.Client(base_url=base_url, timeout=JOB_TIMEOUT_SECONDS)


# Tests point this at the app under test.
open_client: Callable[[str], AbstractContextManager[httpx.Client]] = _open


def admin_call(
    settings: Settings, method: str, path: str, *, json: Any = None, ok: tuple[int, ...] = (200,)
) -> Any:
    """One admin API call to the web service; its JSON answer, or an error naming the status."""
    base = settings.jobs_via_admin_api
    assert base is not None
    if settings.admin_token is None or not settings.admin_token.get_secret_value():
        raise ConfigurationError("BRIDGE_ADMIN_URL is set but ADMIN_TOKEN is not")
    headers = {"Authorization": f"Bearer {settings.admin_token.get_secret_value()}"}
    try:
        with open_client(base) as client:
            response = client.request(method, path, json=json, headers=headers)
    except httpx.HTTPError as exc:
        raise AdminAPIError(
            f"{method} {path} on the web service failed: {type(exc).__name__}"
        ) from None
    if response.status_code not in ok:
        # The admin API's error body is code and detail, never a secret.
        raise AdminAPIError(
            f"{method} {path} on the web service answered {response.status_code}: "
            f"{response.text[:300]}"
        )
    return response.json()
