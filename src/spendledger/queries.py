"""The read side: every total, series and breakdown, as typed rows.

One function, `spend()`, answers every spend question (the first page, the JSON API,
`spendledger report`, the explorer, alerts and exports). This module says what a
question means (periods, filters, scopes) and gives typed rows; the store answers it
(store/reads.py: the smallest rollup that holds the question's dimensions, the records
only when none does).

"Best available" basis: for each provider account and day, billed figures win where a
billed record exists and metered ones fill the rest; manual and demo figures always
count. Which metered records a bill covers is decided in one place, store/rollups.py.

Display currency (`SpendQuery.currency`): every amount is converted here, and only here,
at the rate of its own day (fx/rates.py: that day's, else the last before it). Sums are
read per day and currency, converted, then added up into weeks, months or the total, so a
month is the sum of its converted days, never a month's total at one rate. An amount
whose day has no usable rate stays in its own currency, in its own row and total, and is
listed in `SpendReport.unconverted`: flagged, never dropped, never counted as zero.
"""

from __future__ import annotations

import calendar
import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from operator import itemgetter
from typing import Any

from spendledger.currencies import currency_problem
from spendledger.errors import SpendledgerError
from spendledger.fx.rates import RateBook, round_nanos
from spendledger.records import DIMENSIONS, as_utc, from_nanos, to_nanos
from spendledger.store import Connection, reads
from spendledger.store.fx_rates import rate_currencies, rates_for
from spendledger.store.ledger import get_meta
from spendledger.store.mapped import TAG_KEY, TAG_KEY_RULE, TAG_PREFIX, TEAM
from spendledger.store.reads import NOTHING as NOTHING

PRESETS: tuple[str, ...] = ("7d", "30d", "90d", "mtd", "last-month", "ytd")
# A query's dates are clamped to these days, which hold every record the ledger accepts
# (2000..2099 UTC, records.EARLIEST..LATEST) in any zone: `from=0001-01-01` means "from
# the start", and no day or month is ever stepped past what a date can hold.
FIRST_DAY = date(1999, 1, 1)
LAST_DAY = date(2100, 12, 31)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DAYS = re.compile(r"([0-9]{1,9})d")
BASES: tuple[str, ...] = ("best", "all", "billed", "metered", "manual", "demo")
ORIGINAL = "original"  # the `currency` parameter's value for "no conversion"
# What a query may group and filter by: the records' dimensions, `team` (a project's
# team) and `tag:KEY` (a tag's value); store/mapped.py reads them.
QUERY_DIMENSIONS: tuple[str, ...] = (*DIMENSIONS[:-2], TEAM, *DIMENSIONS[-2:])


class QueryError(SpendledgerError, ValueError):
    """A query the caller got wrong; the message says which parameter and what is allowed."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}", field=param)
        self.param = param


class Granularity(enum.StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    TOTAL = "total"


@dataclass(frozen=True)
class SpendQuery:
    start: date  # inclusive, a local date in the configured zone
    end: date  # inclusive
    by: tuple[str, ...] = ()
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    granularity: Granularity = Granularity.TOTAL
    basis: str = "best"
    currency: str | None = None  # display currency: every amount converted into it; None: as charged


@dataclass
class SpendRow:
    dims: dict[str, str | None]
    period: str | None
    currency: str
    cost: Decimal
    requests: int
    input_tokens: int
    cached_input_tokens: int
    cache_write_tokens: int
    output_tokens: int
    reasoning_tokens: int
    unpriced_requests: int


@dataclass(frozen=True)
class Unconverted:
    """An amount a display currency could not take: no rate for its day or any day before."""

    day: date
    currency: str
    amount: Decimal


# An answer's row as a plain tuple, in the order every rendering writes it: the `by` values
# (None: no value), the period, the currency, the cost in nano-units, then LINE_COUNTS.
# Big answers are encoded straight from these (exports/spend.py), never through SpendRow.
Line = tuple[Any, ...]
LINE_COUNTS: tuple[str, ...] = reads.SUMS[1:]  # requests, input_tokens, ... unpriced_requests


@dataclass
class SpendReport:
    query: SpendQuery
    lines: list[Line]  # the rows as tuples (see `Line`), in the report's order
    totals: dict[str, Decimal]  # per currency
    table: str  # the rollup (or `usage`) that answered
    # with a display currency: the days whose amounts had no rate, left in their currency
    unconverted: list[Unconverted] = field(default_factory=list)

    @cached_property
    def rows(self) -> list[SpendRow]:
        """The lines as typed rows, for the readers that pick figures out of a few of them."""
        width = len(self.query.by)
        return [
            SpendRow(
                dict(zip(self.query.by, line[:width], strict=True)),
                period,
                currency,
                from_nanos(cost),
                *counts,
            )
            for line in self.lines
            for period, currency, cost, *counts in (line[width:],)
        ]

    @property
    def currency(self) -> str | None:
        """The report's one currency (USD, or the display currency, when empty); None when it
        holds several, which are never added up: each has its own total in `totals`."""
        if self.query.currency is not None:  # converted: its own, unless some had no rate
            return None if set(self.totals) - {self.query.currency} else self.query.currency
        if len(self.totals) > 1:
            return None
        return next(iter(self.totals), "USD")

    @property
    def total(self) -> Decimal | None:
        """The total in the report's one currency; None when it holds several."""
        return None if self.currency is None else self.totals.get(self.currency, Decimal(0))

    @property
    def leading_currency(self) -> str:
        """The currency with the largest total (the display currency, when the query has one):
        the one a chart draws, the others beside it."""
        if self.query.currency:
            return self.query.currency
        return max(sorted(self.totals), key=lambda c: self.totals[c]) if self.totals else "USD"


def period_range(preset: str, *, today: date) -> tuple[date, date]:
    """The inclusive dates of a period preset, ending today (local); none starts before FIRST_DAY."""
    if days := _DAYS.fullmatch(preset):
        count = int(days.group(1))
        if count < 1:
            raise QueryError("period", f"{preset!r} holds no day; use 1d or more")
        return today - timedelta(days=min(count, (today - FIRST_DAY).days + 1) - 1), today
    if preset == "mtd":
        return today.replace(day=1), today
    if preset == "last-month":
        last = today.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    if preset == "ytd":
        return today.replace(month=1, day=1), today
    raise QueryError("period", f"unknown preset {preset!r}; use one of {', '.join(PRESETS)}")


def build_query(
    *,
    today: date,
    start: str | date | None = None,
    end: str | date | None = None,
    period: str | None = None,
    by: Sequence[str] = (),
    filters: Sequence[str] = (),
    granularity: str = "total",
    basis: str = "best",
    currency: str | None = None,
) -> SpendQuery:
    """Parse and validate the parameters the CLI and the API share (same names, same errors).

    `filters` are "DIM=VALUE" or "DIM:VALUE"; repeating a dimension ORs its values.
    Without dates or a period, the query covers the last 30 days. `currency` is an ISO
    4217 code to show every amount in, or `original` (or nothing) for none.
    """
    if period:
        p_start, p_end = period_range(period, today=today)
    else:
        p_start, p_end = today - timedelta(days=29), today
    q_start = _parse_date("from", start) if start else p_start
    q_end = _parse_date("to", end) if end else (p_end if period or not start else today)
    if q_start > q_end:
        raise QueryError("from", f"{q_start} is after to={q_end}")
    q_start, q_end = (min(max(day, FIRST_DAY), LAST_DAY) for day in (q_start, q_end))
    dims = _parse_dims("by", [d for part in by for d in part.split(",") if d.strip()])
    parsed: dict[str, list[str]] = {}
    for raw in filters:
        tag = raw.lstrip().startswith(TAG_PREFIX)  # tag:KEY:VALUE (or tag:KEY=VALUE)
        rest = raw.lstrip()[len(TAG_PREFIX) :] if tag else raw
        sep = "=" if "=" in rest else ":"
        name, found, value = rest.partition(sep)
        name = TAG_PREFIX + name if tag else name
        if not found:
            form = "tag:KEY:VALUE (e.g. tag:team:search)" if tag else "DIM=VALUE (e.g. provider=openai)"
            raise QueryError("filter", f"{raw!r} is not {form}")
        if "\x00" in raw:  # no dimension holds one, and PostgreSQL refuses it in a query
            raise QueryError("filter", f"{raw!r} contains a NUL character; remove it")
        (name,) = _parse_dims("filter", [name])
        parsed.setdefault(name, []).append(value.strip())
    try:
        gran = Granularity(granularity)
    except ValueError:
        raise QueryError(
            "granularity", f"{granularity!r} is not one of {', '.join(g.value for g in Granularity)}"
        ) from None
    if basis not in BASES:
        raise QueryError("basis", f"{basis!r} is not one of {', '.join(BASES)}")
    return SpendQuery(
        start=q_start,
        end=q_end,
        by=tuple(dims),
        filters={k: tuple(v) for k, v in parsed.items()},
        granularity=gran,
        basis=basis,
        currency=parse_display_currency(currency),
    )


def parse_display_currency(value: str | None) -> str | None:
    """A display currency parameter: None (or "", "original") for none, else an ISO 4217 code."""
    code = (value or "").strip()
    if not code or code.lower() == ORIGINAL:
        return None
    problem = currency_problem(code)
    if problem:
        raise QueryError("currency", f"{problem}, or {ORIGINAL} for the amounts as charged")
    return code.upper()


def _parse_date(param: str, value: str | date) -> date:
    if isinstance(value, date):
        return value
    text = value.strip()
    try:
        if not _DATE.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise QueryError(param, f"{shown!r} is not a date (YYYY-MM-DD)") from None


def _parse_dims(param: str, names: Sequence[str]) -> list[str]:
    out = []
    for name in names:
        name = name.strip()
        if name.startswith(TAG_PREFIX):
            if not TAG_KEY.fullmatch(name[len(TAG_PREFIX) :]):
                shown = name if len(name) <= 40 else name[:37] + "..."
                raise QueryError(param, f"{shown!r}: give {TAG_KEY_RULE}")
        else:
            name = name.replace("-", "_")
            if name == "key":
                name = "api_key_id"
            if name not in QUERY_DIMENSIONS:
                raise QueryError(
                    param, f"unknown dimension {name!r}; use one of {', '.join(QUERY_DIMENSIONS)} or tag:KEY"
                )
        if name not in out:
            out.append(name)
    return out


def restrict(query: SpendQuery, scope: Mapping[str, Sequence[str]]) -> SpendQuery:
    """`query` limited to `scope` (dimension → allowed values), e.g. a member's grants.

    A filter the query already has is narrowed to the allowed values; a dimension it
    does not filter is filtered to them.
    """
    if not scope:
        return query
    filters = dict(query.filters)
    for dim, allowed in scope.items():
        wanted = filters.get(dim)
        kept = tuple(v for v in wanted if v in allowed) if wanted else tuple(allowed)
        filters[dim] = kept or (NOTHING,)
    return replace(query, filters=filters)


def question(query: SpendQuery) -> reads.SpendQuestion:
    """The query in the store's terms."""
    return reads.SpendQuestion(
        query.start, query.end, query.by, query.filters, query.granularity.value, query.basis
    )


def spend(conn: Connection, query: SpendQuery) -> SpendReport:
    """Totals and rows for `query`, exact to the nano-unit (converted: see the module's doc)."""
    if query.currency is None:
        return _spend_as_charged(conn, query)
    return _spend_converted(conn, query, query.currency)


_first = itemgetter(0)


def _spend_as_charged(conn: Connection, query: SpendQuery) -> SpendReport:
    table, merged = reads.spend_sums(conn, question(query))
    keyed: list[tuple[tuple[Any, ...], Line]] = []
    nanos: dict[str, int] = {}
    for key, sums in merged.items():  # key: (period, *by values, currency); sums: cost, LINE_COUNTS
        cost, currency, dims = sums[0], key[-1], key[1:-1]
        nanos[currency] = nanos.get(currency, 0) + cost
        if None in dims:  # '' and None both mean "no value"; '' sorts, None is written
            dims = tuple(v or "" for v in dims)
        shown = dims if all(dims) else tuple(v or None for v in dims)
        keyed.append(((key[0] or "", -cost, dims), (*shown, key[0], currency, *sums)))
    keyed.sort(key=_first)
    totals = {currency: from_nanos(n) for currency, n in nanos.items()}
    return SpendReport(query=query, lines=[line for _, line in keyed], totals=totals, table=table)


def _spend_converted(conn: Connection, query: SpendQuery, target: str) -> SpendReport:
    """`query` with every amount in `target`: the rows already in it as they are, the others
    read per day, converted at the day's rate and added into their period's row."""
    as_charged = _spend_as_charged(conn, query)
    foreign = sorted(c for c in as_charged.totals if c != target)
    if not foreign:
        return replace(as_charged, query=query)
    daily = _spend_as_charged(
        conn,
        replace(query, granularity=Granularity.DAY, filters={**query.filters, "currency": tuple(foreign)}),
    )
    book = RateBook(rates_for(conn, [*foreign, target], query.start, query.end))
    width = len(query.by)
    # (period, *by values, currency) → [cost (exact, unrounded), *LINE_COUNTS]
    merged: dict[tuple[Any, ...], list[Any]] = {}
    for line in as_charged.lines:
        if line[width + 1] == target:
            merged[(line[width], *line[:width], target)] = [from_nanos(line[width + 2]), *line[width + 3 :]]
    missing: dict[tuple[date, str], Decimal] = {}
    for line in daily.lines:
        day, charged = date.fromisoformat(line[width]), line[width + 1]
        amount = from_nanos(line[width + 2])
        cost = book.convert(amount, charged, target, day) if amount else Decimal(0)
        if cost is None:
            missing[(day, charged)] = missing.get((day, charged), Decimal(0)) + amount
        key = (_period_of(day, query.granularity), *line[:width], charged if cost is None else target)
        into = merged.setdefault(key, [Decimal(0), *[0] * len(LINE_COUNTS)])
        into[0] += amount if cost is None else cost
        for i, count in enumerate(line[width + 3 :], 1):
            into[i] += count
    exact: dict[str, Decimal] = {}
    keyed: list[tuple[tuple[Any, ...], Line]] = []
    for (period, *dims, currency), (cost, *counts) in merged.items():
        exact[currency] = exact.get(currency, Decimal(0)) + cost
        nanos = to_nanos(round_nanos(cost))
        keyed.append(
            ((period or "", -nanos, *(v or "" for v in dims)), (*dims, period, currency, nanos, *counts))
        )
    keyed.sort(key=_first)
    totals = {c: round_nanos(v) for c, v in exact.items()}  # exact sums, rounded once
    unconverted = [Unconverted(day, cur, amount) for (day, cur), amount in sorted(missing.items())]
    return SpendReport(
        query=query,
        lines=[line for _, line in keyed],
        totals=totals,
        table=as_charged.table,
        unconverted=unconverted,
    )


def _period_of(day: date, granularity: Granularity) -> str | None:
    """The period label a day falls in, as the store labels them (weeks by their Monday)."""
    if granularity is Granularity.DAY:
        return day.isoformat()
    if granularity is Granularity.WEEK:
        return (day - timedelta(days=day.weekday())).isoformat()
    if granularity is Granularity.MONTH:
        return day.isoformat()[:7]
    return None


def display_currencies(conn: Connection) -> list[str]:
    """The currencies a report can be shown in: every one the rate table names, and those
    the ledger holds spend in (shown as they are)."""
    held = _spend_as_charged(conn, SpendQuery(start=FIRST_DAY, end=LAST_DAY, by=("currency",), basis="all"))
    return sorted(rate_currencies(conn) | set(held.totals))


def check_display_currency(conn: Connection, query: SpendQuery) -> SpendQuery:
    """`query`, or a QueryError on `currency` when no rate names its display currency and the
    ledger holds no spend in it (every amount would stay unconverted)."""
    if query.currency is None:
        return query
    known = display_currencies(conn)
    if query.currency not in known:
        raise QueryError(
            "currency",
            f"no exchange rates for {query.currency}: import them (spendledger fx import FILE, or "
            f"spendledger fx update), or use {', '.join([*known, ORIGINAL])}",
        )
    return query


@dataclass
class UnpricedModel:
    provider: str
    model: str
    records: int
    requests: int
    input_tokens: int
    output_tokens: int
    first_seen: datetime
    last_seen: datetime


def unpriced_models(conn: Connection) -> list[UnpricedModel]:
    """Models with records waiting for a price, with the token volumes that wait."""
    return [
        UnpricedModel(
            provider=r.provider,
            model=r.model,
            records=r.records,
            requests=r.requests,
            input_tokens=r.input_tokens,
            output_tokens=r.output_tokens,
            first_seen=as_utc(r.first_seen),
            last_seen=as_utc(r.last_seen),
        )
        for r in reads.unpriced_sums(conn)
    ]


def has_demo(conn: Connection) -> bool:
    """Whether any demo record is in the ledger."""
    return reads.has_basis(conn, "demo")


def last_write_at(conn: Connection) -> datetime | None:
    value = get_meta(conn, "last_write_at")
    return datetime.fromisoformat(value) if value else None


@dataclass
class ProviderFigure:
    provider: str
    cost: Decimal
    bases: list[str]  # which bases make up the figure, e.g. ["billed", "metered"]


@dataclass
class Kpis:
    """The headline figures of the last 30 days against the 30 before, and the month."""

    month_to_date: Decimal
    today: Decimal
    last_30: Decimal
    previous_30: Decimal
    requests_30: int
    tokens_30: int  # input + output
    unpriced_requests_30: int

    @property
    def change_pct(self) -> Decimal | None:
        """Last 30 days against the 30 before, in %; None when there was nothing before."""
        if not self.previous_30:
            return None
        return ((self.last_30 - self.previous_30) / self.previous_30 * 100).quantize(Decimal("0.1"))

    @property
    def cost_per_1k_requests(self) -> Decimal | None:
        return None if not self.requests_30 else self.last_30 / self.requests_30 * 1000


@dataclass
class Overview:
    today: date
    currency: str  # the leading currency: every figure is in it
    windows: dict[str, tuple[Decimal, list[ProviderFigure]]]  # "this month", "last 30 days", "today"
    last_write_at: datetime | None
    has_demo: bool
    # this month's spend in the other currencies, never added to the figures (not converted)
    other_currencies: dict[str, Decimal] = field(default_factory=dict)
    kpis: Kpis | None = None
    daily: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # provider → day → cost (30 d)
    top: dict[str, list[tuple[str, Decimal]]] = field(default_factory=dict)  # project/model/user → top 5
    # the display currency every figure was converted into (None: the leading one, as charged);
    # `other_currencies` then holds what had no rate for its day
    display_currency: str | None = None


def overview(
    conn: Connection,
    *,
    today: date,
    scope: Mapping[str, Sequence[str]] | None = None,
    currency: str | None = None,
) -> Overview:
    """The first page's figures: this month, the last 30 days and today, by provider;
    with a display `currency`, every figure converted into it."""
    windows: dict[str, tuple[Decimal, list[ProviderFigure]]] = {}
    display = currency
    currency = display or "USD"
    others: dict[str, Decimal] = {}
    has_demo = False
    month_end = today.replace(day=calendar.monthrange(today.year, today.month)[1])
    for label, (start, end) in {
        "This month": (today.replace(day=1), min(today, month_end)),
        "Last 30 days": period_range("30d", today=today),
        "Today": (today, today),
    }.items():
        report = spend(
            conn,
            restrict(
                SpendQuery(start=start, end=end, by=("provider", "basis"), currency=display), scope or {}
            ),
        )
        if label == "This month":
            # the month's leading currency is the page's; the others are named beside it
            currency = report.leading_currency if report.totals else currency
            others = {c: v for c, v in sorted(report.totals.items()) if c != currency}
        figures: dict[str, ProviderFigure] = {}
        for row in report.rows:
            if row.currency != currency:
                continue
            provider = row.dims["provider"] or "unknown"
            fig = figures.setdefault(provider, ProviderFigure(provider, Decimal(0), []))
            fig.cost += row.cost
            basis = row.dims["basis"] or ""
            if basis not in fig.bases:
                fig.bases.append(basis)
            has_demo = has_demo or basis == "demo"
        total = report.totals.get(currency, Decimal(0))
        windows[label] = (total, sorted(figures.values(), key=lambda f: -f.cost))
    result = Overview(
        today=today,
        currency=currency,
        windows=windows,
        last_write_at=last_write_at(conn),
        has_demo=has_demo,
        other_currencies=others,
        display_currency=display,
    )
    _add_trends(conn, result, scope or {})
    return result


def _add_trends(conn: Connection, result: Overview, scope: Mapping[str, Sequence[str]]) -> None:
    """KPIs, the daily series by provider and the top lists, all over the last 30 days."""
    today, currency = result.today, result.currency
    display = result.display_currency
    start, end = period_range("30d", today=today)
    before = spend(
        conn,
        restrict(
            SpendQuery(start=start - timedelta(days=30), end=start - timedelta(days=1), currency=display),
            scope,
        ),
    )
    last = spend(conn, restrict(SpendQuery(start=start, end=end, currency=display), scope))
    rows = [r for r in last.rows if r.currency == currency]
    result.kpis = Kpis(
        month_to_date=result.windows["This month"][0],
        today=result.windows["Today"][0],
        last_30=last.totals.get(currency, Decimal(0)),
        previous_30=before.totals.get(currency, Decimal(0)),
        requests_30=sum(r.requests for r in rows),
        tokens_30=sum(r.input_tokens + r.output_tokens for r in rows),
        unpriced_requests_30=sum(r.unpriced_requests for r in rows),
    )
    series = spend(
        conn,
        restrict(
            SpendQuery(start=start, end=end, by=("provider",), granularity=Granularity.DAY, currency=display),
            scope,
        ),
    )
    for row in series.rows:
        if row.currency == currency and row.period:
            result.daily.setdefault(row.dims["provider"] or "unknown", {})[row.period] = row.cost
    for dim in ("project", "model", "user"):
        ranked = spend(conn, restrict(SpendQuery(start=start, end=end, by=(dim,), currency=display), scope))
        top = [(r.dims[dim] or "(none)", r.cost) for r in ranked.rows if r.currency == currency and r.cost]
        result.top[dim] = sorted(top, key=lambda t: -t[1])[:5]


# ---- dimensions: the values a dimension holds, with their spend ------------------------------


@dataclass
class DimensionValue:
    value: str | None  # None: records with no value (the filter `DIM:none` selects them)
    spend: dict[str, Decimal]  # per currency, in the period; empty when nothing was spent in it
    requests: int
    unpriced_requests: int


@dataclass
class DimensionReport:
    query: SpendQuery  # by the one dimension, with the period, filters (scope included) and basis
    values: list[DimensionValue]
    totals: dict[str, Decimal]  # per currency: `spend(query)`'s totals

    @property
    def dimension(self) -> str:
        return self.query.by[0]


def dimension_values(conn: Connection, query: SpendQuery) -> DimensionReport:
    """Every value the ledger holds for the query's one `by` dimension within its filters,
    at any time and on any basis, each with its spend in the query's period and basis.

    The figures are `spend(query)`'s rows, so they agree with every report to the nano-unit;
    a value with no spend in the period is listed with none. Values are ordered by spend in
    the period's leading currency, then by name (no value last).
    """
    if len(query.by) != 1:
        raise QueryError("by", f"give one dimension, not {len(query.by)}")
    (dim,) = query.by
    query = replace(query, granularity=Granularity.TOTAL)
    period = spend(conn, query)
    known = spend(conn, replace(query, start=FIRST_DAY, end=LAST_DAY, basis="all", currency=None))
    found: dict[str | None, DimensionValue] = {
        row.dims[dim]: DimensionValue(row.dims[dim], {}, 0, 0) for row in known.rows
    }
    for row in period.rows:
        value = found.setdefault(row.dims[dim], DimensionValue(row.dims[dim], {}, 0, 0))
        value.spend[row.currency] = value.spend.get(row.currency, Decimal(0)) + row.cost
        value.requests += row.requests
        value.unpriced_requests += row.unpriced_requests
    leading = period.leading_currency
    values = sorted(
        found.values(), key=lambda v: (-v.spend.get(leading, Decimal(0)), v.value is None, v.value or "")
    )
    for v in values:
        v.spend = dict(sorted(v.spend.items()))
    return DimensionReport(query=query, values=values, totals=period.totals)
