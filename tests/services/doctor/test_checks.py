"""The pure parts of doctor's checks: scopes, placeholders, redaction, the exit decision."""

from __future__ import annotations

from typing import Any

import pytest

from app.config import Settings
from app.services.doctor import Check, Report, Status, check_placeholders
from app.services.doctor.checks import missing_scopes


def settings(**env: Any) -> Settings:
    return Settings(_env_file=None, **env)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("granted", "missing"),
    [
        (
            "record_permission:read-write object_configuration:read-write webhook:read-write",
            [],
        ),
        (
            "record_permission:read-write object_configuration:read webhook:read-write "
            "user_management:read",
            ["object_configuration:read-write"],
        ),
        (
            "webhook:read",
            [
                "record_permission:read-write",
                "object_configuration:read-write",
                "webhook:read-write",
            ],
        ),
        (
            "",
            [
                "record_permission:read-write",
                "object_configuration:read-write",
                "webhook:read-write",
            ],
        ),
    ],
)
def test_missing_scopes(granted: str, missing: list[str]) -> None:
    assert missing_scopes(granted) == missing


@pytest.mark.parametrize(
    ("env", "failing"),
    [
        ({}, []),
        ({"ADMIN_TOKEN": "a-real-admin-token-0123"}, []),
        ({"ADMIN_TOKEN": "changeme"}, ["secret ADMIN_TOKEN"]),
        (
            {"ATTIO_API_KEY": "Your-API-Key", "BRAINTREE_PRIVATE_KEY": " xxx "},
            ["secret ATTIO_API_KEY", "secret BRAINTREE_PRIVATE_KEY"],
        ),
    ],
)
def test_placeholder_secrets(env: dict[str, str], failing: list[str]) -> None:
    rows = check_placeholders(settings(**env))
    assert [r.name for r in rows if r.status is Status.fail] == failing
    assert all(value not in r.detail + r.action for r in rows for value in env.values())


def test_redaction_replaces_every_secret_whatever_the_message() -> None:
    report = Report(
        [
            Check(
                "zoho token", Status.fail, "refused 1000.refresh-secret-xyz", "set it: hunter2-long"
            )
        ]
    )
    clean = report.redacted(["1000.refresh-secret-xyz", "hunter2-long", ""])
    (row,) = clean.checks
    assert row.detail == "refused [redacted]" and row.action == "set it: [redacted]"


def test_only_a_failure_fails_the_report() -> None:
    report = Report([Check("a", Status.ok, ""), Check("b", Status.warn, "")])
    report.extend([Check("c", Status.skipped, "")])
    assert not report.failed
    assert report.as_dict()["counts"] == {"ok": 1, "warn": 1, "fail": 0, "skipped": 1}
    report.extend([Check("d", Status.fail, "")])
    assert report.failed and report.as_dict()["ok"] is False
