"""Display currencies: every amount converted at its own day's rate, worked out by hand.

The rate file (the ECB's historical CSV form, base EUR, newest day first, a trailing comma):

    day         USD    CHF
    2026-11-03  1.20   0.96
    2026-11-02  1.25   0.95      (no rate on 2026-11-04: it takes 2026-11-03's)

The ledger: USD $100 on Mon Nov 2, $60 on Tue Nov 3, $24 on Wed Nov 4, $7 on Fri Oct 30
(before any rate: flagged, never dropped or zeroed); €10 on Nov 3; CHF 5 on Nov 4.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from spendledger.alerts.budgets import budget_status, create_budget
from spendledger.imports.fx_rates import import_rates
from spendledger.queries import Granularity, SpendQuery, Unconverted, overview, spend
from spendledger.records import TokenCounts
from spendledger.store import write_records
from spendledger.store.budgets import get_budget
from usage_records import usage_record

RATES = b"""Date,USD,CHF,
2026-11-03,1.20,0.96,
2026-11-02,1.25,0.95,
"""


def _at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 12, tzinfo=UTC)


LEDGER = [
    usage_record(key="usd-nov2", start=_at(11, 2), cost="100", project="web"),
    usage_record(key="usd-nov3", start=_at(11, 3), cost="60", project="api"),
    usage_record(key="usd-nov4", start=_at(11, 4), cost="24", project="web"),
    usage_record(key="usd-oct30", start=_at(10, 30), cost="7", project="web"),
    usage_record(key="eur-nov3", start=_at(11, 3), cost="10", currency="EUR", provider="mistral"),
    usage_record(key="chf-nov4", start=_at(11, 4), cost="5", currency="CHF", provider="anthropic"),
]
NOVEMBER = (date(2026, 11, 1), date(2026, 11, 30))


@pytest.fixture
def ledger(engine: Engine) -> Engine:
    with engine.begin() as conn:
        write_records(conn, LEDGER, tz=ZoneInfo("UTC"))
        import_rates(conn, RATES, name="rates.csv")
    return engine


def _spend(
    engine: Engine, currency: str | None, **kw: object
) -> tuple[dict[str, Decimal], list[tuple[str, str, Decimal]]]:
    """(totals, [(period, currency, cost)...]) of USD spend (filter currency=USD) in `currency`."""
    query = SpendQuery(start=NOVEMBER[0], end=NOVEMBER[1], currency=currency, **kw)  # type: ignore[arg-type]
    with engine.connect() as conn:
        report = spend(conn, query)
    return report.totals, [(r.period or "", r.currency, r.cost) for r in report.rows]


def test_fx_usd_spend_on_three_days_in_eur_and_chf(ledger: Engine) -> None:
    usd = {"currency": ("USD",)}
    # EUR: Nov 2  100 / 1.25 = 80.00;  Nov 3  60 / 1.20 = 50.00;  Nov 4  24 / 1.20 = 20.00 (Nov 3's rate)
    totals, rows = _spend(ledger, "EUR", filters=usd, granularity=Granularity.DAY)
    assert rows == [
        ("2026-11-02", "EUR", Decimal("80")),
        ("2026-11-03", "EUR", Decimal("50")),
        ("2026-11-04", "EUR", Decimal("20")),
    ]
    assert totals == {"EUR": Decimal("150")}
    # CHF, cross rates CHF/USD of each day: Nov 2  100 × 0.95 / 1.25 = 76.00;
    # Nov 3  60 × 0.96 / 1.20 = 48.00;  Nov 4  24 × 0.96 / 1.20 = 19.20 (Nov 3's rates)
    totals, rows = _spend(ledger, "CHF", filters=usd, granularity=Granularity.DAY)
    assert rows == [
        ("2026-11-02", "CHF", Decimal("76")),
        ("2026-11-03", "CHF", Decimal("48")),
        ("2026-11-04", "CHF", Decimal("19.2")),
    ]
    assert totals == {"CHF": Decimal("143.2")}  # 76 + 48 + 19.20


def test_fx_a_month_is_the_sum_of_its_converted_days(ledger: Engine) -> None:
    # 80 + 50 + 20 = €150.00; the month's $184 at one rate would be 184 / 1.20 = €153.33
    totals, rows = _spend(ledger, "EUR", filters={"currency": ("USD",)}, granularity=Granularity.MONTH)
    assert rows == [("2026-11", "EUR", Decimal("150"))] and totals == {"EUR": Decimal("150")}
    # weeks by their Monday: Nov 2..4 are one week
    _, rows = _spend(ledger, "EUR", filters={"currency": ("USD",)}, granularity=Granularity.WEEK)
    assert rows == [("2026-11-02", "EUR", Decimal("150"))]


def test_fx_every_currency_converted_and_grouped(ledger: Engine) -> None:
    # In CHF: USD 143.20 (above) + €10 × 0.96 = 9.60 (Nov 3) + CHF 5 as is = 157.80
    query = SpendQuery(start=NOVEMBER[0], end=NOVEMBER[1], by=("provider",), currency="CHF")
    with ledger.connect() as conn:
        report = spend(conn, query)
    assert report.totals == {"CHF": Decimal("157.8")} and report.total == Decimal("157.8")
    assert report.unconverted == []
    by_provider = {r.dims["provider"]: r.cost for r in report.rows}
    assert by_provider == {"openai": Decimal("143.2"), "mistral": Decimal("9.6"), "anthropic": Decimal("5")}
    # in EUR: USD 150.00 + €10 + CHF 5 on Nov 4 at Nov 3's 0.96: 5 / 0.96 = 5.208333333 (to the nano-unit)
    with ledger.connect() as conn:
        eur = spend(conn, SpendQuery(start=NOVEMBER[0], end=NOVEMBER[1], currency="EUR"))
    assert eur.totals == {"EUR": Decimal("150") + Decimal("10") + Decimal("5.208333333")}


def test_fx_a_day_with_no_usable_rate_is_flagged_never_dropped(ledger: Engine) -> None:
    # Oct 30 has no rate on or before it: its $7 stays in USD, in its own row and total
    query = SpendQuery(start=date(2026, 10, 26), end=date(2026, 11, 8), currency="EUR", by=("project",))
    with ledger.connect() as conn:
        report = spend(conn, query)
    assert report.unconverted == [Unconverted(date(2026, 10, 30), "USD", Decimal("7"))]
    # EUR: web 80 + 20 = 100, api 50, under no project €10 and CHF 5 / 0.96 = 5.208333333;
    # USD: web's $7 as charged
    assert report.totals == {"EUR": Decimal("165.208333333"), "USD": Decimal("7")}
    assert report.currency is None and report.total is None  # two currencies are never added up
    rows = {(r.dims["project"], r.currency): r.cost for r in report.rows}
    assert rows == {
        ("web", "EUR"): Decimal("100"),
        ("api", "EUR"): Decimal("50"),
        (None, "EUR"): Decimal("10") + Decimal("5.208333333"),
        ("web", "USD"): Decimal("7"),
    }


def test_fx_without_a_display_currency_amounts_stay_as_charged(ledger: Engine) -> None:
    totals, _ = _spend(ledger, None)
    assert totals == {"USD": Decimal("184"), "EUR": Decimal("10"), "CHF": Decimal("5")}


def test_fx_counts_and_tokens_survive_conversion(engine: Engine) -> None:
    records = [
        usage_record(key=f"u{i}", start=_at(11, 2 + i), cost="1", requests=2, tokens=TokenCounts(input=10))
        for i in range(3)
    ]
    with engine.begin() as conn:
        write_records(conn, records, tz=ZoneInfo("UTC"))
        import_rates(conn, RATES, name="rates.csv")
        report = spend(conn, SpendQuery(start=NOVEMBER[0], end=NOVEMBER[1], currency="EUR"))
    (row,) = report.rows
    # 1 / 1.25 + 1 / 1.20 + 1 / 1.20 = 0.8 + 0.8333... + 0.8333... = 2.4666..., rounded once
    # (rounding each day first would give 0.8 + 0.833333333 × 2 = 2.466666666)
    assert (row.cost, row.requests, row.input_tokens) == (Decimal("2.466666667"), 6, 30)


def test_fx_budget_in_chf_counts_usd_and_eur_spend(ledger: Engine) -> None:
    now = datetime(2026, 11, 20, 9, tzinfo=UTC)
    with ledger.begin() as conn:
        create_budget(conn, name="chf", amount="200", currency="CHF", now=now)
        status = budget_status(conn, get_budget(conn, "chf"), today=date(2026, 11, 20))
    # USD → CHF 76 + 48 + 19.20 = 143.20; €10 × 0.96 = 9.60; CHF 5: 157.80 of CHF 200 = 78.9 %
    assert status.spent == Decimal("157.8")
    assert status.percent == Decimal("78.9")
    assert status.crossed == (50,)
    assert status.unconverted == {}
    # October: $7 on Oct 30 has no rate before it, so it is shown beside the budget, not counted
    october = status.past[0]
    assert (october.start, october.spent) == (date(2026, 10, 1), Decimal(0))


def test_fx_budget_flags_spend_it_cannot_convert(ledger: Engine) -> None:
    now = datetime(2026, 10, 31, 9, tzinfo=UTC)
    with ledger.begin() as conn:
        create_budget(conn, name="eur", amount="50", currency="EUR", now=now)
        status = budget_status(conn, get_budget(conn, "eur"), today=date(2026, 10, 31))
    assert status.spent == Decimal(0) and status.unconverted == {"USD": Decimal("7")}


def test_fx_overview_in_a_display_currency(ledger: Engine) -> None:
    with ledger.connect() as conn:
        page = overview(conn, today=date(2026, 11, 4), currency="CHF")
    # this month in CHF: 157.80 (above); today, Nov 4: $24 → 19.20 + CHF 5 = 24.20
    assert page.currency == "CHF" and page.display_currency == "CHF"
    assert page.windows["This month"][0] == Decimal("157.8")
    assert page.windows["Today"][0] == Decimal("24.2")
    assert page.other_currencies == {}
    # Oct 6..Nov 4 also holds Oct 30's $7, which has no rate: beside the figure, not in it
    assert page.kpis is not None and page.kpis.last_30 == Decimal("157.8")
    assert page.daily["openai"]["2026-11-04"] == Decimal("19.2")
