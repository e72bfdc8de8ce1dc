"""Writes into a large ledger: the writer's costs once `usage` holds millions of rows.

Runs on the PostgreSQL database bench/query.py built (`spendledger_bench_query`, or
`--database`), or on a SQLite file it built (a `sqlite:///` URL), through the store's own
verbs, each in its own transaction:

- batches of 10 000 new events (`write_records`) dated in the data's last days, as live
  ingest writes them, and batches dated in an old month (a backfill);
- a batch sent again (every event a duplicate), and the same event ids a second later
  (duplicates by event id, whatever the timestamp: in SQLite's table and PostgreSQL's
  unpartitioned one a unique index on key_hash, in the partitioned one usage_event_ids);
- a billing page: one day of one account's buckets replaced (`replace_buckets`), twice;
- reading 7 and 30 days of records straight from `usage` (the explorer's fallback);
- deleting what it wrote (`delete_records`).

It prints the median and the spread of each, then removes what it wrote: the ledger is
left as it was. Compare two schemas by running it on each with the code of each.

    .venv/bin/python bench/large_writes.py postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/large_writes.py sqlite:///$TMPDIR/spendledger-bench/query-10000000.db
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from spendledger.records import Basis, PricingStatus, TokenCounts, UsageRecord
from spendledger.store.engine import make_engine, normalise_url
from spendledger.store.ledger import delete_records, replace_buckets, write_records

UTC_ZONE = ZoneInfo("UTC")
LAST_DAY = date(2026, 11, 20)  # bench/query.py's data ends here
SOURCE = "bench-writes"


def events(batch: int, size: int, day: date, *, shift: timedelta = timedelta(0)) -> list[UsageRecord]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return [
        UsageRecord(
            key=f"{SOURCE}:evt-{batch}-{i}",
            source=SOURCE,
            basis=Basis.METERED,
            start=start + timedelta(microseconds=i * 86_400_000_000 // size) + shift,
            provider="openai",
            model="gpt-4o-mini",
            account="org-acme",
            project=f"p-{i % 30}",
            user=f"u_{i % 500}",
            feature=f"f-{i % 20}",
            tokens=TokenCounts(input=1200, output=300),
            cost=Decimal("0.00036"),
            pricing_status=PricingStatus.PRICED,
            price_source="bench",
        )
        for i in range(size)
    ]


def bill(day: date, cents: int) -> list[UsageRecord]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return [
        UsageRecord(
            key=f"costs|{SOURCE}|p-{p}|m-{m}",
            source=f"{SOURCE}-billing",
            basis=Basis.BILLED,
            start=start,
            end=start + timedelta(days=1),
            provider="openai",
            model=f"m-{m}",
            account="org-bench",
            project=f"p-{p}",
            requests=0,
            cost=Decimal(cents) / 100,
            pricing_status=PricingStatus.PROVIDER,
        )
        for p in range(30)
        for m in range(10)
    ]


def timed(engine: Engine, work: Callable[[Any], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    with engine.begin() as conn:
        result = work(conn)
    return (time.perf_counter() - t) * 1000, result


def report(label: str, times: list[float], note: str = "") -> None:
    print(
        f"  {label:<46} median {statistics.median(times):7.0f} ms   "
        f"min {min(times):6.0f}   max {max(times):6.0f}   ({len(times)} runs){note}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("server", help="the PostgreSQL server's URL, or a SQLite ledger's sqlite:/// URL")
    parser.add_argument("--database", default="spendledger_bench_query")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--size", type=int, default=10_000)
    args = parser.parse_args()
    url = make_url(normalise_url(args.server))
    if url.get_backend_name() == "sqlite":
        engine = make_engine(url.render_as_string(False))
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT max(id) FROM usage")).scalar() or 0
        print(f"writes into {url.database}: usage one table, ~{rows:,} rows; batches of {args.size:,}")
        return run(engine, args.batches, args.size)
    engine = make_engine(url.set(database=args.database).render_as_string(False))
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT reltuples::bigint FROM pg_class WHERE relname = 'usage'")).scalar()
        kind = conn.execute(text("SELECT relkind FROM pg_class WHERE relname = 'usage'")).scalar()
        if kind == "p":
            rows = conn.execute(
                text(
                    "SELECT sum(c.reltuples)::bigint FROM pg_inherits i "
                    "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'usage'::regclass"
                )
            ).scalar()
    layout = "partitioned by month" if kind == "p" else "one table"
    print(f"writes into {args.database}: usage {layout}, ~{rows:,} rows; batches of {args.size:,}")
    return run(engine, args.batches, args.size)


def run(engine: Engine, batches: int, size: int) -> int:
    """Every measure in turn, then what it wrote deleted."""
    write = lambda recs: lambda conn: write_records(conn, recs, tz=UTC_ZONE)  # noqa: E731
    try:
        new, old, resent, same_ids = [], [], [], []
        for b in range(batches):
            ms, result = timed(engine, write(events(b, size, LAST_DAY - timedelta(days=b % 3))))
            assert result.inserted == size, result
            new.append(ms)
        report("new events, the last days", new, f"  {size / statistics.median(new) * 1000:,.0f} events/s")
        for b in range(batches):
            ms, result = timed(engine, write(events(100 + b, size, date(2025, 3, 10 + b))))
            assert result.inserted == size, result
            old.append(ms)
        report("new events, a backfill of 2025-03", old)
        for b in range(batches):
            day = LAST_DAY - timedelta(days=b % 3)
            ms, result = timed(engine, write(events(b, size, day)))
            assert result.duplicates == size, result
            resent.append(ms)
            ms, result = timed(engine, write(events(b, size, day, shift=timedelta(seconds=1))))
            assert result.duplicates == size, result
            same_ids.append(ms)
        report("the same batch again (duplicates)", resent)
        report("the same ids a second later (duplicates)", same_ids)
        pages = []
        for attempt in range(batches):
            day = LAST_DAY - timedelta(days=1)

            def page(conn: Any, day: date = day, attempt: int = attempt) -> Any:
                start = datetime(day.year, day.month, day.day, tzinfo=UTC)
                buckets = [(start, start + timedelta(days=1))]
                records = bill(day, 100 + attempt)
                return replace_buckets(
                    conn,
                    source=f"{SOURCE}-billing",
                    endpoint="costs",
                    buckets=buckets,
                    records=records,
                    tz=UTC_ZONE,
                )

            ms, _ = timed(engine, page)
            pages.append(ms)
        report("a billing page of 300 buckets replaced", pages)
        for days in (7, 30):
            reads = []
            for _ in range(3):
                first = (LAST_DAY - timedelta(days=days - 1)).isoformat()
                ms, _ = timed(
                    engine,
                    lambda conn, first=first: conn.execute(
                        text(
                            "SELECT model, sum(cost_nanos) FROM usage "
                            "WHERE day >= :a AND day <= :b GROUP BY model"
                        ),
                        {"a": first, "b": LAST_DAY.isoformat()},
                    ).all(),
                )
                reads.append(ms)
            report(f"{days} days of records summed by model", reads)
    finally:
        ms, deleted = timed(engine, lambda conn: delete_records(conn, source=SOURCE))
        ms2, billed = timed(engine, lambda conn: delete_records(conn, source=f"{SOURCE}-billing"))
        print(
            f"  deleting what it wrote: {deleted:,} events in {ms:.0f} ms, {billed} buckets in {ms2:.0f} ms"
        )
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
