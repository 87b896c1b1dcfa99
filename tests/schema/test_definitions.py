"""`app.schema.definitions`: the Braintree selects offer every value the installed SDK defines."""

from __future__ import annotations

import braintree
import pytest
from braintree.util.constants import Constants

from app.schema.definitions import DISPUTE_STATUSES, SUBSCRIPTION_STATUSES, TRANSACTION_STATUSES


@pytest.mark.parametrize(
    ("options", "sdk_constants"),
    [
        (SUBSCRIPTION_STATUSES, braintree.Subscription.Status),
        (TRANSACTION_STATUSES, braintree.Transaction.Status),
        (DISPUTE_STATUSES, braintree.Dispute.Status),
    ],
    ids=["Subscription.Status", "Transaction.Status", "Dispute.Status"],
)
def test_every_sdk_status_is_an_option(options: tuple[str, ...], sdk_constants: type) -> None:
    """An SDK upgrade that adds a status fails here until the schema has its option."""
    assert set(options) == set(Constants.get_all_constant_values_from_class(sdk_constants))
