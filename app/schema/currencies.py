"""The currency codes Attio accepts as a currency attribute's default.

The enum of `default_currency_code` in Attio's OpenAPI document (create an attribute), in its
order; note NTD, not TWD. `ATTIO_DEFAULT_CURRENCY` is every currency attribute's default, so a
code outside the list is refused at start rather than by Attio at the first schema bootstrap.
"""

from __future__ import annotations

from app.config import Settings
from app.errors import ConfigurationError

ATTIO_CURRENCY_CODES = frozenset(
    {
        "ARS", "AUD", "BRL", "BGN", "CAD", "CLP", "CNY", "COP", "CZK", "DKK",
        "EUR", "HKD", "HUF", "ISK", "INR", "ILS", "JPY", "KES", "KRW", "MYR",
        "MXN", "NTD", "NZD", "NGN", "NOK", "XPF", "PEN", "PHP", "PLN", "GBP",
        "RWF", "SAR", "SGD", "ZAR", "SEK", "CHF", "THB", "AED", "UYU", "USD",
    }
)  # fmt: skip


def check_default_currency(settings: Settings) -> None:
    """ConfigurationError unless `ATTIO_DEFAULT_CURRENCY` is a code Attio accepts."""
    if settings.attio_default_currency not in ATTIO_CURRENCY_CODES:
        raise ConfigurationError(
            f"ATTIO_DEFAULT_CURRENCY={settings.attio_default_currency!r} is not a currency code "
            f"Attio accepts; use one of: {', '.join(sorted(ATTIO_CURRENCY_CODES))}"
        )
