"""PostgreSQL: usage partitioned by month of start; event ids unique through usage_event_ids

- usage becomes a table partitioned by range of `start`: a partition per UTC month that
  holds records, and a default partition for the rest (store/partitions.py makes the
  months around today theirs, and moves what the default one catches). The records are
  copied across, ids and all.
- Its primary key is (id, start) and its unique natural key stays (start, key): both hold
  the partition column, as PostgreSQL requires, and a record's revisions share its start,
  hence its partition. Its other indexes (by day, the unpriced, 0008's and 0010's partial
  ones) are made again as they were, on the partitioned table.
- An event id must stay unique whatever its timestamp, across partitions: a unique index
  cannot span them, so `usage_event_ids` holds every stored event's key_hash (the writer
  claims it there first, see store/bulk.py) and the index on usage.key_hash goes. Two
  triggers forget the ids of records deleted or truncated through `usage`.

SQLite keeps its one table: nothing changes there.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_FORGET = """
CREATE FUNCTION usage_forget_event_ids() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN  -- a DELETE: TRUNCATE fails when one statement truncates both
    DELETE FROM usage_event_ids;
  ELSE
    DELETE FROM usage_event_ids e USING gone g WHERE e.key_hash = g.key_hash;
  END IF;
  RETURN NULL;
END $$
"""


# backing the keys, made apart; uq_usage_event_id gives way to usage_event_ids
_KEYS = ("usage_pkey", "uq_usage_start_key", "uq_usage_event_id")


def _indexes() -> dict[str, str]:
    """usage's secondary indexes, name → CREATE statement (for the table named usage)."""
    rows = op.get_bind().execute(
        sa.text(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = current_schema() AND tablename = 'usage'"
        )
    )
    # a partitioned table's own index reads "ON ONLY usage": made again, it spans the partitions
    return {name: ddl.replace(" ON ONLY ", " ON ") for name, ddl in rows if name not in _KEYS}


def _bound(month: date) -> str:
    return f"'{month.isoformat()} 00:00:00+00'"


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    sequence = conn.execute(sa.text("SELECT pg_get_serial_sequence('usage', 'id')")).scalar_one()
    indexes = _indexes()
    op.execute("ALTER TABLE usage RENAME TO usage_unpartitioned")
    for index in (*indexes, "uq_usage_event_id"):
        op.execute(f'DROP INDEX "{index}"')
    op.execute("ALTER TABLE usage_unpartitioned DROP CONSTRAINT uq_usage_start_key")
    op.execute("ALTER TABLE usage_unpartitioned DROP CONSTRAINT usage_pkey")
    op.execute("CREATE TABLE usage (LIKE usage_unpartitioned INCLUDING DEFAULTS) PARTITION BY RANGE (start)")
    op.execute(f"ALTER SEQUENCE {sequence} OWNED BY usage.id")
    op.execute("CREATE TABLE usage_default PARTITION OF usage DEFAULT")
    months = conn.execute(
        sa.text(
            "SELECT DISTINCT CAST(date_trunc('month', start AT TIME ZONE 'UTC') AS date) FROM usage_unpartitioned"
        )
    ).scalars()
    for month in sorted(months):
        op.execute(
            f'CREATE TABLE "usage_{month.year:04d}_{month.month:02d}" PARTITION OF usage '
            f"FOR VALUES FROM ({_bound(month)}) TO ({_bound(_next_month(month))})"
        )
    op.execute("INSERT INTO usage SELECT * FROM usage_unpartitioned")
    # keys and indexes built once the rows are in: faster than row by row
    op.execute("ALTER TABLE usage ADD CONSTRAINT usage_pkey PRIMARY KEY (id, start)")
    op.execute('ALTER TABLE usage ADD CONSTRAINT uq_usage_start_key UNIQUE (start, "key")')
    for ddl in indexes.values():
        op.execute(ddl)
    op.create_table("usage_event_ids", sa.Column("key_hash", sa.BigInteger(), nullable=False))
    op.execute(
        "INSERT INTO usage_event_ids SELECT key_hash FROM usage_unpartitioned WHERE key_hash IS NOT NULL"
    )
    op.execute("ALTER TABLE usage_event_ids ADD CONSTRAINT usage_event_ids_pkey PRIMARY KEY (key_hash)")
    op.execute("DROP TABLE usage_unpartitioned")
    op.execute(_FORGET)
    op.execute(
        "CREATE TRIGGER usage_forget_deleted AFTER DELETE ON usage REFERENCING OLD TABLE AS gone "
        "FOR EACH STATEMENT EXECUTE FUNCTION usage_forget_event_ids()"
    )
    op.execute(
        "CREATE TRIGGER usage_forget_truncated AFTER TRUNCATE ON usage "
        "FOR EACH STATEMENT EXECUTE FUNCTION usage_forget_event_ids()"
    )
    op.execute("ANALYZE usage")


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    sequence = conn.execute(sa.text("SELECT pg_get_serial_sequence('usage', 'id')")).scalar_one()
    indexes = _indexes()
    op.execute("DROP TRIGGER usage_forget_deleted ON usage")
    op.execute("DROP TRIGGER usage_forget_truncated ON usage")
    op.execute("DROP FUNCTION usage_forget_event_ids()")
    op.drop_table("usage_event_ids")
    op.execute("ALTER TABLE usage RENAME TO usage_partitioned")
    op.execute("ALTER TABLE usage_partitioned DROP CONSTRAINT uq_usage_start_key")
    op.execute("ALTER TABLE usage_partitioned DROP CONSTRAINT usage_pkey")
    for index in indexes:
        op.execute(f'DROP INDEX "{index}"')
    op.execute("CREATE TABLE usage (LIKE usage_partitioned INCLUDING DEFAULTS)")
    op.execute(f"ALTER SEQUENCE {sequence} OWNED BY usage.id")
    op.execute("INSERT INTO usage SELECT * FROM usage_partitioned ORDER BY id")
    op.execute("DROP TABLE usage_partitioned")
    op.execute("ALTER TABLE usage ADD CONSTRAINT usage_pkey PRIMARY KEY (id)")
    op.execute('ALTER TABLE usage ADD CONSTRAINT uq_usage_start_key UNIQUE (start, "key")')
    for ddl in indexes.values():
        op.execute(ddl)
    op.execute("CREATE UNIQUE INDEX uq_usage_event_id ON usage (key_hash) WHERE key_hash IS NOT NULL")
