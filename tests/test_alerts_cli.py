"""`spendledger alerts ...` in process, on real SQLite and PostgreSQL databases.

The CLI reads "today" from the clock, so the record is written at the current moment;
its $105 is over the $100 budget, so the forecast alert (which needs spend still under
the amount) never fires and the alerts are the same on any day.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from clirun import Cli, cli_runner
from spendledger.store import write_records
from spendledger.store.alerts import list_alerts, raise_alert
from test_anomalies import DAY, call, four_quiet_weeks, write
from usage_records import usage_record


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_runner(db_url, tmp_path, monkeypatch, SPENDLEDGER_TIMEZONE="UTC")


def _write_now(engine: Engine, cost: str) -> None:
    record = usage_record(start=datetime.now(UTC), cost=cost)
    with engine.begin() as conn:
        write_records(conn, [record], tz=ZoneInfo("UTC"))


def _rows(output: str) -> dict[str, list[str]]:
    rows = {}
    for line in output.splitlines():
        if line.startswith("│"):
            cells = [c.strip() for c in line.strip("│").split("│")]
            rows[cells[0]] = cells[1:]
    return rows


def test_alerts_evaluate_list_ack(cli: Cli, engine: Engine) -> None:
    cli("budgets", "add", "all", "--amount", "100")
    assert "No new alerts." in cli("alerts", "evaluate").output
    assert "No open alerts." in cli("alerts", "list").output

    _write_now(engine, "105")  # 105 % of $100: 50, 80 and 100 % crossed at once, one alert
    out = cli("alerts", "evaluate").output
    assert "1 new alert;" in out
    assert "all: 100 % reached — spent 105.00 of 100.00 USD (105.0 %)" in out
    assert "50 %" not in out and "80 %" not in out
    assert "No new alerts." in cli("alerts", "check").output  # once per window (the old name too)

    rows = _rows(cli("alerts", "list").output)
    with engine.connect() as conn:
        ids = {a.threshold: a.id for a in list_alerts(conn)}
    assert list(rows) == [str(ids[100])]
    hundred = rows[str(ids[100])]
    assert hundred[:3] == ["all", "threshold", "100 %"]
    assert hundred[4:6] == ["105.00 USD", "105.0 %"]
    assert hundred[7] == "open"

    out = cli("alerts", "ack", str(ids[100]), "--by", "ops@example.com").output
    assert f"Alert #{ids[100]} (budget all reached 100 %): acknowledged by ops@example.com" in out
    assert "No open alerts." in cli("alerts", "list").output
    acked = _rows(cli("alerts", "list", "--status", "acknowledged").output)
    assert list(acked) == [str(ids[100])]
    assert acked[str(ids[100])][7].startswith("acknowledged by ops@example.com on ")
    assert len(_rows(cli("alerts", "list", "--status", "all").output)) == 3
    passed = _rows(cli("alerts", "list", "--status", "resolved").output)
    assert {row[2]: row[7] for row in passed.values()} == {
        "50 %": "passed: the 100 % alert covers it",
        "80 %": "passed: the 100 % alert covers it",
    }
    listed = json.loads(cli("alerts", "list", "--status", "all", "--format", "json").output)
    assert {(a["threshold"], a["state"], a["passed"], a["level"]) for a in listed} == {
        (50, "resolved", True, "warning"),
        (80, "resolved", True, "warning"),
        (100, "acknowledged", False, "failure"),
    }
    with engine.connect() as conn:
        stored = next(a for a in list_alerts(conn) if a.id == ids[100])
    assert stored.acknowledged_by == "ops@example.com" and stored.acknowledged_at is not None


def test_alerts_list_shows_an_anomaly_by_its_subject(cli: Cli, engine: Engine) -> None:
    # a $412 jump of gpt-4o on Nov 20 against its usual $35 a weekday, found the day after
    write(engine, [*four_quiet_weeks(), call("t1", DAY, "35.00"), call("t2", DAY, "412.00", user="u_17")])
    cli("alerts", "evaluate", "--at", "2026-11-21T08:00")
    with engine.begin() as conn:  # and a jump of spend with no project: subject "project:"
        raise_alert(
            conn,
            budget="project:",
            kind="anomaly",
            threshold=0,
            window_start=DAY,
            window_end=DAY,
            figures={"spent": Decimal("60"), "usual": Decimal("10"), "spread": Decimal("2")},
            currency="USD",
            now=datetime(2026, 11, 21, 9, tzinfo=UTC),
        )

    rows = _rows(cli("alerts", "list").output)
    assert [r[:4] for r in rows.values()] == [
        ["Anomaly: project:(none)", "anomaly", "—", "2026-11-20 → 2026-11-20"],
        ["Anomaly: model:gpt-4o", "anomaly", "—", "2026-11-20 → 2026-11-20"],
    ]
    listed = {a["subject"]: a for a in json.loads(cli("alerts", "list", "--format", "json").output)}
    model = listed["model:gpt-4o"]
    assert (model["kind"], model["threshold"], model["level"]) == ("anomaly", None, "warning")
    assert model["text"].startswith(
        "Anomaly: model:gpt-4o — spend jumped to $447.00 on 2026-11-20, usual $35.00 ± $3.50; "
        "100 % of the jump is user u_17"
    )
    assert listed["project:(none)"]["text"] == (
        "Anomaly: project:(none) — spend jumped to $60.00 on 2026-11-20, usual $10.00 ± $2.00"
    )
    out = cli("alerts", "ack", str(model["id"]), "--by", "ops@example.com").output
    assert f"Alert #{model['id']} (Anomaly: model:gpt-4o): acknowledged by ops@example.com" in out


def test_alerts_errors(cli: Cli) -> None:
    bad = cli("alerts", "list", "--status", "closed", ok=False)
    assert bad.exit_code == 2 and "'closed' is not one of open, acknowledged, resolved, all" in bad.output
    missing = cli("alerts", "ack", "42", ok=False)
    assert missing.exit_code == 1 and "no alert #42" in missing.output
