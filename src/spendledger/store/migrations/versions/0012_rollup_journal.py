"""the rollups' journal and the folder's lease (write-behind rollups)

- rollup_pending: signed rows at the finest rollup key that writers append and the
  folder sums into the rollups (rollups.py, "write-behind"). Empty at this revision: the
  rollups already hold every record, so nothing is rebuilt.
- leases: one row per lease ("fold"): who holds it and until when.
- A downgrade folds the journal into the rollups before it drops it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_DIMS = ("provider", "account", "workspace", "project", "model", "user", "customer", "feature", "api_key_id")
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


def upgrade() -> None:
    op.create_table(
        "rollup_pending",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("utc_day", sa.String(length=10), nullable=False),
        *(sa.Column(d, sa.String(length=200), nullable=False) for d in _DIMS),
        sa.Column("basis", sa.String(length=16), nullable=False),
        sa.Column("covered", sa.SmallInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        *(sa.Column(m, sa.BigInteger(), nullable=False) for m in _MEASURES),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    # revision 0010 reads the rollups alone: what the journal holds goes into them first
    from spendledger.store.rollups import fold

    while fold(op.get_bind(), limit=1_000_000):
        pass
    op.drop_table("leases")
    op.drop_table("rollup_pending")
