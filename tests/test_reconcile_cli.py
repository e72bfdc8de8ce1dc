"""`spendledger reconcile` on test_reconcile.py's small ledger: the JSON is the API's, the
CSV sums to the same cents, the tolerance comes from SPENDLEDGER_RECONCILE_TOLERANCE or
--tolerance, a bad parameter exits 2 naming it."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from clirun import cli_runner
from spendledger.store import write_records
from test_reconcile import small_ledger

NOVEMBER = ("--from", "2026-11-01", "--to", "2026-11-30")


@pytest.fixture
def ledger(engine: Engine) -> Engine:
    with engine.begin() as conn:
        write_records(conn, small_ledger(), tz=ZoneInfo("UTC"))
    return engine


def _flagged(output: str) -> list[tuple[str, str]]:
    rows = json.loads(output)["rows"]
    return [(r["day"], r["account"]) for r in rows if r["flagged"]]


def test_reconcile_cli_json_csv_and_table_agree(
    ledger: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = cli_runner(db_url, tmp_path, monkeypatch)
    as_json = json.loads(cli("reconcile", *NOVEMBER, "--format", "json").stdout)
    rows = list(csv.DictReader(io.StringIO(cli("reconcile", *NOVEMBER, "--format", "csv").stdout)))
    table = cli("reconcile", *NOVEMBER).stdout
    (openai,) = as_json["providers"]
    # billed 7.96, metered 7.40025865, coverage 93.0 % (test_reconcile.py)
    assert (openai["billed"], openai["metered"], openai["coverage_pct"]) == ("7.96", "7.40025865", "93.0")
    assert sum(Decimal(r["billed"]) for r in rows) == Decimal("7.96")
    assert sum(Decimal(r["metered"]) for r in rows) == Decimal("7.40025865")
    assert [
        c.strip() for c in next(line for line in table.splitlines() if line.startswith("│ openai")).split("│")
    ][1:7] == ["openai", "USD", "7.96", "7.40", "93.0%", "0.56"]
    assert "│ 2026-11-03 │ openai" in table and "missed calls 0.70" in table


def test_reconcile_cli_tolerance_from_the_setting_and_the_option(
    ledger: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loose = cli_runner(db_url, tmp_path, monkeypatch, SPENDLEDGER_RECONCILE_TOLERANCE="30%,0.05")
    # within 30 % or 0.05: Nov 4's -1.40 of 5.60 (25 %), labs' 0.021, Nov 6's 0.03 pass
    expected = [("2026-11-02", "acme"), ("2026-11-03", "acme"), ("2026-11-05", "acme")]
    assert _flagged(loose("reconcile", *NOVEMBER, "--format", "json").stdout) == expected
    strict = loose("reconcile", *NOVEMBER, "--tolerance", "0%,0", "--format", "json", "--flagged").stdout
    assert len(json.loads(strict)["rows"]) == 6  # every row has a gap; --flagged keeps them all

    bad = cli_runner(db_url, tmp_path, monkeypatch, SPENDLEDGER_RECONCILE_TOLERANCE="plenty")
    refused = bad("reconcile", ok=False)
    assert refused.exit_code == 1 and "SPENDLEDGER_RECONCILE_TOLERANCE" in refused.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--by", "user"), "by: unknown dimension 'user'"),
        (("--from", "yesterday"), "from: 'yesterday' is not a date"),
        (("--tolerance", "some"), "tolerance: 'some' is not a tolerance"),
        (("--period", "forever"), "period: unknown preset 'forever'"),
    ],
)
def test_reconcile_cli_bad_parameters_exit_2(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], message: str
) -> None:
    result = cli_runner(db_url, tmp_path, monkeypatch)("reconcile", *args, ok=False)
    assert result.exit_code == 2 and message in result.stderr and result.stdout == ""


def test_reconcile_cli_on_an_empty_ledger_says_so(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    printed = cli_runner(db_url, tmp_path, monkeypatch)("reconcile").stdout
    assert "(no billed or metered records)" in printed
