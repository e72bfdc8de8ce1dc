"""What a reconciliation is asked with: a month, a tolerance; and the error a bad one raises.

Apart from reconcile/ (which reads the ledger) so that settings (config.py) can check a
tolerance; it imports nothing of ours but the errors' base class.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from spendledger.errors import SpendledgerError

# the years a month may be in: those holding a record's day in any zone (records.EARLIEST..LATEST)
FIRST_YEAR, LAST_YEAR = 1999, 2100


class ReconcileError(SpendledgerError, ValueError):
    """A reconciliation request the caller got wrong; `field` names the parameter."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}", field=param)
        self.param = param


@dataclass(frozen=True)
class Tolerance:
    """How far billed and metered may differ on a row before it is flagged: `percent` of
    the bill or `amount`, whichever is larger."""

    percent: Decimal = Decimal(1)
    amount: Decimal = Decimal("0.01")

    def allows(self, gap: Decimal, billed: Decimal) -> bool:
        return abs(gap) <= max(self.amount, abs(billed) * self.percent / 100)

    def __str__(self) -> str:
        return f"{self.percent.normalize():f}%,{self.amount.normalize():f}"


_TOLERANCE_PART = re.compile(r"\s*([0-9]{1,12}(?:\.[0-9]{1,9})?)\s*(%?)\s*")


def parse_tolerance(text: str) -> Tolerance:
    """ "2%" (of the bill), "0.50" (money), or both, "2%,0.50" (the larger wins)."""
    percent, amount = Decimal(0), Decimal(0)
    parts = text.split(",")
    for part in parts:
        found = _TOLERANCE_PART.fullmatch(part)
        if found is None or len(parts) > 2:
            shown = text if len(text) <= 40 else text[:37] + "..."
            raise ReconcileError(
                "tolerance",
                f"{shown!r} is not a tolerance; give a percent of the bill, an amount, or both: 1%,0.01",
            )
        try:
            value = Decimal(found.group(1))
        except InvalidOperation:  # pragma: no cover - the pattern admits decimals only
            raise ReconcileError("tolerance", f"{part!r} is not a number") from None
        if found.group(2):
            percent = value
        else:
            amount = value
    return Tolerance(percent=percent, amount=amount)


def month_range(month: str | date) -> tuple[date, date]:
    """The first and last UTC day of a month given as "YYYY-MM" (or any day of it)."""
    if isinstance(month, date):
        first = month.replace(day=1)
    else:
        text = month.strip()
        try:
            if not re.fullmatch(r"[0-9]{4}-[0-9]{2}", text):
                raise ValueError(text)
            first = date.fromisoformat(f"{text}-01")
        except ValueError:
            shown = text if len(text) <= 20 else text[:17] + "..."
            raise ReconcileError("month", f"{shown!r} is not a month; give YYYY-MM, e.g. 2026-11") from None
    if not FIRST_YEAR <= first.year <= LAST_YEAR:
        raise ReconcileError(
            "month", f"{first:%Y-%m} holds no record: the ledger keeps {FIRST_YEAR} to {LAST_YEAR}"
        )
    after = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first, after - timedelta(days=1)
