"""A ledger at an earlier migration revision, on SQLite or PostgreSQL, for upgrade tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from spendledger.store.engine import make_engine, upgrade

PG_ADMIN_URL = os.environ.get("SPENDLEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@contextmanager
def ledger_at(revision: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty ledger migrated up to `revision`, on the database `request.param` names
    ("sqlite": a file in `tmp_path`; "postgresql": a database of its own, dropped after)."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
        upgrade(engine, revision)
        try:
            yield engine
        finally:
            engine.dispose()
        return
    request.getfixturevalue("postgres_database")  # fails under CI when the server is away
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"spendledger_{revision}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False))
    try:
        upgrade(engine, revision)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
