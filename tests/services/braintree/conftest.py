"""The end-to-end harness, with Braintree's API faked for every test of the service."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import harness
from tests.services.braintree.support import FakeBraintreeApi

__all__ = ["braintree_api", "harness"]


@pytest.fixture(autouse=True)
def braintree_api(monkeypatch: pytest.MonkeyPatch) -> FakeBraintreeApi:
    """No test reaches Braintree: the SDK's HTTP call answers from this fake."""
    api = FakeBraintreeApi()
    api.install(monkeypatch)
    return api
