"""Closing a reconciled month keeps its figures; every later change to the month's records
(a new record, a revised bucket, a deletion) shows as a late adjustment against them, in the
library, the CLI and the API, until the month is reopened. Closing and reopening are in the
audit log. On SQLite and PostgreSQL, over test_reconcile.py's small ledger.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from clirun import cli_runner
from spendledger.reconcile import Adjustment, ReconcileError, close_month, closed_month, reopen_month
from spendledger.store import write_records
from spendledger.store.audit import entries
from spendledger.store.ledger import delete_records
from test_reconcile import bill_line, call, small_ledger

UTC_ZONE = ZoneInfo("UTC")
DECEMBER = date(2026, 12, 5)
NOW = datetime(2026, 12, 5, 9, tzinfo=UTC)


@pytest.fixture
def closed(engine: Engine) -> Engine:
    with engine.begin() as conn:
        write_records(conn, small_ledger(), tz=UTC_ZONE)
        assert close_month(conn, "2026-11", actor="admin@example.com", today=DECEMBER, now=NOW)
    return engine


def test_reconcile_close_keeps_the_figures_and_is_audited(closed: Engine) -> None:
    with closed.begin() as conn:
        month = closed_month(conn, "2026-11")
        again = close_month(conn, "2026-11", actor="someone@example.com", today=DECEMBER)
        log = entries(conn, tz=UTC_ZONE)
    assert month is not None and month.adjustments == [] and month.closed_by == "admin@example.com"
    assert not again  # closing twice keeps the first figures
    (entry,) = log
    # billed 1.51 + 0.70 + 5.60 + 0.15 (test_reconcile.py)
    assert (entry.action, entry.what, entry.amount) == (
        "reconcile.close",
        {"month": "2026-11", "rows": 6},
        {"USD": Decimal("7.96")},
    )


def test_reconcile_changes_after_closing_are_late_adjustments(closed: Engine) -> None:
    with closed.begin() as conn:
        # the provider revises Nov 4's gpt-4o input line: 4.00 → 4.20
        write_records(conn, [bill_line(4, "gpt-4o, input", "4.20", model="gpt-4o")], tz=UTC_ZONE)
        # a late call of Nov 2 arrives: 100,000 input tokens of gpt-4o-mini, 0.015
        write_records(conn, [call("late", 2, "gpt-4o-mini", 100_000, 0)], tz=UTC_ZONE)
        # the labs account's records are deleted
        delete_records(conn, account="labs")
        month = closed_month(conn, "2026-11")
    assert month is not None
    assert month.adjustments == [
        # metered 0.25925865 + 0.015
        Adjustment(
            "2026-11-02", "openai", "acme", "USD", *map(Decimal, ("1.51", "1.51", "0.25925865", "0.27425865"))
        ),
        Adjustment("2026-11-02", "openai", "labs", "USD", *map(Decimal, ("0", "0", "0.021", "0"))),
        # billed 5.60 + 0.20
        Adjustment("2026-11-04", "openai", "acme", "USD", *map(Decimal, ("5.60", "5.80", "7.00", "7.00"))),
    ]
    assert month.adjustments[2].billed_change == Decimal("0.20")


def test_reconcile_reopen_drops_the_figures(closed: Engine) -> None:
    with closed.begin() as conn:
        assert reopen_month(conn, "2026-11", actor="admin@example.com", now=NOW)
        assert not reopen_month(conn, "2026-11", actor="admin@example.com")
        assert closed_month(conn, "2026-11") is None
        actions = [e.action for e in entries(conn, tz=UTC_ZONE)]
    assert actions == ["reconcile.reopen", "reconcile.close"]  # newest first


@pytest.mark.parametrize(
    ("month", "message"),
    [
        ("2026-12", "2026-12 is not over yet"),
        ("2026-13", "is not a month"),
        ("November", "is not a month; give YYYY-MM"),
        ("", "is not a month"),
    ],
)
def test_reconcile_close_refuses_a_month_not_over_or_not_a_month(
    engine: Engine, month: str, message: str
) -> None:
    with engine.begin() as conn, pytest.raises(ReconcileError, match=message):
        close_month(conn, month, actor="admin@example.com", today=DECEMBER)


def test_reconcile_cli_close_lists_late_adjustments_and_reopens(
    closed: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = cli_runner(db_url, tmp_path, monkeypatch)
    with closed.begin() as conn:
        write_records(conn, [bill_line(4, "gpt-4o, input", "4.20", model="gpt-4o")], tz=UTC_ZONE)
    table = cli("reconcile", "--from", "2026-11-01", "--to", "2026-11-30").stdout
    assert "2026-11: closed 2026-12-05 09:00 UTC by admin@example.com" in table
    assert "late adjustments" in table
    adjustments = table.split("2026-11: closed")[-1]  # the last table
    rows = [
        [c.strip() for c in line.split("│")[1:-1]]
        for line in adjustments.splitlines()
        if line.startswith("│")
    ]
    assert rows == [["2026-11-04", "openai", "acme", "USD", "5.60", "5.80", "7.00", "7.00"]]
    as_json = json.loads(
        cli("reconcile", "--period", "last-month", "--from", "2026-11-01", "--format", "json").stdout
    )
    (month,) = as_json["closed_months"]
    assert month["late_adjustments"] == [
        {
            "day": "2026-11-04",
            "provider": "openai",
            "account": "acme",
            "currency": "USD",
            "billed_then": "5.60",
            "billed_now": "5.80",
            "metered_then": "7.00",
            "metered_now": "7.00",
        }
    ]
    assert "Reopened 2026-11." in cli("reconcile", "reopen", "2026-11").stdout
    assert "2026-11 was not closed." in cli("reconcile", "reopen", "2026-11").stdout
    assert "Closed 2026-11" in cli("reconcile", "close", "2026-11").stdout
    assert "closed already" in cli("reconcile", "close", "2026-11").stdout
    refused = cli("reconcile", "close", "2099-01", ok=False)
    assert refused.exit_code == 1 and "2099-01 is not over yet" in refused.stderr
    audited = cli("audit").stdout
    assert "reconcile.close" in audited and "reconcile.reopen" in audited
