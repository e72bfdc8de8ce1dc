"""Period-end forecasts: exact on exact patterns, honest about short history, read from the ledger."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from spendledger.alerts.forecast import (
    MEAN_METHOD,
    WEEKDAY_METHOD,
    Forecast,
    daily_series,
    forecast_period,
    history_start,
)
from spendledger.records import Basis, UsageRecord
from spendledger.store import write_records
from usage_records import usage_record

NOV_1, NOV_30 = date(2026, 11, 1), date(2026, 11, 30)  # November 2026 starts on a Sunday


def _series(first: date, last: date, cost: object) -> dict[date, Decimal]:
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return {d: Decimal(str(cost(d) if callable(cost) else cost)) for d in days}


def _weekdays_10_weekends_2(day: date) -> int:
    return 10 if day.weekday() < 5 else 2


def _holds(f: Forecast) -> None:
    assert f.low <= f.projected_total <= f.high
    assert f.low >= f.spent_so_far.quantize(Decimal("0.01"))


def test_forecast_weekday_pattern_is_exact() -> None:
    series = _series(date(2026, 9, 20), date(2026, 11, 13), _weekdays_10_weekends_2)
    f = forecast_period(series, start=NOV_1, end=NOV_30, today=date(2026, 11, 13))
    # November 2026 has 21 weekdays and 9 weekend days: 21 × $10 + 9 × $2 = $228, of which
    # Nov 1-13 (10 weekdays, 3 weekend days) is $106 and Nov 14-30 (11 + 6) is $122.
    assert f.spent_so_far == Decimal(106)
    assert f.projected_total == Decimal("228.00")
    assert f.low <= Decimal(228) <= f.high
    assert f.method == WEEKDAY_METHOD
    flat_rate = Decimal(106) / 13 * 30  # the naive projection, fooled by a weekend-heavy start
    assert abs(flat_rate - 228) > 10


def test_forecast_flat_series_projects_the_same_rate() -> None:
    series = _series(date(2026, 10, 1), date(2026, 11, 20), "4.25")
    f = forecast_period(series, start=NOV_1, end=NOV_30, today=date(2026, 11, 20))
    assert f.spent_so_far == Decimal("85.00")
    assert f.projected_total == Decimal("127.50")  # 30 × $4.25
    _holds(f)


def test_forecast_too_little_history_falls_back_to_the_mean_with_a_wide_band() -> None:
    series = _series(NOV_1, date(2026, 11, 5), 3)  # a new ledger: five days of $3
    f = forecast_period(series, start=NOV_1, end=NOV_30, today=date(2026, 11, 5))
    assert f.method == MEAN_METHOD
    assert f.spent_so_far == Decimal(15)
    assert f.projected_total == Decimal("90.00")  # 30 × $3
    _holds(f)
    remaining = f.projected_total - f.spent_so_far
    assert f.high - f.low >= remaining  # at least ±50 % of what is left


def test_forecast_leading_zeros_are_not_history() -> None:
    # 40 days read, but spend began on Nov 3: too little history, whatever the window
    series = _series(date(2026, 10, 1), date(2026, 11, 9), lambda d: 6 if d >= date(2026, 11, 3) else 0)
    f = forecast_period(series, start=NOV_1, end=NOV_30, today=date(2026, 11, 9))
    assert f.method == MEAN_METHOD
    assert f.projected_total == Decimal("42.00") + 21 * Decimal(6)


def test_forecast_growth_projects_above_the_flat_rate() -> None:
    first = date(2026, 9, 15)
    series = _series(first, date(2026, 11, 10), lambda d: Decimal(20 + (d - first).days) / 2)
    today = date(2026, 11, 10)
    f = forecast_period(series, start=NOV_1, end=NOV_30, today=today)
    flat_rate = f.spent_so_far / 10 * 30
    assert f.projected_total > flat_rate
    # a straight line: the days left are 11 Nov ($38.5) … 30 Nov ($48), mean $43.25
    assert f.projected_total == f.spent_so_far + 20 * Decimal("43.25")
    _holds(f)


def test_forecast_zeros_on_weekends_stay_zero() -> None:
    series = _series(date(2026, 10, 1), date(2026, 11, 13), lambda d: 8 if d.weekday() < 5 else 0)
    f = forecast_period(series, start=NOV_1, end=NOV_30, today=date(2026, 11, 13))
    assert f.projected_total == Decimal(21 * 8)
    _holds(f)


def test_forecast_nothing_spent_projects_nothing() -> None:
    f = forecast_period(_series(date(2026, 10, 1), NOV_1, 0), start=NOV_1, end=NOV_30, today=NOV_1)
    assert (f.spent_so_far, f.projected_total, f.low, f.high) == (0, 0, 0, 0)


def test_forecast_first_day_of_period_uses_the_history_before_it() -> None:
    series = _series(date(2026, 10, 1), NOV_1, _weekdays_10_weekends_2)
    f = forecast_period(series, start=NOV_1, end=NOV_30, today=NOV_1)
    assert f.spent_so_far == Decimal(2)  # a Sunday
    assert f.projected_total == Decimal("228.00")
    assert f.method == WEEKDAY_METHOD


def test_forecast_last_day_of_period_is_what_was_spent() -> None:
    series = _series(date(2026, 10, 1), NOV_30, _weekdays_10_weekends_2)
    f = forecast_period(series, start=NOV_1, end=NOV_30, today=NOV_30)
    assert f.spent_so_far == f.projected_total == f.low == f.high == Decimal(228)


def _bucket(day: date, project: str, cost: str) -> UsageRecord:
    return usage_record(
        key=f"manual:{project}:{day}",
        source="manual",
        basis=Basis.MANUAL,
        start=datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
        model="",
        account="org-1",
        project=project,
        requests=1,
        cost=cost,
    )


def test_forecast_reads_the_daily_series_of_a_scope(engine: Engine) -> None:
    today = date(2026, 11, 13)
    first = history_start(start=NOV_1, today=today)
    records = [
        _bucket(first + timedelta(days=i), "Tutor", str(_weekdays_10_weekends_2(first + timedelta(days=i))))
        for i in range((today - first).days + 1)
        if first + timedelta(days=i) != date(2026, 11, 4)  # a day with nothing spent
    ]
    records += [_bucket(today - timedelta(days=i), "Sandbox", "99.5") for i in range(20)]
    with engine.begin() as conn:
        write_records(conn, records, tz=ZoneInfo("UTC"))
    with engine.connect() as conn:
        series = daily_series(conn, start=first, end=today, filters={"project": ["Tutor"]})
        everything = daily_series(conn, start=first, end=today)
        scoped = daily_series(conn, start=first, end=today, scope={"project": ["Sandbox"]})
    assert len(series) == (today - first).days + 1
    assert series[date(2026, 11, 4)] == 0
    assert series[date(2026, 11, 5)] == 10
    assert everything[today] == Decimal("109.5")
    assert scoped[today] == Decimal("99.5") and scoped[first] == 0
    f = forecast_period(series, start=NOV_1, end=NOV_30, today=today)
    assert f.spent_so_far == Decimal(96)  # $106 less Wednesday 4 November
    assert f.method == WEEKDAY_METHOD
    assert f.low <= f.projected_total <= f.high
    assert Decimal(200) < f.projected_total < Decimal(230)
