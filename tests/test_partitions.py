"""PostgreSQL's `usage` partitioned by month of `start` (migration 0011, store/partitions.py).

The natural keys must hold across partitions as they do in SQLite's one table: an event
id is stored once whatever its timestamp (even one in another month, another partition),
a revised billed bucket replaces its earlier version (its start, hence its partition, is
the same), a record of a month with no partition is kept (the default partition), and
none of it changes when `maintain` moves such records into a partition of their month.
Every test runs on both databases; the partition checks only where there are partitions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import Connection, Engine, func, inspect, select, text

from old_ledgers import ledger_at
from spendledger.queries import SpendQuery, spend
from spendledger.records import Basis, UsageRecord
from spendledger.store import write_records
from spendledger.store.engine import alembic_config, upgrade
from spendledger.store.ledger import WriteResult, delete_records, rebuild_rollups
from spendledger.store.partitions import ensure, existing, is_partitioned, maintain
from spendledger.store.rows import DayOf, record_to_row
from spendledger.store.tables import usage, usage_event_ids
from usage_records import usage_record

UTC_ZONE = ZoneInfo("UTC")
NOV_20 = datetime(2026, 11, 20, 10, tzinfo=UTC)
MAR_5_2019 = datetime(2019, 3, 5, tzinfo=UTC)  # a month no partition covers: the default one


def _event(n: int, cost: str, at: datetime) -> UsageRecord:
    return usage_record(key=f"api:evt-{n}", source="api", start=at, account="org-2", cost=cost)


def _bucket(cost: str) -> UsageRecord:
    return usage_record(
        key="openai:org-1:cost:2019-03-05",
        source="openai-org-1",
        basis=Basis.BILLED,
        start=MAR_5_2019,
        end=MAR_5_2019 + timedelta(days=1),
        account="org-1",
        cost=cost,
    )


def _write(engine: Engine, records: list[UsageRecord]) -> tuple[int, int, int]:
    with engine.begin() as conn:
        result: WriteResult = write_records(conn, records, tz=UTC_ZONE)
    return result.inserted, result.duplicates, result.replaced


def _total(engine: Engine) -> Decimal:
    with engine.connect() as conn:
        report = spend(conn, SpendQuery(start=date(2019, 1, 1), end=date(2027, 1, 31), basis="all"))
    return report.totals.get("USD", Decimal(0))


def _partition_of(engine: Engine) -> dict[str, str]:
    """Each record's key → the partition holding it (its table on SQLite)."""
    with engine.connect() as conn:
        if not is_partitioned(conn):
            return dict.fromkeys(conn.execute(select(usage.c.key)).scalars(), "usage")
        rows = conn.execute(text("SELECT key, tableoid::regclass::text FROM usage")).all()
    return {key: table for key, table in rows}  # noqa: C416 - rows are Row objects


def _event_ids(engine: Engine) -> int | None:
    with engine.connect() as conn:
        if not is_partitioned(conn):
            return None
        return int(conn.execute(select(func.count()).select_from(usage_event_ids)).scalar_one())


def test_partitions_keep_replays_and_revisions_idempotent(engine: Engine) -> None:
    with engine.begin() as conn:  # 2019-03 without a partition, whatever ran before in this database
        if is_partitioned(conn):
            conn.execute(text("DROP TABLE IF EXISTS usage_2019_03"))
    first = [_event(1, "1.00", NOV_20), _event(2, "2.00", MAR_5_2019 + timedelta(hours=9)), _bucket("10.00")]
    assert _write(engine, first) == (3, 0, 0)
    # a replay, and the same ids at other timestamps: in another month, another partition
    again = [
        _event(1, "1.00", NOV_20),
        _event(1, "1.00", datetime(2026, 12, 1, 9, tzinfo=UTC)),
        _event(2, "2.00", MAR_5_2019 + timedelta(hours=9)),
        _event(2, "2.00", NOV_20 + timedelta(days=1)),
    ]
    assert _write(engine, again) == (0, 4, 0)
    assert _write(engine, [_bucket("12.00")]) == (0, 0, 1)
    assert _total(engine) == Decimal("15.00")  # $1 + $2 + the bucket's $12, once each
    with engine.connect() as conn:
        partitioned = is_partitioned(conn)
    if partitioned:  # 2019-03 has no partition: the default one keeps its two records
        assert _partition_of(engine) == {
            "api:evt-1": "usage_2026_11",
            "api:evt-2": "usage_default",
            "openai:org-1:cost:2019-03-05": "usage_default",
        }
        with engine.begin() as conn:
            made = maintain(conn, today=date(2026, 11, 20))
            assert "usage_2019_03" in made
            around = {date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1)}
            assert {date(2019, 3, 1), *around} <= existing(conn)
        assert _partition_of(engine) == {
            "api:evt-1": "usage_2026_11",
            "api:evt-2": "usage_2019_03",
            "openai:org-1:cost:2019-03-05": "usage_2019_03",
        }
        assert _event_ids(engine) == 2  # moving records between partitions kept their ids
    # moved or not, the keys hold
    assert _write(engine, again) == (0, 4, 0)
    assert _write(engine, [_bucket("13.00")]) == (0, 0, 1)
    assert _total(engine) == Decimal("16.00")  # $1 + $2 + $13
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(usage)).scalar_one() == 3
    with engine.begin() as conn:  # the rollups agree with the records they are rebuilt from
        rebuild_rollups(conn, tz=UTC_ZONE)
    assert _total(engine) == Decimal("16.00")


def test_partitions_forget_the_ids_of_deleted_events(engine: Engine) -> None:
    _write(engine, [_event(1, "1.00", NOV_20), _event(2, "2.00", MAR_5_2019)])
    with engine.begin() as conn:
        assert delete_records(conn, source="api", start=date(2026, 11, 1)) == 1
    # as in SQLite's one table: a deleted event's id may be stored again
    assert _event_ids(engine) in (None, 1)
    assert _write(engine, [_event(1, "1.00", NOV_20), _event(2, "2.00", MAR_5_2019)]) == (1, 1, 0)
    assert _total(engine) == Decimal("3.00")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ledger_0010(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty ledger at revision 0010 (before the partitions), on each database."""
    with ledger_at("0010", request, tmp_path) as engine:
        yield engine


def test_migration_0011_moves_the_records_into_monthly_partitions(ledger_0010: Engine) -> None:
    with ledger_0010.begin() as conn:  # written by the code of 0010: one table
        old_records = [_event(1, "1.00", NOV_20), _event(2, "2.00", MAR_5_2019), _bucket("10.00")]
        _insert_plain(conn, old_records)
        before = conn.execute(select(usage.c.id, usage.c.key).order_by(usage.c.id)).all()
    upgrade(ledger_0010)
    with ledger_0010.begin() as conn:  # the rollups, as today's code sums them
        rebuild_rollups(conn, tz=UTC_ZONE)
    with ledger_0010.connect() as conn:
        assert conn.execute(select(usage.c.id, usage.c.key).order_by(usage.c.id)).all() == before
        if conn.dialect.name == "postgresql":
            assert is_partitioned(conn)
            assert {date(2019, 3, 1), date(2026, 11, 1)} <= existing(conn)
    if _event_ids(ledger_0010) is not None:
        assert _event_ids(ledger_0010) == 2
        assert set(_partition_of(ledger_0010).values()) == {"usage_2019_03", "usage_2026_11"}
    # the ids stored before the migration still hold; new records take new ids
    assert _write(ledger_0010, [_event(1, "1.00", NOV_20 + timedelta(days=40)), _bucket("11.00")]) == (
        0,
        1,
        1,
    )
    assert _write(ledger_0010, [_event(3, "3.00", NOV_20)]) == (1, 0, 0)
    with ledger_0010.connect() as conn:
        assert conn.execute(select(func.max(usage.c.id))).scalar_one() > max(i for i, _ in before)
    assert _total(ledger_0010) == Decimal("17.00")  # $1 + $2 + $11 + $3
    # the indexes declared on usage (0008's and 0010's partial ones too) survive, both ways
    declared = {i.name for i in usage.indexes}
    partitioned = _event_ids(ledger_0010) is not None
    assert _index_names(ledger_0010) == (declared - {"uq_usage_event_id"} if partitioned else declared)
    command.downgrade(alembic_config(ledger_0010), "0010")
    with ledger_0010.connect() as conn:
        assert not is_partitioned(conn)
        assert conn.execute(select(func.count()).select_from(usage)).scalar_one() == 4
    assert _index_names(ledger_0010) == declared
    with ledger_0010.connect() as conn:  # 0010 reads no journal: its records' own sum
        cost = conn.execute(select(func.sum(usage.c.cost_nanos))).scalar_one()
    assert Decimal(cost) / 10**9 == Decimal("17.00")  # $1 + $2 + $11 (the $10 bucket, replaced) + $3


def _index_names(engine: Engine) -> set[str]:
    """usage's indexes other than those backing its primary key and (start, key)."""
    with engine.connect() as conn:
        names = {i["name"] for i in inspect(conn).get_indexes("usage")}
        if conn.dialect.name == "postgresql":  # a partitioned table's too
            query = "SELECT indexname FROM pg_indexes WHERE tablename = 'usage' AND schemaname = 'public'"
            names = set(conn.execute(text(query)).scalars())
    return {n for n in names if n and n not in ("usage_pkey", "uq_usage_start_key")}


def _insert_plain(conn: Connection, records: list[UsageRecord]) -> None:
    """Rows as the unpartitioned table took them (today's writer claims event ids in
    usage_event_ids and journals rollup changes, neither of which 0010 has); the rollups
    are rebuilt after the upgrade."""
    now = datetime(2026, 11, 22, tzinfo=UTC)
    conn.execute(usage.insert(), [record_to_row(r, day_of=DayOf(UTC_ZONE), written_at=now) for r in records])


def test_partitions_wait_for_a_long_read_no_longer_than_lock_wait(engine: Engine) -> None:
    may_2031 = date(2031, 5, 1)
    with engine.begin() as conn:
        if not is_partitioned(conn):  # SQLite: one table, nothing to make
            assert ensure(conn, [may_2031]) == []
            return
        conn.execute(text("DROP TABLE IF EXISTS usage_2031_05"))
    with engine.connect() as reader:  # a long read of the records holds the default partition
        reader.execute(select(func.count()).select_from(usage)).scalar_one()
        with engine.begin() as conn:
            started = time.monotonic()
            assert ensure(conn, [may_2031]) == []  # left for the next round, not waited for
            assert time.monotonic() - started < 30
            assert may_2031 not in existing(conn)
        reader.rollback()
    with engine.begin() as conn:
        assert ensure(conn, [may_2031]) == ["usage_2031_05"]
        assert conn.execute(text("SHOW lock_timeout")).scalar_one() == "0"  # the caller's, back
        conn.execute(text("DROP TABLE usage_2031_05"))


def test_partitions_two_writers_of_one_event_id_store_it_once(engine: Engine) -> None:
    # writer A holds its transaction open; writer B sends the same id (another month's
    # timestamp) meanwhile: B waits on A's claim, then finds the id taken
    results: list[tuple[int, int, int]] = []
    with engine.begin() as conn:
        first: WriteResult = write_records(conn, [_event(7, "7.00", NOV_20)], tz=UTC_ZONE)
        other = threading.Thread(
            target=lambda: results.append(_write(engine, [_event(7, "7.00", MAR_5_2019)])), daemon=True
        )
        other.start()
        other.join(timeout=1)  # on PostgreSQL it waits for this transaction; SQLite's writer too
    other.join(timeout=60)
    assert (first.inserted, results) == (1, [(0, 1, 0)])
    assert _total(engine) == Decimal("7.00")
    assert _event_ids(engine) in (None, 1)
