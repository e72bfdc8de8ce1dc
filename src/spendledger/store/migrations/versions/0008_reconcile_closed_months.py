"""the reconciliation's closed months, and the billed records by UTC day

- reconcile_closed_months: a month an admin closed, with its billed and metered figures
  at close (per UTC day, provider, account and currency), so a later change to the
  month's records is shown as a late adjustment.
- ix_usage_billed_day: a partial index of the billed records by UTC day, so the
  reconciliation reads a month's bill without walking its metered events.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reconcile_closed_months",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_by", sa.String(length=320), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("month"),
    )
    op.create_index(
        "ix_usage_billed_day",
        "usage",
        ["utc_day"],
        sqlite_where=sa.text("basis = 'billed'"),
        postgresql_where=sa.text("basis = 'billed'"),
    )


def downgrade() -> None:
    op.drop_index("ix_usage_billed_day", table_name="usage")
    op.drop_table("reconcile_closed_months")
