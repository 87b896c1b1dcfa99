"""Alert receivers on an in-memory transport, and a bootstrapped sandbox workspace."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.clients.attio import AttioClient
from app.schema import SchemaBootstrap
from tests.conftest import sandbox_attio_client

SLACK_URL = "https://hooks.slack.test/services/T000/B000/XXXXXXXX"
ALERT_URL = "https://alerts.example.test/attio-bridge"
ALERT_SECRET = "whsec_" + base64.b64encode(b"alert-signing-secret-01234567").decode()


@dataclass
class Receivers:
    """Every request the alert channels sent, and what each URL answers (default 200)."""

    requests: list[httpx.Request] = field(default_factory=list)
    answers: dict[str, int] = field(default_factory=dict)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.answers.get(str(request.url), 200), text="ok")

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def to(self, url: str) -> list[httpx.Request]:
        return [r for r in self.requests if str(r.url) == url]

    def bodies(self, url: str) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.to(url)]


@pytest.fixture
def receivers() -> Receivers:
    return Receivers()


@pytest.fixture
async def attio(sandbox_app: FastAPI) -> AsyncIterator[AttioClient]:
    async with sandbox_attio_client(sandbox_app) as client:
        assert (await SchemaBootstrap(client, currency_code="USD").run(apply=True)).complete
        yield client
