"""The scheduler: due sources are synced on their interval, by one process at a time."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select, update

from fakes.openai_admin import ADMIN_KEY, FakeOpenAIAdmin
from spendledger.config import Settings
from spendledger.scheduler import due, run_due
from spendledger.secrets import load_vault, mask
from spendledger.store.sources import add_source
from spendledger.store.tables import sources, sync_runs

NAMES = ("Edugami", "Storygami", "Codegami")


def _add_sources(engine: Engine, settings: Settings, url: str, *, backfill_days: int = 3) -> None:
    vault = load_vault(settings)
    with engine.begin() as conn:
        for name in NAMES:
            add_source(
                conn,
                name=name,
                provider="openai",
                credential=vault.seal(ADMIN_KEY),
                key_hint=mask(ADMIN_KEY),
                options={"base_url": url},
                now=datetime.now(UTC),
                backfill_days=backfill_days,
            )


def test_scheduler_syncs_due_sources_then_waits_their_interval(engine: Engine, settings: Settings) -> None:
    with FakeOpenAIAdmin() as fake:
        _add_sources(engine, settings, fake.url)
        now = datetime.now(UTC)
        assert due(engine, now=now) == sorted(NAMES)
        outcomes = run_due(engine, settings, owner="test")
        assert [o.ok for o in outcomes] == [True, True, True]
        assert due(engine, now=datetime.now(UTC)) == []  # each ran moments ago; interval 60 min
        assert due(engine, now=now + timedelta(minutes=61)) == sorted(NAMES)


def test_scheduler_skips_a_source_another_process_holds(engine: Engine, settings: Settings) -> None:
    with FakeOpenAIAdmin() as fake:
        _add_sources(engine, settings, fake.url)
        with engine.begin() as conn:
            conn.execute(
                update(sources)
                .where(sources.c.name == "Storygami")
                .values(lease_owner="elsewhere", lease_until=datetime.now(UTC) + timedelta(minutes=5))
            )
        outcomes = {o.source: o for o in run_due(engine, settings, owner="test")}
    assert outcomes["Storygami"].skipped and outcomes["Edugami"].ok and outcomes["Codegami"].ok
    with engine.connect() as conn:
        ran = conn.execute(select(sync_runs.c.source)).scalars().all()
    assert sorted(ran) == ["Codegami", "Edugami"]


def test_two_workers_never_sync_one_source_at_once(
    engine: Engine, settings: Settings, db_url: str, tmp_path: Path
) -> None:
    with FakeOpenAIAdmin(page_buckets=1) as fake:
        _add_sources(engine, settings, fake.url, backfill_days=6)
        env = {
            **os.environ,
            "SPENDLEDGER_DATABASE_URL": db_url,
            "SPENDLEDGER_DATA_DIR": str(settings.data_dir),
            "SPENDLEDGER_TIMEZONE": settings.timezone,
        }
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "spendledger.cli", "worker", "--once"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(2)
        ]
        logs = [w.communicate(timeout=120)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], logs
    assert all(ADMIN_KEY not in log and ADMIN_KEY[-12:] not in log for log in logs)  # the key is never logged
    assert any("HTTP Request" in log for log in logs)  # (the logs do show the requests)
    with engine.connect() as conn:
        runs = conn.execute(select(sync_runs).order_by(sync_runs.c.started_at)).all()
    by_source: dict[str, list[tuple[datetime, datetime]]] = {}
    for run in runs:
        assert run.status == "ok" and run.finished_at is not None
        by_source.setdefault(run.source, []).append((run.started_at, run.finished_at))
    # each source synced exactly once, by one of the two workers
    assert sorted(by_source) == sorted(NAMES) and all(len(v) == 1 for v in by_source.values()), logs
    # and both workers took part or stood aside knowingly: no run of one source overlaps another
    for spans in by_source.values():
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert end <= start
