"""Async access to the few Braintree API calls the bridge makes.

Subscription and dispute notifications carry no customer, so when Attio does not know the payer
either, the customer is fetched from Braintree; CRM edits of a paying person update the
customer. The SDK is synchronous (`requests`), so every call runs in a worker thread;
`abandon_on_cancel` lets the processing budget end the wait even though the thread itself
finishes in the background (bounded by the SDK timeout).

"Not found" on a read is an answer (None). A change Braintree refuses is
`BraintreeRejectedError` (permanent); every other SDK error propagates, so the event goes to the
ledger and is retried.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
import braintree
from braintree.exceptions.not_found_error import NotFoundError

from app.config import Settings
from app.errors import BridgeError
from app.log import get_logger
from app.timing import add_wait_seconds

log = get_logger(__name__)
T = TypeVar("T")

# Well under the event budget, so a slow Braintree fails the attempt rather than hanging it.
DEFAULT_TIMEOUT_SECONDS = 5.0
# A customer id no merchant has (Braintree ids are at most 36 characters of [A-Za-z0-9_-]).
CREDENTIALS_PROBE_ID = "attio-bridge-credentials-probe"


class BraintreeRejectedError(BridgeError):
    """Braintree refused a change (a validation error): the same change can never succeed."""

    status_code = 422
    code = "braintree_rejected"


class BraintreeClient:
    """Thin async wrappers around one long-lived SDK gateway (it pools HTTP connections)."""

    def __init__(self, gateway: braintree.BraintreeGateway) -> None:
        self._gateway = gateway

    @classmethod
    def from_settings(cls, settings: Settings) -> BraintreeClient | None:
        """A client for the configured merchant, or None when Braintree is not configured."""
        if not settings.braintree_configured:
            return None
        private_key = settings.braintree_private_key
        config = braintree.Configuration(
            environment=braintree.Environment.parse_environment(settings.braintree_environment),
            merchant_id=settings.braintree_merchant_id,
            public_key=settings.braintree_public_key,
            private_key=private_key.get_secret_value() if private_key else "",
            timeout=min(DEFAULT_TIMEOUT_SECONDS, settings.event_processing_budget_seconds),
        )
        return cls(braintree.BraintreeGateway(config))

    async def find_customer(self, customer_id: str) -> Any | None:
        """The SDK `Customer` (id, email, first_name, last_name, company, phone), if it exists."""
        return await self._find("customer", self._gateway.customer.find, customer_id)

    async def find_transaction(self, transaction_id: str) -> Any | None:
        """The SDK `Transaction`, whose `customer_details` name the payer, if it exists."""
        return await self._find("transaction", self._gateway.transaction.find, transaction_id)

    async def customer_id_for_payment_method(self, token: str) -> str | None:
        """The customer a vaulted payment method (a subscription's) belongs to."""
        method = await self._find("payment_method", self._gateway.payment_method.find, token)
        customer_id = getattr(method, "customer_id", None) if method is not None else None
        return str(customer_id) if customer_id else None

    async def verify_credentials(self) -> None:
        """One cheap authenticated read: a customer id nobody has answers 404 once the keys are
        accepted; refused keys raise the SDK's `AuthenticationError` (401) or
        `AuthorizationError` (403)."""
        await self.find_customer(CREDENTIALS_PROBE_ID)

    async def update_customer(self, customer_id: str, changes: dict[str, str]) -> None:
        """Change a customer's fields (`first_name`, `email`, ...) as given."""
        result = await self._in_thread(self._gateway.customer.update, customer_id, changes)
        if not getattr(result, "is_success", False):
            # The SDK's message lists the failed validations; it holds no credentials.
            message = getattr(result, "message", "no reason given")
            raise BraintreeRejectedError(f"Braintree refused the customer update: {message}")

    async def _in_thread(self, call: Callable[..., T], *args: Any) -> T:
        """Run a blocking SDK call off the event loop, timed as Braintree's share."""
        started = time.perf_counter()
        try:
            return await anyio.to_thread.run_sync(call, *args, abandon_on_cancel=True)
        finally:
            add_wait_seconds("braintree", time.perf_counter() - started)

    async def _find(self, what: str, call: Callable[[str], T], key: str) -> T | None:
        try:
            return await self._in_thread(call, key)
        except NotFoundError:
            log.info("braintree.api.not_found", resource=what)
            return None
