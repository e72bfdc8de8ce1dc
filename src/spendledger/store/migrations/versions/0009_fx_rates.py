"""exchange rates

- fx_rates: dated exchange rates (1 base = rate units of currency on day), exact decimal
  text, with their source; the display currency converts with them (fx/rates.py).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fx_rates",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("base", sa.String(length=3), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("rate", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("base", "currency", "day", name="pk_fx_rates"),
    )
    op.create_index("ix_fx_rates_currency_day", "fx_rates", ["currency", "day"])


def downgrade() -> None:
    op.drop_index("ix_fx_rates_currency_day", table_name="fx_rates")
    op.drop_table("fx_rates")
