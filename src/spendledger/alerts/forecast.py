"""Period-end projections of spend, with an uncertainty band, from the ledger's daily series.

Reads through `queries.spend` (granularity day), so a forecast covers any scope the
explorer can show. The model is a robust weekday profile with a trend, written here in
plain Python: over the last eight weeks, each weekday's spend over the centred 7-day
mean around it (median over the weeks); over the last four, the deseasonalised level
today (a median) and its slope (Theil-Sen, the median of pairwise slopes), projected
over the days left in the period. Medians keep a one-off spike from moving it.
`bench/forecast.py` backtests it on the demo data against statsmodels' Holt-Winters
(ETS, weekly season), which was less accurate at day 7, 14 and 21 and would have
brought ~380 MB of numpy, scipy, pandas and statsmodels.

Invariants: money in and out is `Decimal`; the spend up to and including `today` counts
as spent (a day in progress is projected as spent so far); low ≤ projected ≤ high, and
low ≥ spent so far to the cent; with fewer than `MIN_HISTORY` days of history the
projection is the mean daily spend so far with a wide band, and `method` says so.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from spendledger.queries import Granularity, SpendQuery, restrict, spend
from spendledger.store import Connection

HISTORY_DAYS = 56  # eight weeks: each weekday eight times
MIN_HISTORY = 14  # two weeks: fewer, and a weekday profile is noise
TREND_DAYS = 28  # the window the level and its slope are fitted on
Z_80 = 1.2816  # the standard normal's 90th percentile: an 80 % two-sided interval
# The residuals miss what moves a month most, level shifts (a new project, a spike of a
# few days): their spread × 3 held ~80 % of the month-end totals in the demo backtest
# (seeds 7-10, day 7/14/21; measured ~2.3 × too narrow at the median without it).
SPREAD = 3.0
CENT = Decimal("0.01")

WEEKDAY_METHOD = "weekday profile × trend"
MEAN_METHOD = "mean daily spend (too little history)"


@dataclass(frozen=True)
class Forecast:
    spent_so_far: Decimal  # from the period's start through today
    projected_total: Decimal  # at the period's end
    low: Decimal  # 80 % interval of the period-end total
    high: Decimal
    method: str


def daily_series(
    conn: Connection,
    *,
    start: date,
    end: date,
    filters: Mapping[str, Sequence[str]] | None = None,
    scope: Mapping[str, Sequence[str]] | None = None,
    basis: str = "best",
    currency: str | None = None,
    convert: bool = True,
) -> dict[date, Decimal]:
    """Daily cost from `start` to `end` (inclusive), every day present (0 when nothing was spent).

    `filters` as in `SpendQuery`, `scope` as in `restrict`; in `currency` (every currency's
    spend converted at its day's rate; with `convert` False, that currency's spend alone),
    or without one in the currency most is spent in, as charged.
    """
    query = SpendQuery(
        start=start,
        end=end,
        filters={k: tuple(v) for k, v in (filters or {}).items()},
        granularity=Granularity.DAY,
        basis=basis,
        currency=currency if convert else None,
    )
    report = spend(conn, restrict(query, scope or {}))
    wanted = currency or report.leading_currency
    series = {start + timedelta(days=i): Decimal(0) for i in range((end - start).days + 1)}
    for row in report.rows:
        if row.currency == wanted and row.period:
            series[date.fromisoformat(row.period)] += row.cost
    return series


def history_start(*, start: date, today: date) -> date:
    """The first day `daily_series` should read for a forecast on `today` of a period from `start`."""
    return min(start, today - timedelta(days=HISTORY_DAYS - 1))


def forecast_period(series: Mapping[date, Decimal], *, start: date, end: date, today: date) -> Forecast:
    """The period-end total of spend from `start` to `end` (inclusive), as seen on `today`.

    `series` is daily spend up to `today` (later days are ignored; a missing day is 0),
    best with `HISTORY_DAYS` of history before it (`history_start`).
    """
    if not start <= today <= end:
        raise ValueError(f"today ({today}) must be inside the period {start}..{end}")
    spent = sum((v for d, v in series.items() if start <= d <= today), Decimal(0))
    future = [today + timedelta(days=i) for i in range(1, (end - today).days + 1)]
    history = _history(series, start=start, today=today)
    if not future:
        return Forecast(
            spent, spent, spent, spent, WEEKDAY_METHOD if len(history) >= MIN_HISTORY else MEAN_METHOD
        )
    if len(history) < MIN_HISTORY:
        return _mean_forecast(spent, history, len(future))
    days, sd = _weekday_projection(history, future)
    remaining = sum(days)
    half = Z_80 * SPREAD * sd
    return Forecast(
        spent_so_far=spent,
        projected_total=_money(spent, remaining),
        low=_money(spent, max(0.0, remaining - half)),
        high=_money(spent, remaining + half),
        method=WEEKDAY_METHOD,
    )


def forecast_spend(
    conn: Connection,
    *,
    start: date,
    end: date,
    today: date,
    filters: Mapping[str, Sequence[str]] | None = None,
    scope: Mapping[str, Sequence[str]] | None = None,
    basis: str = "best",
    currency: str | None = None,
    convert: bool = True,
) -> Forecast | None:
    """The ledger's period-end total from `start` to `end` as seen on `today`, with its band;
    None when today is outside the period.

    The one rule the overview, the budgets, their alerts and the explorer share: the daily
    series from `history_start` to today (`daily_series`'s filters, scope, basis and
    currency), projected by `forecast_period`.
    """
    if not start <= today <= end:
        return None
    series = daily_series(
        conn,
        start=history_start(start=start, today=today),
        end=today,
        filters=filters,
        scope=scope,
        basis=basis,
        currency=currency,
        convert=convert,
    )
    return forecast_period(series, start=start, end=end, today=today)


def _history(series: Mapping[date, Decimal], *, start: date, today: date) -> list[tuple[date, float]]:
    """The last `HISTORY_DAYS` up to today, dense, from the first day anything was spent.

    Leading zeros are days before the scope had any spend (a new project, a new ledger),
    not evidence of a quiet weekday.
    """
    first = today - timedelta(days=HISTORY_DAYS - 1)
    days = [first + timedelta(days=i) for i in range(HISTORY_DAYS)]
    values = [(d, float(series.get(d, 0))) for d in days]
    while values and values[0][1] == 0 and values[0][0] < start:
        values.pop(0)
    while values and values[0][1] == 0:  # inside the period too: nothing spent yet
        values.pop(0)
    return values


def _mean_forecast(spent: Decimal, history: list[tuple[date, float]], left: int) -> Forecast:
    """The mean daily spend so far over the days left, with a band that narrows as days add up."""
    mean = statistics.fmean(v for _, v in history) if history else 0.0
    remaining = mean * left
    width = 0.5 + 1.0 / max(1, len(history))  # ±150 % after a day, ±57 % after 13
    return Forecast(
        spent_so_far=spent,
        projected_total=_money(spent, remaining),
        low=_money(spent, remaining * max(0.0, 1 - width)),
        high=_money(spent, remaining * (1 + width)),
        method=MEAN_METHOD,
    )


def _weekday_projection(
    history: Sequence[tuple[date, float]], future: Sequence[date]
) -> tuple[list[float], float]:
    """Projected spend on each future day, and the standard deviation of their sum.

    `history` is dense and ends the day before `future[0]`, at least `MIN_HISTORY` days long.
    """
    today = history[-1][0]
    factors = _weekday_factors(history)
    if factors is None:  # no whole week with any spend
        factors = [1.0] * 7
    recent = [(d, v) for d, v in history[-TREND_DAYS:] if factors[d.weekday()] > 0]
    xs = [float((d - today).days) for d, _ in recent]
    ys = [v / factors[d.weekday()] for d, v in recent]
    slope = _theil_sen(xs, ys)
    level = statistics.median(y - slope * x for x, y in zip(xs, ys, strict=True))
    days = [max(0.0, (level + slope * (d - today).days) * factors[d.weekday()]) for d in future]
    # Spread: the robust scale of the deseasonalised residuals, as a daily noise (independent
    # days) plus the error of the level and slope (shared by every day left).
    residuals = [y - (level + slope * x) for x, y in zip(xs, ys, strict=True)]
    scale = 1.4826 * statistics.median(abs(r) for r in residuals)
    n = len(recent)
    noise = sum((scale * factors[d.weekday()]) ** 2 for d in future)
    horizon = statistics.fmean((d - today).days for d in future)
    level_sd = scale * math.sqrt(1 / n + 12 * horizon**2 / n**3)
    shared = (level_sd * sum(factors[d.weekday()] for d in future)) ** 2
    return days, math.sqrt(noise + shared)


def _weekday_factors(history: Sequence[tuple[date, float]]) -> list[float] | None:
    """Each weekday's spend over the centred 7-day mean around it, the median of each; mean 1.

    Centred, so that growth is not read as a weekday effect (a block's last day would
    otherwise look like the busiest of the week).
    """
    ratios: list[list[float]] = [[] for _ in range(7)]
    for i in range(3, len(history) - 3):
        mean = statistics.fmean(v for _, v in history[i - 3 : i + 4])
        if mean > 0:
            day, value = history[i]
            ratios[day.weekday()].append(value / mean)
    if not all(ratios):
        return None
    factors = [statistics.median(r) for r in ratios]
    total = sum(factors)
    return [f * 7 / total for f in factors] if total > 0 else None


def _theil_sen(xs: Sequence[float], ys: Sequence[float]) -> float:
    """The median of the slopes between every pair of points: a trend a spike cannot drag."""
    slopes = [
        (ys[j] - ys[i]) / (xs[j] - xs[i])
        for i in range(len(xs))
        for j in range(i + 1, len(xs))
        if xs[j] != xs[i]
    ]
    return statistics.median(slopes) if slopes else 0.0


def _money(spent: Decimal, remaining: float) -> Decimal:
    return (spent + Decimal(repr(remaining))).quantize(CENT, ROUND_HALF_EVEN)
