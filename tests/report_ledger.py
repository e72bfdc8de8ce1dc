"""A ledger for the period reports and digests: October and November 2026 in USD, with
billed, metered (covered and not) and manual spend, twelve users for a breakdown that has
"the rest", and two budgets. The figures, worked out by hand:

November, best available:
  billed   openai acme Nov 5 $120.00 (support-bot) + Nov 6 $80.25 (search)      = $200.25
  metered  anthropic $30.50 (support-bot, ann@example.com)
           + twelve users u_01..u_12 of "search" $1..$12 = $78.00              = $108.50
           (openai's $90.00 call on Nov 5 of account acme: covered by the bill)
  manual   mistral invoice Nov 30 $40.00                                          =  $40.00
  total                                                                            = $348.75
October: openai billed Oct 15 $150.00 + anthropic metered Oct 20 $50.00           = $200.00
Change: $348.75 − $200.00 = +$148.75; 148.75 / 200.00 = 74.375 % → +74.4 %
Reconciliation, November (UTC days): openai billed $200.25, metered $90.00, coverage
  90.00 / 200.25 = 44.94 % → 44.9 %, gap $110.25 = non-token $200.25 (the bill names no
  model) + unexplained −$90.00; anthropic billed $0.00, metered $108.50, all of it outside
  (no billing sync covers it).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from spendledger.alerts.budgets import create_budget
from spendledger.records import Basis, UsageRecord
from spendledger.store import write_records
from usage_records import usage_record

UTC_ZONE = ZoneInfo("UTC")
NOVEMBER_TOTAL, OCTOBER_TOTAL = "348.75", "200.00"
MEMBER = "ann@example.com"  # a member with no grant: the spend recorded under their email (30.50)


def _day(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def _billed(key: str, start: datetime, cost: str, project: str) -> UsageRecord:
    return usage_record(
        key=key,
        source="openai-acme",
        basis=Basis.BILLED,
        start=start,
        end=start + timedelta(days=1),
        model="",
        account="acme",
        project=project,
        requests=0,
        cost=cost,
    )


def report_records() -> list[UsageRecord]:
    records = [
        _billed("b-oct15", _day(10, 15), "150.00", "support-bot"),
        usage_record(
            key="m-oct20", provider="anthropic", start=_day(10, 20, 9), cost="50.00", project="support-bot"
        ),
        _billed("b-nov05", _day(11, 5), "120.00", "support-bot"),
        _billed("b-nov06", _day(11, 6), "80.25", "search"),
        usage_record(
            key="m-covered", start=_day(11, 5, 10), cost="90.00", account="acme", project="support-bot"
        ),
        usage_record(
            key="m-ann",
            provider="anthropic",
            start=_day(11, 10, 9),
            cost="30.50",
            project="support-bot",
            user=MEMBER,
        ),
        usage_record(
            key="inv-mistral",
            source="manual",
            basis=Basis.MANUAL,
            provider="mistral",
            start=_day(11, 30, 12),
            cost="40.00",
        ),
    ]
    records += [
        usage_record(
            key=f"m-u{i:02d}",
            provider="anthropic",
            start=_day(11, 12, 9),
            cost=f"{i}.00",
            project="search",
            user=f"u_{i:02d}",
        )
        for i in range(1, 13)
    ]
    return records


def load_report_ledger(engine: Engine) -> None:
    """The records above, a monthly budget of $300 on everything (November: over by $48.75,
    116.3 %) and a weekly one of $100 on support-bot (the week of Nov 2–8: $120.00, over)."""
    now = _day(11, 1)
    with engine.begin() as conn:
        write_records(conn, report_records(), tz=UTC_ZONE)
        create_budget(conn, name="all spend", amount="300", now=now)
        create_budget(
            conn,
            name="support weekly",
            amount="100",
            period="weekly",
            now=now,
            filters=["project=support-bot"],
        )
