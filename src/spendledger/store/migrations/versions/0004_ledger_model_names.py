"""model names: one model, whatever the cloud

Records stored before this revision keep the model id their provider billed
(`claude-sonnet-4-5-20250929`, `us.anthropic.claude-sonnet-4-5-20250929-v1:0`); new records
get the ledger's name of the model (`claude-sonnet-4-5`, spendledger.model_names) with the
provider's id in their tags. This revision renames the stored records the same way (the
rules as of this revision), in one pass over the records whose model changes, and the
model filters of budgets with them, so a budget keeps watching the same spend. Provider
names are brought to the ledger's (`bedrock`, `aws.bedrock` → `aws`; `gcp`, `vertex` →
`google`...: model_names.PROVIDER_NAMES) in the records, the learnt account members and
the budgets' provider filters. The rollups are marked stale: `store.engine.upgrade`
rebuilds them right after.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from spendledger.model_names import canonical_model, canonical_provider, ledger_name

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_BATCH = 20_000
_usage = sa.table(
    "usage",
    sa.column("id", sa.Integer),
    sa.column("provider", sa.String),
    sa.column("model", sa.String),
    sa.column("tags", sa.JSON),
)
_budgets = sa.table("budgets", sa.column("id", sa.Integer), sa.column("scope", sa.JSON))
_members = sa.table(
    "account_members",
    sa.column("provider", sa.String),
    sa.column("dimension", sa.String),
    sa.column("value", sa.String),
    sa.column("account", sa.String),
)


def _rename_members(conn: sa.Connection) -> None:
    """The learnt account members under the ledger's provider names (merged where two
    spellings learnt the same member)."""
    rows = conn.execute(sa.select(_members)).all()
    renamed = {(canonical_provider(r.provider), r.dimension, r.value, r.account) for r in rows}
    if renamed != {tuple(r) for r in rows}:
        conn.execute(sa.delete(_members))
        conn.execute(
            sa.insert(_members),
            [{"provider": p, "dimension": d, "value": v, "account": a} for p, d, v, a in sorted(renamed)],
        )


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

    providers = [p for (p,) in conn.execute(sa.select(_usage.c.provider).distinct())]
    for old in providers:
        if (new := canonical_provider(old)) != old:
            result = conn.execute(sa.update(_usage).where(_usage.c.provider == old).values(provider=new))
            changed += int(result.rowcount or 0)
    _rename_members(conn)

    for budget_id, scope in conn.execute(sa.select(_budgets.c.id, _budgets.c.scope)).all():
        new_scope = dict(scope or {})
        for dim, canonical in (("model", canonical_model), ("provider", canonical_provider)):
            if watched := new_scope.get(dim):
                new_scope[dim] = list(dict.fromkeys(canonical(v) for v in watched))
        if new_scope != (scope or {}):
            conn.execute(sa.update(_budgets).where(_budgets.c.id == budget_id).values(scope=new_scope))

    if changed:
        op.execute(
            "INSERT INTO ledger_meta (name, value) SELECT 'rollups_stale', '1' "
            "WHERE NOT EXISTS (SELECT 1 FROM ledger_meta WHERE name = 'rollups_stale')"
        )


def downgrade() -> None:
    raise NotImplementedError("0004 has no downgrade: restore the backup taken before upgrading")
