"""Small money is visible: a $0.0003 call reads $0.0003, never $0.00, wherever people read
money (pages, `spendledger report`, budgets); CSV and JSON stay exact. One function,
`records.display_money`, formats it all. Ledger tests run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from clirun import Cli, cli_runner
from logins import text_of
from spendledger.alerts.budgets import create_budget
from spendledger.records import display_money
from spendledger.store import write_records
from usage_records import web_record


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        ("0.0003", "USD", "$0.0003"),
        ("0.000345", "USD", "$0.00034"),  # two significant digits, half to even
        ("0.0099", "USD", "$0.0099"),
        ("0.00999", "USD", "$0.01"),  # rounds up to a cent
        ("-0.00999", "USD", "-$0.01"),
        ("0.01", "USD", "$0.01"),
        ("1234.565", "USD", "$1,234.56"),  # cents, half to even, thousands separators
        ("0", "USD", "$0.00"),
        ("-0.0003", "EUR", "-€0.0003"),
        ("12.5", "JPY", "12.50 JPY"),
        ("0.0003", None, "0.0003"),  # a table whose header names the currency
        ("1234.5", None, "1,234.50"),
    ],
)
def test_display_money_shows_cents_or_two_significant_digits(
    amount: str, currency: str | None, text: str
) -> None:
    assert display_money(Decimal(amount), currency) == text


def _one_small_call(engine: Engine) -> None:
    with engine.begin() as conn:
        write_records(conn, [web_record("tiny", datetime.now(UTC), "0.0003")], tz=ZoneInfo("UTC"))


def test_display_money_small_call_on_overview_and_explorer(admin_client: TestClient, engine: Engine) -> None:
    _one_small_call(engine)
    overview = text_of(admin_client.get("/").text)
    assert "This month $0.0003" in overview and "Top projects (30 d) web $0.0003" in overview
    explorer = admin_client.get("/explore?period=7d&by=project&granularity=day")
    assert '<span id="explore-total">$0.0003</span>' in explorer.text
    # the charts draw the amount shown, not a cent-rounded 0
    explore_chart = json.loads(explorer.text.split('id="explore-chart-data">')[1].split("</script>")[0])
    assert explore_chart["share"] == [{"name": "web", "value": 0.0003}]
    today = explore_chart["periods"].index(datetime.now(UTC).date().isoformat())
    assert explore_chart["series"][0]["data"][today] == 0.0003
    daily = json.loads(admin_client.get("/").text.split('id="daily-data">')[1].split("</script>")[0])
    assert daily["series"][0]["data"][-1] == 0.0003


def test_display_money_small_call_in_cli_report(
    engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _one_small_call(engine)
    cli: Cli = cli_runner(db_url, tmp_path, monkeypatch, SPENDLEDGER_TIMEZONE="UTC")
    table = cli("report", "--period", "7d", "--by", "project").stdout
    rows = [
        [c.strip() for c in line.strip("│").split("│")] for line in table.splitlines() if line.startswith("│")
    ]
    assert ["web", "0.0003", "1", "0", "0"] in rows and ["Total", "0.0003", "1", "0", "0"] in rows
    # the exports stay exact
    as_json = json.loads(cli("report", "--period", "7d", "--format", "json").stdout)
    assert as_json["total"] == "0.0003"
    as_csv = list(csv.DictReader(io.StringIO(cli("report", "--period", "7d", "--format", "csv").stdout)))
    assert [r["cost"] for r in as_csv] == ["0.0003"]


def test_display_money_small_call_on_budgets(
    admin_client: TestClient, engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _one_small_call(engine)
    with engine.begin() as conn:
        create_budget(conn, name="tiny", amount="1", now=datetime.now(UTC))
    page = text_of(admin_client.get("/budgets").text)
    assert "$0.0003 of $1.00 spent" in page and "$0.9997 left" not in page and "$1.00 left" in page
    cli: Cli = cli_runner(db_url, tmp_path, monkeypatch, SPENDLEDGER_TIMEZONE="UTC")
    assert "Spent: 0.0003 USD (0.0 % of 1.00)" in cli("budgets", "show", "tiny").stdout
