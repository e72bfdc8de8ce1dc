"""aliases, teams and allocation rules; the customer dimension

- usage.customer: the customer (tenant) a metered call served ('' for none), set by the
  tracker and the events API.
- rollup_user and rollup_user_month: keyed by customer too (a customer holds its users,
  so the grain hardly grows). Every stored record has no customer yet, so the rows are
  copied as they are with customer '': no rebuild.
- aliases: the names one thing has in different sources, read as one at query time.
- project_teams: the team of a project (the `team` dimension).
- allocation_rules: how a shared cost is split in the showback.
- ix_usage_manual_day, ix_usage_billed_local_day: partial indexes (events never enter them)
  through which the showback reads the subscriptions' and the bills' records.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

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


def _rollup_user(name: str, *, daily: bool, customer: bool) -> None:
    dims = ("provider", "account", "user", *(("customer",) if customer else ()))
    key = ("day", *(("utc_day",) if daily else ()), *dims, "basis", "covered", "currency")
    op.create_table(
        name,
        sa.Column("day", sa.String(length=10), nullable=False),
        *((sa.Column("utc_day", sa.String(length=10), nullable=False),) if daily else ()),
        *(sa.Column(d, sa.String(length=200), nullable=False) for d in dims),
        sa.Column("basis", sa.String(length=16), nullable=False),
        sa.Column("covered", sa.SmallInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        *(sa.Column(m, sa.BigInteger(), nullable=False) for m in _MEASURES),
        sa.PrimaryKeyConstraint(*key, name=f"pk_{name}"),
        sqlite_with_rowid=False,
    )
    if daily:
        op.create_index(
            f"ix_{name}_basis_day", name, ["basis", "utc_day", "provider", "account"], unique=False
        )


def _rekey(*, customer: bool) -> None:
    """Recreate rollup_user (and its monthly twin) with or without the customer in the key,
    keeping their sums: with it, each row as it is under customer ''; without, summed."""
    for name, daily in (("rollup_user", True), ("rollup_user_month", False)):
        keep = [
            "day",
            *(["utc_day"] if daily else []),
            "provider",
            "account",
            "user",
            "basis",
            "covered",
            "currency",
        ]
        cols = ", ".join(f'"{c}"' for c in keep)
        sums = ", ".join(f'sum("{m}")' if not customer else f'"{m}"' for m in _MEASURES)
        measures = ", ".join(f'"{m}"' for m in _MEASURES)
        op.execute(f'CREATE TEMPORARY TABLE "_old_{name}" AS SELECT * FROM "{name}"')
        op.drop_table(name)
        _rollup_user(name, daily=daily, customer=customer)
        if customer:
            op.execute(
                f'INSERT INTO "{name}" ({cols}, "customer", {measures}) '
                f"SELECT {cols}, '', {measures} FROM \"_old_{name}\""
            )
        else:
            op.execute(
                f'INSERT INTO "{name}" ({cols}, {measures}) SELECT {cols}, {sums} FROM "_old_{name}" GROUP BY {cols}'
            )
        op.execute(f'DROP TABLE "_old_{name}"')


# by local day (0008's ix_usage_billed_day is the billed records by UTC day)
_DAY_INDEXES = {"manual": "ix_usage_manual_day", "billed": "ix_usage_billed_local_day"}


def upgrade() -> None:
    # a server default fills the stored rows in place (no table rewrite on SQLite); the
    # writers always give the column a value
    op.add_column("usage", sa.Column("customer", sa.String(length=200), nullable=False, server_default=""))
    _rekey(customer=True)
    for basis, name in _DAY_INDEXES.items():  # the showback's pools read these records by day
        where = sa.text(f"basis = '{basis}'")
        op.create_index(name, "usage", ["day"], sqlite_where=where, postgresql_where=where)
    op.create_table(
        "aliases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("found_in", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=200), nullable=False),
        sa.Column("account", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("canonical", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dimension", "found_in", "provider", "account", "name", name="uq_aliases_name"),
    )
    op.create_table(
        "project_teams",
        sa.Column("project", sa.String(length=200), nullable=False),
        sa.Column("team", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("project"),
    )
    op.create_table(
        "allocation_rules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("what", sa.String(length=16), nullable=False),
        sa.Column("by", sa.String(length=16), nullable=False),
        sa.Column("split", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("what", "by", name="uq_allocation_rules_pool"),
    )


def downgrade() -> None:
    op.drop_table("allocation_rules")
    op.drop_table("project_teams")
    op.drop_table("aliases")
    _rekey(customer=False)
    for name in _DAY_INDEXES.values():
        op.drop_index(name, table_name="usage")
    with op.batch_alter_table("usage", schema=None) as batch_op:
        batch_op.drop_column("customer")
