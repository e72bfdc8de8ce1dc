"""model names: one model, whatever the cloud

Records stored before this revision keep the model id their provider billed
(`claude-sonnet-4-5-20250929`, `us.anthropic.claude-sonnet-4-5-20250929-v1:0`); new records
get the ledger's name of the model (`claude-sonnet-4-5`, spendledger.model_names) with the
provider's id in their tags. This revision renames the stored records the same way (the
rules as of this revision), in one pass over the records whose model changes, and the
model filters of budgets with them, so a budget keeps watching the same spend. The
rollups are marked stale: `store.engine.upgrade` rebuilds them right after.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from spendledger.model_names import canonical_model, ledger_name

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_BATCH = 20_000
_usage = sa.table(
    "usage", sa.column("id", sa.Integer), sa.column("model", sa.String), sa.column("tags", sa.JSON)
)
_budgets = sa.table("budgets", sa.column("id", sa.Integer), sa.column("scope", sa.JSON))


def upgrade() -> None:
    conn = op.get_bind()
    models = [m for (m,) in conn.execute(sa.select(_usage.c.model).distinct())]
    renamed = sorted(m for m in models if canonical_model(m) != m)
    changed = 0
    last_id = 0
    while renamed:
        rows = conn.execute(
            sa.select(_usage.c.id, _usage.c.model, _usage.c.tags)
            .where(_usage.c.id > last_id, _usage.c.model.in_(renamed))
            .order_by(_usage.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        last_id = rows[-1].id
        updates = [
            {"row_id": row.id, "new_model": found[0], "new_tags": found[1]}
            for row in rows
            if (found := ledger_name(row.model, row.tags or {}))
        ]
        if updates:
            conn.execute(
                sa.update(_usage)
                .where(_usage.c.id == sa.bindparam("row_id"))
                .values(model=sa.bindparam("new_model"), tags=sa.bindparam("new_tags", type_=sa.JSON)),
                updates,
            )
            changed += len(updates)

    for budget_id, scope in conn.execute(sa.select(_budgets.c.id, _budgets.c.scope)).all():
        models_watched = (scope or {}).get("model")
        if not models_watched:
            continue
        names = list(dict.fromkeys(canonical_model(m) for m in models_watched))
        if names != models_watched:
            conn.execute(
                sa.update(_budgets).where(_budgets.c.id == budget_id).values(scope={**scope, "model": names})
            )

    if changed:
        op.execute(
            "INSERT INTO ledger_meta (name, value) SELECT 'rollups_stale', '1' "
            "WHERE NOT EXISTS (SELECT 1 FROM ledger_meta WHERE name = 'rollups_stale')"
        )


def downgrade() -> None:
    raise NotImplementedError("0004 has no downgrade: restore the backup taken before upgrading")
