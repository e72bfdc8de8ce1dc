"""The folder's cost: seconds per 10 000 journal rows summed into the rollups, and how long
a fold holds SQLite's write lock (what an ingest writer waits for).

Writes N events through the ingest path (bench/ingest.py's events, batches of 10 000)
into a fresh ledger, so the rollups' journal holds one row per event, then folds it in
folds of --limit rows and prints each fold's time; a second pass does the same on a
ledger whose rollups already hold the same days (the upserts then update rather than
insert, as in a running ledger).

    .venv/bin/python bench/fold.py                          # 50 000 events, SQLite
    .venv/bin/python bench/fold.py --postgres postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ingest import BATCH, Ledgers, bodies_of, make_events
from spendledger.config import Settings
from spendledger.ingest.batch import store_batch
from spendledger.pricing import Pricer
from spendledger.store import rollups
from spendledger.store.engine import make_engine, upgrade
from spendledger.store.folder import fold_once, new_holder, release


def write(url: str, events: int, run: str) -> float:
    """Store `events` events (journaled, not folded); seconds the writes took."""
    engine = make_engine(url)
    pricer, tz = Pricer(), Settings(timezone="UTC").tz
    start = time.perf_counter()
    for body in bodies_of(make_events(events, run=run), BATCH):
        store_batch(engine, body, pricer=pricer, tz=tz, max_events=BATCH)
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed


def fold_pass(url: str, limit: int, label: str) -> None:
    engine = make_engine(url)
    with engine.connect() as conn:
        pending = rollups.pending_rows(conn)
    holder = new_holder()
    times: list[float] = []
    folded_total = 0
    while True:
        start = time.perf_counter()
        folded = fold_once(engine, holder=holder, limit=limit)
        elapsed = time.perf_counter() - start
        if not folded:
            break
        folded_total += folded
        times.append(elapsed)
    release(engine, holder)
    engine.dispose()
    per_10k = sum(times) / folded_total * 10_000
    print(
        f"{label:<28} {folded_total:>8,} of {pending:,} journal rows in {len(times)} folds of <= {limit:,}: "
        f"{sum(times):6.2f} s = {per_10k * 1000:6.0f} ms per 10k rows; a fold (the write lock held): "
        f"median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--limit", type=int, default=10_000, help="journal rows per fold")
    parser.add_argument("--postgres", metavar="URL")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="spendledger-fold-"))
    ledgers = Ledgers(workdir, args.postgres)
    try:
        url = ledgers.new("fold")
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        where = "PostgreSQL" if args.postgres else "SQLite"
        print(f"spendledger fold benchmark: {args.events:,} events, {where}")
        print(f"writes (journaled): {write(url, args.events, 'a'):.1f} s")
        fold_pass(url, args.limit, "fold into empty rollups")
        write(url, args.events, "b")  # the same days and keys again: the upserts now update
        fold_pass(url, args.limit, "fold into filled rollups")
    finally:
        ledgers.drop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
