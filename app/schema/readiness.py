"""Readiness: is Attio reachable with our token, and does it hold the schema the bridge writes?"""

from __future__ import annotations

import time
from dataclasses import dataclass

from app.clients.attio import AttioClient, AttioError
from app.schema.bootstrap import SchemaBootstrap


@dataclass(frozen=True)
class Readiness:
    ready: bool
    reason: str | None = None


class ReadinessProbe:
    """Caches answers so frequent probes do not spend Attio's read budget.

    A good answer is reused for `ok_ttl` seconds; the schema walk (about a dozen reads) runs at
    most every `schema_ttl` seconds once it has passed, in between only `/v2/self` is called.
    """

    def __init__(
        self,
        client: AttioClient,
        bootstrap: SchemaBootstrap,
        *,
        ok_ttl: float = 10.0,
        schema_ttl: float = 300.0,
    ) -> None:
        self._client = client
        self._bootstrap = bootstrap
        self._ok_ttl = ok_ttl
        self._schema_ttl = schema_ttl
        self._ok_at = float("-inf")
        self._schema_ok_at = float("-inf")

    async def check(self) -> Readiness:
        now = time.monotonic()
        if now - self._ok_at < self._ok_ttl:
            return Readiness(True)
        try:
            await self._client.get_self()
            if now - self._schema_ok_at >= self._schema_ttl:
                report = await self._bootstrap.run(apply=False)
                if not report.complete:
                    problems = report.problems
                    shown = "; ".join(problems[:5]) + (" ..." if len(problems) > 5 else "")
                    return Readiness(
                        False, f"Attio schema incomplete (run `attio-bridge bootstrap`): {shown}"
                    )
                self._schema_ok_at = now
        except AttioError as exc:
            return Readiness(False, f"Attio unavailable: {type(exc).__name__}: {exc}")
        self._ok_at = now
        return Readiness(True)
