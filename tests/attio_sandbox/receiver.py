"""A tiny webhook receiver app that records what it is sent and answers as told."""

from __future__ import annotations

import asyncio
import hmac
import json
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response

from attio_sandbox import SandboxState
from testkit.signing import attio_signature

RECEIVER_URL = "https://receiver.test/attio"


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    # Where it was handled: the loop and thread of the request.
    loop: asyncio.AbstractEventLoop
    thread: int


class Receiver:
    """POST /attio: records each request, answers the next of `statuses` (then 200).

    With `secret`, requests whose signature does not verify get 401, as a bridge answers.
    With a `gate`, every request waits for it to be set first.
    """

    def __init__(
        self,
        *statuses: int,
        secret: str | None = None,
        gate: asyncio.Event | None = None,
        delays: tuple[float, ...] = (),
    ) -> None:
        self.statuses = deque(statuses)
        self.delays = deque(delays)
        self.received: list[Received] = []
        # Set when the first request arrives.
        self.arrived = asyncio.Event()
        self.app = FastAPI()

        @self.app.post("/attio")
        async def attio(request: Request) -> Response:
            body = await request.body()
            self.received.append(
                Received(
                    dict(request.headers),
                    body,
                    asyncio.get_running_loop(),
                    threading.get_ident(),
                )
            )
            self.arrived.set()
            if gate is not None:
                await gate.wait()
            if self.delays:
                await asyncio.sleep(self.delays.popleft())
            presented = request.headers.get("attio-signature", "")
            if secret is not None and not hmac.compare_digest(
                presented, attio_signature(body, secret)
            ):
                return Response(status_code=401)
            return Response(status_code=self.statuses.popleft() if self.statuses else 200)

    def events(self) -> list[dict[str, Any]]:
        return [event for item in self.received for event in json.loads(item.body)["events"]]

    def wire(self, sandbox: SandboxState) -> None:
        """Deliver the sandbox's webhooks to this app, in-process."""
        sandbox.webhooks.transport = httpx.ASGITransport(app=self.app)
