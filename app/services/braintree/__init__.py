"""Braintree → Attio: subscriptions, payments and disputes on the paying person's records.

service.py     `BraintreeService`: the handlers, the shared record locks and the sync runner,
               wired once
handlers.py    dispatcher handlers for subscription, transaction and dispute notifications
transforms.py  pure: the SDK's parsed notification -> Attio values
people.py      finding the paying person with as few Attio and Braintree calls as possible
ordering.py    keeps older notifications from overwriting newer state
catalogue.py   the `services` record of a plan id, cached
sync/          the diff-based backfill and reconciliation, and its report
"""

from app.services.braintree.service import BraintreeService

__all__ = ["BraintreeService"]
