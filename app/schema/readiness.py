"""Readiness: is Attio reachable with our token, and does it hold the schema the bridge writes?"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from app.clients.attio import AttioClient, AttioError
from app.schema.bootstrap import SchemaBootstrap


@dataclass(frozen=True)
class Readiness:
    ready: bool
    reason: str | None = None


class ReadinessProbe:
    """Answers `/readyz` without letting anonymous traffic spend Attio's read budget.

    - One check at a time: callers arriving while a check runs share its answer.
    - Every answer is reused, a good one for `ok_ttl` seconds and a bad one for `bad_ttl`, so
      a flood costs at most one `/v2/self` read per few seconds.
    - The schema walk (about a dozen reads) runs at most every `schema_ttl` seconds once it has
      passed, and at most every `schema_retry` seconds while it fails.
    - A check takes at most `timeout` seconds: an Attio that does not answer is "not ready"
      then, instead of holding every caller's connection for the client's full retry loop.
    """

    def __init__(
        self,
        client: AttioClient,
        bootstrap: SchemaBootstrap,
        *,
        ok_ttl: float = 10.0,
        bad_ttl: float = 5.0,
        schema_ttl: float = 300.0,
        schema_retry: float = 60.0,
        timeout: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._bootstrap = bootstrap
        self._ok_ttl = ok_ttl
        self._bad_ttl = bad_ttl
        self._schema_ttl = schema_ttl
        self._schema_retry = schema_retry
        self._timeout = timeout
        self._clock = clock
        self._answer: Readiness | None = None
        self._answer_until = float("-inf")
        self._running: asyncio.Task[Readiness] | None = None
        self._schema_ok_at = float("-inf")
        self._schema_gap: Readiness | None = None
        self._schema_gap_at = float("-inf")

    async def check(self) -> Readiness:
        if self._answer is not None and self._clock() < self._answer_until:
            return self._answer
        if self._running is None:
            self._running = asyncio.create_task(self._check_once())
        # Shielded: a caller that hangs up must not cancel the check the others wait on.
        return await asyncio.shield(self._running)

    async def _check_once(self) -> Readiness:
        try:
            async with asyncio.timeout(self._timeout):
                answer = await self._probe()
        except TimeoutError:
            answer = Readiness(False, f"Attio did not answer within {self._timeout:g} s")
        finally:
            self._running = None
        self._answer = answer
        self._answer_until = self._clock() + (self._ok_ttl if answer.ready else self._bad_ttl)
        return answer

    async def _probe(self) -> Readiness:
        now = self._clock()
        try:
            await self._client.get_self()
            if now - self._schema_ok_at >= self._schema_ttl:
                gap = self._schema_gap
                if gap is not None and now - self._schema_gap_at < self._schema_retry:
                    return gap
                report = await self._bootstrap.run(apply=False)
                if not report.complete:
                    problems = report.problems
                    shown = "; ".join(problems[:5]) + (" ..." if len(problems) > 5 else "")
                    self._schema_gap = Readiness(
                        False, f"Attio schema incomplete (run `attio-bridge bootstrap`): {shown}"
                    )
                    self._schema_gap_at = now
                    return self._schema_gap
                self._schema_ok_at = now
                self._schema_gap = None
        except AttioError as exc:
            return Readiness(False, f"Attio unavailable: {type(exc).__name__}: {exc}")
        return Readiness(True)
