"""Where a notification's payer meets their billing summary (docs/revenue.md).

Kept apart from `handlers.py` and `billing.py` because it needs both the payer's link
(`people.py`) and the summary (`billing.py`), and `people.py` already needs `billing.py`.
"""

from __future__ import annotations

from app.events.model import WebhookEvent
from app.services.braintree.billing import Billing, CustomerBilling
from app.services.braintree.people import PersonLink
from app.services.braintree.transforms import Payer


def customer_id_of(*sources: Payer | PersonLink | None) -> str | None:
    """The first customer id a notification's payer or a record's link names."""
    return next((s.customer_id for s in sources if s is not None and s.customer_id), None)


async def customer_summary(
    billing: Billing | None, *sources: Payer | PersonLink | None
) -> CustomerBilling | None:
    """The payer's summary, when the notification or the record names their customer id
    (two Braintree reads; see `billing.py`)."""
    if billing is None:
        return None
    return await billing.compute(customer_id_of(*sources))


async def settle_summary(
    billing: Billing | None,
    event: WebhookEvent,
    computed: CustomerBilling | None,
    payer: PersonLink | None,
    *,
    written: str = "",
) -> None:
    """After the event's writes: the person's summary unless their write carried it, their
    companies, and for a subscription event the customer's other subscriptions (`written`
    is the one the event wrote)."""
    if billing is None or computed is None:
        return
    await billing.report_problems(event, computed)
    if payer is not None and payer.customer_id == computed.customer_id:
        await billing.settle_person(
            computed,
            payer.record_id,
            record=payer.record,
            before=payer.before,
            summarized=payer.summarized,
            written=payer.written,
        )
    if written:
        await billing.other_subscriptions(computed, written)
