"""Upgrading a first-wave ledger (revision 0001): event ids made unique, UTC days and
accounts filled in, the rollups rebuilt with the new coverage rule."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from old_ledgers import ledger_at
from spendledger.queries import SpendQuery, spend
from spendledger.store.engine import upgrade
from spendledger.store.ledger import get_meta
from spendledger.store.tables import MEASURES, usage


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def old_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty ledger at revision 0001, on each database."""
    with ledger_at("0001", request, tmp_path) as engine:
        yield engine


def _row(key: str, start: str, basis: str, cost: str, **dims: str) -> dict[str, object]:
    measures = dict.fromkeys(MEASURES, 0)
    measures.update(cost_nanos=int(Decimal(cost) * 10**9), records=1)
    end = "2026-11-21 00:00:00" if basis == "billed" else None
    return {
        "start": start,
        "key": key,
        "end": end,
        "day": start[:10],
        "source": "api" if basis != "billed" else "openai-org-a",
        "basis": basis,
        "provider": "openai",
        "account": dims.get("account", ""),
        "workspace": "",
        "project": dims.get("project", ""),
        "api_key_id": "",
        "model": "gpt-4o-mini",
        "user": "",
        "feature": "",
        **measures,
        "currency": "USD",
        "pricing_status": "provider",
        "batch": False,
        "written_at": "2026-11-22 00:00:00",
    }


def test_migration_0002_keeps_one_copy_of_an_event_id_and_rebuilds_coverage(old_ledger: Engine) -> None:
    rows = [
        # the same event id twice, a second apart: the first wave stored both
        _row("api:evt-1", "2026-11-20 10:00:00", "metered", "1.00", project="p-z"),
        _row("api:evt-1", "2026-11-20 10:00:01", "metered", "1.00", project="p-z"),
        # org-b's bill of 11-20 and a call of org-a's project p-a (no account given)
        _row("costs|p-b", "2026-11-20 00:00:00", "billed", "20.00", account="org-b", project="p-b"),
        _row("costs|p-a", "2026-11-19 00:00:00", "billed", "5.00", account="org-a", project="p-a"),
        _row("api:evt-2", "2026-11-20 11:00:00", "metered", "1.50", project="p-a"),
    ]
    rows[3]["end"], rows[3]["day"] = "2026-11-20 00:00:00", "2026-11-19"
    columns = list(rows[0])
    names = ", ".join(f'"{c}"' for c in columns)
    insert = text(f"INSERT INTO usage ({names}) VALUES ({', '.join(':' + c for c in columns)})")
    with old_ledger.begin() as conn:
        conn.execute(insert, rows)
    upgrade(old_ledger)
    with old_ledger.connect() as conn:
        stored = conn.execute(
            select(usage.c.key, usage.c.utc_day, usage.c.account).where(usage.c.basis == "metered")
        ).all()
        # one copy of evt-1 (its project p-z is nobody's); evt-2 attributed by its project
        assert sorted(tuple(r) for r in stored) == [
            ("api:evt-1", "2026-11-20", ""),
            ("api:evt-2", "2026-11-20", "org-a"),
        ]
        assert get_meta(conn, "rollups_stale") is None
        best = spend(conn, SpendQuery(start=date(2026, 11, 19), end=date(2026, 11, 20), basis="best"))
    # $5 (org-a, 11-19) + $20 (org-b, 11-20) + $1.50 (org-a's call, 11-20 not billed for
    # org-a); evt-1 has no account and org-b is the only OpenAI bill of 11-20: covered
    assert best.totals == {"USD": Decimal("26.50")}
