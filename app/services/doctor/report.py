"""What `doctor` found: one row per check, and whether any failed."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from app.log import SecretRedactor


class Status(StrEnum):
    ok = "ok"
    warn = "warn"  # works, but not as it should (or soon will not)
    fail = "fail"  # the bridge fails, or part of it is off, until this is fixed
    skipped = "skipped"  # the system is not configured, or an earlier check failed


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    action: str = ""
    # Watch's extras: facts for machines (counts, keys) and the Attio records concerned, as
    # (object, record id), which an alert task links to.
    details: Mapping[str, Any] = field(default_factory=dict)
    links: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, str]:
        return {
            "check": self.name,
            "result": self.status.value,
            "detail": self.detail,
            "action": self.action,
        }


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    def extend(self, checks: Iterable[Check]) -> None:
        self.checks.extend(checks)

    @property
    def failed(self) -> bool:
        return any(check.status is Status.fail for check in self.checks)

    def redacted(self, secrets: Iterable[str]) -> Report:
        """The same rows with every secret value replaced, whatever a provider's message held
        (the log pipeline's rule: long secrets anywhere, short ones as whole tokens)."""
        redactor = SecretRedactor(secrets)
        return Report(
            [
                Check(
                    c.name,
                    c.status,
                    redactor.redact(c.detail),
                    redactor.redact(c.action),
                    c.details,
                    c.links,
                )
                for c in self.checks
            ]
        )

    def as_dict(self) -> dict[str, Any]:
        counts = {status.value: 0 for status in Status}
        for check in self.checks:
            counts[check.status.value] += 1
        return {"ok": not self.failed, "counts": counts, "checks": [c.as_dict() for c in self]}

    def __iter__(self) -> Iterator[Check]:
        return iter(self.checks)
