"""`spendledger alerts ...` in process, on real SQLite and PostgreSQL databases.

The CLI reads "today" from the clock, so the record is written at the current moment;
its $105 is over the $100 budget, so the forecast alert (which needs spend still under
the amount) never fires and the alerts are the same on any day.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from clirun import Cli, cli_runner
from spendledger.records import Basis, PricingStatus, UsageRecord
from spendledger.store import write_records
from spendledger.store.alerts import list_alerts


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_runner(db_url, tmp_path, monkeypatch, SPENDLEDGER_TIMEZONE="UTC")


def _write_now(engine: Engine, cost: str) -> None:
    record = UsageRecord(
        key="k1",
        source="test",
        basis=Basis.METERED,
        start=datetime.now(UTC),
        provider="openai",
        model="m",
        cost=Decimal(cost),
        pricing_status=PricingStatus.PROVIDER,
    )
    with engine.begin() as conn:
        write_records(conn, [record], tz=ZoneInfo("UTC"))


def _rows(output: str) -> dict[str, list[str]]:
    rows = {}
    for line in output.splitlines():
        if line.startswith("│"):
            cells = [c.strip() for c in line.strip("│").split("│")]
            rows[cells[0]] = cells[1:]
    return rows


def test_alerts_check_list_ack(cli: Cli, engine: Engine) -> None:
    cli("budgets", "add", "all", "--amount", "100")
    assert "No new alerts." in cli("alerts", "check").output
    assert "No open alerts." in cli("alerts", "list").output

    _write_now(engine, "105")  # 105 % of $100
    out = cli("alerts", "check").output
    assert "3 new alerts" in out
    assert "all: 50 % reached — spent 105.00 of 100.00 USD (105.0 %)" in out
    assert "all: 100 % reached" in out
    assert "No new alerts." in cli("alerts", "check").output  # once per window

    rows = _rows(cli("alerts", "list").output)
    assert len(rows) == 3
    with engine.connect() as conn:
        ids = {a.threshold: a.id for a in list_alerts(conn)}
    eighty = rows[str(ids[80])]
    assert eighty[:3] == ["all", "threshold", "80 %"]
    assert eighty[4:6] == ["105.00 USD", "105.0 %"]
    assert eighty[7] == "open"

    out = cli("alerts", "ack", str(ids[80]), "--by", "ops@example.com").output
    assert f"Alert #{ids[80]} (all, threshold 80 %): acknowledged by ops@example.com" in out
    assert str(ids[80]) not in _rows(cli("alerts", "list").output)
    acked = _rows(cli("alerts", "list", "--status", "acknowledged").output)
    assert list(acked) == [str(ids[80])]
    assert acked[str(ids[80])][7].startswith("acknowledged by ops@example.com on ")
    assert len(_rows(cli("alerts", "list", "--status", "all").output)) == 3
    assert "No resolved alerts." in cli("alerts", "list", "--status", "resolved").output
    with engine.connect() as conn:
        stored = next(a for a in list_alerts(conn) if a.id == ids[80])
    assert stored.acknowledged_by == "ops@example.com" and stored.acknowledged_at is not None


def test_alerts_errors(cli: Cli) -> None:
    bad = cli("alerts", "list", "--status", "closed", ok=False)
    assert bad.exit_code == 2 and "'closed' is not one of open, acknowledged, resolved, all" in bad.output
    missing = cli("alerts", "ack", "42", ok=False)
    assert missing.exit_code == 1 and "no alert #42" in missing.output
