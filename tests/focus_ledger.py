"""A small ledger with every kind of charge a FOCUS export meets, for the export's tests.

November 2026, each figure named (all USD but the Azure one):

    key  basis     provider    account   day     cost     what
    A    billed    openai      org-a     11-10    1.50    gpt-4o, with a nested tag
    B    metered   openai      org-a     11-10    9.99    the same day as A: A's bill covers it
    C    metered   openai      org-a     11-11    0.25    no bill that day: the estimate counts
    D    billed    aws         aws-123   11-12    3.00    Claude on Bedrock
    E    billed    azure       sub-1     11-12    2.00    EUR, gpt-4o on Azure OpenAI
    F    billed    openrouter  or-team   11-12    0.80    Claude through OpenRouter
    G    metered   google      (none)    11-13    0.10    Gemini, no account, no bill
    H    manual    openai      org-a     11-01  125.00    ChatGPT Team: 5 seats, a purchase
    I    manual    anthropic   anth-1    11-14  -10.00    a refund: a credit
    J    metered   openai      org-a     11-15      —     an unknown model, waiting for a price

Best available, USD: 1.50 + 0.25 + 3.00 + 0.80 + 0.10 + 125.00 - 10.00 = 120.65 (B is
covered by A, J has no cost yet); EUR: 2.00.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from spendledger.records import Basis, TokenCounts, UsageRecord
from spendledger.store import write_records
from usage_records import usage_record

UTC_ZONE = ZoneInfo("UTC")
BEDROCK_ID = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
BEST_TOTALS = {"USD": Decimal("120.65"), "EUR": Decimal("2.00")}
BEST_BY_PROVIDER = {  # (provider, currency) → cost
    ("openai", "USD"): Decimal("126.75"),  # 1.50 + 0.25 + 125.00 (+ J: nothing yet)
    ("aws", "USD"): Decimal("3.00"),
    ("azure", "EUR"): Decimal("2.00"),
    ("openrouter", "USD"): Decimal("0.80"),
    ("google", "USD"): Decimal("0.10"),
    ("anthropic", "USD"): Decimal("-10.00"),
}


def _at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC_ZONE)


def focus_records() -> list[UsageRecord]:
    billed, metered, manual = Basis.BILLED, Basis.METERED, Basis.MANUAL
    return [
        usage_record(
            key="A", basis=billed, start=_at(10, 0), end=_at(11, 0), account="org-a", project="web",
            model="gpt-4o", cost="1.50", tokens=TokenCounts(input=1000, output=500),
            tags={"line_item": "gpt-4o, input", "labels": {"team": "search"}},
        ),
        usage_record(
            key="B", basis=metered, start=_at(10), account="org-a", project="web", model="gpt-4o",
            cost="9.99", requests=3, tokens=TokenCounts(input=100, output=50),
        ),
        usage_record(
            key="C", basis=metered, start=_at(11), account="org-a", project="web", model="gpt-4o",
            user="u_1", feature="chat", cost="0.25", requests=4,
            tokens=TokenCounts(input=2000, cached_input=500, output=100, reasoning=40),
        ),
        usage_record(
            key="D", basis=billed, start=_at(12, 0), end=_at(13, 0), provider="aws", account="aws-123",
            model="claude-sonnet-4-5", cost="3.00", tokens=TokenCounts(input=100_000, output=20_000),
            tags={"service": "Amazon Bedrock", "provider_model": BEDROCK_ID},
        ),
        usage_record(
            key="E", basis=billed, start=_at(12, 0), end=_at(13, 0), provider="azure", account="sub-1",
            workspace="rg-ai", model="gpt-4o", cost="2.00", currency="EUR",
            tokens=TokenCounts(input=3000, output=700),
        ),
        usage_record(
            key="F", basis=billed, start=_at(12, 0), end=_at(13, 0), provider="openrouter", account="or-team",
            model="claude-sonnet-4-5", cost="0.80", requests=9, tokens=TokenCounts(input=4000, output=900),
            tags={"provider_model": "anthropic/claude-sonnet-4.5"},
        ),
        usage_record(
            key="G", basis=metered, start=_at(13), provider="google", model="gemini-2.5-flash",
            api_key_id="key-7", cost="0.10", requests=2, tokens=TokenCounts(input=800, output=200),
        ),
        usage_record(
            key="H", basis=manual, start=_at(1, 0), end=_at(2, 0), account="org-a", cost="125.00",
            model="", tags={"subscription": "ChatGPT Team", "plan": "team", "seats": 5},
        ),
        usage_record(
            key="I", basis=manual, start=_at(14, 0), end=_at(15, 0), provider="anthropic", account="anth-1",
            model="", cost="-10.00", tags={"note": "refund of a duplicate charge"},
        ),
        usage_record(
            key="J", basis=metered, start=_at(15), account="org-a", model="gpt-unknown-9", requests=1,
            tokens=TokenCounts(input=10, output=10),
        ),
    ]  # fmt: skip


def load_focus_ledger(engine: Engine, *, tz: ZoneInfo = UTC_ZONE) -> None:
    with engine.begin() as conn:
        write_records(conn, focus_records(), tz=tz)
