"""A log of every /v2 call the sandbox answered, so tests and benchmarks can count Attio calls."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, Literal

CallKind = Literal["read", "write"]


@dataclass(frozen=True, slots=True)
class RequestLogEntry:
    method: str
    path: str
    query: str
    status: int
    kind: CallKind
    # time.monotonic() when the call arrived, and how long the answer took.
    at: float
    duration_ms: float
    # Which injected behaviour answered, if any: rate_limited, rate_limit_burst, server_error,
    # timeout, conflict; prefixed with "after_write:" when the write had been applied first.
    fault: str | None = None


class RequestLog:
    def __init__(self) -> None:
        self.entries: list[RequestLogEntry] = []

    def add(self, entry: RequestLogEntry) -> None:
        self.entries.append(entry)

    def clear(self) -> None:
        self.entries.clear()

    def select(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        path_regex: str | None = None,
        kind: CallKind | None = None,
        status: int | None = None,
    ) -> list[RequestLogEntry]:
        pattern = re.compile(path_regex) if path_regex is not None else None
        return [
            entry
            for entry in self.entries
            if (method is None or entry.method == method.upper())
            and (path is None or entry.path == path)
            and (pattern is None or pattern.search(entry.path))
            and (kind is None or entry.kind == kind)
            and (status is None or entry.status == status)
        ]

    def count(self, **criteria: Any) -> int:
        """Number of calls matching `select`'s criteria (e.g. `count(kind="write")`)."""
        return len(self.select(**criteria))

    def summary(self, recent: int = 50) -> dict[str, Any]:
        return {
            "total": len(self.entries),
            "by_kind": dict(Counter(entry.kind for entry in self.entries)),
            "by_status": {str(k): v for k, v in Counter(e.status for e in self.entries).items()},
            "by_fault": dict(Counter(e.fault for e in self.entries if e.fault is not None)),
            "recent": [asdict(entry) for entry in self.entries[-recent:]] if recent else [],
        }
