"""A small ledger for the read API's tests and its OpenAPI fuzzing: November 2026 spend
whose every figure is plain addition, a budget over it, the alerts it raised, a source.

November 2026, basis best (the figures the tests assert, computed by hand):
- metered calls: m1 $1.25 (openai, project a, ann), m2 $2.50 (openai, b, bob),
  m3 $4.00 (anthropic, a, ann), m4 $3.00 (openai, a, bob; on 11-05, under openai's bill
  for that day, so left out of "best"), m6 €4.00 (mistral, no project, bob);
- openai's bill for 11-05, $10.00 (account org-1, no project), and a manual $20.00
  Perplexity subscription on 11-15 (no project, no user).
Around it: m5 $0.75 on 12-01 (mistral, b, ann) and m7 $5.00 on 10-15 (openai, project
legacy, bob): values the ledger knows that November did not spend on.

By project: a 1.25 + 4.00 = 5.25; b 2.50; legacy 0; none 10.00 + 20.00 = 30.00 and €4.00;
USD total 5.25 + 2.50 + 30.00 = 37.75 (basis all adds m4: 40.75). By user: ann 5.25,
bob 2.50 and €4.00, none 30.00.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from spendledger.alerts.budgets import create_budget
from spendledger.alerts.evaluate import check_budgets
from spendledger.config import Settings
from spendledger.records import Basis, TokenCounts, UsageRecord
from spendledger.sources_admin import add
from spendledger.store import write_records
from usage_records import usage_record

NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30"}
ANN, BOB = "ann@example.com", "bob@example.com"
SOURCE_KEY = "sk-admin-Zq8vNw3xK2mP7rT5hY1uL9a1b2"  # the secret a response must never hold

METERED = [
    # (key, day, provider, model, project, user, cost, currency)
    ("m1", date(2026, 11, 2), "openai", "gpt-4o-mini", "a", ANN, "1.25", "USD"),
    ("m2", date(2026, 11, 3), "openai", "gpt-4o", "b", BOB, "2.50", "USD"),
    ("m3", date(2026, 11, 10), "anthropic", "claude-sonnet-4", "a", ANN, "4.00", "USD"),
    ("m4", date(2026, 11, 5), "openai", "gpt-4o-mini", "a", BOB, "3.00", "USD"),
    ("m5", date(2026, 12, 1), "mistral", "mistral-small", "b", ANN, "0.75", "USD"),
    ("m6", date(2026, 11, 12), "mistral", "mistral-small", "", BOB, "4.00", "EUR"),
    ("m7", date(2026, 10, 15), "openai", "gpt-4o", "legacy", BOB, "5.00", "USD"),
]


def _at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def november_records() -> list[UsageRecord]:
    records = [
        usage_record(
            key=key,
            source="sdk",
            start=_at(day),
            provider=provider,
            model=model,
            project=project,
            user=user,
            cost=cost,
            currency=currency,
            requests=1,
            tokens=TokenCounts(input=100, output=10),
        )
        for key, day, provider, model, project, user, cost, currency in METERED
    ]
    records.append(
        usage_record(
            key="openai:org-1:cost",
            source="openai-org-1",
            basis=Basis.BILLED,
            model="",
            account="org-1",
            start=_at(date(2026, 11, 5), 0),
            end=_at(date(2026, 11, 6), 0),
            requests=0,
            cost="10.00",
        )
    )
    records.append(
        usage_record(
            key="manual:perplexity-pro",
            source="manual",
            basis=Basis.MANUAL,
            start=_at(date(2026, 11, 15)),
            provider="perplexity",
            model="",
            cost="20.00",
        )
    )
    return records


def write_november(engine: Engine) -> None:
    with engine.begin() as conn:
        write_records(conn, november_records(), tz=ZoneInfo("UTC"))


def add_source(engine: Engine, settings: Settings, *, name: str = "Edugami") -> None:
    """An OpenAI source whose base URL carries a proxy password ("hunter2")."""
    add(
        engine,
        settings,
        provider="openai",
        name=name,
        key=SOURCE_KEY,
        options={"base_url": "https://ops:hunter2@proxy.example.com/v1", "account": "org-1"},
    )


def over_budget_with_alerts(engine: Engine) -> None:
    """Budget "nov-a": $5 for November 2026 on project a, which spent $5.25 (105 %): checked
    on 11-25, the 100 % alert is raised, 50 and 80 % recorded as passed."""
    now = datetime(2026, 11, 25, 9, tzinfo=UTC)
    with engine.begin() as conn:
        create_budget(
            conn,
            name="nov-a",
            amount="5",
            now=now,
            period="custom",
            start="2026-11-01",
            end="2026-11-30",
            filters=["project=a"],
        )
        check_budgets(conn, tz=ZoneInfo("UTC"), today=date(2026, 11, 25), now=now)


def seed_everything(engine: Engine, settings: Settings) -> None:
    """The whole small ledger: spend, a source, a budget and its alerts (for the fuzzing)."""
    write_november(engine)
    add_source(engine, settings)
    over_budget_with_alerts(engine)
