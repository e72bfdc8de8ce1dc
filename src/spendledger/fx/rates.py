"""Dated exchange rates and the one rule of conversion.

A `Rate` says that on `day`, 1 `base` = `rate` units of `currency` (the ECB's euro
reference rates have base EUR: 1 EUR = 1.0705 USD). A `RateBook` answers, for any two
currencies and a day, how many units of one make one of the other:

- the rate of the day itself, else the last known rate before it (the ECB publishes none
  on weekends and TARGET holidays; Friday's rate serves the weekend);
- a cross rate through a shared base: USD → CHF on a day is (EUR→CHF) / (EUR→USD) of
  that day; a rate whose base is one of the two is used directly or inverted;
- when several bases could answer, the one whose older rate is the more recent wins
  (EUR first on a tie): a fresh cross rate beats a stale direct one;
- no rate on or before the day: no answer (None), never 1 and never 0. The caller flags it.

Rates are exact `Decimal`s, parsed from their text, never through float. Converted
amounts are kept to 40 significant digits and summed; a sum is rounded half-even to the
nano-unit, the ledger's own precision (`round_nanos`), so a total does not depend on how a
report groups it; display rounds to the cent later (records.display_money).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from spendledger.currencies import currency_problem
from spendledger.errors import SpendledgerError

ECB_BASE = "EUR"
# The days a rate may carry: the ECB's series start on 1999-01-04; the ledger's records
# end in 2099 (records.LATEST), and a report's days in 2100 (queries.LAST_DAY).
FIRST_DAY = date(1999, 1, 1)
LAST_DAY = date(2100, 12, 31)
NANO = Decimal("1e-9")


def round_nanos(amount: Decimal) -> Decimal:
    """A converted sum rounded half-even to the nano-unit."""
    with localcontext() as ctx:
        ctx.prec = 40
        return amount.quantize(NANO, ROUND_HALF_EVEN)


_RATE = re.compile(r"[0-9]{1,12}(\.[0-9]{1,12})?")
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ECB_DAY = re.compile(r"([0-9]{1,2}) ([A-Za-z]+) ([0-9]{4})")  # the daily CSV's "28 June 2024"
_MONTHS = {
    name: i + 1
    for i, name in enumerate(
        (
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        )
    )  # fmt: skip
}


class RateError(SpendledgerError, ValueError):
    """A rate, day or currency that cannot go in the rate table; `field` names which."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message, field=field_name)


@dataclass(frozen=True, slots=True)
class Rate:
    day: date
    base: str  # 1 unit of base ...
    currency: str  # ... is `rate` units of currency
    rate: Decimal
    source: str  # "ecb", "file:NAME", "manual"

    @property
    def key(self) -> tuple[date, str, str]:
        return (self.day, self.base, self.currency)


def parse_rate(text: str) -> Decimal:
    """A rate from its text ("1.0705", "171.94"): a plain decimal number above 0, exact."""
    value = text.strip()
    rate = Decimal(value) if _RATE.fullmatch(value) else None
    if not rate:
        shown = value if len(value) <= 24 else value[:21] + "..."
        raise RateError(
            "rate", f"{shown!r} is not a rate: write a number above 0 with a dot for decimals, e.g. 1.0705"
        )
    return rate


def parse_day(text: str) -> date:
    """A rate's day: YYYY-MM-DD, or the ECB's daily CSV form "28 June 2024"; 1999..2100."""
    value = text.strip()
    day: date | None = None
    try:
        if _ISO_DAY.fullmatch(value):
            day = date.fromisoformat(value)
        elif (found := _ECB_DAY.fullmatch(value)) and found.group(2).lower() in _MONTHS:
            day = date(int(found.group(3)), _MONTHS[found.group(2).lower()], int(found.group(1)))
    except ValueError:
        day = None
    shown = value if len(value) <= 24 else value[:21] + "..."
    if day is None:
        raise RateError("date", f"{shown!r} is not a day: write YYYY-MM-DD, e.g. 2026-11-20")
    if not FIRST_DAY <= day <= LAST_DAY:
        raise RateError("date", f"{shown!r} is outside {FIRST_DAY} .. {LAST_DAY}")
    return day


def parse_currency(text: str, *, field: str = "currency") -> str:
    """An ISO 4217 code (any case) → upper case; RateError naming `field` otherwise."""
    code = text.strip().upper()
    problem = currency_problem(code)
    if problem:
        raise RateError(field, problem)
    return code


def make_rate(day: str, currency: str, rate: str, *, base: str = ECB_BASE, source: str) -> Rate:
    """A checked rate from its texts (a RateError names the field at fault)."""
    base_code = parse_currency(base, field="base")
    code = parse_currency(currency)
    if code == base_code:
        raise RateError("currency", f"{code} is the base itself: its rate is always 1; give another currency")
    return Rate(parse_day(day), base_code, code, parse_rate(rate), source)


class RateBook:
    """The rates of a few currencies, looked up by day (this module's rule)."""

    def __init__(self, rates: Iterable[Rate]) -> None:
        series: dict[tuple[str, str], dict[date, Decimal]] = {}
        for r in rates:
            series.setdefault((r.base, r.currency), {})[r.day] = r.rate
        self._days: dict[tuple[str, str], list[date]] = {k: sorted(v) for k, v in series.items()}
        self._rates: dict[tuple[str, str], list[Decimal]] = {
            k: [series[k][d] for d in days] for k, days in self._days.items()
        }
        bases = {base for base, _ in series}
        self._bases = sorted(bases, key=lambda b: (b != ECB_BASE, b))
        self._pairs: dict[tuple[str, str, date], tuple[Decimal, Decimal] | None] = {}

    def known(self, currency: str) -> bool:
        """Whether any rate names `currency`, as its base or its currency."""
        return any(currency in pair for pair in self._days)

    def rate_on(self, base: str, currency: str, day: date) -> tuple[date, Decimal] | None:
        """The rate of `base` → `currency` on `day`, or the last one before it, with its day."""
        if base == currency:
            return day, Decimal(1)
        days = self._days.get((base, currency))
        if not days:
            return None
        i = bisect_right(days, day)
        return None if i == 0 else (days[i - 1], self._rates[(base, currency)][i - 1])

    def factor(self, source: str, target: str, day: date) -> Decimal | None:
        """Units of `target` for 1 unit of `source` on `day` (None: no rate on or before it)."""
        found = self._pair(source, target, day)
        if found is None:
            return None
        with localcontext() as ctx:
            ctx.prec = 40
            return found[1] / found[0]

    def convert(self, amount: Decimal, source: str, target: str, day: date) -> Decimal | None:
        """`amount` of `source` in `target` at `day`'s rate (to 40 significant digits: round
        sums, not their parts, with `round_nanos`); None without a rate."""
        if source == target:
            return amount
        found = self._pair(source, target, day)
        if found is None:
            return None
        with localcontext() as ctx:
            ctx.prec = 40
            return amount * found[1] / found[0]

    def _pair(self, source: str, target: str, day: date) -> tuple[Decimal, Decimal] | None:
        """(rate of source, rate of target) against the base that answers freshest."""
        key = (source, target, day)
        if key not in self._pairs:  # a report converts many rows of one day
            self._pairs[key] = self._find_pair(source, target, day)
        return self._pairs[key]

    def _find_pair(self, source: str, target: str, day: date) -> tuple[Decimal, Decimal] | None:
        best: tuple[date, Decimal, Decimal] | None = None
        for base in self._bases:
            a = self.rate_on(base, source, day)
            b = self.rate_on(base, target, day)
            if a is None or b is None:
                continue
            oldest = min(a[0], b[0])
            if best is None or oldest > best[0]:
                best = (oldest, a[1], b[1])
        return None if best is None else (best[1], best[2])
