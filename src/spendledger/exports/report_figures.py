"""The figures of a period's report (the monthly PDF, the weekly and monthly digests), read
through `queries.spend` like every other rendering, so they agree with the API to the cent.

Every spend figure is on the "best available" basis (billed where a billing sync covers
the account and UTC day, else metered; manual and demo always count) and carries the
bases that make it up. Figures are in the period's leading currency; spend in other
currencies is named beside them, never added (nor converted: see `report_query`).

Budgets and anomalies are the alerts package's figures, the reconciliation the reconcile
package's: this module holds their shapes (`BudgetLine`, `AnomalyLine`, reconcile's
`ProviderSummary`) and reports.period_report fills them in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from spendledger.exports.periods import Period, period_of
from spendledger.queries import (
    Granularity,
    QueryError,
    SpendQuery,
    SpendReport,
    check_display_currency,
    parse_display_currency,
    restrict,
    spend,
)
from spendledger.reconcile import ProviderSummary
from spendledger.records import Basis
from spendledger.store import Connection

BREAKDOWNS: tuple[str, ...] = ("provider", "account", "project", "model", "user")
TOP = 10  # rows of each breakdown before "the rest"
CHART_SERIES = 5  # providers drawn apart in the daily chart; the others as one
BASIS_ORDER: tuple[str, ...] = tuple(str(b) for b in Basis)
BASIS_WORDS: dict[str, str] = {
    "billed": "the provider's bill, from a billing sync or a cost export",
    "metered": "your own calls, priced from the catalogue, where no bill covers the account and UTC day",
    "manual": "entries typed or imported by hand, and seat subscriptions",
    "demo": "generated demo data, not real spend",
}


class ReportError(QueryError):
    """A report parameter the caller got wrong; the message names it and what to send."""


@dataclass(frozen=True)
class Line:
    """One row of a breakdown: a value's spend in the period and in the one before."""

    name: str
    cost: Decimal
    previous: Decimal
    bases: tuple[str, ...]
    count: int = 1  # the values it sums (more than one for "the rest")

    @property
    def change(self) -> Decimal:
        return self.cost - self.previous


@dataclass(frozen=True)
class Breakdown:
    dimension: str
    top: list[Line]
    rest: Line | None  # the values after the top ones, summed; None when there are none


@dataclass(frozen=True)
class BudgetLine:
    name: str
    scope: str  # "project=web", "everything"
    period: str  # monthly | weekly | ...
    window: str  # the window(s) it was judged on, in words
    spent: Decimal
    amount: Decimal
    currency: str
    percent: Decimal
    outcome: str  # "over by $5.00", "within: $40.00 left", "2 of 4 weeks over"
    over: bool


@dataclass(frozen=True)
class AnomalyLine:
    day: date
    subject: str  # "model gpt-4o"
    spent: Decimal
    usual: Decimal
    currency: str
    note: str  # the driver and likely causes, in words


@dataclass
class ReportFigures:
    period: Period
    through: date  # the last day counted: the period's end, or today in the current period
    compared: Period  # the days of the previous period it is compared with (as many days)
    currency: str
    total: Decimal
    previous_total: Decimal
    bases: dict[str, Decimal]  # the total split by basis
    requests: int
    tokens: int  # input + output
    unpriced_requests: int
    other_currencies: dict[str, Decimal]  # spend in other currencies: not converted, not counted
    days: list[date]
    daily: dict[str, list[Decimal]]  # provider (or "other providers") → cost per day
    breakdowns: list[Breakdown]
    scope: dict[str, tuple[str, ...]]
    timezone: str
    generated_at: datetime
    budgets: list[BudgetLine] | None = None  # None: not shown to this reader (members)
    # the reconciliation's summary per provider and currency (reconcile.reconcile, UTC days,
    # as charged); None: not shown to this reader (members: a bill does not split by scope)
    reconciliation: list[ProviderSummary] | None = None
    anomalies: list[AnomalyLine] = field(default_factory=list)
    anomalies_left_out: int = 0  # smaller jumps not listed

    @property
    def change(self) -> Decimal:
        return self.total - self.previous_total

    @property
    def change_pct(self) -> Decimal | None:
        return percent(self.change, self.previous_total)

    @property
    def complete(self) -> bool:
        return self.through >= self.period.end


def percent(part: Decimal, whole: Decimal) -> Decimal | None:
    """`part` as a % of `whole`, to 0.1 %; None when `whole` is 0."""
    return (part * 100 / whole).quantize(Decimal("0.1")) if whole else None


def report_query(
    start: date,
    end: date,
    *,
    scope: Mapping[str, Sequence[str]],
    currency: str | None,
    by: tuple[str, ...] = (),
    granularity: Granularity = Granularity.TOTAL,
    basis: str = "best",
) -> SpendQuery:
    """The one place a report builds its spend queries: within the reader's scope, in the
    display currency asked for (None: as charged), each day converted at its own rate."""
    query = SpendQuery(start=start, end=end, by=by, granularity=granularity, basis=basis, currency=currency)
    return restrict(query, scope)


def check_currency(conn: Connection, wanted: str | None) -> str | None:
    """The display currency asked for (None: as charged): an ISO 4217 code that the rate
    table names or the ledger holds spend in, else a ReportError on `currency`."""
    try:
        code = parse_display_currency(wanted)
        check_display_currency(conn, SpendQuery(start=date.min, end=date.max, currency=code))
    except QueryError as exc:
        raise ReportError("currency", str(exc).removeprefix("currency: ")) from None
    return code


def leading_currency(wanted: str | None, report: SpendReport) -> str:
    """The report's currency: the display currency, else the period's leading one."""
    return wanted or report.leading_currency


def spend_figures(
    conn: Connection,
    *,
    period: Period,
    today: date,
    scope: Mapping[str, Sequence[str]],
    currency: str | None,
    timezone: str,
    generated_at: datetime,
    top: int = TOP,
) -> ReportFigures:
    """The period's spend figures (budgets, anomalies and the reconciliation are left for
    reports.period_report to add).

    A period that holds today is counted up to today and compared with as many days of the
    period before; a period that starts after today is refused.
    """
    if period.start > today:
        raise ReportError(period.kind, f"{period.key} has not started yet (today is {today.isoformat()})")
    currency = check_currency(conn, currency)
    through = min(period.end, today)
    before = period.previous
    compared = before  # a whole period against the whole one before; a current one against as many days
    if through < period.end:
        compared = replace(
            before, end=min(before.end, before.start + timedelta(days=(through - period.start).days))
        )

    def query(
        start: date, end: date, by: tuple[str, ...] = (), granularity: Granularity = Granularity.TOTAL
    ) -> SpendQuery:
        return report_query(start, end, scope=scope, currency=currency, by=by, granularity=granularity)

    by_basis = spend(conn, query(period.start, through, by=("basis",)))
    leading = leading_currency(currency, by_basis)
    rows = [r for r in by_basis.rows if r.currency == leading]
    previous = spend(conn, query(compared.start, compared.end))
    figures = ReportFigures(
        period=period,
        through=through,
        compared=compared,
        currency=leading,
        total=by_basis.totals.get(leading, Decimal(0)),
        previous_total=previous.totals.get(leading, Decimal(0)),
        bases=_by_basis({r.dims["basis"] or "": r.cost for r in rows}),
        requests=sum(r.requests for r in rows),
        tokens=sum(r.input_tokens + r.output_tokens for r in rows),
        unpriced_requests=sum(r.unpriced_requests for r in rows),
        other_currencies={c: v for c, v in sorted(by_basis.totals.items()) if c != leading},
        days=[period.start + timedelta(days=i) for i in range((through - period.start).days + 1)],
        daily={},
        breakdowns=[],
        scope={dim: tuple(values) for dim, values in scope.items()},
        timezone=timezone,
        generated_at=generated_at,
    )
    figures.daily = _daily(
        conn, query(period.start, through, by=("provider",), granularity=Granularity.DAY), figures
    )
    for dim in BREAKDOWNS:
        now = spend(conn, query(period.start, through, by=(dim, "basis")))
        then = spend(conn, query(compared.start, compared.end, by=(dim,)))
        figures.breakdowns.append(_breakdown(dim, now, then, leading, top))
    return figures


def ordered_bases(bases: set[str] | Mapping[str, object]) -> tuple[str, ...]:
    """Bases in the fixed order billed, metered, manual, demo (any other after, by name)."""
    return (*(b for b in BASIS_ORDER if b in bases), *sorted(set(bases) - set(BASIS_ORDER)))


def _by_basis(costs: Mapping[str, Decimal]) -> dict[str, Decimal]:
    return {b: costs[b] for b in ordered_bases(costs)}


def _daily(conn: Connection, query: SpendQuery, figures: ReportFigures) -> dict[str, list[Decimal]]:
    """Cost per day of the largest providers, the others summed as "other providers"."""
    per: dict[str, dict[str, Decimal]] = {}
    for row in spend(conn, query).rows:
        if row.currency == figures.currency and row.period:
            provider = per.setdefault(row.dims["provider"] or "unknown", {})
            provider[row.period] = provider.get(row.period, Decimal(0)) + row.cost
    ranked = sorted(per, key=lambda p: (-sum(per[p].values()), p))
    shown = ranked if len(ranked) <= CHART_SERIES else ranked[: CHART_SERIES - 1]
    keys = [d.isoformat() for d in figures.days]
    series = {p: [per[p].get(k, Decimal(0)) for k in keys] for p in shown}
    if rest := ranked[len(shown) :]:
        series["other providers"] = [sum((per[p].get(k, Decimal(0)) for p in rest), Decimal(0)) for k in keys]
    return series


def _breakdown(dim: str, now: SpendReport, then: SpendReport, currency: str, top: int) -> Breakdown:
    costs: dict[str | None, Decimal] = {}
    bases: dict[str | None, set[str]] = {}
    for row in now.rows:
        if row.currency == currency:
            value = row.dims[dim]
            costs[value] = costs.get(value, Decimal(0)) + row.cost
            bases.setdefault(value, set()).add(row.dims["basis"] or "")
    before: dict[str | None, Decimal] = {}
    for row in then.rows:
        if row.currency == currency:
            before[row.dims[dim]] = before.get(row.dims[dim], Decimal(0)) + row.cost
    ranked = sorted(costs, key=lambda v: (-costs[v], v is None, v or ""))

    def line(values: Sequence[str | None], name: str) -> Line:
        used = {b for v in values for b in bases[v]}
        return Line(
            name=name,
            cost=sum((costs[v] for v in values), Decimal(0)),
            previous=sum((before.get(v, Decimal(0)) for v in values), Decimal(0)),
            bases=ordered_bases(used),
            count=len(values),
        )

    lines = [line([v], v if v is not None else "(none)") for v in ranked[:top]]
    rest = ranked[top:]
    return Breakdown(dim, lines, line(rest, f"the other {len(rest)}") if rest else None)


@dataclass(frozen=True)
class PeriodSpend:
    period: Period
    totals: dict[str, Decimal]  # per currency (best available), up to today


def recent_periods(
    conn: Connection, *, kind: str, today: date, count: int, scope: Mapping[str, Sequence[str]]
) -> list[PeriodSpend]:
    """The `count` months or weeks up to the current one, newest first, each with its spend."""
    periods = [period_of(kind, today)]
    while len(periods) < count:
        periods.append(periods[-1].previous)
    granularity = Granularity.MONTH if kind == "month" else Granularity.WEEK
    query = report_query(periods[-1].start, today, scope=scope, currency=None, granularity=granularity)
    totals: dict[str, dict[str, Decimal]] = {}
    for row in spend(conn, query).rows:
        if row.period:
            found = totals.setdefault(row.period, {})
            found[row.currency] = found.get(row.currency, Decimal(0)) + row.cost
    # the rows' period: "2026-11" for a month, the Monday's date for a week
    keys = [p.key if kind == "month" else p.start.isoformat() for p in periods]
    return [
        PeriodSpend(p, dict(sorted(totals.get(k, {}).items()))) for p, k in zip(periods, keys, strict=True)
    ]
