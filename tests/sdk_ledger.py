"""The SDK writing into a real ledger, for the instrumentation tests.

`sdk_ledger()` copies the migrated SQLite template into the test's folder, configures
the SDK with `database_url=` (its background sender writes through the ingest path:
validation, pricing, idempotent upserts) and, on the way out, forgets the
configuration. `Ledger.rows()` flushes the sender and reads back the `usage` table.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

import spendledger
from spendledger.records import from_nanos
from spendledger.sdk import _sender
from spendledger.store.engine import make_engine
from spendledger.store.tables import usage


class Ledger:
    def __init__(self, url: str, engine: Engine) -> None:
        self.url = url
        self.engine = engine

    def rows(self) -> list[dict[str, Any]]:
        """Every stored row, oldest first, after the sender delivered what was queued."""
        assert spendledger.flush(30), spendledger.stats()
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(select(usage).order_by(usage.c.id))]
        for row in rows:
            row["cost"] = None if row["cost_nanos"] is None else from_nanos(row["cost_nanos"])
        return rows

    def one(self) -> dict[str, Any]:
        rows = self.rows()
        assert len(rows) == 1, rows
        return rows[0]


@contextmanager
def sdk_ledger(tmp_path: Path, template: Path) -> Iterator[Ledger]:
    path = tmp_path / "ledger.db"
    shutil.copy(template, path)
    url = f"sqlite:///{path}"
    spendledger.configure(database_url=url, spill_dir=tmp_path / "spill")
    engine = make_engine(url)
    try:
        yield Ledger(url, engine)
    finally:
        _sender.reset()
        engine.dispose()
