"""The reconciliation on a small ledger whose every gap is worked out by hand, on SQLite and
PostgreSQL: billed beside metered per UTC day, provider and account, the gap split into its
categories (missed calls, metering outside any synced account, the same tokens priced
differently, non-token line items, rounding, not billed yet, unexplained), coverage, the
tolerance's flags.

Prices (genai-prices, November 2026): gpt-4o-mini $0.15 / $0.60 per million input / output
tokens, gpt-4o $2.50 / $10.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from spendledger.pricing import Pricer
from spendledger.queries import QueryError, SpendQuery, spend
from spendledger.reconcile import (
    ReconcileError,
    ReconcileQuery,
    Tolerance,
    build_reconcile_query,
    line_item_kind,
    parse_tolerance,
    reconcile,
    reconcile_summary,
)
from spendledger.records import Basis, TokenCounts, UsageRecord
from spendledger.store import write_records
from usage_records import usage_record

UTC_ZONE = ZoneInfo("UTC")
NOVEMBER = ReconcileQuery(date(2026, 11, 1), date(2026, 11, 30))


def _day(day: int) -> datetime:
    return datetime(2026, 11, day, tzinfo=UTC)


def bill_line(day: int, line_item: str, cost: str, *, model: str = "", account: str = "acme") -> UsageRecord:
    """A line of OpenAI's costs report: money, no tokens."""
    return usage_record(
        key=f"costs|proj_1|{line_item}|",
        source=f"openai-{account}",
        basis=Basis.BILLED,
        start=_day(day),
        end=_day(day) + timedelta(days=1),
        model=model,
        account=account,
        tags={"line_item": line_item},
        requests=0,
        cost=cost,
    )


def bill_tokens(
    day: int, model: str, input_tokens: int, output_tokens: int, *, account: str = "acme"
) -> UsageRecord:
    """A bucket of OpenAI's completions usage: tokens, no money."""
    return usage_record(
        key=f"usage/completions|proj_1|{model}|",
        source=f"openai-{account}",
        basis=Basis.BILLED,
        start=_day(day),
        end=_day(day) + timedelta(days=1),
        model=model,
        account=account,
        requests=100,
        tokens=TokenCounts(input=input_tokens, output=output_tokens),
        cost="0",
    )


def call(
    key: str, day: int, model: str, input_tokens: int, output_tokens: int, *, account: str = "acme"
) -> UsageRecord:
    """A metered call, priced from the catalogue."""
    record = usage_record(
        key=f"api:{key}",
        source="api",
        start=_day(day) + timedelta(hours=10),
        model=model,
        account=account,
        tokens=TokenCounts(input=input_tokens, output=output_tokens),
    )
    Pricer().price(record)
    return record


def small_ledger() -> list[UsageRecord]:
    return [
        # Nov 2: the bill rounds each line to the cent; the metering saw the same tokens in
        # two calls; a web search line the metering cannot see; a call of "labs", an
        # account no billing covers
        bill_tokens(2, "gpt-4o-mini", 1_234_567, 123_456),
        bill_line(2, "gpt-4o-mini, input", "0.19", model="gpt-4o-mini"),  # 1,234,567 × 0.15/M = 0.18518505
        bill_line(2, "gpt-4o-mini, output", "0.07", model="gpt-4o-mini"),  # 123,456 × 0.60/M = 0.0740736
        bill_line(2, "web search tool calls", "1.25"),
        call("a", 2, "gpt-4o-mini", 1_000_000, 100_000),  # 0.15 + 0.06 = 0.21
        call("b", 2, "gpt-4o-mini", 234_567, 23_456),  # 0.03518505 + 0.0140736 = 0.04925865
        call("labs", 2, "gpt-4o-mini", 100_000, 10_000, account="labs"),  # 0.015 + 0.006 = 0.021
        # Nov 3: the tracker was down: the bill has calls, the metering none
        bill_line(3, "gpt-4o-mini, input", "0.50", model="gpt-4o-mini"),
        bill_line(3, "gpt-4o-mini, output", "0.20", model="gpt-4o-mini"),
        # Nov 4: gpt-4o at a negotiated 20 % off the catalogue
        bill_tokens(4, "gpt-4o", 2_000_000, 200_000),  # catalogue 5.00 + 2.00 = 7.00
        bill_line(4, "gpt-4o, input", "4.00", model="gpt-4o"),
        bill_line(4, "gpt-4o, output", "1.60", model="gpt-4o"),
        call("c", 4, "gpt-4o", 2_000_000, 200_000),  # 7.00
        # Nov 5: the bill counts 1,000,000 input tokens, the metering 600,000
        bill_tokens(5, "gpt-4o-mini", 1_000_000, 0),  # catalogue 0.15
        bill_line(5, "gpt-4o-mini, input", "0.15", model="gpt-4o-mini"),
        call("d", 5, "gpt-4o-mini", 600_000, 0),  # 0.09
        # Nov 6: after acme's last billed day: the bill is not synced yet
        call("e", 6, "gpt-4o-mini", 200_000, 0),  # 0.03
    ]


@pytest.fixture
def ledger(engine: Engine) -> Engine:
    with engine.begin() as conn:
        write_records(conn, small_ledger(), tz=UTC_ZONE)
    return engine


def _rows(engine: Engine, query: ReconcileQuery = NOVEMBER) -> dict[tuple[str | None, ...], object]:
    with engine.connect() as conn:
        found = reconcile(conn, query)
    return {(r.day, *r.dims.values()): r for r in found.rows}


def test_reconcile_explains_each_day_by_category(ledger: Engine) -> None:
    rows = _rows(ledger)

    nov2 = rows[("2026-11-02", "openai", "acme")]
    # billed 0.19 + 0.07 + 1.25 = 1.51; metered 0.21 + 0.04925865 = 0.25925865
    assert (nov2.billed, nov2.metered) == (Decimal("1.51"), Decimal("0.25925865"))  # type: ignore[attr-defined]
    # rounding: 0.26 on the bill against 0.18518505 + 0.0740736 = 0.25925865 in the catalogue
    assert nov2.gaps == {"non_token": Decimal("1.25"), "rounding": Decimal("0.00074135")}  # type: ignore[attr-defined]
    assert nov2.non_token == {"web_search": Decimal("1.25")}  # type: ignore[attr-defined]
    labs = rows[("2026-11-02", "openai", "labs")]
    assert labs.gaps == {"outside": Decimal("-0.021")}  # type: ignore[attr-defined]
    assert labs.coverage is None  # type: ignore[attr-defined]  # no bill
    assert rows[("2026-11-03", "openai", "acme")].gaps == {"missed": Decimal("0.70")}  # type: ignore[attr-defined]
    nov4 = rows[("2026-11-04", "openai", "acme")]
    # the bill's 5.60 against the catalogue's 7.00 for the same tokens; metered 7.00
    assert nov4.gaps == {"priced": Decimal("-1.40")}  # type: ignore[attr-defined]
    assert nov4.coverage == Decimal("125.0")  # type: ignore[attr-defined]  # 7.00 / 5.60
    # catalogue of the billed tokens 0.15 against 0.09 metered: a volume the rules cannot place
    assert rows[("2026-11-05", "openai", "acme")].gaps == {"unexplained": Decimal("0.06")}  # type: ignore[attr-defined]
    assert rows[("2026-11-06", "openai", "acme")].gaps == {"unbilled": Decimal("-0.03")}  # type: ignore[attr-defined]
    for row in rows.values():  # every row's categories add up to its gap, exactly
        assert sum(row.gaps.values(), Decimal(0)) == row.gap  # type: ignore[attr-defined]


def test_reconcile_summary_per_provider_with_coverage(ledger: Engine) -> None:
    with ledger.connect() as conn:
        (openai,) = reconcile(conn, NOVEMBER).providers
        billed_report = spend(conn, SpendQuery(start=NOVEMBER.start, end=NOVEMBER.end, basis="billed"))
        assert reconcile_summary(conn, "2026-11") == [openai]
    # billed 1.51 + 0.70 + 5.60 + 0.15 = 7.96, as the billed basis of every report says
    assert openai.billed == Decimal("7.96") == billed_report.total
    # metered 0.25925865 + 0.021 + 7.00 + 0.09 + 0.03 = 7.40025865
    assert openai.metered == Decimal("7.40025865")
    assert openai.coverage == Decimal("93.0")  # 7.40025865 / 7.96 = 92.97 %
    assert openai.gaps == {
        "missed": Decimal("0.70"),
        "outside": Decimal("-0.021"),
        "priced": Decimal("-1.40"),
        "non_token": Decimal("1.25"),
        "rounding": Decimal("0.00074135"),
        "unbilled": Decimal("-0.03"),
        "unexplained": Decimal("0.06"),
    }
    assert sum(openai.gaps.values(), Decimal(0)) == openai.gap == Decimal("0.55974135")
    # every day's provider total is more than a cent and 1 % from its bill
    assert openai.flagged_days == [f"2026-11-0{d}" for d in range(2, 7)] and openai.days == 5


def test_reconcile_tolerance_flags_only_rows_outside_it(ledger: Engine) -> None:
    by_model = ReconcileQuery(NOVEMBER.start, NOVEMBER.end, ("provider", "account", "model"))
    with ledger.connect() as conn:
        rows = {
            (r.day, r.dims["model"]): r for r in reconcile(conn, by_model).rows if r.dims["account"] == "acme"
        }
        loose = reconcile(conn, by_model, tolerance=Tolerance(percent=Decimal(20), amount=Decimal("0.05")))
    assert rows[("2026-11-02", "gpt-4o-mini")].gaps == {"rounding": Decimal("0.00074135")}
    assert not rows[("2026-11-02", "gpt-4o-mini")].flagged  # 0.0007 is within a cent
    assert rows[("2026-11-02", "")].flagged  # the web search line: 1.25, no metering
    flagged = {(r.day, r.dims["account"], r.dims["model"]) for r in loose.rows if r.flagged}
    # within 20 % or 0.05: labs' 0.021 and Nov 6's 0.03 pass; Nov 4 (1.40 of 5.60 is 25 %)
    # stays flagged, Nov 5 (0.06 of 0.15) too
    assert flagged == {
        ("2026-11-02", "acme", ""),
        ("2026-11-03", "acme", "gpt-4o-mini"),
        ("2026-11-04", "acme", "gpt-4o"),
        ("2026-11-05", "acme", "gpt-4o-mini"),
    }


def test_reconcile_by_provider_only_keeps_account_rules(ledger: Engine) -> None:
    rows = _rows(ledger, ReconcileQuery(NOVEMBER.start, NOVEMBER.end, ("provider",)))
    nov2 = rows[("2026-11-02", "openai")]
    # acme's rounding and web search and labs' outside metering, on one row
    assert nov2.gaps == {  # type: ignore[attr-defined]
        "outside": Decimal("-0.021"),
        "non_token": Decimal("1.25"),
        "rounding": Decimal("0.00074135"),
    }


def test_reconcile_attributes_metering_without_account_to_the_one_billed(engine: Engine) -> None:
    records = [
        bill_tokens(2, "gpt-4o-mini", 1_000_000, 0),
        bill_line(2, "gpt-4o-mini, input", "0.15", model="gpt-4o-mini"),
        call("x", 2, "gpt-4o-mini", 1_000_000, 0, account=""),  # 0.15, no account
    ]
    with engine.begin() as conn:
        write_records(conn, records, tz=UTC_ZONE)
    rows = _rows(engine)
    assert list(rows) == [("2026-11-02", "openai", "acme")]
    assert rows[("2026-11-02", "openai", "acme")].gaps == {}  # type: ignore[attr-defined]


def test_reconcile_anthropic_bucket_priced_below_the_long_context_tier(engine: Engine) -> None:
    """Anthropic's usage buckets count no requests: a day's 3,000,000 input tokens are many
    calls, priced at Sonnet's base rate ($3/M), not its >200k rate ($6/M)."""
    usage = usage_record(
        key="usage/messages|claude-sonnet-4-5|default",
        source="anthropic-studio",
        basis=Basis.BILLED,
        start=_day(2),
        end=_day(3),
        provider="anthropic",
        model="claude-sonnet-4-5",
        account="studio",
        tags={"context_window": "0-200k"},
        requests=0,
        tokens=TokenCounts(input=3_000_000, output=0),
        cost="0",
    )
    money = usage_record(
        key="cost_report|default|tokens|claude-sonnet-4-5",
        source="anthropic-studio",
        basis=Basis.BILLED,
        start=_day(2),
        end=_day(3),
        provider="anthropic",
        model="claude-sonnet-4-5",
        account="studio",
        tags={"cost_type": "tokens"},
        requests=0,
        cost="9.00",  # 3,000,000 × $3/M
    )
    metered = usage_record(
        key="api:s", source="api", start=_day(2) + timedelta(hours=9), provider="anthropic",
        model="claude-sonnet-4-5", account="studio", cost="9.00", requests=300,
    )  # fmt: skip
    with engine.begin() as conn:
        write_records(conn, [usage, money, metered], tz=UTC_ZONE)
    assert _rows(engine)[("2026-11-02", "anthropic", "studio")].gaps == {}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ({"line_item": "web search tool calls"}, "web_search"),
        ({"line_item": "file search tool calls"}, "file_search"),
        ({"line_item": "vector store storage"}, "storage"),
        ({"line_item": "fine-tuning training, gpt-4.1-mini-2025-04-14"}, "fine_tuning"),
        ({"line_item": "Code Interpreter sessions"}, "code_execution"),
        ({"cost_type": "code_execution", "description": "Code execution"}, "code_execution"),
        ({"cost_type": "web_search"}, "web_search"),
        ({"sku": "Copilot Business seat"}, "seats"),
        ({"line_item": "gpt-4o-2024-08-06, input"}, None),
        ({"cost_type": "tokens"}, None),
        ({}, "other"),
    ],
)
def test_line_item_kind_reads_each_sources_words(line: dict[str, str], kind: str | None) -> None:
    model = "gpt-4o" if line in ({"line_item": "gpt-4o-2024-08-06, input"}, {"cost_type": "tokens"}) else ""
    record = usage_record(basis=Basis.BILLED, model=model, tags=line, cost="1")
    assert line_item_kind(record) == kind


@pytest.mark.parametrize(
    ("text", "tolerance"),
    [
        ("2%", Tolerance(Decimal(2), Decimal(0))),
        ("0.50", Tolerance(Decimal(0), Decimal("0.50"))),
        ("1.5%, 0.01", Tolerance(Decimal("1.5"), Decimal("0.01"))),
    ],
)
def test_reconcile_tolerance_parses(text: str, tolerance: Tolerance) -> None:
    assert parse_tolerance(text) == tolerance


@pytest.mark.parametrize("text", ["", "abc", "1%,2%,3", "-1", "1e5", "%"])
def test_reconcile_tolerance_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(ReconcileError, match="tolerance"):
        parse_tolerance(text)


def test_reconcile_query_defaults_to_last_month_and_checks_by() -> None:
    assert build_reconcile_query(today=date(2026, 12, 5)) == NOVEMBER
    query = build_reconcile_query(today=date(2026, 12, 5), period="mtd", by=["provider,model"])
    assert (query.start, query.end, query.by) == (date(2026, 12, 1), date(2026, 12, 5), ("provider", "model"))
    with pytest.raises(QueryError, match="by: unknown dimension 'user'"):
        build_reconcile_query(today=date(2026, 12, 5), by=["user"])
