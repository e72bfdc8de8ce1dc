"""Budgets: what a spending limit has used in its current window, and in the windows before.

A budget reads its spend through `queries.spend` (the same figures as every report) with
its scope as the query's filters, its basis, and its currency as the display currency:
spend in every currency counts, converted at its day's rate; what has no rate for its
day is not counted and is shown beside the figure (`BudgetStatus.unconverted`).
Windows are calendar-aligned local days of the configured zone, both ends included:
monthly = the calendar month, weekly = Monday to Sunday, daily = the day, quarterly =
the calendar quarter (Jan, Apr, Jul, Oct), custom = its own range (which never resets).
Records carry their local day already (store/ledger.py), so a window is a plain date
range here; the zone matters only for which day "today" is (`local_day`).

Money is Decimal throughout; an amount is parsed from its string, never through float.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from spendledger.queries import QueryError, SpendQuery, build_query, spend
from spendledger.store import Connection
from spendledger.store.budgets import DEFAULT_THRESHOLDS, DIM, PERIODS, BudgetRow, add_budget, update_budget

BUDGET_BASES: tuple[str, ...] = ("best", "billed", "metered")
HISTORY = 6  # past windows shown by `budgets show`


class BudgetError(QueryError):
    """A budget parameter the caller got wrong; the message names it and what is allowed."""


@dataclass(frozen=True)
class Window:
    start: date  # first local day
    end: date  # last local day, included

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    """The calendar day `moment` falls on in the configured zone."""
    return moment.astimezone(tz).date()


def window_of(period: str, day: date, *, custom: tuple[date, date] | None = None) -> Window:
    """The window of `period` that holds `day` (a custom period's window is its range)."""
    if period == "daily":
        return Window(day, day)
    if period == "weekly":
        monday = day - timedelta(days=day.weekday())
        return Window(monday, monday + timedelta(days=6))
    if period == "monthly":
        return Window(day.replace(day=1), _month_start(day, 1) - timedelta(days=1))
    if period == "quarterly":
        first = day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
        return Window(first, _month_start(first, 3) - timedelta(days=1))
    if period == "custom":
        if custom is None:
            raise BudgetError("period", "a custom period needs its first and last day (--from, --to)")
        return Window(*custom)
    raise BudgetError("period", f"{period!r} is not one of {', '.join(PERIODS)}")


def previous_window(period: str, window: Window) -> Window:
    """The window just before `window` (not defined for custom periods)."""
    return window_of(period, window.start - timedelta(days=1))


def _month_start(day: date, months: int) -> date:
    """The first day of the month `months` after `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


# ---- defining a budget ------------------------------------------------------------------------


def parse_amount(value: str | Decimal) -> Decimal:
    """A positive amount of money from its text ("500", "1,250.50"), exact."""
    try:
        amount = value if isinstance(value, Decimal) else Decimal(value.strip().replace(",", ""))
    except InvalidOperation:
        raise BudgetError("amount", f"{value!r} is not an amount (e.g. 500 or 1250.50)") from None
    if not amount.is_finite() or amount <= 0:
        raise BudgetError("amount", f"{value!r}: the amount must be more than 0")
    return amount


def parse_thresholds(value: str | Sequence[int]) -> tuple[int, ...]:
    """Percentages of the amount, e.g. "50,80,100" (each 1 to 1000), sorted, no repeats."""
    parts = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    out: set[int] = set()
    for part in parts:
        part = part.strip().rstrip("%")
        if not part.isdigit() or not 1 <= int(part) <= 1000:
            raise BudgetError(
                "thresholds", f"{part!r} is not a percentage from 1 to 1000; write e.g. 50,80,100"
            )
        out.add(int(part))
    if not out:
        raise BudgetError("thresholds", "give at least one percentage, e.g. 50,80,100")
    return tuple(sorted(out))


def create_budget(
    conn: Connection,
    *,
    name: str,
    amount: str | Decimal,
    now: datetime,
    currency: str = "USD",
    period: str = "monthly",
    start: str | date | None = None,
    end: str | date | None = None,
    filters: Sequence[str] = (),
    thresholds: str | Sequence[int] = DEFAULT_THRESHOLDS,
    basis: str = "best",
    channels: Sequence[str] = (),
) -> BudgetRow:
    """Validate a budget's parameters (the CLI's and the API's names) and store it."""
    fields = _checked(
        name=name, amount=amount, now=now, currency=currency, period=period, start=start, end=end,
        filters=filters, thresholds=thresholds, basis=basis, channels=channels,
    )  # fmt: skip
    return add_budget(conn, now=now, **fields)


def change_budget(
    conn: Connection,
    name: str,
    *,
    amount: str | Decimal,
    now: datetime,
    currency: str = "USD",
    period: str = "monthly",
    start: str | date | None = None,
    end: str | date | None = None,
    filters: Sequence[str] = (),
    thresholds: str | Sequence[int] = DEFAULT_THRESHOLDS,
    basis: str = "best",
    channels: Sequence[str] = (),
) -> BudgetRow:
    """Change the budget `name`'s definition (its name stays), with `create_budget`'s checks."""
    fields = _checked(
        name=name, amount=amount, now=now, currency=currency, period=period, start=start, end=end,
        filters=filters, thresholds=thresholds, basis=basis, channels=channels,
    )  # fmt: skip
    return update_budget(conn, **fields)


def _checked(
    *,
    name: str,
    amount: str | Decimal,
    now: datetime,
    currency: str,
    period: str,
    start: str | date | None,
    end: str | date | None,
    filters: Sequence[str],
    thresholds: str | Sequence[int],
    basis: str,
    channels: Sequence[str],
) -> dict[str, Any]:
    """The store's fields of a budget, each parameter checked (a BudgetError names the wrong one)."""
    name = name.strip()
    if not name or len(name) > DIM:
        raise BudgetError("name", f"a budget's name is 1 to {DIM} characters")
    if period not in PERIODS:
        raise BudgetError("period", f"{period!r} is not one of {', '.join(PERIODS)}")
    if basis not in BUDGET_BASES:
        raise BudgetError("basis", f"{basis!r} is not one of {', '.join(BUDGET_BASES)}")
    currency = currency.strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise BudgetError("currency", f"{currency!r} is not a currency code (e.g. USD, EUR)")
    custom: tuple[date, date] | None = None
    if period == "custom":
        if start is None or end is None:
            raise BudgetError("from", "a custom period needs --from and --to (YYYY-MM-DD)")
        query = build_query(today=now.date(), start=start, end=end)
        custom = (query.start, query.end)
    elif start is not None or end is not None:
        raise BudgetError("from", f"--from and --to set a custom period's range; not with --period {period}")
    scope = dict(build_query(today=now.date(), filters=filters).filters)
    for dim in ("basis", "currency"):
        if dim in scope:
            raise BudgetError("filter", f"a budget's {dim} is set with --{dim}, not as a filter")
    return {
        "name": name,
        "amount": parse_amount(amount),
        "currency": currency,
        "period": period,
        "scope": scope,
        "custom_start": custom[0] if custom else None,
        "custom_end": custom[1] if custom else None,
        "thresholds": parse_thresholds(thresholds),
        "basis": basis,
        "channels": [c.strip() for c in channels if c.strip()],
    }


# ---- status -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PastWindow:
    start: date
    end: date
    spent: Decimal
    percent: Decimal  # of the amount, to 0.1 %


@dataclass(frozen=True)
class BudgetStatus:
    budget: BudgetRow
    today: date
    window: Window
    spent: Decimal  # in the window up to today, in the budget's currency
    left: Decimal  # the amount less spent; negative once over
    percent: Decimal  # of the amount, to 0.1 %
    resets_in: int | None  # days until the next window starts; None: a custom window never resets
    crossed: tuple[int, ...]  # the thresholds spent has reached
    past: list[PastWindow] = field(default_factory=list)  # most recent first
    # spend in the window on days with no rate into the budget's currency, per currency:
    # not in `spent` (it cannot be), and shown beside it
    unconverted: dict[str, Decimal] = field(default_factory=dict)

    @property
    def over(self) -> bool:
        return self.spent > self.budget.amount


def budget_window(budget: BudgetRow, day: date) -> Window:
    custom = (budget.custom_start, budget.custom_end) if budget.custom_start and budget.custom_end else None
    return window_of(budget.period, day, custom=custom)


def budget_spent(conn: Connection, budget: BudgetRow, start: date, end: date) -> Decimal:
    """The budget's spend from `start` to `end` (local days, included), exact: every
    currency's spend converted into the budget's at its day's rate."""
    return budget_spend(conn, budget, start, end)[0]


def budget_spend(
    conn: Connection, budget: BudgetRow, start: date, end: date
) -> tuple[Decimal, dict[str, Decimal]]:
    """`budget_spent`, and per currency the spend on days with no rate into the budget's
    currency (not counted, flagged)."""
    if end < start:
        return Decimal(0), {}
    query = SpendQuery(
        start=start, end=end, basis=budget.basis, filters=_scope(budget.scope), currency=budget.currency
    )
    report = spend(conn, query)
    others = {c: v for c, v in sorted(report.totals.items()) if c != budget.currency}
    return report.totals.get(budget.currency, Decimal(0)), others


def budget_status(
    conn: Connection, budget: BudgetRow, *, today: date, history: int = HISTORY
) -> BudgetStatus:
    """The current window's figures and the last `history` windows' (none for custom)."""
    window = budget_window(budget, today)
    spent, unconverted = budget_spend(conn, budget, window.start, min(window.end, today))
    past: list[PastWindow] = []
    if budget.period != "custom":
        earlier = window
        for _ in range(history):
            earlier = previous_window(budget.period, earlier)
            used = budget_spent(conn, budget, earlier.start, earlier.end)
            past.append(PastWindow(earlier.start, earlier.end, used, _percent(used, budget.amount)))
    return BudgetStatus(
        budget=budget,
        today=today,
        window=window,
        spent=spent,
        left=budget.amount - spent,
        percent=_percent(spent, budget.amount),
        resets_in=None if budget.period == "custom" else (window.end - today).days + 1,
        crossed=tuple(t for t in budget.thresholds if spent * 100 >= budget.amount * t),
        past=past,
        unconverted=unconverted,
    )


def describe_scope(scope: Mapping[str, Sequence[str]]) -> str:
    """ "provider=openai,anthropic project=web", or "everything"."""
    return " ".join(f"{dim}={','.join(values)}" for dim, values in scope.items()) or "everything"


def _scope(scope: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    return {dim: tuple(values) for dim, values in scope.items()}


def _percent(spent: Decimal, amount: Decimal) -> Decimal:
    return (spent * 100 / amount).quantize(Decimal("0.1"))
