"""Braintree → Attio: subscriptions, payments and disputes on the paying person's records.

`transforms` turns the SDK's parsed notification into Attio values (pure); `handlers` reads and
writes Attio; `people` finds the paying person; `ordering` keeps older notifications from
overwriting newer state.
"""

from app.services.braintree.handlers import BraintreeService

__all__ = ["BraintreeService"]
