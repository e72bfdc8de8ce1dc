"""`spendledger budgets ...` in process, on real SQLite and PostgreSQL databases.

The CLI reads "today" from the clock, so the records are written at the current moment
(their local day is today) with costs whose sums are written out beside the assertions.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from clirun import Cli, cli_runner
from spendledger.alerts.budgets import window_of
from spendledger.store import write_records
from usage_records import usage_record

ZONE = "America/Los_Angeles"


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_runner(db_url, tmp_path, monkeypatch, SPENDLEDGER_TIMEZONE=ZONE)


def _today() -> date:
    return datetime.now(ZoneInfo(ZONE)).date()


def _write_today(engine: Engine) -> None:
    now = datetime.now(UTC)
    records = [
        usage_record(key=f"k-{provider}", start=now, provider=provider, cost=cost)
        for provider, cost in (("openai", "300.004"), ("anthropic", "25.50"))
    ]
    with engine.begin() as conn:
        write_records(conn, records, tz=ZoneInfo(ZONE))


def _rows(output: str) -> dict[str, list[str]]:
    rows = {}
    for line in output.splitlines():
        if line.startswith("│"):
            cells = [c.strip() for c in line.strip("│").split("│")]
            rows[cells[0]] = cells[1:]
    return rows


def test_budgets_cli_add_list_show_remove(cli: Cli, engine: Engine) -> None:
    _write_today(engine)
    today = _today()
    window = window_of("monthly", today)
    resets = (window.end - today).days + 1

    added = cli("budgets", "add", "openai-monthly", "--amount", "500", "--filter", "provider=openai")
    assert "Added budget 'openai-monthly': 500.00 USD monthly on provider=openai" in added.output
    cli("budgets", "add", "all-daily", "--amount", "300", "--period", "daily", "--thresholds", "50,100")

    rows = _rows(cli("budgets", "list").output)
    # openai only: $300.004 of $500 = 60.0 %
    assert rows["openai-monthly"] == [
        "provider=openai",
        "500.00 USD",
        "monthly",
        "300.00",
        "60.0 %",
        f"{resets} day{'s' if resets != 1 else ''}",
    ]
    # everything today: $300.004 + $25.50 = $325.504 of $300 = 108.5 %
    assert rows["all-daily"] == ["everything", "300.00 USD", "daily", "325.50", "108.5 %", "1 day"]

    shown = cli("budgets", "show", "all-daily").output
    assert f"Current window: {today} → {today} (1 day, both included)" in shown
    assert "Spent: 325.50 USD (108.5 % of 300.00)" in shown
    assert "Left: none, over by 25.50 USD" in shown
    assert f"Resets: in 1 day, on {today + timedelta(days=1)}" in shown
    assert "Thresholds crossed: 50 %, 100 %" in shown
    past = _rows(shown)
    assert len(past) == 6  # the six days before today, nothing spent
    assert past[f"{today - timedelta(days=1)} → {today - timedelta(days=1)}"] == ["0.00", "0.0 %"]

    shown = cli("budgets", "show", "openai-monthly").output
    assert f"Current window: {window.start} → {window.end}" in shown
    assert "Left: 200.00 USD" in shown  # $500 - $300.004 = $199.996, to the cent
    assert "Thresholds crossed: 50 %" in shown

    assert "Removed budget 'all-daily'." in cli("budgets", "remove", "all-daily").output
    assert list(_rows(cli("budgets", "list").output)) == ["openai-monthly"]


def test_budgets_cli_custom_period(cli: Cli) -> None:
    custom = ["--period", "custom", "--from", "2026-11-01", "--to", "2026-11-30"]
    cli("budgets", "add", "launch", "--amount", "1,000", *custom, "--channel", "ops", "--basis", "billed")
    shown = cli("budgets", "show", "launch").output
    assert "Current window: 2026-11-01 → 2026-11-30 (30 days, both included)" in shown
    assert "Resets: never (custom window)" in shown
    assert "Basis: billed" in shown
    assert "Channels: ops" in shown


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--amount", "lots"], "amount: 'lots' is not an amount"),
        (["--amount", "5", "--period", "yearly"], "period: 'yearly' is not one of"),
        (["--amount", "5", "--basis", "all"], "basis: 'all' is not one of best, billed, metered"),
        (["--amount", "5", "--filter", "colour=red"], "filter: unknown dimension 'colour'"),
        (["--amount", "5", "--thresholds", "50,x"], "thresholds: 'x' is not a percentage"),
        (["--amount", "5", "--period", "custom"], "from: a custom period needs --from and --to"),
    ],
)
def test_budgets_cli_bad_options_exit_2_naming_the_option(cli: Cli, args: list[str], message: str) -> None:
    result = cli("budgets", "add", "b", *args, ok=False)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_budgets_cli_duplicate_and_unknown_names(cli: Cli) -> None:
    cli("budgets", "add", "team", "--amount", "10")
    again = cli("budgets", "add", "team", "--amount", "20", ok=False)
    assert again.exit_code == 1
    assert "a budget named 'team' exists" in again.output
    for command in ("show", "remove"):
        missing = cli("budgets", command, "nope", ok=False)
        assert missing.exit_code == 1
        assert "no budget named 'nope' (budgets: team); see `spendledger budgets list`" in missing.output


def test_budgets_cli_list_empty_says_how_to_add(cli: Cli) -> None:
    assert "budgets add NAME --amount 500" in cli("budgets", "list").output
