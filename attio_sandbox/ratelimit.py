"""Attio's request limits: sliding windows, one per class of call (reads and writes).

A call is admitted while fewer than `limit` admitted calls of its class fall inside the window.
Rejected calls are not recorded, so a client hammering a full window does not extend it.
"""

from __future__ import annotations

from collections import deque

from attio_sandbox.requestlog import CallKind


class SlidingWindowLimiter:
    def __init__(self) -> None:
        self._admitted: dict[CallKind, deque[float]] = {"read": deque(), "write": deque()}

    def try_acquire(self, kind: CallKind, *, limit: int, window: float, now: float) -> float | None:
        """Admit the call (None), or return the monotonic time at which a slot frees up."""
        admitted = self._admitted[kind]
        while admitted and admitted[0] <= now - window:
            admitted.popleft()
        if len(admitted) >= limit:
            # The slot of the call that is `limit` places back frees first; after a lowered
            # limit more than `limit` calls may still be inside the window.
            return admitted[-limit] + window
        admitted.append(now)
        return None

    def clear(self) -> None:
        for admitted in self._admitted.values():
            admitted.clear()
