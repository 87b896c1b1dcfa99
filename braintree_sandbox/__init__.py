"""A Braintree API stand-in on loopback, for development, tests and benchmarks.

The official SDK, with `BRAINTREE_ENVIRONMENT=development`, talks to it as it would to
Braintree's gateway (see `api.py`). Like `attio_sandbox`, it imports nothing of the bridge and
is not in the Docker image; in the bridge only `app.cli.devsetup` imports it, lazily, for
`./scripts/dev`.
"""

from braintree_sandbox.api import (
    ROUTES,
    BraintreeData,
    braintree_api,
    read,
    sdk_gateway,
    subscription_xml,
    to_xml,
)

__all__ = [
    "ROUTES",
    "BraintreeData",
    "braintree_api",
    "read",
    "sdk_gateway",
    "subscription_xml",
    "to_xml",
]
