"""`app.services.fx`: ECB reference rates, offline, loaded once, never a stale guess."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from app.config import Settings
from app.services.fx import ExchangeRates, RateUnavailable

# ECB's history file: newest day first, one column per currency (units per euro), N/A where a
# currency had no rate; 2026-11-07/08 are a weekend, RUB stopped long before the newest day.
HISTORY = """Date,USD,GBP,JPY,RUB,
2026-11-09,1.2000,0.8000,160.00,N/A,
2026-11-06,1.1000,0.8500,150.00,N/A,
2026-11-05,1.0000,0.9000,140.00,N/A,
2026-10-01,1.0500,0.8800,145.00,90.00,
"""


@pytest.fixture
def rates(tmp_path: Path) -> ExchangeRates:
    path = tmp_path / "eurofxref-hist.csv"
    path.write_text(HISTORY)
    return ExchangeRates(path)


@pytest.mark.parametrize(
    ("amount", "currency", "to", "on", "expected"),
    [
        ("100", "EUR", "USD", date(2026, 11, 6), "110"),  # the day's rate
        ("110", "USD", "EUR", date(2026, 11, 6), "100"),
        ("100", "GBP", "USD", date(2026, 11, 5), "111.1111"),  # through the euro
        ("100", "EUR", "USD", date(2026, 11, 7), "110"),  # a weekend: Friday's rate
        ("100", "EUR", "USD", date(2026, 11, 8), "110"),
        ("100", "EUR", "USD", date(2026, 12, 24), "120"),  # after the newest day: the newest
        ("100", "usd", "USD", date(2026, 11, 6), "100"),  # the same currency: as it is
        ("100", "EUR", "EUR", date(1990, 1, 1), "100"),
    ],
)
def test_conversions(
    rates: ExchangeRates, amount: str, currency: str, to: str, on: date, expected: str
) -> None:
    converted = rates.convert(Decimal(amount), currency, to, on)
    assert isinstance(converted, Decimal)
    assert converted.quantize(Decimal("0.0001")) == Decimal(expected).quantize(Decimal("0.0001"))


@pytest.mark.parametrize(
    ("currency", "on", "reason"),
    [
        ("AED", date(2026, 11, 6), "ECB publishes no reference rate for AED"),
        ("RUB", date(2026, 11, 6), "ECB stopped publishing RUB on 2026-10-01"),
        ("USD", date(2026, 9, 1), "no USD rate as old as 2026-09-01 is loaded"),
    ],
)
def test_no_rate_is_said_never_guessed(
    rates: ExchangeRates, currency: str, on: date, reason: str
) -> None:
    with pytest.raises(RateUnavailable, match=reason):
        rates.convert(Decimal(1), currency, "EUR", on)


def test_the_table_is_read_once_and_shared(rates: ExchangeRates) -> None:
    again = ExchangeRates(rates.rates_file)
    assert again.table() is rates.table()
    info = rates.info()
    assert info.newest_day == date(2026, 11, 9)
    assert {"EUR", "USD", "GBP", "JPY"} <= info.currencies


def test_the_rates_the_package_ships_convert_at_their_newest_day() -> None:
    rates = ExchangeRates()
    newest = rates.info().newest_day
    assert newest <= date.today()
    usd = rates.convert(Decimal(100), "EUR", "USD", newest + timedelta(days=30))
    assert Decimal(50) < usd < Decimal(200)


def test_fx_rates_file_setting_points_at_a_newer_copy(
    rates: ExchangeRates, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FX_RATES_FILE", rates.rates_file)
    chosen = ExchangeRates.from_settings(Settings())
    assert chosen.rates_file == rates.rates_file
    assert chosen.info().newest_day == date(2026, 11, 9)
    monkeypatch.setenv("FX_RATES_FILE", rates.rates_file + ".missing")
    with pytest.raises(ValueError, match="FX_RATES_FILE"):
        Settings()
