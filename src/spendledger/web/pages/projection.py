"""The explorer's period-end projection: which period a view's range projects to, its
forecast (`forecast.forecast_spend`, the rule the overview and the budgets use), and the
cone it draws on the daily chart.

Only a range that holds today projects anything; a range wholly in the past (or the
future) shows none. The period starts where the range starts and ends where the range
ends when that is after today; a range that ends today (the presets) is carried on to
the end of today's month, or of the year for "ytd" (year to date). The figures are the
view's own: its filters (the viewer's scope included), basis and main currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from spendledger.alerts.budgets import window_of
from spendledger.alerts.forecast import Forecast, forecast_spend
from spendledger.queries import SpendQuery, SpendReport
from spendledger.records import shown_amount
from spendledger.store import Connection


@dataclass(frozen=True)
class Projection:
    start: date
    end: date
    today: date
    currency: str
    forecast: Forecast


def projection_period(query: SpendQuery, *, preset: str | None, today: date) -> tuple[date, date] | None:
    """The period the view's range projects to (see the module's docstring), or None."""
    if not query.start <= today <= query.end:
        return None
    if query.end > today:
        return query.start, query.end
    if preset == "ytd":
        return query.start, date(today.year, 12, 31)
    return query.start, window_of("monthly", today).end


def project(
    conn: Connection, query: SpendQuery, *, preset: str | None, today: date, currency: str
) -> Projection | None:
    """The view's period-end total with its 80 % band, when its range holds today."""
    period = projection_period(query, preset=preset, today=today)
    if period is None:
        return None
    start, end = period
    forecast = forecast_spend(
        conn,
        start=start,
        end=end,
        today=today,
        filters=query.filters,
        basis=query.basis,
        currency=currency,
        convert=query.currency is not None,
    )
    return None if forecast is None else Projection(start, end, today, currency, forecast)


def with_cone(chart: dict[str, Any], report: SpendReport, projection: Projection) -> dict[str, Any]:
    """The daily chart carried on to the period's end, with the cumulative spend to today and
    the projection's cone from there (on a second axis).

    Only the cone's ends are the forecast's: spent so far today, the projected total and
    its band at the period's end; the days between are drawn on a straight line.
    """
    p, f = projection, projection.forecast
    days = [p.start + timedelta(days=i) for i in range((p.end - p.start).days + 1)]
    periods = sorted({*chart["periods"], *(d.isoformat() for d in days)})
    index = {d: i for i, d in enumerate(periods)}
    series = [{**s, "data": _spread(s["data"], chart["periods"], index)} for s in chart["series"]]

    by_day: dict[str, Decimal] = {}
    for row in report.rows:
        if row.currency == p.currency and row.period:
            by_day[row.period] = by_day.get(row.period, Decimal(0)) + row.cost
    cumulative: list[float | None] = [None] * len(periods)
    projected, low, band = list(cumulative), list(cumulative), list(cumulative)
    running = Decimal(0)
    left = (p.end - p.today).days
    for d in days:
        i = index[d.isoformat()]
        if d <= p.today:
            running += by_day.get(d.isoformat(), Decimal(0))
            cumulative[i] = float(shown_amount(running))
        if d >= p.today:
            share = Decimal((d - p.today).days) / left if left else Decimal(1)
            at_low = _between(f.spent_so_far, f.low, share)
            projected[i] = float(shown_amount(_between(f.spent_so_far, f.projected_total, share)))
            low[i] = float(shown_amount(at_low))
            band[i] = float(shown_amount(_between(f.spent_so_far, f.high, share) - at_low))
    cone = {"end": p.end.isoformat(), "cumulative": cumulative, "projected": projected}
    return {**chart, "periods": periods, "series": series, "projection": cone | {"low": low, "band": band}}


def _spread(data: list[float], periods: list[str], index: dict[str, int]) -> list[float | None]:
    """A series' values placed on the longer axis; None (no bar) on the added days."""
    out: list[float | None] = [None] * len(index)
    for period, value in zip(periods, data, strict=True):
        out[index[period]] = value
    return out


def _between(start: Decimal, end: Decimal, share: Decimal) -> Decimal:
    return start + (end - start) * share
