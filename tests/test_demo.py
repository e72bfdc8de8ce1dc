"""Demo data: deterministic, realistic in shape, written exactly, removed exactly."""

from __future__ import annotations

import shutil
import statistics
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select

from spendledger.alerts.budgets import budget_status
from spendledger.alerts.evaluate import check_budget
from spendledger.demo import (
    DEMO_BUDGET,
    clear_demo,
    demo_records,
    demo_spikes,
    demo_starts,
    has_demo,
    load_demo,
)
from spendledger.demo_bill import LABS, bill_records
from spendledger.pricing import Pricer
from spendledger.queries import SpendQuery, spend
from spendledger.records import Basis, PricingStatus, TokenCounts, UsageRecord, from_nanos, to_nanos
from spendledger.store import make_engine, write_records
from spendledger.store.alerts import list_alerts
from spendledger.store.budgets import list_budgets
from spendledger.store.folder import fold_all
from spendledger.store.tables import rollups, usage
from usage_records import usage_record

END = date(2026, 11, 23)
TOKYO = ZoneInfo("Asia/Tokyo")


def _fingerprint(records: list[UsageRecord]) -> list[tuple[object, ...]]:
    return [(r.key, r.start, r.user, r.model, r.requests, r.tokens, r.cost) for r in records]


def test_demo_is_deterministic_for_a_seed_and_end() -> None:
    first = demo_records(tz=TOKYO, end=END, days=30, seed=7)
    again = demo_records(tz=TOKYO, end=END, days=30, seed=7)
    other = demo_records(tz=TOKYO, end=END, days=30, seed=8)
    assert _fingerprint(first) == _fingerprint(again)
    assert [r.key for r in first] == [f"demo:{n}" for n in range(1, len(first) + 1)]
    assert sum(r.cost for r in first if r.cost) != sum(r.cost for r in other if r.cost)


def test_demo_spikes_and_starts_are_where_the_records_put_them() -> None:
    utc = ZoneInfo("UTC")
    records = demo_records(tz=utc, end=END, days=180, seed=7)
    calls: dict[tuple[str, str, str, str], dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for r in records:
        calls[(r.project, r.model, r.user, r.feature)][r.start.date()] += r.requests
    spikes, starts = demo_spikes(end=END, seed=7), demo_starts(end=END, seed=7)
    assert len(spikes) == 3 and starts
    for spike in spikes:  # a stream's calls ×6-10 on its spike's days against its usual day
        by_day = calls[(spike.project, spike.model, spike.user, spike.feature)]
        usual = statistics.median(n for d, n in by_day.items() if not spike.first <= d <= spike.last)
        assert END - timedelta(days=179) <= spike.first <= spike.last <= END
        assert 6 <= spike.factor <= 10 and by_day[spike.first] > 3 * usual
    for start in starts:  # a stream that starts late has no call before its first day
        by_day = calls[(start.project, start.model, start.user, start.feature)]
        assert (
            not by_day
            or min(by_day) >= start.first
            or any(
                sp.first <= min(by_day) <= sp.last
                for sp in spikes  # a spike may wake it early
            )
        )


def test_demo_shape_is_realistic() -> None:
    records = demo_records(tz=TOKYO, end=END, days=180, seed=7)
    assert 30_000 <= len(records) <= 80_000
    assert {r.basis for r in records} == {Basis.DEMO} and {r.source for r in records} == {"demo"}
    assert all(r.pricing_status is PricingStatus.PRICED and r.cost and r.cost > 0 for r in records)
    assert all(r.requests > 1 for r in records)
    accounts = {(r.provider, r.account) for r in records}
    assert {a for p, a in accounts if p == "openai"} == {
        "demo-openai-tutoring",
        "demo-openai-stories",
        "demo-openai-research",
    }
    assert {r.workspace for r in records if r.provider == "anthropic"} == {"Default workspace", "Claude Code"}
    assert {p for p, _ in accounts} == {"openai", "anthropic", "mistral", "google"}
    assert len({r.user for r in records}) == 15
    assert {r.feature for r in records} >= {"summarise", "chat", "search", "classify", "codegen"}
    assert all(r.tokens.reasoning > 0 for r in records if r.model == "o3")
    assert all(r.tokens.reasoning == 0 for r in records if r.model != "o3")
    assert sum(r.tokens.cached_input for r in records) > 0
    assert sum(r.tokens.cache_write_5m for r in records if r.provider == "anthropic") > 0
    # every record on its local day, within the period
    days = {r.start.astimezone(TOKYO).date() for r in records}
    assert min(days) == END - timedelta(days=179) and max(days) == END

    daily: dict[date, Decimal] = defaultdict(Decimal)
    stream_daily: dict[tuple[str, str, str, str], dict[date, Decimal]] = defaultdict(
        lambda: defaultdict(Decimal)
    )
    for r in records:
        day = r.start.astimezone(TOKYO).date()
        daily[day] += r.cost or 0
        stream_daily[(r.project + r.workspace, r.model, r.user, r.feature)][day] += r.cost or 0
    weekdays = statistics.mean(v for d, v in daily.items() if d.weekday() < 5)
    weekends = statistics.mean(v for d, v in daily.items() if d.weekday() >= 5)
    assert Decimal("0.25") < weekends / weekdays < Decimal("0.6")
    ordered = [daily[d] for d in sorted(daily)]
    assert sum(ordered[-30:]) > Decimal("1.5") * sum(ordered[:30])  # growth
    # spikes: a day at 4x or more the median of the fortnight around it; noise stays under 3.5x
    spikes = set()
    for stream, by_day in stream_daily.items():
        for day, cost in by_day.items():
            around = [by_day[d] for i in range(-7, 8) if i and (d := day + timedelta(days=i)) in by_day]
            if len(around) >= 5 and cost > 4 * statistics.median(around):
                spikes.add(stream)
    assert 2 <= len(spikes) <= 3


def test_demo_names_cannot_pass_for_real_organisations() -> None:
    records = demo_records(tz=TOKYO, end=END, days=30, seed=7)
    readme_examples = ("Edugami", "Storygami", "Acme")  # names the README gives real sources

    assert {r.account for r in records} == {
        "demo-openai-tutoring",
        "demo-openai-stories",
        "demo-openai-research",
        "demo-anthropic",
        "demo-mistral-eu",
        "demo-gcp-research",
    }
    for r in records:
        fields = (r.account, r.workspace, r.project, r.api_key_id, r.user, r.feature)
        assert not any(name.lower() in f.lower() for name in readme_examples for f in fields), fields


def test_demo_budget_is_past_80_percent_and_raises_its_alerts(engine: Engine) -> None:
    utc = ZoneInfo("UTC")
    result = load_demo(engine, tz=utc, end=END, days=40)
    budget = result.budget
    openai_month = from_nanos(
        sum(
            to_nanos(r.cost or Decimal(0))
            for r in demo_records(tz=utc, end=END, days=40)
            if r.provider == "openai" and r.start.date() >= date(2026, 11, 1)
        )
    )  # each cost as the ledger stores it, in nano-units

    assert budget is not None and budget.name == DEMO_BUDGET and budget.period == "monthly"
    assert budget.scope == {
        "account": ("demo-openai-research", "demo-openai-stories", "demo-openai-tutoring")
    }
    assert budget.amount == (openai_month / Decimal("0.85")).quantize(Decimal(1))
    with engine.begin() as conn:
        status = budget_status(conn, budget, today=END, history=0)
        raised = check_budget(conn, budget, today=END, now=datetime(2026, 11, 23, 12, tzinfo=UTC))
        stored = list_alerts(conn)
    assert status.spent == openai_month and Decimal(84) < status.percent < Decimal(86)
    assert ("threshold", 80) in {(a.kind, a.threshold) for a in raised}
    assert {a.budget for a in stored} == {DEMO_BUDGET}
    assert ("threshold", 80, "open") in {(a.kind, a.threshold, a.status) for a in stored}

    clear_demo(engine)

    with engine.connect() as conn:
        assert list_budgets(conn) == [] and list_alerts(conn) == [] and not has_demo(conn)


def test_demo_load_writes_exactly_what_it_reports(engine: Engine) -> None:
    result = load_demo(engine, tz=TOKYO, end=END, days=30)
    calls = demo_records(tz=TOKYO, end=END, days=30)
    bill = bill_records(end=END, days=30)
    assert result.records == len(calls) + len(bill)
    # what counts: every call, the bill, and the metering of the account no bill covers
    # (the bill covers the other accounts' metering on every day of it)
    counting = [*calls, *(r for r in bill if r.basis is not Basis.METERED or r.account == LABS)]
    assert result.total_cost == from_nanos(sum(to_nanos(r.cost) for r in counting if r.cost))
    with engine.connect() as conn:
        keys = set(conn.execute(select(usage.c.key)).scalars())
        stored = conn.execute(
            select(func.sum(usage.c.cost_nanos)).where(usage.c.basis == "demo")
        ).scalar_one()
        calls_report = spend(conn, SpendQuery(start=END - timedelta(days=29), end=END, basis="demo"))
        report = spend(conn, SpendQuery(start=END - timedelta(days=29), end=END))
        assert has_demo(conn)
    assert keys == {r.key for r in calls} | {r.key for r in bill}
    assert (
        from_nanos(stored) == calls_report.total == from_nanos(sum(to_nanos(r.cost) for r in calls if r.cost))
    )
    assert report.total == result.total_cost
    # loading again changes nothing: calls are append-only events, the bill's buckets the same
    assert load_demo(engine, tz=TOKYO, end=END, days=30).records == 0


def test_demo_clear_removes_only_demo_records(engine: Engine) -> None:
    real = usage_record(
        key="api:evt-1",
        source="api",
        start=datetime(2026, 11, 20, 10, tzinfo=UTC),
        model="gpt-4o-mini",
        tokens=TokenCounts(input=1000, output=100),
    )
    Pricer().price(real)
    with engine.begin() as conn:
        write_records(conn, [real], tz=TOKYO)
    loaded = load_demo(engine, tz=TOKYO, end=END, days=14)

    assert clear_demo(engine) == loaded.records
    fold_all(engine)  # the rollups are written behind: fold the journal before reading them
    with engine.connect() as conn:
        assert conn.execute(select(usage.c.key)).scalars().all() == ["api:evt-1"]
        assert not has_demo(conn)
        for table in rollups.values():  # no demo row left behind in any rollup
            assert conn.execute(select(func.sum(table.c.records))).scalar_one() == 1
        report = spend(conn, SpendQuery(start=END - timedelta(days=29), end=END, basis="all"))
    # 1000 × $0.15/M + 100 × $0.60/M = $0.00021
    assert report.total == Decimal("0.00021")


def test_demo_full_180_days_loads_fast_on_sqlite(sqlite_template: Path, tmp_path: Path) -> None:
    path = tmp_path / "demo.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        started = time.perf_counter()
        result = load_demo(engine, tz=TOKYO, end=END)
        elapsed = time.perf_counter() - started
        with engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(usage)).scalar_one()
            report = spend(conn, SpendQuery(start=END - timedelta(days=179), end=END, by=("provider",)))
    finally:
        engine.dispose()
    print(f"demo: {result.records} records, {result.total_cost:.2f} USD, loaded in {elapsed:.1f} s")
    assert count == result.records and 30_000 <= count <= 80_000
    assert report.total == result.total_cost
    assert sum(r.cost for r in report.rows) == result.total_cost
    assert elapsed < 20
