"""Alerts: budgets' thresholds and forecasts checked day by day against records of known cost.

Every test runs on SQLite and PostgreSQL; the expected dollars are written beside each
assertion.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from spendledger import scheduler
from spendledger.alerts.budgets import create_budget
from spendledger.alerts.evaluate import check_budgets, describe, evaluate
from spendledger.config import Settings
from spendledger.records import UsageRecord
from spendledger.scheduler import run_due
from spendledger.store import write_records
from spendledger.store.alerts import (
    UnknownAlertError,
    acknowledge,
    get_alert,
    list_alerts,
    raise_alert,
)
from usage_records import usage_record

UTC_ZONE = ZoneInfo("UTC")
NOW = datetime(2026, 11, 1, 8, tzinfo=UTC)


def _record(key: str, day: date, cost: str, *, project: str = "web") -> UsageRecord:
    return usage_record(
        key=key, start=datetime(day.year, day.month, day.day, 12, tzinfo=UTC), project=project, cost=cost
    )


def _write(engine: Engine, records: list[UsageRecord]) -> None:
    with engine.begin() as conn:
        write_records(conn, records, tz=UTC_ZONE)


def _add(engine: Engine, name: str, amount: str, **kw: object) -> None:
    with engine.begin() as conn:
        create_budget(conn, name=name, amount=amount, now=NOW, **kw)  # type: ignore[arg-type]


def _check(engine: Engine, today: date) -> list[tuple[str, str, int]]:
    """The alerts newly raised on `today`, as (budget, kind, threshold)."""
    moment = datetime(today.year, today.month, today.day, 23, tzinfo=UTC)
    with engine.begin() as conn:
        raised = check_budgets(conn, tz=UTC_ZONE, today=today, now=moment)
    return [(a.budget, a.kind, a.threshold) for a in raised]


# project web in November: $30 on the 3rd, $25 on the 10th, $30 on the 20th, $20 on the 25th;
# project api's $500 is outside the budget's scope
NOVEMBER = [
    _record("n3", date(2026, 11, 3), "30"),
    _record("n10", date(2026, 11, 10), "25"),
    _record("n20", date(2026, 11, 20), "30"),
    _record("n25", date(2026, 11, 25), "20"),
    _record("api", date(2026, 11, 4), "500", project="api"),
]


@pytest.fixture
def november(engine: Engine) -> Engine:
    _write(engine, NOVEMBER)
    _add(engine, "web", "100", filters=["project=web"])  # monthly, thresholds 50, 80, 100
    return engine


def test_thresholds_fire_once_each_on_the_day_they_are_crossed(november: Engine) -> None:
    engine = november
    # Nov 3: $30 (30 %), no threshold; one day of history, the mean forecast projects
    # $30 + 27 days x $30 = $840 > $100 while $30 < $100: heading over
    assert _check(engine, date(2026, 11, 3)) == [("web", "forecast", 100)]
    assert _check(engine, date(2026, 11, 3)) == []  # a second check raises nothing
    assert _check(engine, date(2026, 11, 9)) == []  # still $30
    assert _check(engine, date(2026, 11, 10)) == [("web", "threshold", 50)]  # $55: 55 %
    assert _check(engine, date(2026, 11, 19)) == []
    assert _check(engine, date(2026, 11, 20)) == [("web", "threshold", 80)]  # $85: 85 %
    assert _check(engine, date(2026, 11, 24)) == []
    assert _check(engine, date(2026, 11, 25)) == [("web", "threshold", 100)]  # $105: 105 %
    assert _check(engine, date(2026, 11, 30)) == []
    assert _check(engine, date(2026, 11, 30)) == []

    with engine.connect() as conn:
        stored = list_alerts(conn)
    assert len(stored) == 4
    assert {a.status for a in stored} == {"open"}
    by_key = {(a.kind, a.threshold): a for a in stored}
    forecast = by_key[("forecast", 100)]
    assert (forecast.window_start, forecast.window_end) == (date(2026, 11, 1), date(2026, 11, 30))
    assert forecast.figures["spent"] == Decimal("30")
    assert forecast.figures["amount"] == Decimal("100")
    assert forecast.figures["percent"] == Decimal("30.0")
    assert forecast.figures["projected"] == Decimal("840.00")
    assert forecast.figures["low"] == Decimal("30.00")  # the band's floor is what is spent
    assert forecast.figures["high"] > forecast.figures["projected"]
    fifty = by_key[("threshold", 50)]
    assert (fifty.figures["spent"], fifty.figures["percent"]) == (Decimal("55"), Decimal("55.0"))
    assert fifty.currency == "USD"
    assert fifty.created_at == datetime(2026, 11, 10, 23, tzinfo=UTC)
    eighty = by_key[("threshold", 80)]
    assert eighty.figures["spent"] == Decimal("85")
    hundred = by_key[("threshold", 100)]
    assert (hundred.figures["spent"], hundred.figures["percent"]) == (Decimal("105"), Decimal("105.0"))
    assert "projected" not in hundred.figures


def test_a_month_walked_day_by_day_on_generated_data(engine: Engine) -> None:
    """Every day of November and December 2026 evaluated at 23:00 as `alerts evaluate --at`
    would, on a generated weekday pattern (weekdays ~$5, weekends ~$2, ±20 %) from
    September on; the budget is 90 % of November's total, so November crosses every
    threshold and the forecast sees it coming."""
    import random

    rng = random.Random(11)
    day, records, spent_on = date(2026, 9, 1), [], {}
    while day <= date(2026, 12, 31):
        cost = Decimal(str(round((2.0 if day.weekday() >= 5 else 5.0) * rng.uniform(0.8, 1.2), 2)))
        spent_on[day] = cost
        records.append(_record(f"g{day}", day, str(cost)))
        day += timedelta(days=1)
    _write(engine, records)
    november = [date(2026, 11, d) for d in range(1, 31)]
    amount = (sum(spent_on[d] for d in november) * Decimal("0.9")).quantize(Decimal("0.01"))
    _add(engine, "web", str(amount), filters=["project=web"])

    def first_day_reaching(percent: int, days: list[date]) -> date:
        """The oracle: the first day the running total reaches `percent` % of the amount."""
        running = Decimal(0)
        for d in days:
            running += spent_on[d]
            if running * 100 >= amount * percent:
                return d
        raise AssertionError(f"{percent} % never reached")

    fired: dict[tuple[str, int, date], date] = {}  # (kind, threshold, window start) → day
    day = date(2026, 11, 1)
    while day <= date(2026, 12, 31):
        with engine.begin() as conn:
            raised = evaluate(conn, tz=UTC_ZONE, at=datetime(day.year, day.month, day.day, 23, tzinfo=UTC))
        for alert in raised:
            key = (alert.kind, alert.threshold, alert.window_start)
            assert key not in fired, f"{key} fired again on {day} (first on {fired[key]})"
            fired[key] = day
        day += timedelta(days=1)

    print({f"{k[0]} {k[1]} {k[2]:%b}": f"{v:%b %d}" for k, v in sorted(fired.items(), key=lambda kv: kv[1])})
    nov, dec = date(2026, 11, 1), date(2026, 12, 1)
    assert {k for k in fired if k[0] == "anomaly"} == set()  # a plain weekly pattern is no news
    assert fired[("threshold", 50, nov)] == first_day_reaching(50, november)
    assert fired[("threshold", 80, nov)] == first_day_reaching(80, november)
    assert fired[("threshold", 100, nov)] == first_day_reaching(100, november)
    assert fired[("forecast", 100, nov)] < fired[("threshold", 100, nov)]  # warned before it was over
    # December starts fresh: its own window, its own alerts, on its own days (its total is
    # about November's, so it crosses 50 and 80 % at least)
    december = [date(2026, 12, d) for d in range(1, 32)]
    for percent in (50, 80):
        assert fired[("threshold", percent, dec)] == first_day_reaching(percent, december)
    with engine.connect() as conn:
        stored = list_alerts(conn)
    assert len(stored) == len(fired)  # one stored alert per key: nothing repeated
    assert {a.status for a in stored if a.window_start == nov} == {"resolved"}  # by December's start
    assert {a.status for a in stored if a.window_start == dec} == {"open"}


def test_one_evaluation_crossing_every_threshold_raises_only_the_highest(november: Engine) -> None:
    # checked first on Nov 30: $105 has crossed 50, 80 and 100 %; one alert, the 100 % one
    # (no forecast: spend is over already); 50 and 80 % are stored as passed, never raised
    moment = datetime(2026, 11, 30, 23, tzinfo=UTC)
    assert _check(november, date(2026, 11, 30)) == [("web", "threshold", 100)]
    assert _check(november, date(2026, 11, 30)) == []
    with november.connect() as conn:
        stored = {a.threshold: a for a in list_alerts(conn)}
        assert [a.threshold for a in list_alerts(conn, "open")] == [100]
    assert sorted(stored) == [50, 80, 100]
    for lower in (50, 80):
        passed = stored[lower]
        assert (passed.status, passed.resolved_at, passed.passed) == ("resolved", moment, True)
        assert passed.note == "passed: the 100 % alert covers it"
        assert passed.figures["spent"] == Decimal("105")
    assert stored[100].passed is False and stored[100].note is None


def test_an_evaluation_after_a_lower_alert_raises_the_highest_and_passes_the_rest(
    november: Engine,
) -> None:
    # Nov 10: $55, 50 % raised; Nov 25: $105 crosses 80 and 100 % at once: 100 % raised,
    # 80 % passed, and the 50 % alert stays open as it was
    assert ("web", "threshold", 50) in _check(november, date(2026, 11, 10))
    assert _check(november, date(2026, 11, 25)) == [("web", "threshold", 100)]
    with november.connect() as conn:
        stored = {a.threshold: a.status for a in list_alerts(conn) if a.kind == "threshold"}
    assert stored == {50: "open", 80: "resolved", 100: "open"}


def test_a_new_window_resolves_the_old_windows_alerts(november: Engine) -> None:
    engine = november
    _check(engine, date(2026, 11, 3))  # forecast
    _check(engine, date(2026, 11, 10))  # 50 %
    _check(engine, date(2026, 11, 25))  # 100 %, 80 % passed
    with engine.begin() as conn:
        fifty = next(a for a in list_alerts(conn) if a.threshold == 50 and a.kind == "threshold")
        acknowledge(conn, fifty.id or 0, by="ops@example.com", at=datetime(2026, 11, 26, tzinfo=UTC))
        assert len(list_alerts(conn, "open")) == 2
    raised = _check(engine, date(2026, 12, 1))
    assert all(kind != "threshold" for _, kind, _ in raised)  # nothing spent in December yet
    with engine.connect() as conn:
        november_alerts = [a for a in list_alerts(conn) if a.window_start == date(2026, 11, 1)]
        assert len(november_alerts) == 4
        assert {a.status for a in november_alerts} == {"resolved"}
        december_first = datetime(2026, 12, 1, 23, tzinfo=UTC)
        assert {(a.kind, a.threshold): a.resolved_at for a in november_alerts if not a.passed} == {
            ("forecast", 100): december_first,
            ("threshold", 50): december_first,
            ("threshold", 100): december_first,
        }
        (eighty,) = (a for a in november_alerts if a.passed)  # passed when it was crossed
        assert (eighty.threshold, eighty.resolved_at) == (80, datetime(2026, 11, 25, 23, tzinfo=UTC))
        kept = get_alert(conn, fifty.id or 0)
        assert kept.acknowledged_by == "ops@example.com"  # who acknowledged it is kept
        assert list_alerts(conn, "acknowledged") == []
    # December fires afresh: $120 on Dec 2 crosses 50, 80 and 100 % of the new window, one alert
    _write(engine, [_record("d2", date(2026, 12, 2), "120")])
    assert [t for _, kind, t in _check(engine, date(2026, 12, 2)) if kind == "threshold"] == [100]


def test_forecast_to_exceed_on_a_weekday_series(engine: Engine) -> None:
    # $10 every weekday, nothing at weekends, from Sep 21 (a Monday) to Nov 20 (a Friday)
    day, records = date(2026, 9, 21), []
    while day <= date(2026, 11, 20):
        if day.weekday() < 5:
            records.append(_record(f"w{day}", day, "10"))
        day += timedelta(days=1)
    _write(engine, records)
    _add(engine, "tight", "200", thresholds="90")
    _add(engine, "roomy", "250", thresholds="90")
    # November to the 20th: 15 weekdays, $150; the 6 weekdays left (23-27, 30) add $60: $210
    raised = _check(engine, date(2026, 11, 20))
    assert raised == [("tight", "forecast", 100)]  # $210 > $200; not > $250; 90 % not reached
    with engine.connect() as conn:
        (alert,) = list_alerts(conn)
    assert alert.figures["spent"] == Decimal("150")
    assert Decimal("205") < alert.figures["projected"] < Decimal("215")
    assert alert.figures["low"] <= alert.figures["projected"] <= alert.figures["high"]
    # the weekend adds nothing and changes nothing: no repeat
    assert _check(engine, date(2026, 11, 21)) == []
    assert _check(engine, date(2026, 11, 22)) == []


def test_raise_alert_is_once_per_key_and_ack_records_who(engine: Engine) -> None:
    fields = {
        "budget": "b",
        "kind": "threshold",
        "threshold": 80,
        "window_start": date(2026, 11, 1),
        "window_end": date(2026, 11, 30),
        "figures": {"spent": Decimal("80.5"), "amount": Decimal("100"), "percent": Decimal("80.5")},
        "currency": "EUR",
    }
    with engine.begin() as conn:
        first = raise_alert(conn, now=NOW, **fields)  # type: ignore[arg-type]
        assert first is not None and first.status == "open"
        assert raise_alert(conn, now=NOW + timedelta(hours=1), **fields) is None  # type: ignore[arg-type]
        at = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
        acked = acknowledge(conn, first.id or 0, by="ann@example.com", at=at)
        assert (acked.status, acked.acknowledged_by, acked.acknowledged_at) == (
            "acknowledged",
            "ann@example.com",
            at,
        )
        assert acked.figures["spent"] == Decimal("80.5")
        with pytest.raises(UnknownAlertError, match="no alert #999"):
            acknowledge(conn, 999, by="ann@example.com", at=at)


def test_the_scheduler_round_checks_budgets_and_survives_a_failure(
    november: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # no sources: the round is only the check; "now" is Nov 30, when $105 is spent
    moment = datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert run_due(november, settings, owner="test", now=lambda: moment) == []
    with november.connect() as conn:
        assert sorted(a.threshold for a in list_alerts(conn)) == [50, 80, 100]

    def broken(*_args: object, **_kwargs: object) -> list[object]:
        raise RuntimeError("the check broke")

    monkeypatch.setattr(scheduler, "evaluate", broken)
    with caplog.at_level(logging.ERROR, logger="spendledger.scheduler"):
        assert run_due(november, settings, owner="test", now=lambda: moment) == []
    assert "checking budgets' alerts failed" in caplog.text


def test_alert_message_shows_small_money_below_a_cent(engine: Engine) -> None:
    fields = {
        "budget": "tiny",
        "kind": "threshold",
        "threshold": 100,
        "window_start": date(2026, 11, 1),
        "window_end": date(2026, 11, 30),
        # a $0.001 budget passed by $0.0012 of calls
        "figures": {"spent": Decimal("0.0012"), "amount": Decimal("0.001"), "percent": Decimal("120")},
        "currency": "USD",
    }
    with engine.begin() as conn:
        alert = raise_alert(conn, now=NOW, **fields)  # type: ignore[arg-type]
    assert alert is not None
    assert describe(alert) == (
        "tiny: 100 % reached — spent 0.0012 of 0.001 USD (120 %) in 2026-11-01 → 2026-11-30"
    )
