"""The Braintree API stand-in, under the name tests and benchmarks import it by.

It lives in `braintree_sandbox` so that `./scripts/dev` can serve it too.
"""

from braintree_sandbox.api import (
    ROUTES,
    BraintreeData,
    add_months,
    braintree_api,
    merchant_account,
    modification,
    read,
    sdk_gateway,
    subscription_xml,
    to_xml,
)

__all__ = [
    "ROUTES",
    "BraintreeData",
    "add_months",
    "braintree_api",
    "merchant_account",
    "modification",
    "read",
    "sdk_gateway",
    "subscription_xml",
    "to_xml",
]
