"""The reconciliation of the demo data finds every gap demo_bill.py puts in it, each in its
category and with its amount, and `spendledger reconcile` prints the coverage per provider.

The demo ends on 2026-11-23 (UTC); October 2026 is its last whole month. Each expected
amount is summed here from the demo's own records (`bill_records`), never from the
reconciliation: the bill's lines, the metered calls, and the catalogue's price of the
bill's tokens (per million: claude-sonnet-4-5 $3 input, $0.30 cached, $15 output).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from clirun import cli_runner
from spendledger.demo import load_demo
from spendledger.demo_bill import (
    ANTHROPIC_PLATFORM,
    DISCOUNTED,
    FINE_TUNING_COST,
    FINE_TUNING_LINE,
    LABS,
    PLATFORM,
    bill_records,
    fine_tuning_day,
    missed_day,
)
from spendledger.pricing import Pricer
from spendledger.reconcile import ReconcileQuery, reconcile
from spendledger.records import Basis, UsageRecord, cents

END = date(2026, 11, 23)
DAYS = 60
OCTOBER = ReconcileQuery(date(2026, 10, 1), date(2026, 10, 31))


def _october(records: list[UsageRecord]) -> list[UsageRecord]:
    return [r for r in records if OCTOBER.start <= r.start.astimezone(UTC).date() <= OCTOBER.end]


def _cost(records: list[UsageRecord]) -> Decimal:
    return sum((r.cost or Decimal(0) for r in records), Decimal(0))


def _line(r: UsageRecord) -> str:
    return str(r.tags.get("line_item") or r.tags.get("description") or "")


def _is_token_line(r: UsageRecord) -> bool:
    return (
        r.basis is Basis.BILLED
        and bool(r.cost)
        and r.tags.get("cost_type", "tokens") == "tokens"
        and bool(r.model)
    )


@pytest.fixture(scope="module")
def demo() -> list[UsageRecord]:
    return _october(bill_records(end=END, days=DAYS))


@pytest.fixture
def loaded(engine: Engine) -> Engine:
    load_demo(engine, tz=ZoneInfo("UTC"), end=END, days=DAYS)
    return engine


def test_reconcile_demo_finds_every_injected_gap(loaded: Engine, demo: list[UsageRecord]) -> None:
    billed = [r for r in demo if r.basis is Basis.BILLED]
    metered = [r for r in demo if r.basis is Basis.METERED]
    with loaded.connect() as conn:
        found = reconcile(conn, OCTOBER)
    providers = {p.provider: p for p in found.providers}
    openai, anthropic = providers["openai"], providers["anthropic"]
    rows = {(r.day, r.dims["account"]): r for r in found.rows}

    # 1. missed: the platform's tracker was down on Oct 14; the bill has that day's calls
    down = missed_day(END).isoformat()
    assert down == "2026-10-14"
    missed = _cost(
        [
            r
            for r in billed
            if r.account == PLATFORM and _is_token_line(r) and r.start.date().isoformat() == down
        ]
    )
    assert missed > 0 and openai.gaps["missed"] == missed
    assert rows[(down, PLATFORM)].gaps["missed"] == missed
    assert [day for (day, _), r in rows.items() if "missed" in r.gaps] == [down]  # that day alone

    # 2. outside: demo-openai-labs is metered and no billing source syncs it
    labs = _cost([r for r in metered if r.account == LABS])
    assert labs > 0 and openai.gaps["outside"] == -labs
    assert all(set(r.gaps) == {"outside"} for (_, account), r in rows.items() if account == LABS)

    # 3. priced differently: claude-sonnet-4-5 billed at 90 % of the catalogue, every day
    provider, model = DISCOUNTED
    rates = Pricer().rates_for(provider, model, datetime(2026, 10, 15, tzinfo=UTC))
    assert rates is not None
    priced = Decimal(0)
    for r in billed:
        if r.model == model and r.provider == provider:
            if r.tokens.input:  # the day's usage bucket: its tokens at the catalogue, as calls under 200k
                priced -= rates.cost(r.tokens, 1000)
            else:  # a line of money
                priced += r.cost or Decimal(0)
    assert priced < 0 and anthropic.gaps["priced"] == priced.quantize(Decimal("1e-9"))
    assert "priced" not in openai.gaps

    # 4. non-token line items, by kind
    def items(account: str, words: str) -> Decimal:
        return _cost([r for r in billed if r.account == account and words in _line(r)])

    assert openai.non_token == {
        "web_search": items(PLATFORM, "web search"),
        "file_search": items(PLATFORM, "file search"),
        "storage": items(PLATFORM, "vector store storage"),
        "fine_tuning": FINE_TUNING_COST,
        "code_execution": items(PLATFORM, "Code Interpreter"),
    }
    assert items(PLATFORM, FINE_TUNING_LINE) == FINE_TUNING_COST
    assert rows[(fine_tuning_day(END).isoformat(), PLATFORM)].non_token["fine_tuning"] == FINE_TUNING_COST
    assert anthropic.non_token == {"code_execution": items(ANTHROPIC_PLATFORM, "Code execution")}
    assert openai.gaps["non_token"] == sum(openai.non_token.values())

    # 5. rounding: the bill's lines are rounded to the cent, the metering is exact. On the
    # days both sides have, the platform's token lines less its metering is only that
    platform_days = [r for r in demo if r.account == PLATFORM and r.start.date().isoformat() != down]
    token_lines = [r for r in platform_days if _is_token_line(r)]
    rounding = _cost(token_lines) - _cost([r for r in platform_days if r.basis is Basis.METERED])
    assert rounding != 0 and abs(rounding) <= Decimal("0.005") * len(token_lines)
    assert openai.gaps["rounding"] == rounding
    # Anthropic's: haiku's lines against its metering, and sonnet's catalogue price against its metering
    anthropic_rounding = _cost([r for r in billed if _is_token_line(r) and r.provider == "anthropic"])
    anthropic_rounding -= _cost([r for r in metered if r.provider == "anthropic"]) + priced
    assert anthropic.gaps["rounding"] == anthropic_rounding.quantize(Decimal("1e-9"))

    # and nothing else: each provider's categories add up to its gap
    assert set(openai.gaps) == {"missed", "outside", "non_token", "rounding"}
    assert set(anthropic.gaps) == {"priced", "non_token", "rounding"}
    for summary in (openai, anthropic):
        assert sum(summary.gaps.values(), Decimal(0)) == summary.gap


def test_reconcile_demo_coverage_per_provider_is_printed(
    loaded: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo: list[UsageRecord]
) -> None:
    cli = cli_runner(db_url, tmp_path, monkeypatch)
    printed = cli("reconcile", "--from", "2026-10-01", "--to", "2026-10-31").stdout
    sums: dict[tuple[str, Basis], Decimal] = defaultdict(Decimal)
    for r in demo:
        sums[(r.provider, r.basis)] += r.cost or Decimal(0)
    lines = {line.split("│")[1].strip(): line for line in printed.splitlines() if line.startswith("│")}
    for provider in ("openai", "anthropic"):
        billed, metered = sums[(provider, Basis.BILLED)], sums[(provider, Basis.METERED)]
        coverage = (metered / billed * 100).quantize(Decimal("0.1"))
        cells = [c.strip() for c in lines[provider].split("│")[1:-1]]
        assert cells[:5] == [provider, "USD", f"{cents(billed):,}", f"{cents(metered):,}", f"{coverage}%"]
    assert "Metered vs billed by provider, 2026-10-01 → 2026-10-31 (UTC days)" in printed
    assert "Coverage" in printed and "Missed calls" in printed


def test_reconcile_demo_totals_agree_with_the_billed_basis(loaded: Engine) -> None:
    from spendledger.queries import SpendQuery, spend

    with loaded.connect() as conn:
        found = reconcile(conn, OCTOBER)
        billed = spend(
            conn, SpendQuery(start=OCTOBER.start, end=OCTOBER.end, by=("provider",), basis="billed")
        )
        metered = spend(
            conn, SpendQuery(start=OCTOBER.start, end=OCTOBER.end, by=("provider",), basis="metered")
        )
    assert {p.provider: p.billed for p in found.providers} == {
        r.dims["provider"]: r.cost for r in billed.rows
    }
    assert {p.provider: p.metered for p in found.providers} == {
        r.dims["provider"]: r.cost for r in metered.rows
    }
    assert timedelta(days=DAYS) > END - OCTOBER.start  # October lies inside the demo
