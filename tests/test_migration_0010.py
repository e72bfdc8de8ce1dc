"""Migration 0010 (the customer dimension, aliases, teams, allocation rules) keeps every
figure: rollup_user is re-keyed by customer with its rows copied, not rebuilt, and the
way back sums them again. On SQLite and PostgreSQL, each on a database of its own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, select

from old_ledgers import ledger_at
from spendledger.queries import SpendQuery, spend
from spendledger.store import write_records
from spendledger.store.engine import alembic_config, current_revision, upgrade
from spendledger.store.tables import rollups
from usage_records import usage_record


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def own_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty ledger of its own (the test moves its schema back and forth)."""
    with ledger_at("head", request, tmp_path) as engine:
        yield engine


def _by_user(engine: Engine) -> dict[str | None, str]:
    with engine.connect() as conn:
        report = spend(conn, SpendQuery(start=date(2026, 11, 1), end=date(2026, 11, 30), by=("user",)))
    return {r.dims["user"]: str(r.cost) for r in report.rows}


def test_migration_0010_keeps_the_user_rollups_both_ways(own_ledger: Engine) -> None:
    records = [
        usage_record(
            key=f"api:{i}",
            start=datetime(2026, 11, 1 + i % 20, 9, tzinfo=UTC),
            user=f"u{i % 3}",
            cost=f"{i}.25",
        )
        for i in range(30)
    ]
    with own_ledger.begin() as conn:
        write_records(conn, records, tz=ZoneInfo("UTC"))
    before = _by_user(own_ledger)
    # u0: 0 + 3 + ... + 27 = 135, plus 10 × 0.25 = 137.50; u1: 145 + 2.50; u2: 155 + 2.50
    assert before == {"u2": "157.500000000", "u1": "147.500000000", "u0": "137.500000000"}

    command.downgrade(alembic_config(own_ledger), "0009")
    assert current_revision(own_ledger) == "0009"
    columns = {c["name"] for c in inspect(own_ledger).get_columns("rollup_user")}
    assert "customer" not in columns
    assert "aliases" not in inspect(own_ledger).get_table_names()

    upgrade(own_ledger)
    assert (
        current_revision(own_ledger)
        == ScriptDirectory.from_config(alembic_config(own_ledger)).get_current_head()
    )
    assert _by_user(own_ledger) == before
    with own_ledger.connect() as conn:
        customers = {r.customer for r in conn.execute(select(rollups["rollup_user"].c.customer))}
        monthly = conn.execute(select(rollups["rollup_user_month"].c.records)).scalars().all()
    assert customers == {""} and sum(monthly) == 30
