"""Fixed exchange rates and SDK-parsed objects for the revenue and summary tests."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import braintree
from braintree.util.xml_util import XmlUtil

from app.services.fx import RateUnavailable
from testkit.braintree_api import to_xml

TODAY = date(2026, 12, 7)


class FixedRates:
    """Units per euro, the same every day (as ECB's table reads them)."""

    def __init__(self, **per_euro: str) -> None:
        self.per_euro = {"EUR": Decimal(1)} | {k: Decimal(v) for k, v in per_euro.items()}

    def convert(self, amount: Decimal, currency: str, to: str, on: date) -> Decimal:
        for code in (currency, to):
            if code not in self.per_euro:
                raise RateUnavailable(f"ECB publishes no reference rate for {code}")
        return amount / self.per_euro[currency] * self.per_euro[to]


RATES = FixedRates(USD="1.1", GBP="0.85")


def sdk(kind: str, fields: dict[str, Any]) -> Any:
    """`fields` as Braintree's XML, parsed back by the SDK into its own class."""
    cls = {
        "subscription": braintree.Subscription,
        "plan": braintree.Plan,
        "transaction": braintree.Transaction,
    }[kind]
    parsed = XmlUtil.dict_from_xml(to_xml(kind, fields))[kind]
    return cls(None, parsed)
