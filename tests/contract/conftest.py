"""Fixtures: a fresh sandbox reached through a `ValidatingTransport`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.contract.openapi import OpenAPIValidator, ValidatingTransport, subset_validator


@pytest.fixture
def validator() -> OpenAPIValidator:
    return subset_validator()


@pytest.fixture
def transport(sandbox_app: FastAPI, validator: OpenAPIValidator) -> ValidatingTransport:
    return ValidatingTransport(httpx.ASGITransport(app=sandbox_app), validator)


@pytest.fixture
async def client(transport: ValidatingTransport) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://attio.sandbox",
        headers={"Authorization": "Bearer contract-test-token"},
    ) as http:
        yield http
