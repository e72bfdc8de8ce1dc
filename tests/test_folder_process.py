"""The folder in a process of its own (folder_process.py): killed, another takes over at
once and nothing is lost; stopped, none is left; its parent killed, it stops too. And
SQLite's fold in two steps never adds sums that went stale between them."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select

from folder_children import alive, folder_children, wait_for
from spendledger.pricing import Pricer
from spendledger.records import TokenCounts, UsageRecord
from spendledger.store import folder, folder_process, make_engine, rollups, write_records
from spendledger.store.folder import TTL, fold_all
from spendledger.store.ledger import rebuild_rollups
from spendledger.store.tables import MONTHLY, usage
from spendledger.store.tables import rollups as rollup_tables
from usage_records import usage_record

DAY0 = datetime(2026, 11, 29, tzinfo=UTC)  # across a month's end: the monthly twins too
ZONE = ZoneInfo("UTC")


def _calls(n: int, run: str) -> list[UsageRecord]:
    records = [
        usage_record(
            key=f"{run}-{i}",
            source="api",
            start=DAY0 + timedelta(minutes=7 * i),
            model="gpt-4o-mini",
            user=f"u{i % 7}",
            feature=f"f{i % 3}",
            tokens=TokenCounts(input=1_000 + i, output=10 + i % 50),
        )
        for i in range(n)
    ]
    Pricer().price_all(records)
    return records


def _write(engine: Engine, n: int, run: str) -> None:
    for i in range(0, n, 250):  # as batches come in: many journal appends
        with engine.begin() as conn:
            write_records(conn, _calls(n, run)[i : i + 250], tz=ZONE)


def _pending(engine: Engine) -> int:
    with engine.connect() as conn:
        return rollups.pending_rows(conn)


def _folded(engine: Engine) -> dict[str, tuple[int, int]]:
    """(records, cost) in `usage` and in each rollup's own rows (what the folder put there)."""
    with engine.connect() as conn:
        out = {"usage": tuple(conn.execute(select(func.count(), func.sum(usage.c.cost_nanos))).one())}
        for name, table in rollup_tables.items():
            sums = select(func.sum(table.c.records), func.sum(table.c.cost_nanos))
            out[name] = tuple(conn.execute(sums).one())
    return {k: (int(a or 0), int(b or 0)) for k, (a, b) in out.items()}


def test_folder_process_killed_is_replaced_at_once_and_loses_nothing(db_url: str, engine: Engine) -> None:
    _write(engine, 1500, "a")
    running = folder_process.start(db_url, interval=0.05)
    try:
        wait_for(lambda: len(folder_children()) == 1)
        (first,) = folder_children()
        wait_for(lambda: _pending(engine) < 1500)  # it is folding
        os.kill(first, signal.SIGKILL)  # wherever it was: a fold in flight rolls back
        _write(engine, 1500, "b")
        wait_for(lambda: folder_children() not in ([], [first]))  # another one, a second later
        # it takes the lease at once (the dead one's, by name), not after its expiry
        wait_for(lambda: _pending(engine) == 0, timeout=TTL.total_seconds() - 5)
    finally:
        running.stop()

    assert folder_children() == []  # stopped, and waited for
    sums = _folded(engine)
    assert sums["usage"][0] == 3000 and sums["usage"][1] > 0
    for name in ("rollup_provider", MONTHLY["rollup_provider"], "rollup_user", MONTHLY["rollup_key"]):
        assert sums[name] == sums["usage"], name


def test_folder_process_stops_when_its_parent_is_killed(db_url: str) -> None:
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from spendledger.store import folder_process\n"
            "folder_process.start(sys.argv[1])\n"
            "time.sleep(120)\n",
            db_url,
        ]
    )
    try:
        wait_for(lambda: len(folder_children(parent.pid)) == 1)
        (child,) = folder_children(parent.pid)
        parent.kill()  # no `stop()`: only the pipe tells the child
        parent.wait()
        wait_for(lambda: not alive(child), timeout=15)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_folder_sums_taken_before_a_rebuild_are_never_added(tmp_path: Path, sqlite_template: Path) -> None:
    # SQLite sums the journal before it takes the write lock (folder.stage, then apply):
    # a rebuild in between folds those rows itself and empties the journal, whose ids then
    # start again at 1, so only the lease (which the rebuild expires) tells the sums stale
    path = tmp_path / "ledger.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    _write(engine, 500, "a")
    with engine.connect() as conn:
        staged = folder.stage(conn, holder="folder-a")
        assert staged is not None and staged.sums.rows == 500
        with engine.begin() as other:
            rebuild_rollups(other, tz=ZONE)
        _write(engine, 500, "b")  # journal ids 1..500 again: the same range, other rows

        assert folder.apply(conn, staged, holder="folder-a") is None  # nothing written
    assert fold_all(engine) == 500
    sums = _folded(engine)
    assert sums["usage"][0] == 1000
    assert {sums[name] for name in rollup_tables} == {sums["usage"]}
    engine.dispose()
