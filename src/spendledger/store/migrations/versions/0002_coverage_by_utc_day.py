"""coverage by UTC day and account; event ids unique whatever their timestamp

- usage.utc_day: the UTC date of a record's instant (the provider bucket it falls in);
  the daily rollups key on it too, so a bill covers the instants it covers in any zone.
- usage.key_hash: a 64-bit hash of an event's key, unique: an event id is stored once
  whatever its timestamp. Events already stored twice keep their first copy.
- account_members: the projects and API keys each billed account is known to hold;
  metered records with no account are attributed from it.

The daily rollups are recreated empty and the ledger is marked for a rebuild, which
`store.engine.upgrade` runs right after the migrations.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

from hashlib import blake2b

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_GRAINS = {
    "rollup_provider": ("provider", "account"),
    "rollup_model": ("provider", "account", "workspace", "project", "model"),
    "rollup_user": ("provider", "account", "user"),
    "rollup_feature": ("provider", "account", "feature"),
    "rollup_key": ("provider", "account", "workspace", "project", "api_key_id"),
}
_MEASURES = (
    "requests",
    "input_tokens",
    "cached_input_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
    "audio_input_tokens",
    "audio_output_tokens",
    "cost_nanos",
    "unpriced_requests",
    "records",
)


def _key_hash(key: str) -> int:
    return int.from_bytes(blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


def upgrade() -> None:
    conn = op.get_bind()
    postgres = conn.dialect.name == "postgresql"
    with op.batch_alter_table("usage", schema=None) as batch_op:
        batch_op.add_column(sa.Column("utc_day", sa.String(length=10), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("key_hash", sa.BigInteger(), nullable=True))
    if postgres:
        op.execute(
            'UPDATE usage SET utc_day = to_char(COALESCE(start + ("end" - start) / 2, start) '
            "AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        )
    else:
        op.execute(
            'UPDATE usage SET utc_day = CASE WHEN "end" IS NULL THEN substr(start, 1, 10) '
            'ELSE date((julianday(start) + julianday("end")) / 2) END'
        )
    with op.batch_alter_table("usage", schema=None) as batch_op:
        batch_op.alter_column("utc_day", server_default=None)

    # events (every basis but billed and manual): hash their keys, drop later copies
    seen: set[int] = set()
    last_id = 0
    while True:
        rows = conn.execute(
            sa.text(
                "SELECT id, key FROM usage WHERE id > :last AND basis NOT IN ('billed', 'manual') "
                "ORDER BY id LIMIT 20000"
            ),
            {"last": last_id},
        ).all()
        if not rows:
            break
        last_id = rows[-1][0]
        hashes, doubles = [], []
        for row_id, key in rows:
            h = _key_hash(key)
            if h in seen:
                doubles.append({"id": row_id})
            else:
                seen.add(h)
                hashes.append({"id": row_id, "h": h})
        if hashes:
            conn.execute(sa.text("UPDATE usage SET key_hash = :h WHERE id = :id"), hashes)
        if doubles:
            conn.execute(sa.text("DELETE FROM usage WHERE id = :id"), doubles)
    with op.batch_alter_table("usage", schema=None) as batch_op:
        batch_op.create_index(
            "uq_usage_event_id",
            ["key_hash"],
            unique=True,
            sqlite_where=sa.text("key_hash IS NOT NULL"),
            postgresql_where=sa.text("key_hash IS NOT NULL"),
        )

    op.create_table(
        "account_members",
        sa.Column("provider", sa.String(length=200), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("account", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("provider", "dimension", "value", "account", name="pk_account_members"),
    )
    for dim in ("project", "api_key_id"):
        op.execute(
            "INSERT INTO account_members (provider, dimension, value, account) "
            f"SELECT DISTINCT provider, '{dim}', {dim}, account FROM usage "
            f"WHERE basis = 'billed' AND {dim} <> '' AND account <> ''"
        )
    # attribute the metered records with no account whose project (or key) one account holds
    for dim in ("project", "api_key_id"):
        owners = conn.execute(
            sa.text(
                "SELECT provider, value, min(account) FROM account_members WHERE dimension = :dim "
                "GROUP BY provider, value HAVING count(*) = 1"
            ),
            {"dim": dim},
        ).all()
        for provider, value, account in owners:
            conn.execute(
                sa.text(
                    f"UPDATE usage SET account = :account WHERE basis = 'metered' AND account = '' "
                    f"AND provider = :provider AND {dim} = :value"
                ),
                {"account": account, "provider": provider, "value": value},
            )

    for name, dims in _GRAINS.items():
        op.drop_table(name)
        key = ("day", "utc_day", *dims, "basis", "covered", "currency")
        op.create_table(
            name,
            sa.Column("day", sa.String(length=10), nullable=False),
            sa.Column("utc_day", sa.String(length=10), nullable=False),
            *(sa.Column(d, sa.String(length=200), nullable=False) for d in dims),
            sa.Column("basis", sa.String(length=16), nullable=False),
            sa.Column("covered", sa.SmallInteger(), nullable=False),
            sa.Column("currency", sa.String(length=3), nullable=False),
            *(sa.Column(m, sa.BigInteger(), nullable=False) for m in _MEASURES),
            sa.PrimaryKeyConstraint(*key, name=f"pk_{name}"),
            sqlite_with_rowid=False,
        )
        op.create_index(
            f"ix_{name}_basis_day", name, ["basis", "utc_day", "provider", "account"], unique=False
        )
    op.execute(
        "INSERT INTO ledger_meta (name, value) SELECT 'rollups_stale', '1' "
        "WHERE NOT EXISTS (SELECT 1 FROM ledger_meta WHERE name = 'rollups_stale')"
    )


def downgrade() -> None:
    raise NotImplementedError("0002 has no downgrade: restore the backup taken before upgrading")
