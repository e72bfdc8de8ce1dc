"""`spendledger sources ...` and `spendledger sync` against the fake provider servers.

The whole path runs for real: the CLI seals the key, the sync opens it, the connector
talks HTTP to the fake on 127.0.0.1, pages replace their buckets in the ledger (SQLite
and PostgreSQL), and `spendledger report` reads the totals back.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, func, select, text

from clirun import Cli, cli_runner
from fakes.anthropic_admin import ADMIN_KEY as ANTHROPIC_KEY
from fakes.anthropic_admin import FakeAnthropicAdmin
from fakes.openai_admin import ADMIN_KEY as OPENAI_KEY
from fakes.openai_admin import FakeOpenAIAdmin
from ledger_models import by_ledger_model
from spendledger.config import Settings
from spendledger.records import cents
from spendledger.sources._http import RetryPolicy
from spendledger.sources.base import SourceConfig, connector_for
from spendledger.sources_admin import add as add_source
from spendledger.store.sources import INTERRUPTED_ERROR, get_source, recent_runs
from spendledger.store.tables import sources, sync_runs, usage
from spendledger.sync import sync_source

FIRST, LAST = "2025-03-01", "2025-03-07"


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    env = {
        "SPENDLEDGER_TIMEZONE": "UTC",
        "OPENAI_ADMIN_KEY": OPENAI_KEY,
        "ANTHROPIC_ADMIN_KEY": ANTHROPIC_KEY,
    }
    return cli_runner(db_url, tmp_path, monkeypatch, **env)


def _billed_by_day_project_model(cli: Any, dim: str = "project") -> dict[tuple[str, str, str], Decimal]:
    result = cli(
        "report", "--from", FIRST, "--to", LAST, "--by", f"{dim},model", "--granularity", "day",
        "--basis", "billed", "--format", "json",
    )  # fmt: skip
    out: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for row in json.loads(result.stdout)["rows"]:
        out[(row["period"], row[dim] or "", row["model"] or "")] += Decimal(row["cost"])
    return {k: cents(v) for k, v in out.items() if v}


def _nonzero(expected: dict[tuple[str, str, str], Decimal]) -> dict[tuple[str, str, str], Decimal]:
    """The provider's figures to the cent (the ledger keeps nano-units: 9 decimals)."""
    return {k: cents(v) for k, v in expected.items() if v}


def test_sync_openai_totals_equal_the_providers_to_the_cent(cli: Any, engine: Engine) -> None:
    with FakeOpenAIAdmin(start=__import__("datetime").date(2025, 3, 1), days=7, page_buckets=2) as fake:
        cli("sources", "add", "openai", "--name", "Edugami", "--key-env", "OPENAI_ADMIN_KEY",
            "--option", f"base_url={fake.url}")  # fmt: skip
        first = cli("sync", "--since", FIRST, "--until", LAST)
        expected = _nonzero(fake.expected_costs())

        assert _billed_by_day_project_model(cli) == expected
        assert "Edugami" in first.stdout
        # a second run changes nothing
        cli("sync", "--since", FIRST, "--until", LAST)
        assert _billed_by_day_project_model(cli) == expected
        # a revised bucket replaces the old figures, it never adds to them
        fake.revise("2025-03-03", factor=3)
        cli("sync", "--since", FIRST, "--until", LAST)
        assert _billed_by_day_project_model(cli) == _nonzero(fake.expected_costs())
        assert _billed_by_day_project_model(cli) != expected
        exact_costs, tokens = fake.expected_costs(), fake.expected_tokens()
    # by model, the provider's money and its tokens sit on one row, each counted once
    report = cli(
        "report", "--from", FIRST, "--to", LAST, "--by", "model", "--basis", "billed", "--format", "json"
    )  # fmt: skip
    by_model = json.loads(report.stdout)["rows"]
    input_by_model: dict[str, int] = defaultdict(int)
    for (_day, _project, model), counts in tokens.items():
        input_by_model[model] += counts.get("input", 0)
    cost_by_model: dict[str, Decimal] = defaultdict(Decimal)
    for (_day, _project, model), cost in exact_costs.items():
        cost_by_model[model] += cost
    for row in by_model:
        model = row["model"] or ""
        assert row["input_tokens"] == input_by_model.get(model, 0), model
        assert cents(Decimal(row["cost"])) == cents(cost_by_model.get(model, Decimal(0))), model
    assert any(Decimal(r["cost"]) > 0 and r["input_tokens"] > 0 for r in by_model)
    with engine.connect() as conn:
        runs = conn.execute(select(sync_runs.c.status, sync_runs.c.pages)).all()
    assert [r.status for r in runs] == ["ok", "ok", "ok"] and all(r.pages > 1 for r in runs)


def test_sync_anthropic_totals_equal_the_providers_to_the_cent(cli: Any, engine: Engine) -> None:
    from datetime import UTC, date, datetime

    with FakeAnthropicAdmin(start=date(2025, 3, 1), days=7, max_rows_per_page=3) as fake:
        cli("sources", "add", "anthropic", "--name", "Storygami", "--key-env", "ANTHROPIC_ADMIN_KEY",
            "--option", f"base_url={fake.url}")  # fmt: skip
        cli("sync", "--since", FIRST, "--until", LAST)
        cli("sync", "--since", FIRST, "--until", LAST)
        # the fake bills claude-opus-4-1-20250805, the ledger names it claude-opus-4-1
        expected = _nonzero(by_ledger_model(fake.expected_costs()))
        assert _billed_by_day_project_model(cli, "workspace") == expected
        # a day of Claude Code usage runs over several pages: every page's records are kept
        config = SourceConfig("Storygami", ANTHROPIC_KEY, {"base_url": fake.url})
        connector = connector_for("anthropic")(config)
        window = (datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 8, tzinfo=UTC))
        pages = list(connector.fetch("usage/claude_code", *window))
        connector.close()
    assert any(not p.buckets for p in pages), "the fake should split a day over pages"
    with engine.connect() as conn:
        stored = conn.execute(
            select(func.count()).where(usage.c.key.startswith("usage/claude_code|"))
        ).scalar_one()
    assert stored == sum(len(p.records) for p in pages) > 0


def test_sync_failing_source_exits_nonzero_naming_it(cli: Any) -> None:
    with FakeOpenAIAdmin(admin_key="sk-admin-some-other-key-0000") as fake:
        cli("sources", "add", "openai", "--name", "Edugami", "--key-env", "OPENAI_ADMIN_KEY",
            "--option", f"base_url={fake.url}")  # fmt: skip
        result = cli("sync", ok=False)
        tested = cli("sources", "test", "Edugami", ok=False)
    assert result.exit_code == 1
    assert "Edugami" in result.stderr and "401" in result.stderr and "admin key" in result.stderr
    assert tested.exit_code == 1 and "admin key" in tested.stderr
    listed = cli("sources", "list").stdout
    assert "failed" in listed and "sk-admin…" in listed


def test_sync_key_never_appears_in_plain_text(cli: Any, db_url: str, tmp_path: Path) -> None:
    with FakeOpenAIAdmin() as fake:
        outputs = [
            cli("sources", "add", "openai", "--name", "Edugami", "--key-stdin",
                "--option", f"base_url={fake.url}", stdin=OPENAI_KEY + "\n"),
            cli("sources", "test", "Edugami"),
            cli("sync", "--since", "2025-03-01", "--until", "2025-03-03"),
            cli("sources", "list"),
        ]  # fmt: skip
        fake.fail(401, times=None)
        outputs.append(cli("sync", "--since", "2025-03-01", "--until", "2025-03-03", ok=False))
    for result in outputs:
        assert OPENAI_KEY not in result.output and OPENAI_KEY[-12:] not in result.output
    engine = create_engine(db_url)
    with engine.connect() as conn:
        stored = conn.execute(select(sources)).all()
        errors = conn.execute(select(sync_runs.c.error)).scalars().all()
    engine.dispose()
    assert stored and all(OPENAI_KEY not in str(tuple(row)) for row in stored)
    assert all(OPENAI_KEY not in (e or "") for e in errors)
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file():
            assert OPENAI_KEY.encode() not in path.read_bytes()
    if db_url.startswith("sqlite"):
        assert OPENAI_KEY.encode() not in Path(db_url.removeprefix("sqlite:///")).read_bytes()


def test_sync_killed_mid_run_keeps_its_pages_and_the_rerun_is_exact(
    cli: Any, db_url: str, tmp_path: Path
) -> None:
    from datetime import date

    with FakeOpenAIAdmin(start=date(2025, 3, 1), days=7, projects=4, page_buckets=1) as fake:
        cli("sources", "add", "openai", "--name", "Edugami", "--key-env", "OPENAI_ADMIN_KEY",
            "--option", f"base_url={fake.url}")  # fmt: skip
        env = {**os.environ, "SPENDLEDGER_DATABASE_URL": db_url}
        proc = subprocess.Popen(
            [sys.executable, "-m", "spendledger.cli", "sync", "--since", FIRST, "--until", LAST],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        engine = create_engine(db_url)
        deadline = time.monotonic() + 60
        pages = 0
        while time.monotonic() < deadline and proc.poll() is None:
            with engine.connect() as conn:
                pages = conn.execute(select(func.max(sync_runs.c.pages))).scalar() or 0
            if pages >= 3:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.02)
        proc.wait(30)
        with engine.connect() as conn:
            kept = conn.execute(select(func.count()).select_from(usage)).scalar_one()
            status = conn.execute(select(sync_runs.c.status)).scalar_one()
        engine.dispose()
        assert pages >= 3 and kept > 0, "the sync ended before it could be killed mid-run"
        assert status == "running"  # killed: never finished

        # the lease of the killed run has not expired yet: it reads as running, and a rerun
        # now waits its turn... so expire it as time would, then run again
        engine = create_engine(db_url)
        with engine.connect() as conn:
            assert get_source(conn, "Edugami").last_status == "running"
        with engine.begin() as conn:
            conn.execute(text("UPDATE sources SET lease_until = NULL"))
        with engine.connect() as conn:  # nobody holds it: the run is read as interrupted
            source, (run,) = get_source(conn, "Edugami"), recent_runs(conn, "Edugami")
        assert (source.last_status, run.status) == ("interrupted", "interrupted")
        assert source.last_error == run.error == INTERRUPTED_ERROR
        assert "interrupted" in cli("sources", "list").stdout
        cli("sync", "--since", FIRST, "--until", LAST)
        assert _billed_by_day_project_model(cli) == _nonzero(fake.expected_costs())
        with engine.connect() as conn:  # the rerun stored the dead run as interrupted
            runs = recent_runs(conn, "Edugami")
            stored = conn.execute(select(sync_runs.c.status).order_by(sync_runs.c.id)).scalars().all()
        engine.dispose()
        assert [r.status for r in runs] == ["ok", "interrupted"] and stored == ["interrupted", "ok"]


def test_sync_commits_its_pages_before_waiting_on_the_provider(engine: Engine, settings: Settings) -> None:
    from datetime import date

    with FakeOpenAIAdmin(start=date(2025, 3, 1), days=7, projects=2, page_buckets=1) as fake:
        add_source(engine, settings, provider="openai", name="Edugami", key=OPENAI_KEY,
                   options={"base_url": fake.url})  # fmt: skip
        fake.fail(429, at=3, retry_after=1, path="/costs")  # while page 3 of costs is asked again
        committed: list[int] = []

        def backoff(_seconds: float) -> None:  # on the reading thread, as the writer goes on
            deadline = time.monotonic() + 20
            pages = 0
            while pages < 2 and time.monotonic() < deadline:
                with engine.connect() as conn:
                    pages = conn.execute(select(func.max(sync_runs.c.pages))).scalar() or 0
                time.sleep(0.02)
            committed.append(pages)

        outcome = sync_source(
            engine, settings, "Edugami", since=date(2025, 3, 1), until=date(2025, 3, 7),
            policy=RetryPolicy(sleep=backoff),
        )  # fmt: skip
    assert outcome.ok, outcome.error
    assert committed == [2]  # the two pages before were in the ledger while the provider made it wait


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the page cache is SQLite's
def test_sync_hands_its_connections_back_with_their_own_cache(engine: Engine, settings: Settings) -> None:
    from datetime import date

    from sqlalchemy import event

    with engine.connect() as conn:
        default = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    checked_in: list[int] = []

    def on_checkin(dbapi_conn: Any, _record: Any) -> None:
        checked_in.append(dbapi_conn.execute("PRAGMA cache_size").fetchone()[0])

    with FakeOpenAIAdmin(start=date(2025, 3, 1), days=7, projects=2, page_buckets=2) as fake:
        add_source(engine, settings, provider="openai", name="Edugami", key=OPENAI_KEY,
                   options={"base_url": fake.url})  # fmt: skip
        event.listen(engine.pool, "checkin", on_checkin)
        try:
            outcome = sync_source(engine, settings, "Edugami", since=date(2025, 3, 1), until=date(2025, 3, 7))
        finally:
            event.remove(engine.pool, "checkin", on_checkin)
    assert outcome.ok, outcome.error
    assert len(checked_in) > 3 and set(checked_in) == {default}  # the writes' wide cache never pooled


@pytest.mark.parametrize("collecting", [True, False])
def test_sync_leaves_the_cyclic_collector_as_it_found_it(
    engine: Engine, settings: Settings, collecting: bool
) -> None:
    import gc
    from datetime import date

    with FakeOpenAIAdmin(start=date(2025, 3, 1), days=7, projects=2, page_buckets=2) as fake:
        add_source(engine, settings, provider="openai", name="Edugami", key=OPENAI_KEY,
                   options={"base_url": fake.url})  # fmt: skip
        was = gc.isenabled()
        (gc.enable if collecting else gc.disable)()
        try:
            outcome = sync_source(engine, settings, "Edugami", since=date(2025, 3, 1), until=date(2025, 3, 7))
            after = gc.isenabled()
        finally:
            (gc.enable if was else gc.disable)()
    assert outcome.ok, outcome.error
    assert after is collecting  # paused while the pages flowed, resumed once they ended
