"""The SDK against a real spendledger server (uvicorn on 127.0.0.1, SQLite and PostgreSQL):
events recorded while the server is down wait in the spill folder and reach the ledger
once each when it is back; re-sending changes nothing; attribution follows threads and
asyncio tasks; `database_url=` mode writes the same records without a server."""

from __future__ import annotations

import asyncio
import contextvars
import json
import shutil
import threading
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

import spendledger
from live_server import LiveServer
from sdk_ledger import unconfigured_sdk
from spendledger.config import Settings
from spendledger.store.engine import make_engine, upgrade
from spendledger.store.tables import usage

NANO = Decimal("1e-9")


@pytest.fixture(autouse=True)
def fresh_sdk(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with unconfigured_sdk(monkeypatch):
        yield


class LedgerServer(LiveServer):
    """The app under uvicorn in a thread, on a port held from the start: until `start()`
    the port is bound but not listening, so connections are refused, as by a server down."""

    def spend_total(self, token: str) -> str:
        today = datetime.now(UTC).date().isoformat()
        request = urllib.request.Request(
            f"{self.url}/api/v1/spend?from={today}&to={today}", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            total: str = json.load(response)["total"]
        return total


@pytest.fixture
def server(settings: Settings) -> Iterator[LedgerServer]:
    live = LedgerServer(settings)
    try:
        yield live
    finally:
        live.stop()


def ledger_rows(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(
            select(
                func.count(),
                func.count(usage.c.key.distinct()),
                func.sum(usage.c.input_tokens),
                func.sum(usage.c.cached_input_tokens),
                func.sum(usage.c.output_tokens),
                func.sum(usage.c.cost_nanos),
            )
        ).one()
        keys = set(conn.execute(select(usage.c.key)).scalars())
    rows, distinct, inputs, cached, outputs, nanos = row
    return {
        "rows": rows,
        "distinct": distinct,
        "keys": keys,
        "input": inputs,
        "cached": cached,
        "output": outputs,
        "cost": Decimal(nanos) * NANO if nanos is not None else None,
    }


# Priced by hand from the catalogue (genai-prices 0.2.3; spendledger.pricing agrees):
# gpt-4o-mini is $0.15/M input, $0.075/M cached input, $0.60/M output.
# - while the server is down, 300 calls of 1000 in / 200 out:
#   1000 × 0.15/1e6 + 200 × 0.60/1e6 = 0.00015 + 0.00012 = $0.00027 each → $0.081
# - then 100 calls of 2000 in (1024 cached) / 50 out:
#   976 × 0.15/1e6 + 1024 × 0.075/1e6 + 50 × 0.60/1e6 = 0.0001464 + 0.0000768 + 0.00003
#   = $0.0002532 each → $0.02532
# - and 100 calls of a local model, each costed by the caller at $0.0015 → $0.15
EXPECTED_COST = Decimal("0.081") + Decimal("0.02532") + Decimal("0.15")  # $0.25632


def test_sdk_delivers_every_event_once_after_an_outage(
    server: LedgerServer, engine: Engine, token: str, tmp_path: Path
) -> None:
    spill = tmp_path / "spill"
    spendledger.configure(url=server.url, token=token, spill_dir=spill, project="support-bot")
    ids = [
        spendledger.record("openai", "gpt-4o-mini", input_tokens=1000, output_tokens=200) for _ in range(300)
    ]
    assert spendledger.flush() is False  # refused: every event is in the spill folder
    stats = spendledger.stats()
    assert (stats.spilled, stats.sent, stats.dropped) == (300, 0, 0)
    assert "ConnectionRefusedError" in (stats.last_error or "")
    kept = tmp_path / "kept"
    shutil.copytree(spill, kept)  # the spill as it was: re-sent below

    server.start()
    ids += [
        spendledger.record(
            "openai", "gpt-4o-mini", input_tokens=2000, cached_input_tokens=1024, output_tokens=50
        )
        for _ in range(100)
    ]
    ids += [
        spendledger.record("llama.cpp", "llama-3.1-8b", input_tokens=300, output_tokens=30, cost="0.0015")
        for _ in range(100)
    ]
    assert spendledger.flush(10) is True
    stats = spendledger.stats()
    assert (stats.sent, stats.replayed, stats.spilled, stats.rejected, stats.dropped) == (500, 300, 300, 0, 0)
    assert not list(spill.rglob("*.*")), "the replayed spill files are deleted"

    held = ledger_rows(engine)
    assert (held["rows"], held["distinct"]) == (500, 500)
    assert held["keys"] == {f"api:{i}" for i in ids}
    assert held["input"] == 300 * 1000 + 100 * 2000 + 100 * 300
    assert (held["cached"], held["output"]) == (100 * 1024, 300 * 200 + 100 * 50 + 100 * 30)
    assert held["cost"] == EXPECTED_COST
    assert Decimal(server.spend_total(token)) == EXPECTED_COST

    # a crash between a replay and its delete: the same spill file is sent again
    for path in kept.rglob("*.part"):
        target = spill / path.parent.name / path.with_suffix(".jsonl").name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    assert spendledger.flush(10) is True
    assert spendledger.stats().replayed == 600  # delivered again: duplicates, stored once
    assert ledger_rows(engine) == held
    assert Decimal(server.spend_total(token)) == EXPECTED_COST


def test_sdk_resent_events_change_nothing(
    server: LedgerServer, engine: Engine, token: str, tmp_path: Path
) -> None:
    server.start()
    spendledger.configure(url=server.url, token=token, spill_dir=tmp_path, batch_size=50)
    at = datetime.now(UTC).replace(microsecond=0)

    def send_batch() -> None:
        for i in range(120):
            spendledger.record(
                "openai", "gpt-4o-mini", input_tokens=1000, output_tokens=200, timestamp=at, event_id=f"e{i}"
            )
        assert spendledger.flush(10) is True

    send_batch()
    held = ledger_rows(engine)
    send_batch()
    assert ledger_rows(engine) == held and held["rows"] == 120
    assert held["cost"] == 120 * Decimal("0.00027")
    assert spendledger.stats().sent == 240  # the second time as duplicates


def test_sdk_revoked_token_spills_and_says_what_to_do(
    server: LedgerServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server.start()
    spendledger.configure(url=server.url, token="sl_not-a-token", spill_dir=tmp_path)
    spendledger.record("openai", "gpt-4o-mini", input_tokens=10)
    assert spendledger.flush() is False
    stats = spendledger.stats()
    assert stats.spilled == 1 and "401 from" in (stats.last_error or "")
    assert any("spendledger tokens create" in r.message for r in caplog.records)


def test_sdk_attribution_follows_threads_and_tasks(
    server: LedgerServer, engine: Engine, token: str, tmp_path: Path
) -> None:
    server.start()
    spendledger.configure(url=server.url, token=token, spill_dir=tmp_path, feature="default")

    def call(event_id: str) -> None:
        spendledger.record("openai", "gpt-4o-mini", input_tokens=10, event_id=event_id)

    async def main() -> None:
        async def in_task(event_id: str) -> None:
            with spendledger.context(feature="task-feature"):
                await asyncio.sleep(0)
                call(event_id)

        await asyncio.gather(asyncio.create_task(in_task("task")), asyncio.to_thread(call, "to-thread"))
        call("after-tasks")  # the task's own context() stayed in the task

    with spendledger.context(project="bot", user="alice"):
        copied = threading.Thread(target=contextvars.copy_context().run, args=(call, "copied-thread"))
        plain = threading.Thread(target=call, args=("plain-thread",))  # a new thread starts empty
        for thread in (copied, plain):
            thread.start()
            thread.join()
        with ThreadPoolExecutor(1) as pool:
            pool.submit(contextvars.copy_context().run, call, "pool").result()
        asyncio.run(main())
    assert spendledger.flush(10) is True

    with engine.connect() as conn:
        rows = conn.execute(select(usage.c.key, usage.c.project, usage.c.user, usage.c.feature)).all()
    seen = {key.removeprefix("api:"): (project, user, feature) for key, project, user, feature in rows}
    assert seen == {
        "copied-thread": ("bot", "alice", "default"),
        "plain-thread": ("", "", "default"),
        "pool": ("bot", "alice", "default"),
        "task": ("bot", "alice", "task-feature"),
        "to-thread": ("bot", "alice", "default"),
        "after-tasks": ("bot", "alice", "default"),
    }


def test_sdk_database_url_writes_priced_records(db_url: str, engine: Engine, tmp_path: Path) -> None:
    spendledger.configure(database_url=db_url, spill_dir=tmp_path, tz="Europe/Paris", user="batch-job")
    ids = [
        spendledger.record("openai", "gpt-4o-mini", input_tokens=1000, output_tokens=200) for _ in range(10)
    ]
    spendledger.record("openai", "gpt-4o-mini", input_tokens=-5)  # refused, as by the API
    assert spendledger.flush(10) is True
    stats = spendledger.stats()
    assert (stats.sent, stats.rejected, stats.spilled) == (10, 1, 0)
    assert "input_tokens" in (stats.last_error or "")
    held = ledger_rows(engine)
    assert held["keys"] == {f"api:{i}" for i in ids}
    assert held["cost"] == 10 * Decimal("0.00027")


def test_sdk_database_url_spills_until_the_database_is_migrated(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    spendledger.configure(database_url=url, spill_dir=tmp_path / "spill")
    spendledger.record("openai", "gpt-4o-mini", input_tokens=1000, output_tokens=200)
    assert spendledger.flush() is False
    assert "spendledger db upgrade" in (spendledger.stats().last_error or "")
    engine = make_engine(url)
    try:
        upgrade(engine)
        assert spendledger.flush() is True
        assert spendledger.stats().replayed == 1
        assert ledger_rows(engine)["cost"] == Decimal("0.00027")
    finally:
        engine.dispose()
