"""Which errors are permanent (dead) and which are retried."""

from __future__ import annotations

import httpx
import pytest

from app.clients.attio import AttioAPIError, AttioTransportError
from app.errors import MalformedPayloadError, describe, is_permanent


def attio_error(status: int, code: str) -> AttioAPIError:
    response = httpx.Response(status, json={"status_code": status, "code": code, "message": "m"})
    return AttioAPIError.from_response(response)


@pytest.mark.parametrize(
    ("error", "permanent"),
    [
        (attio_error(400, "validation_type"), True),
        (attio_error(404, "not_found"), True),
        (attio_error(404, "merge_in_progress"), False),
        (attio_error(409, "slug_conflict"), True),
        (attio_error(409, "concurrent_write_conflict"), False),
        (attio_error(429, "rate_limit_exceeded"), False),
        (attio_error(500, "internal"), False),
        (AttioTransportError("no answer"), False),
        (MalformedPayloadError("bad"), True),
        (TimeoutError(), False),
        (KeyError("bug"), False),
    ],
)
def test_error_classification(error: Exception, permanent: bool) -> None:
    assert is_permanent(error) is permanent


def test_an_error_is_described_in_one_line() -> None:
    assert describe(KeyError("bug")) == "KeyError: 'bug'"
    assert describe(TimeoutError()) == "TimeoutError: processing exceeded the time budget"
