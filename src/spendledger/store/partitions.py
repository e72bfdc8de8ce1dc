"""PostgreSQL: `usage` partitioned by month of `start`, a partition made before it is needed.

On PostgreSQL (migration 0011) `usage` is a table partitioned by range of `start`, one
partition per UTC calendar month (`usage_2026_11`) and a default one (`usage_default`)
that takes any record whose month has none yet: a record is never refused for its date.
The unique natural key (start, key) holds the partition column, so a record and its
revisions always land in the same partition. An event's id is unique across every
partition through `usage_event_ids` (the writer claims the id there first; a trigger
forgets the ids of deleted records).

`maintain` gives the months around today their partitions ahead of time and moves what
the default partition caught into partitions of its own months; `store.engine.upgrade`
and each scheduler round call it. SQLite keeps one table: everything here is a no-op there.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime

from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError

DEFAULT = "usage_default"
AHEAD = 2  # months after the current one given a partition before any record needs it
_NAME = re.compile(r"^usage_(\d{4})_(\d{2})$")
_LOCK = 7240520  # one process at a time creates partitions (rollups._lock holds 7240518, logins 7240519)
LOCK_WAIT = "5s"  # how long a new partition waits for the default one's lock

log = logging.getLogger("spendledger.store.partitions")


def partition_name(month: date) -> str:
    return f"usage_{month.year:04d}_{month.month:02d}"


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _bound(month: date) -> str:
    """A month's first instant in UTC, as a literal (DDL takes no parameters)."""
    return f"'{month.isoformat()} 00:00:00+00'"


def months_between(first: date, last: date) -> list[date]:
    """The first days of the months from `first`'s month to `last`'s, both included."""
    month, end, out = first.replace(day=1), last.replace(day=1), []
    while month <= end:
        out.append(month)
        month = _next_month(month)
    return out


def is_partitioned(conn: Connection) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    kind = conn.execute(text("SELECT relkind FROM pg_class WHERE oid = to_regclass('usage')")).scalar()
    return kind == "p"


def existing(conn: Connection) -> set[date]:
    """The months that have a partition of their own."""
    names = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'usage'::regclass"
        )
    ).scalars()
    return {date(int(m[1]), int(m[2]), 1) for m in map(_NAME.match, names) if m}


def ensure(conn: Connection, months: Iterable[date]) -> list[str]:
    """Give each month (any day of it) a partition; returns the partitions made.

    Records of such a month already in the default partition move into the new one.
    Joining a partition locks the default one: a month whose lock does not come within
    LOCK_WAIT (a long read of the records holds it) is left for the next call.
    """
    if not is_partitioned(conn):
        return []
    wanted = {m.replace(day=1) for m in months}
    if not wanted - existing(conn):
        return []
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
    before = conn.execute(text("SELECT current_setting('lock_timeout')")).scalar_one()
    conn.execute(text("SELECT set_config('lock_timeout', :wait, true)"), {"wait": LOCK_WAIT})
    made = []
    try:
        for month in sorted(wanted - existing(conn)):  # another process may have made some
            try:
                with conn.begin_nested():
                    made.append(_create(conn, month))
            except OperationalError as exc:
                if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
                    raise
                log.info("partition of %s: the default partition is busy, left for the next call", month)
                break
    finally:
        conn.execute(text("SELECT set_config('lock_timeout', :wait, true)"), {"wait": before})
    return made


def _create(conn: Connection, month: date) -> str:
    """A table for the month, the default partition's records of that month moved into it,
    then attached. Attaching takes a SHARE UPDATE EXCLUSIVE lock on `usage`, which reads and
    writes do not wait for (CREATE TABLE ... PARTITION OF would take an exclusive one), and
    an exclusive one on the default partition, while it checks that none of the month's
    records are left there."""
    name = partition_name(month)
    low, high = _bound(month), _bound(_next_month(month))
    conn.exec_driver_sql(f'CREATE TABLE "{name}" (LIKE usage INCLUDING DEFAULTS)')
    # a DELETE on the partition itself leaves usage_event_ids alone: the records only move
    conn.exec_driver_sql(
        f"WITH moved AS (DELETE FROM {DEFAULT} WHERE start >= {low} AND start < {high} RETURNING *) "
        f'INSERT INTO "{name}" SELECT * FROM moved'
    )
    conn.exec_driver_sql(f'ALTER TABLE usage ATTACH PARTITION "{name}" FOR VALUES FROM ({low}) TO ({high})')
    return name


def maintain(conn: Connection, *, today: date | None = None) -> list[str]:
    """Partitions for last month, this month and the next AHEAD, and for every month the
    default partition caught records of; returns the partitions made."""
    if not is_partitioned(conn):
        return []
    today = today or datetime.now(UTC).date()
    month = today.replace(day=1)
    previous = date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)
    wanted = [previous, month]
    for _ in range(AHEAD):
        wanted.append(_next_month(wanted[-1]))
    caught = conn.execute(
        text(f"SELECT DISTINCT CAST(date_trunc('month', start AT TIME ZONE 'UTC') AS date) FROM {DEFAULT}")  # noqa: S608
    ).scalars()
    return ensure(conn, [*wanted, *caught])
