"""Budgets: calendar windows, and the figures of a window against records of known cost.

The expected dollars are written out beside each assertion; every DB test runs on
SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from spendledger.alerts.budgets import (
    BudgetError,
    Window,
    budget_status,
    create_budget,
    local_day,
    previous_window,
    window_of,
)
from spendledger.queries import QueryError
from spendledger.records import Basis, UsageRecord
from spendledger.store import write_records
from spendledger.store.budgets import BudgetExistsError, UnknownBudgetError, get_budget, remove_budget
from usage_records import usage_record

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
TODAY = date(2026, 11, 20)  # a Friday


# ---- windows ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "day", "window"),
    [
        ("monthly", date(2026, 11, 20), Window(date(2026, 11, 1), date(2026, 11, 30))),
        ("monthly", date(2026, 12, 31), Window(date(2026, 12, 1), date(2026, 12, 31))),
        ("monthly", date(2028, 2, 1), Window(date(2028, 2, 1), date(2028, 2, 29))),  # leap year
        ("monthly", date(2027, 2, 28), Window(date(2027, 2, 1), date(2027, 2, 28))),
        ("weekly", date(2026, 11, 20), Window(date(2026, 11, 16), date(2026, 11, 22))),  # Mon..Sun
        ("weekly", date(2026, 11, 16), Window(date(2026, 11, 16), date(2026, 11, 22))),
        ("weekly", date(2026, 11, 22), Window(date(2026, 11, 16), date(2026, 11, 22))),
        ("weekly", date(2026, 12, 31), Window(date(2026, 12, 28), date(2027, 1, 3))),  # across the year
        ("daily", date(2026, 11, 20), Window(date(2026, 11, 20), date(2026, 11, 20))),
        ("quarterly", date(2026, 11, 20), Window(date(2026, 10, 1), date(2026, 12, 31))),
        ("quarterly", date(2027, 1, 1), Window(date(2027, 1, 1), date(2027, 3, 31))),
        ("quarterly", date(2027, 6, 30), Window(date(2027, 4, 1), date(2027, 6, 30))),
        ("quarterly", date(2027, 9, 1), Window(date(2027, 7, 1), date(2027, 9, 30))),
    ],
)
def test_budget_window_is_calendar_aligned(period: str, day: date, window: Window) -> None:
    assert window_of(period, day) == window


def test_budget_previous_window_crosses_year_and_quarter() -> None:
    jan = window_of("monthly", date(2027, 1, 15))
    assert previous_window("monthly", jan) == Window(date(2026, 12, 1), date(2026, 12, 31))
    march = Window(date(2027, 3, 1), date(2027, 3, 31))
    assert previous_window("monthly", march) == Window(date(2027, 2, 1), date(2027, 2, 28))
    q1 = window_of("quarterly", date(2027, 2, 1))
    assert previous_window("quarterly", q1) == Window(date(2026, 10, 1), date(2026, 12, 31))
    week = window_of("weekly", date(2027, 1, 1))
    assert previous_window("weekly", week) == Window(date(2026, 12, 21), date(2026, 12, 27))


def test_budget_window_custom_is_its_range() -> None:
    custom = (date(2026, 11, 10), date(2026, 12, 9))
    assert window_of("custom", date(2026, 11, 20), custom=custom) == Window(*custom)
    with pytest.raises(BudgetError, match="--from, --to"):
        window_of("custom", date(2026, 11, 20))


def test_budget_window_follows_the_configured_zone() -> None:
    # 20:00 UTC on Dec 31 is already Jan 1 in Tokyo (UTC+9): a new month and quarter there
    moment = datetime(2026, 12, 31, 20, tzinfo=UTC)
    tokyo = local_day(moment, ZoneInfo("Asia/Tokyo"))
    assert tokyo == date(2027, 1, 1)
    assert window_of("monthly", tokyo) == Window(date(2027, 1, 1), date(2027, 1, 31))
    assert window_of("quarterly", tokyo) == Window(date(2027, 1, 1), date(2027, 3, 31))
    # 05:00 UTC on Dec 1 is still Nov 30 in Los Angeles (UTC-8)
    la = local_day(datetime(2026, 12, 1, 5, tzinfo=UTC), ZoneInfo("America/Los_Angeles"))
    assert window_of("monthly", la) == Window(date(2026, 11, 1), date(2026, 11, 30))
    assert window_of("monthly", local_day(moment, ZoneInfo("UTC"))).start == date(2026, 12, 1)


# ---- figures ----------------------------------------------------------------------------------


def _record(
    key: str,
    start: datetime,
    cost: str,
    *,
    provider: str = "openai",
    basis: Basis = Basis.METERED,
    currency: str = "USD",
    **kw: str,
) -> UsageRecord:
    return usage_record(
        key=key, basis=basis, start=start, provider=provider, cost=cost, currency=currency, **kw
    )


def _day(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


LEDGER = [
    # Nov 3: OpenAI metered $100.25, but its billing has $120 for that day: "best" reads $120
    _record("m-nov3", _day(11, 3), "100.25", project="web"),
    _record("b-nov3", _day(11, 3), "120", basis=Basis.BILLED, account="org-1"),
    _record("m-nov10", _day(11, 10), "50.50", project="api"),  # no billing that day
    _record("a-nov12", _day(11, 12), "200.125", provider="anthropic", project="web"),
    _record("eur-nov5", _day(11, 5), "40", provider="mistral", basis=Basis.MANUAL, currency="EUR"),
    _record("m-nov25", _day(11, 25), "7"),  # after "today": a replay as of Nov 20 ignores it
    _record("m-oct15", _day(10, 15), "30"),
    _record("m-aug2", _day(8, 2), "250"),
]


@pytest.fixture
def ledger(engine: Engine) -> Engine:
    with engine.begin() as conn:
        write_records(conn, LEDGER, tz=ZoneInfo("UTC"))
    return engine


def _add(engine: Engine, name: str, amount: str, **kw: object) -> None:
    with engine.begin() as conn:
        create_budget(conn, name=name, amount=amount, now=NOW, **kw)  # type: ignore[arg-type]


def test_budget_status_month_figures(ledger: Engine) -> None:
    _add(ledger, "all", "500")
    with ledger.connect() as conn:
        status = budget_status(conn, get_budget(conn, "all"), today=TODAY)
    assert status.window == Window(date(2026, 11, 1), date(2026, 11, 30))
    # best: $120 (billed Nov 3) + $50.50 + $200.125 = $370.625; the EUR and Nov 25 records don't count
    assert status.spent == Decimal("370.625")
    assert status.left == Decimal("129.375")
    assert status.percent == Decimal("74.1")  # 74.125 %
    assert status.crossed == (50,)
    assert status.resets_in == 11  # Nov 20..30, the next window starts Dec 1
    assert not status.over
    assert [(p.start, p.spent, p.percent) for p in status.past] == [
        (date(2026, 10, 1), Decimal("30"), Decimal("6.0")),  # $30 of $500
        (date(2026, 9, 1), Decimal(0), Decimal("0.0")),
        (date(2026, 8, 1), Decimal("250"), Decimal("50.0")),
        (date(2026, 7, 1), Decimal(0), Decimal("0.0")),
        (date(2026, 6, 1), Decimal(0), Decimal("0.0")),
        (date(2026, 5, 1), Decimal(0), Decimal("0.0")),
    ]
    assert status.past[0].end == date(2026, 10, 31)


def test_budget_status_filter_scope_over_budget(ledger: Engine) -> None:
    _add(ledger, "openai", "150", filters=["provider=openai"], thresholds="50,80,100,120")
    with ledger.connect() as conn:
        status = budget_status(conn, get_budget(conn, "openai"), today=TODAY)
    # OpenAI only: $120 (billed Nov 3) + $50.50 = $170.50 of $150
    assert status.spent == Decimal("170.50")
    assert status.left == Decimal("-20.50")
    assert status.percent == Decimal("113.7")  # 113.666… %
    assert status.crossed == (50, 80, 100)
    assert status.over


def test_budget_status_project_scope_weekly(ledger: Engine) -> None:
    _add(ledger, "web", "100", filters=["project=web"], period="weekly")
    with ledger.connect() as conn:
        status = budget_status(conn, get_budget(conn, "web"), today=date(2026, 11, 12))
    # week of Mon Nov 9..Sun Nov 15: project web has only Anthropic's $200.125 (Nov 12)
    assert status.window == Window(date(2026, 11, 9), date(2026, 11, 15))
    assert status.spent == Decimal("200.125")
    assert status.resets_in == 4  # Nov 12, 13, 14, 15
    # the week before (Nov 2..8): project web's metered $100.25 on Nov 3 is covered by
    # OpenAI's billing that day (billed records have no project), so "best" reads $0 there
    assert status.past[0].start == date(2026, 11, 2)
    assert status.past[0].spent == Decimal(0)


@pytest.mark.parametrize(
    ("basis", "spent"),
    [
        ("billed", Decimal("120")),  # the one billed record
        ("metered", Decimal("350.875")),  # $100.25 + $50.50 + $200.125
        ("best", Decimal("370.625")),  # billed $120 replaces metered $100.25
    ],
)
def test_budget_status_reads_its_basis(ledger: Engine, basis: str, spent: Decimal) -> None:
    _add(ledger, basis, "1000", basis=basis)
    with ledger.connect() as conn:
        assert budget_status(conn, get_budget(conn, basis), today=TODAY).spent == spent


def test_budget_status_without_rates_counts_its_currency_and_flags_the_rest(ledger: Engine) -> None:
    _add(ledger, "eur", "100", currency="eur", period="quarterly")
    with ledger.connect() as conn:
        status = budget_status(conn, get_budget(conn, "eur"), today=TODAY)
    assert status.budget.currency == "EUR"
    assert status.window == Window(date(2026, 10, 1), date(2026, 12, 31))
    assert status.spent == Decimal("40")  # the manual €40; no rate converts the USD records...
    # ... so they are named beside it (best basis, Oct 1..Nov 20): Oct 15 $30, Nov 3 billed $120
    # (its metered $100.25 covered), Nov 10 $50.50, Nov 12 $200.125
    assert status.unconverted == {"USD": Decimal("400.625")}
    assert status.resets_in == 42  # Nov 20..30 (11) + December (31)


def test_budget_status_custom_window_never_resets(ledger: Engine) -> None:
    _add(ledger, "launch", "400.10", period="custom", start="2026-11-04", end="2026-12-03")
    with ledger.connect() as conn:
        status = budget_status(conn, get_budget(conn, "launch"), today=TODAY)
        before = budget_status(conn, get_budget(conn, "launch"), today=date(2026, 11, 1))
    # Nov 4..20: $50.50 + $200.125 = $250.625 (Nov 3 is before the window)
    assert status.spent == Decimal("250.625")
    assert status.left == Decimal("149.475")
    assert status.resets_in is None
    assert status.past == []
    assert before.spent == Decimal(0)  # the window has not begun


def test_budget_status_local_days_in_a_non_utc_zone(engine: Engine) -> None:
    la = ZoneInfo("America/Los_Angeles")
    with engine.begin() as conn:
        write_records(
            conn,
            [
                _record("late", datetime(2026, 12, 1, 5, tzinfo=UTC), "9.99"),  # Nov 30, 21:00 in LA
                _record("early", datetime(2026, 11, 1, 9, tzinfo=UTC), "1.01"),  # Nov 1, 02:00 in LA
                _record("oct", datetime(2026, 11, 1, 6, tzinfo=UTC), "5"),  # Oct 31, 23:00 in LA
            ],
            tz=la,
        )
    _add(engine, "la", "100")
    today = local_day(datetime(2026, 12, 1, 7, 59, tzinfo=UTC), la)  # still Nov 30 in LA
    with engine.connect() as conn:
        status = budget_status(conn, get_budget(conn, "la"), today=today)
    assert status.window == Window(date(2026, 11, 1), date(2026, 11, 30))
    assert status.spent == Decimal("11.00")  # $9.99 + $1.01
    assert status.resets_in == 1
    assert status.past[0].spent == Decimal("5")  # October's, by LA days


# ---- definitions ------------------------------------------------------------------------------


def test_budget_create_stores_exact_definition(engine: Engine) -> None:
    _add(
        engine,
        "team",
        "1,250.555",
        filters=["provider=openai", "provider=anthropic", "project=web"],
        thresholds="100,50, 75%",
        channels=["ops", " "],
    )
    with engine.connect() as conn:
        budget = get_budget(conn, "team")
    assert budget.amount == Decimal("1250.555")
    assert budget.scope == {"provider": ("openai", "anthropic"), "project": ("web",)}
    assert budget.thresholds == (50, 75, 100)
    assert budget.channels == ("ops",)
    assert (budget.period, budget.basis, budget.currency) == ("monthly", "best", "USD")


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"amount": "lots"}, "amount: 'lots' is not an amount"),
        ({"amount": "-5"}, "amount: '-5': the amount must be more than 0"),
        ({"amount": "0"}, "amount"),
        ({"amount": "NaN"}, "amount"),
        ({"period": "yearly"}, "period: 'yearly' is not one of monthly, weekly"),
        ({"basis": "all"}, "basis: 'all' is not one of best, billed, metered"),
        ({"currency": "dollars"}, "currency"),
        ({"thresholds": "50,lots"}, "thresholds: 'lots' is not a percentage"),
        ({"thresholds": "0"}, "thresholds"),
        ({"period": "custom"}, "from: a custom period needs --from and --to"),
        ({"period": "custom", "start": "2026-11-01", "end": "soon"}, "to: 'soon' is not a date"),
        ({"period": "custom", "start": "2026-11-09", "end": "2026-11-01"}, "from: 2026-11-09 is after"),
        ({"start": "2026-11-01"}, "not with --period monthly"),
        ({"filters": ["colour=red"]}, "filter: unknown dimension 'colour'"),
        ({"filters": ["openai"]}, "filter: 'openai' is not DIM=VALUE"),
        ({"filters": ["basis=billed"]}, "set with --basis"),
        ({"name": " "}, "name"),
    ],
)
def test_budget_create_rejects_bad_parameters(engine: Engine, kw: dict[str, object], message: str) -> None:
    params: dict[str, object] = {"name": "b", "amount": "10", **kw}
    with engine.begin() as conn, pytest.raises(QueryError) as exc:
        create_budget(conn, now=NOW, **params)  # type: ignore[arg-type]
    assert message in str(exc.value)


def test_budget_names_are_unique_and_errors_say_what_to_do(engine: Engine) -> None:
    _add(engine, "alpha", "10")
    _add(engine, "beta", "20")
    with pytest.raises(BudgetExistsError, match="budgets remove alpha"):
        _add(engine, "alpha", "30")
    with engine.begin() as conn:
        with pytest.raises(UnknownBudgetError, match=r"'gamma' \(budgets: alpha, beta\)"):
            get_budget(conn, "gamma")
        remove_budget(conn, "alpha")
        with pytest.raises(UnknownBudgetError, match=r"budgets: beta\)"):
            remove_budget(conn, "alpha")
