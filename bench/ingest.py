"""Ingest throughput: events/s through the HTTP batch API against a raw insert, and the
lag until an accepted batch is in every rollup.

Starts a real uvicorn server (a subprocess on 127.0.0.1, a free port, its rollups' folder
running as `spendledger serve` runs it) on a freshly migrated SQLite file (or PostgreSQL
database), sends N events (default 200 000) in batches of 1 000 and of 10 000 with httpx
from one client and then, on another fresh ledger, from two concurrent clients; checks
that the stored count and total cost equal what was sent, in `usage` and in the folded
rollups (and that a re-sent batch changes nothing); then times a raw insert of the very
rows the API stored into a bare table with the same columns and no index, in the same
batches (SQLite: `executemany`; PostgreSQL: `COPY`), and prints the rates and ratios;
on SQLite also the same `executemany` into a migrated ledger's `usage`, whose indexes
bound what any API storing these rows could reach.

Lag: while the client sends, a monitor polls the folded record count of a rollup every
20 ms (a fold adds to every rollup in one transaction, so one table tells) and notes,
for each accepted batch, the time from its answer until the rollups hold it.

    .venv/bin/python bench/ingest.py                     # 200 000 events, SQLite
    .venv/bin/python bench/ingest.py --events 50000      # a quick run
    .venv/bin/python bench/ingest.py --postgres postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/ingest.py --profile           # also: where a batch's time goes

The request bodies are encoded before the clock starts: the figure is the server's.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from spendledger.config import Settings
from spendledger.pricing import Pricer
from spendledger.records import Basis, TokenCounts, UsageRecord, to_nanos
from spendledger.store.engine import make_engine, upgrade
from spendledger.store.tables import rollups, usage
from spendledger.store.tokens import create_token

BATCH = 10_000  # the largest batch the API takes
BATCHES = (1_000, 10_000)
END = datetime(2026, 11, 20, 12, tzinfo=UTC)
MODELS = (
    ("openai", "gpt-4o-mini", 30),
    ("openai", "gpt-4.1-mini", 12),
    ("openai", "gpt-4o", 6),
    ("openai", "o4-mini", 4),
    ("openai", "gpt-5-mini", 6),
    ("anthropic", "claude-sonnet-4-5", 12),
    ("anthropic", "claude-haiku-4-5", 10),
    ("google", "gemini-2.5-flash", 10),
    ("mistral", "mistral-small-latest", 5),
    ("openai", "ft:gpt-4.1-mini:acme:tone:9xk2", 1),  # unknown: stored unpriced
)
FEATURES = ("summarise", "chat", "search", "classify", "extract", "translate", "autocomplete", "triage")
PROJECTS = ("support-bot", "search-assist", "sales-agent", "docs-pipeline", "code-tools", "data-assist")


# --- the events ---------------------------------------------------------------------------


def make_events(n: int, run: str, seed: int = 7) -> list[dict[str, Any]]:
    """`n` events over the 30 days before END, in time order, as a client would send them."""
    rng = random.Random(seed)
    weights = [w for _, _, w in MODELS]
    span = timedelta(days=30).total_seconds()
    events = []
    for i in range(n):
        provider, model, _ = rng.choices(MODELS, weights=weights)[0]
        inp = min(100_000, int(rng.lognormvariate(7.2, 1.1)) + 20)
        out = min(16_000, int(rng.lognormvariate(5.5, 0.9)) + 1)
        at = END - timedelta(seconds=span * (1 - i / n) + rng.random())
        event: dict[str, Any] = {
            "id": f"evt-{run}-{i}",
            "timestamp": at.isoformat().replace("+00:00", "Z"),
            "provider": provider,
            "model": model,
            "project": rng.choice(PROJECTS),
            "user": f"u_{int(rng.paretovariate(1.2)) % 500}",
            "feature": rng.choice(FEATURES),
            "requests": 1,
            "input_tokens": inp,
            "cached_input_tokens": int(inp * 0.6) if rng.random() < 0.4 else 0,
            "output_tokens": out,
            "reasoning_tokens": int(out * 0.5) if model in ("o4-mini", "gpt-5-mini") else 0,
        }
        if rng.random() < 0.5:
            event["tags"] = {"env": rng.choice(("prod", "staging"))}
        if rng.random() < 0.3:
            event["api_key_id"] = f"key-{rng.randrange(20)}"
        events.append(event)
    return events


def expected_totals(events: Sequence[dict[str, Any]]) -> tuple[int, int]:
    """(count, cost in nanos) the ledger must hold, priced here with `Pricer` directly."""
    pricer = Pricer()
    nanos = 0
    for e in events:
        record = UsageRecord(
            key=e["id"],
            source="bench",
            basis=Basis.METERED,
            start=datetime.fromisoformat(e["timestamp"]),
            provider=e["provider"],
            model=e["model"],
            tokens=TokenCounts(
                input=e["input_tokens"],
                cached_input=e["cached_input_tokens"],
                output=e["output_tokens"],
                reasoning=e["reasoning_tokens"],
            ),
        )
        pricer.price(record)
        nanos += 0 if record.cost is None else to_nanos(record.cost)
    return len(events), nanos


def bodies_of(events: Sequence[dict[str, Any]], batch: int = BATCH) -> list[bytes]:
    return [json.dumps({"events": events[i : i + batch]}).encode() for i in range(0, len(events), batch)]


# --- the server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Ledgers:
    """Fresh ledgers for the runs: SQLite files in the working folder, or databases on a
    PostgreSQL server (created here, dropped by `drop_all`)."""

    def __init__(self, workdir: Path, postgres: str | None) -> None:
        self.workdir, self.postgres, self.made = workdir, postgres, []

    def new(self, name: str) -> str:
        if self.postgres is None:
            path = self.workdir / f"{name}.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            return f"sqlite:///{path}"
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        database = f"bench_ingest_{os.getpid()}_{name.replace('-', '_')}"
        admin = make_engine(self.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}"'))
            conn.execute(text(f'CREATE DATABASE "{database}"'))
        admin.dispose()
        self.made.append(database)
        return make_url(self.postgres).set(database=database).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if self.postgres is None or not self.made:
            return
        from sqlalchemy import text

        admin = make_engine(self.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for database in self.made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def fresh_ledger(url: str) -> tuple[str, str]:
    """A migrated ledger at `url` and an API token for it."""
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        token = create_token(conn, name="bench")
    engine.dispose()
    return url, token


class Server:
    """`spendledger.web.create_app` under uvicorn, in a subprocess (its own core and GIL)."""

    def __init__(self, url: str, data_dir: Path, workers: int = 1, wait: float = 30) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", url, str(self.port), str(data_dir), str(workers)],
        )
        deadline = time.monotonic() + max(wait, 120)  # a loaded machine starts slowly
        while True:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"the server did not start on port {self.port}")
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def serve(url: str, port: int, data_dir: str, workers: int) -> None:
    """What `spendledger serve --workers N` runs, quieter: the app and the rollups' folder."""
    import uvicorn

    from spendledger.web import create_app
    from spendledger.web.app import freeze_startup_objects

    settings = Settings(database_url=url, data_dir=Path(data_dir), timezone="UTC")
    start_folder(url)
    quiet: dict[str, Any] = {"log_level": "warning", "access_log": False}
    if workers == 1:
        app = create_app(settings)
        freeze_startup_objects()  # as `serve` does
        uvicorn.run(app, host="127.0.0.1", port=port, **quiet)
        return
    os.environ.update(SPENDLEDGER_DATABASE_URL=url, SPENDLEDGER_DATA_DIR=data_dir, SPENDLEDGER_TIMEZONE="UTC")
    uvicorn.run(
        "spendledger.web.app:app_from_env",
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=workers,
        **quiet,
    )


def start_folder(url: str) -> None:
    """The rollups' folder as `serve` starts it, also in a tree from before it had a
    process of its own (`api_query.py --against` an older checkout)."""
    try:
        from spendledger.store import folder_process
    except ImportError:
        from spendledger.store import folder  # type: ignore[attr-defined,unused-ignore]

        folder.start_in_thread(make_engine(url))
    else:
        folder_process.start(url)


# --- sending ------------------------------------------------------------------------------


class LagMonitor:
    """Polls the records the rollups hold (folded) every 20 ms; `lags()` gives, for each
    accepted batch, the seconds from its answer until the rollups held it."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.accepted: list[tuple[float, int]] = []  # (answered at, records accepted so far)
        self.seen: list[tuple[float, int]] = []  # (polled at, records folded)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _poll(self) -> None:
        from sqlalchemy import func, select

        table = rollups["rollup_provider_month"]
        with self.engine.connect() as conn:
            while not self.stop.is_set():
                folded = conn.execute(select(func.sum(table.c.records))).scalar() or 0
                conn.rollback()  # a fresh snapshot each poll
                self.seen.append((time.perf_counter(), int(folded)))
                time.sleep(0.02)

    def note(self, accepted_so_far: int) -> None:
        self.accepted.append((time.perf_counter(), accepted_so_far))

    def finish(self, total: int, timeout: float = 60) -> list[float]:
        deadline = time.perf_counter() + timeout
        while (not self.seen or self.seen[-1][1] < total) and time.perf_counter() < deadline:
            time.sleep(0.02)
        self.stop.set()
        self.thread.join()
        self.engine.dispose()
        lags = []
        for at, count in self.accepted:
            folded_at = next((t for t, n in self.seen if t >= at and n >= count), None)
            lags.append(float("inf") if folded_at is None else folded_at - at)
        return lags


def send(
    base: str, token: str, bodies: Sequence[bytes], clients: int, monitor: LagMonitor | None = None
) -> tuple[float, dict[str, int]]:
    """Send every body, `clients` at a time (each its own connection); wall time and totals."""
    totals = {"accepted": 0, "duplicates": 0, "rejected": 0}
    lock = threading.Lock()
    errors: list[str] = []
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def worker(share: Sequence[bytes]) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=300) as client:
            for body in share:
                response = client.post("/api/v1/events", content=body)
                if response.status_code != 200:
                    errors.append(f"{response.status_code}: {response.text[:300]}")
                    return
                result = response.json()
                with lock:
                    totals["accepted"] += result["accepted"]
                    totals["duplicates"] += result["duplicates"]
                    totals["rejected"] += len(result.get("rejected", []))
                    if monitor is not None:
                        monitor.note(totals["accepted"])

    threads = [threading.Thread(target=worker, args=(bodies[i::clients],)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise SystemExit(f"the API refused a batch: {errors[0]}")
    return elapsed, totals


def stored_totals(url: str) -> tuple[int, int, int, int]:
    """(records, cost) in `usage` and (records, cost) folded into rollup_model."""
    from sqlalchemy import func, select

    engine = make_engine(url)
    with engine.connect() as conn:
        count, cost = conn.execute(select(func.count(), func.sum(usage.c.cost_nanos))).one()
        daily = rollups["rollup_model"]
        r_count, r_cost = conn.execute(select(func.sum(daily.c.records), func.sum(daily.c.cost_nanos))).one()
    engine.dispose()
    return int(count), int(cost or 0), int(r_count or 0), int(r_cost or 0)


def run_api(
    ledgers: Ledgers,
    label: str,
    bodies: list[bytes],
    expected: tuple[int, int],
    clients: int,
    workers: int = 1,
) -> tuple[float, list[float]]:
    """events/s (0 on a mismatch) and the lag of each batch."""
    batch = len(json.loads(bodies[0])["events"])
    url, token = fresh_ledger(ledgers.new(f"api-{batch}-{clients}-{workers}"))
    server = Server(url, ledgers.workdir, workers)
    try:
        monitor = LagMonitor(url)
        elapsed, totals = send(server.base, token, bodies, clients, monitor)
        lags = monitor.finish(expected[0])
        resent_elapsed, resent = send(server.base, token, bodies[:1], 1)  # nothing may be doubled
    finally:
        server.stop()
    count, cost, r_count, r_cost = stored_totals(url)
    n = expected[0]
    ok = (count, cost, r_count, r_cost) == (n, expected[1], n, expected[1]) and totals["accepted"] == n
    ok = ok and resent["accepted"] == 0 and resent["duplicates"] == batch
    rate = n / elapsed
    ordered = sorted(lags)
    print(
        f"{label:<34}{n:>9,} events in {elapsed:6.1f} s = {rate:>8,.0f} events/s   "
        f"stored {count:,} (rollups {r_count:,}), cost ${Decimal(cost).scaleb(-9):,.2f}; "
        f"re-sent batch: {resent['duplicates']:,} duplicates in {resent_elapsed:.2f} s   "
        f"{'OK' if ok else 'MISMATCH'}"
    )
    print(
        f"{'':<34}lag until in every rollup: median {ordered[len(ordered) // 2]:.2f} s, "
        f"max {ordered[-1]:.2f} s over {len(lags)} batches"
    )
    if not ok:
        print(
            f"  expected {n:,} records and {expected[1]:,} nanos; usage has {count:,} / {cost:,}, "
            f"rollup_model {r_count:,} / {r_cost:,}; API said {totals}, re-send {resent}"
        )
    return (rate if ok else 0.0), lags


# --- the raw baseline ---------------------------------------------------------------------


def stored_rows(source_url: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The columns (but the id) and rows the API stored, in id order."""
    columns = [c.name for c in usage.columns if c.name != "id"]
    engine = make_engine(source_url)
    with engine.connect() as conn:
        cols = ", ".join(f'"{c}"' for c in columns)
        rows = [tuple(r) for r in conn.exec_driver_sql(f"SELECT {cols} FROM usage ORDER BY id")]
    engine.dispose()
    return columns, rows


def run_raw(ledgers: Ledgers, source_url: str, batch: int) -> float:
    """A raw insert of the rows the API stored into a bare table (same columns, no index),
    one transaction per batch as the API commits: executemany (SQLite) or COPY (PostgreSQL)."""
    columns, rows = stored_rows(source_url)
    cols = ", ".join(f'"{c}"' for c in columns)
    if ledgers.postgres is not None:
        return _raw_copy(ledgers, columns, rows, batch)
    path = ledgers.workdir / "raw.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")  # as make_engine sets up the ledger
    db.execute(f"CREATE TABLE bare ({cols})")
    sql = f"INSERT INTO bare ({cols}) VALUES ({', '.join('?' * len(columns))})"
    rate = _executemany(db, sql, rows, batch)
    print(
        f"{f'raw executemany, batches of {batch:,}':<34}{len(rows):>9,} rows   in "
        f"{len(rows) / rate:6.1f} s = {rate:>8,.0f} rows/s"
    )
    # the same into the `usage` of a migrated ledger (its unique keys and indexes): the most
    # an API that stores these rows could reach
    url, _ = fresh_ledger(ledgers.new(f"indexed-{batch}"))
    floor = _executemany(
        sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None),
        sql.replace("bare", "usage"),
        rows,
        batch,
    )
    print(
        f"{'  the same into the usage table':<34}{len(rows):>9,} rows   in {len(rows) / floor:6.1f} s = "
        f"{floor:>8,.0f} rows/s  (its indexes, no Python: at most {floor / rate:.2f} of raw)"
    )
    return rate


def _executemany(db: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]], batch: int) -> float:
    """Rows/s of `sql` over `rows`, a transaction per batch as the API commits; closes `db`."""
    db.execute("PRAGMA synchronous=NORMAL")
    start = time.perf_counter()
    for i in range(0, len(rows), batch):
        db.execute("BEGIN")
        db.executemany(sql, rows[i : i + batch])
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return len(rows) / elapsed


def _raw_copy(ledgers: Ledgers, columns: list[str], rows: list[tuple[Any, ...]], batch: int) -> float:
    import psycopg

    url = ledgers.new(f"raw-{batch}").replace("postgresql+psycopg://", "postgresql://")
    types = {c.name: c.type.compile(dialect=_pg_dialect()) for c in usage.columns}
    cols = ", ".join(f'"{c}"' for c in columns)
    tags = columns.index("tags")
    with psycopg.connect(url) as db:
        db.execute(f"CREATE TABLE bare ({', '.join(f'{chr(34)}{c}{chr(34)} {types[c]}' for c in columns)})")
        db.commit()
        start = time.perf_counter()
        for i in range(0, len(rows), batch):
            with db.cursor() as cur, cur.copy(f"COPY bare ({cols}) FROM STDIN") as copy:
                for row in rows[i : i + batch]:
                    values = list(row)
                    if values[tags] is not None:
                        values[tags] = json.dumps(values[tags])
                    copy.write_row(values)
            db.commit()
        elapsed = time.perf_counter() - start
    rate = len(rows) / elapsed
    print(
        f"{f'raw COPY, batches of {batch:,}':<34}{len(rows):>9,} rows   in {elapsed:6.1f} s = "
        f"{rate:>8,.0f} rows/s"
    )
    return rate


def _pg_dialect() -> Any:
    from sqlalchemy.dialects import postgresql

    return postgresql.dialect()


# --- profile ------------------------------------------------------------------------------


def profile(workdir: Path, bodies: list[bytes], batches: int) -> None:
    """Where a batch's time goes on the server: `store_batch` (parse, price, write) in process."""
    from spendledger.ingest.batch import store_batch

    url, _ = fresh_ledger(f"sqlite:///{workdir / 'profile.db'}")
    engine = make_engine(url)
    pricer = Pricer()
    store_batch(engine, bodies[0], pricer=pricer, tz=Settings().tz, max_events=BATCH)  # warm the price cache
    try:
        from pyinstrument import Profiler  # a local tool, not a dependency: pip install pyinstrument
    except ImportError:
        Profiler = None  # type: ignore[assignment,misc]  # noqa: N806
    start = time.perf_counter()
    if Profiler is not None:
        profiler = Profiler(interval=0.0005)
        profiler.start()
    else:
        cprofile = cProfile.Profile()
        cprofile.enable()
    for body in bodies[1 : 1 + batches]:
        store_batch(engine, body, pricer=pricer, tz=Settings().tz, max_events=BATCH)
    elapsed = time.perf_counter() - start
    n = batches * BATCH
    print(
        f"\nprofile: store_batch in process, {n:,} events in {elapsed:.1f} s under the profiler "
        f"({n / elapsed:,.0f} events/s)"
    )
    if Profiler is not None:
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False))
    else:
        cprofile.disable()
        out = io.StringIO()
        pstats.Stats(cprofile, stream=out).sort_stats("cumulative").print_stats(35)
        print(out.getvalue())
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batches", default=",".join(map(str, BATCHES)), help="batch sizes, e.g. 1000,10000")
    parser.add_argument("--dir", type=Path, help="working folder (default: a temp dir)")
    parser.add_argument(
        "--postgres", metavar="URL", help="a PostgreSQL server's URL: the ledgers are databases created on it"
    )
    parser.add_argument("--two-workers", action="store_true", help="also run `serve --workers 2`")
    parser.add_argument("--profile", action="store_true", help="profile store_batch in process afterwards")
    args = parser.parse_args()
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="spendledger-ingest-"))
    workdir.mkdir(parents=True, exist_ok=True)
    ledgers = Ledgers(workdir, args.postgres)
    events = make_events(args.events, run="a")
    expected = expected_totals(events)
    where = "PostgreSQL" if args.postgres else f"SQLite {sqlite3.sqlite_version}"
    print(f"spendledger ingest benchmark: {args.events:,} events, {where}, {workdir}")
    print(
        f"expected: {expected[0]:,} records, cost ${Decimal(expected[1]).scaleb(-9):,.2f} "
        "(priced with Pricer)"
    )
    ok = True
    try:
        for batch in (int(b) for b in args.batches.split(",")):
            bodies = bodies_of(events, batch)
            print(f"-- batches of {batch:,} ({len(bodies)} batches)")
            one, lags = run_api(ledgers, "API, 1 worker, 1 client", bodies, expected, clients=1)
            two, lags2 = run_api(ledgers, "API, 1 worker, 2 clients", bodies, expected, clients=2)
            rates = [one, two]
            if args.two_workers:
                rates.append(run_api(ledgers, "API, 2 workers, 2 clients", bodies, expected, 2, workers=2)[0])
            raw = run_raw(ledgers, ledgers_url(ledgers, batch), batch)
            best = max(rates)
            baseline = "COPY" if args.postgres else "raw"
            worst_lag = max(max(lags), max(lags2))
            print(
                f"ratio API/{baseline} at batches of {batch:,}: "
                f"1 client {one / raw:.2f}, 2 clients {two / raw:.2f}"
                + (f", 2 workers {rates[2] / raw:.2f}" if args.two_workers else "")
                + f" (target >= 0.35): {'PASS' if best / raw >= 0.35 else 'FAIL'}; "
                f"max lag {worst_lag:.2f} s (target <= 2 s): {'PASS' if worst_lag <= 2 else 'FAIL'}"
            )
            ok = ok and all(rates)
        if args.profile:
            profile(workdir, bodies_of(events), batches=min(5, len(bodies_of(events)) - 1))
    finally:
        ledgers.drop_all()
    return 0 if ok else 1


def ledgers_url(ledgers: Ledgers, batch: int) -> str:
    """The URL of the 1-client run's ledger at `batch` (the rows the raw insert copies)."""
    if ledgers.postgres is None:
        return f"sqlite:///{ledgers.workdir / f'api-{batch}-1-1.db'}"
    from sqlalchemy.engine import make_url

    database = f"bench_ingest_{os.getpid()}_api_{batch}_1_1"
    return make_url(ledgers.postgres).set(database=database).render_as_string(hide_password=False)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
    else:
        sys.exit(main())
