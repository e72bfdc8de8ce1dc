"""bench/query.py's ledger built straight in PostgreSQL: the same rows, no SQLite file.

At 100 M events a SQLite file to copy from would take ~30 GB of disk and hours of
Python; here the database makes the rows itself. The event pool (who calls what, with
which tokens, at what time of day) and the day's catalogue rates are COPY'd into
temporary tables, and each day is one INSERT ... SELECT of a window of the pool at that
day's rates, its billed buckets a GROUP BY of the same window, as in the SQLite build
(so the rows, their ids included, are the same as `build_sqlite` makes). Event ids are
hashed in Python (blake2b, `store.rows.key_hash`: the hash the writer uses) and COPY'd
per day. Indexes and unique constraints are dropped before the load and rebuilt after
it; `store.ledger.rebuild_rollups` then builds the rollups (one INSERT ... SELECT per
table), as `spendledger db rebuild-rollups` would.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from query import (
    BILLED_SINCE,
    BUILD_VERSION,
    DAYS,
    FIRST_DAY,
    PG_DATABASE,
    POOL,
    SEED,
    TODAY,
    UTC_ZONE,
    day_counts,
    day_rates,
    event_pool,
)
from spendledger.pricing import Pricer
from spendledger.store.engine import make_engine, normalise_url, upgrade
from spendledger.store.ledger import rebuild_rollups, set_meta
from spendledger.store.rows import key_hash
from spendledger.store.tables import usage

# as in query.py: every column but the id and the customer (its server default, '')
_COLUMNS = ", ".join(f'"{c.name}"' for c in usage.columns if c.name not in ("id", "customer"))

# One day's events: windows of the pool (several when a day holds more events than the
# pool), numbered from :seq0 on, priced at the day's rates. {windows} is a UNION ALL of
# _WINDOW, one per window.
_WINDOW = """
SELECT p.*, r.per_request, r.r_in, r.r_cached, r.r_write, r.r_out, r.r_reason,
  r.source AS price_source, r.status, r.unpriced, %(seq0_{i})s::bigint + p.slot - %(first_{i})s::int AS seq
FROM g_pool p JOIN g_rate r ON r.model = p.model
WHERE p.slot >= %(first_{i})s::int AND p.slot < %(first_{i})s::int + %(n_{i})s::int
"""
_COST = """(e.per_request + e.r_in * (e.inp - e.cached - e.write) + e.r_cached * e.cached
  + e.r_write * e.write + e.r_out * (e.out - e.reasoning) + e.r_reason * e.reasoning)"""
_EVENTS_SQL = f"""
INSERT INTO usage ({_COLUMNS})
SELECT %(day_start)s + e.clock, 'api:evt-' || e.seq, NULL, %(day)s, %(day)s, h.hash, e.source,
  'metered', e.provider, e.account, e.workspace, e.project, e.api_key_id, e.model, e."user",
  e.feature, e.tags, 1, e.inp, e.cached, e.write, 0, e.out, e.reasoning, 0, 0, {_COST},
  e.unpriced, 1, 'USD', e.status, e.price_source, NULL, false, NULL, NULL, NULL, %(written_at)s
FROM ({{windows}}) e JOIN g_hash h ON h.seq = e.seq
ORDER BY e.seq
"""
# as in query.py: a bucket per day, account, workspace, project and model, -3 % .. +5 %
# off the metered estimate (integer arithmetic, as SQLite does it)
_BILLED_SQL = f"""
INSERT INTO usage ({_COLUMNS})
SELECT %(day_start)s,
  provider || ':' || account || ':cost:' || workspace || ':' || project || ':' || model,
  %(next_start)s, %(day)s, %(day)s, NULL, provider || '-billing-' || account, 'billed', provider,
  account, workspace, project, '', model, '', '', NULL,
  count(*), sum(inp), sum(cached), sum(write), 0, sum(out), sum(reasoning), 0, 0,
  sum({_COST})::bigint * (970 + (length(project) * 31 + length(model) * 17 + %(d)s::int * 7) %% 80) / 1000,
  0, 1, 'USD', 'provider', NULL, NULL, false, NULL, NULL, NULL, %(written_at)s
FROM ({{windows}}) e WHERE account = ANY(%(accounts)s)
GROUP BY provider, account, workspace, project, model
ORDER BY account COLLATE "C", workspace COLLATE "C", project COLLATE "C", model COLLATE "C"
"""
_MANUAL_SQL = f"""
INSERT INTO usage ({_COLUMNS})
VALUES (%s, %s, %s, %s, %s, NULL, 'manual', 'manual', %s, '', '', '', '', %s, '', '', NULL,
  0, 0, 0, 0, 0, 0, 0, 0, 0, %s, 0, 1, 'USD', 'provider', NULL, NULL, false, NULL, NULL, NULL, %s)
"""
SUBSCRIPTIONS = (("openai", "chatgpt-team", 750), ("github", "copilot-business", 380))
_POOL_TABLE = """CREATE TEMP TABLE g_pool (slot integer PRIMARY KEY, clock interval, source text,
  provider text, account text, workspace text, project text, api_key_id text, model text,
  "user" text, feature text, tags json, inp bigint, cached bigint, write bigint, out bigint,
  reasoning bigint)"""
_RATE_TABLE = """CREATE TEMP TABLE g_rate (model text PRIMARY KEY, per_request bigint, r_in bigint,
  r_cached bigint, r_write bigint, r_out bigint, r_reason bigint, source text, status text,
  unpriced bigint)"""


def postgres_engine(server_url: str, name: str = PG_DATABASE, *, fresh: bool) -> Engine:
    """The benchmark's own database on that server; `fresh` drops what a run left first."""
    admin = make_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if fresh:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if exists is None:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return make_engine(make_url(normalise_url(server_url)).set(database=name).render_as_string(False))


def drop_database(server_url: str, name: str = PG_DATABASE) -> None:
    admin = make_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _indexes(cur: Any, tables: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(DROP statements, CREATE statements) for the keys and indexes of `tables`."""
    drops, creates = [], []
    for table in tables:
        cur.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype IN ('p', 'u')",
            (table,),
        )
        constraints = cur.fetchall()
        for name, definition in constraints:
            drops.append(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            creates.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", (table,))
        for name, definition in cur.fetchall():
            if name not in {c for c, _ in constraints}:
                drops.append(f'DROP INDEX "{name}"')
                # a partitioned table's index reads "ON ONLY usage": that would make the
                # parent's index alone (invalid, its partitions without one)
                creates.append(definition.replace(" ON ONLY ", " ON "))
    return drops, creates


def _windows(d: int, n: int, seq: int) -> list[tuple[int, int, int]]:
    """(first number, first slot, count) of the pool windows day `d` takes (as build_usage)."""
    first = (d * 104_729) % (POOL - n + 1) if n < POOL else 0
    out, done = [], 0
    while done < n:
        chunk = min(n - done, POOL - first)
        out.append((seq + 1, first, chunk))
        seq += chunk
        done += chunk
        first = 0
    return out


def build_postgres(engine: Engine, events: int) -> None:
    """Fill the (fresh, migrated here) database with the ledger `build_sqlite` would make."""
    upgrade(engine)
    t0 = time.perf_counter()
    partitioned = _partitioned(engine)
    if partitioned:  # the months of the data, and the next two, have their partitions
        from spendledger.store import partitions

        with engine.begin() as conn:
            partitions.ensure(conn, partitions.months_between(FIRST_DAY, TODAY + timedelta(days=62)))
    written_at = datetime.now(UTC)
    raw = engine.raw_connection()
    db: Any = raw.driver_connection
    cur = db.cursor()
    cur.execute("SET synchronous_commit = off")
    cur.execute("SET maintenance_work_mem = '1GB'")
    cur.execute("SET work_mem = '256MB'")  # each day's rows sorted by number in memory
    tables = ("usage", "usage_event_ids") if partitioned else ("usage",)
    drops, creates = _indexes(cur, tables)
    for stmt in drops:
        cur.execute(stmt)
    cur.execute(_POOL_TABLE)
    with cur.copy("COPY g_pool FROM STDIN") as copy:
        for row in event_pool(random.Random(SEED)):
            slot, clock, *rest = row
            copy.write_row((slot, clock, *rest))
    cur.execute(_RATE_TABLE)
    cur.execute("CREATE TEMP TABLE g_hash (seq bigint PRIMARY KEY, hash bigint)")
    db.commit()
    pricer = Pricer()
    rates: list[tuple[Any, ...]] = []
    seq = 0
    for d, n in enumerate(day_counts(events)):
        day = FIRST_DAY + timedelta(days=d)
        day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        today_rates = day_rates(pricer, day)
        if today_rates != rates:
            cur.execute("DELETE FROM g_rate")
            with cur.copy("COPY g_rate FROM STDIN") as copy:
                for rate in today_rates:
                    copy.write_row(rate)
            cur.execute("ANALYZE g_rate")
            rates = today_rates
        cur.execute("TRUNCATE g_hash")
        with cur.copy("COPY g_hash FROM STDIN") as copy:
            copy.write("".join(f"{s}\t{key_hash(f'api:evt-{s}')}\n" for s in range(seq + 1, seq + n + 1)))
        windows = _windows(d, n, seq)
        params: dict[str, Any] = {
            "day": day.isoformat(),
            "day_start": day_start,
            "next_start": day_start + timedelta(days=1),
            "d": d,
            "written_at": written_at,
        }
        for i, (seq0, first, count) in enumerate(windows):
            params.update({f"seq0_{i}": seq0, f"first_{i}": first, f"n_{i}": count})
        union = " UNION ALL ".join(_WINDOW.format(i=i) for i in range(len(windows)))
        cur.execute(_EVENTS_SQL.format(windows=union), params)
        seq += n
        covered = [a for a, since in BILLED_SINCE.items() if (TODAY - day).days < since]
        if covered:
            cur.execute(_BILLED_SQL.format(windows=union), {**params, "accounts": covered})
        if day.day == 1:  # subscriptions: a month-long bucket, counted at its midpoint
            month_end = (day + timedelta(days=32)).replace(day=1)
            end_start = datetime(month_end.year, month_end.month, 1, tzinfo=UTC)
            mid = (day + (month_end - day) / 2).isoformat()
            for provider, model, dollars in (
                ("openai", "chatgpt-team", 750),
                ("github", "copilot-business", 380),
            ):
                cur.execute(
                    _MANUAL_SQL,
                    (
                        day_start,
                        f"manual:{provider}:{model}",
                        end_start,
                        mid,
                        mid,
                        provider,
                        model,
                        dollars * 1_000_000_000,
                        written_at,
                    ),
                )
        if d % 30 == 29 or d == DAYS - 1:
            db.commit()
            print(
                f"\r  building: {d + 1}/{DAYS} days, {seq:,} events, {time.perf_counter() - t0:.0f} s",
                end="",
                file=sys.stderr,
                flush=True,
            )
    t1 = time.perf_counter()
    if "usage_event_ids" in tables:
        cur.execute("INSERT INTO usage_event_ids SELECT key_hash FROM usage WHERE key_hash IS NOT NULL")
    for stmt in creates:
        cur.execute(stmt)
    cur.execute(  # the records are in: a run stopped later resumes at the rollups
        "INSERT INTO ledger_meta (name, value) VALUES ('bench_records', %s)", (f"{BUILD_VERSION}:{events}",)
    )
    db.commit()
    t2 = time.perf_counter()
    cur.execute("SELECT count(*) FROM usage")
    total = cur.fetchone()[0]
    cur.close()
    raw.close()
    print(
        f"\r  PostgreSQL usage: {total:,} rows in {t1 - t0:.0f} s ({total / (t1 - t0) / 1000:.0f} k rows/s), "
        f"keys and indexes built in {t2 - t1:.0f} s" + " " * 10
    )
    finish_build(engine, events)
    print(f"  build {time.perf_counter() - t0:.0f} s in all")


def finish_build(engine: Engine, events: int) -> None:
    """The rollups from the records, then VACUUM ANALYZE (a run stopped after the load
    resumes here: `query.py --postgres ... --keep` does when the records are in).

    The rebuild's GROUP BYs are hashed in memory: with the stock work_mem (4 MB) the
    planner sorts 100 M records on disk instead, and its temporary files passed 20 GB
    before the run was stopped (one grouping of a few million keys fits in ~2 GB)."""
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL work_mem = '1GB'")
        conn.exec_driver_sql("SET LOCAL enable_sort = off")
        set_meta(conn, "timezone", UTC_ZONE.key)  # the rows are dated in UTC: no re-dating needed
        counts = rebuild_rollups(conn, tz=UTC_ZONE)
        set_meta(conn, "bench_build", f"{BUILD_VERSION}:{events}")
    t1 = time.perf_counter()
    print(f"  rollups rebuilt in {t1 - t0:.0f} s: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    print(f"  VACUUM ANALYZE in {time.perf_counter() - t1:.0f} s")


def sizes(engine: Engine) -> str:
    """The database's size and its largest relations (tables with their partitions, indexes)."""
    with engine.connect() as conn:
        total = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        rows = conn.execute(
            text(
                """
                SELECT c.relname, c.relkind,
                  coalesce(sum(pg_relation_size(p.relid)), pg_relation_size(c.oid)) AS size
                FROM pg_class c
                LEFT JOIN LATERAL pg_partition_tree(c.oid) p ON c.relkind IN ('p', 'I') AND p.isleaf
                WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'i', 'I')
                  AND NOT c.relispartition
                GROUP BY c.oid, c.relname, c.relkind
                ORDER BY size DESC LIMIT 12
                """
            )
        ).all()
    parts = [f"{name} {int(size) / 1e9:.2f}" for name, _, size in rows]
    return f"database {total / 1e9:.2f} GB; largest (GB): " + ", ".join(parts)


def _partitioned(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(text("SELECT relkind FROM pg_class WHERE relname = 'usage'")).scalar_one() == "p"
