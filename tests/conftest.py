"""Real databases for every test that touches one: a fresh migrated SQLite file, and the
same test again on PostgreSQL.

PostgreSQL: SPENDLEDGER_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test)
names a server; each run (each pytest-xdist worker of a run) creates its own database
there, migrates it once, empties its tables before each test and drops it at the end, so
runs and workers never see each other. Without
a reachable server the PostgreSQL tests skip with the reason, except under CI=true,
where they fail.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import hypothesis
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

import spendledger.passwords
from logins import ADMIN_EMAIL, ADMIN_PASSWORD, add_user, login
from spendledger.config import Settings
from spendledger.store.engine import make_engine, upgrade
from spendledger.store.tables import metadata
from spendledger.store.tokens import create_token
from spendledger.web import create_app

# Under CI the property tests draw the same examples every run: a red build then means
# a change broke something, never that a new random example turned up an old bug (run
# the suite locally, where examples are random, to keep finding those).
hypothesis.settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    hypothesis.settings.load_profile("ci")

PG_ADMIN_URL = os.environ.get("SPENDLEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashes() -> Iterator[None]:
    """Passwords are hashed with argon2id at its lowest cost in the tests: the library's
    recommended cost (64 MiB, 3 passes) takes 0.1-1 s a hash on a 2-core machine, and
    every logged-in test hashes once and verifies once. The hashes are still real argon2id
    hashes, verified for real; only the cost parameters they carry differ (a hash made at
    the full cost, e.g. by a `spendledger` subprocess, still verifies)."""
    with pytest.MonkeyPatch.context() as patch:
        cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        patch.setattr(spendledger.passwords, "_hasher", cheap)
        yield


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating takes ~0.3 s, a copy ~1 ms)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """This run's own PostgreSQL database, migrated; dropped when the run ends."""
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "no server"
        admin.dispose()
        reason = f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.__class__.__name__}: {str(exc)[:200]}"
        if IN_CI:
            pytest.fail(f"{reason} (CI=true: the PostgreSQL tests must run)")
        pytest.skip(f"{reason}; set SPENDLEDGER_TEST_POSTGRES_URL to run the PostgreSQL tests")
    name = f"spendledger_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        # a test database need not survive a crash: commits do not wait for the disk
        conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "ledger.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_database")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(_emptying_sql(conn))
    engine.dispose()
    return url


_EMPTYING: dict[str, str] = {}


def _emptying_sql(conn: Connection) -> str:
    """What empties the PostgreSQL test database as `TRUNCATE <every table> RESTART
    IDENTITY` would: every table's rows deleted (children first) and the sequences of
    their serial and identity columns restarted. DELETE, not TRUNCATE: on tables of a
    few rows it takes milliseconds, where a TRUNCATE of the ~40 tables makes and
    removes ~100 files and takes 0.3-0.8 s, once per PostgreSQL test."""
    url = conn.engine.url.render_as_string(hide_password=False)
    if url not in _EMPTYING:
        tables = [t.name for t in reversed(metadata.sorted_tables)]
        sequences = conn.execute(
            text(
                "SELECT DISTINCT s.oid::regclass::text FROM pg_class s"
                " JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid"
                " AND d.deptype IN ('a', 'i')"
                " JOIN pg_class t ON t.oid = d.refobjid"
                " WHERE s.relkind = 'S' AND t.relname = ANY(:tables)"
            ),
            {"tables": tables},
        ).scalars()
        statements = [f'DELETE FROM "{name}"' for name in tables]
        statements += [f"ALTER SEQUENCE {sequence} RESTART" for sequence in sorted(sequences)]
        _EMPTYING[url] = "; ".join(statements)
    return _EMPTYING[url]


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=db_url, data_dir=tmp_path / "data", timezone="UTC")


@pytest.fixture
def token(engine: Engine) -> str:
    """An API token for the test's database."""
    with engine.begin() as conn:
        return create_token(conn, name="test")


@pytest.fixture
def client(settings: Settings, token: str) -> Iterator[TestClient]:
    """The app on the test's database, sending the token with every request."""
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


@pytest.fixture
def admin_client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """The app on the test's database with an admin logged in (a session cookie)."""
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    with TestClient(create_app(settings)) as client:
        assert login(client, ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 303
        yield client
