"""Engines and migrations: SQLite (WAL) by default, PostgreSQL through psycopg 3.

A SQLite file the ledger creates is readable by its owner only (0600), in a folder made
0700 when missing: it holds who spent what, and SQLite gives the -wal and -shm files the
database file's own mode.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from spendledger.config import make_private_dir
from spendledger.errors import SpendledgerError
from spendledger.store import ledger, partitions, rollups

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


class DatabaseError(SpendledgerError):
    """The database cannot be used: a URL that names none, a server that does not answer,
    a file that cannot be opened. The message names the database (without its password)."""


@contextlib.contextmanager
def database_errors(engine: Engine | None = None) -> Iterator[None]:
    """Turn the driver's "cannot use this database" errors, raised inside, into a DatabaseError."""
    try:
        yield
    except ArgumentError as exc:
        raise DatabaseError(f"cannot use the database URL: {exc}") from exc
    except OperationalError as exc:
        where = engine.url.render_as_string(hide_password=True) if engine is not None else "database"
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise DatabaseError(f"cannot use the database {where}: {reason}") from exc


def new_sqlite_file(url: str) -> Path | None:
    """The SQLite file `url` names when it does not exist yet (opening it creates a ledger)."""
    with database_errors():
        parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    path = Path(parsed.database)
    return None if path.exists() else path.resolve()


def normalise_url(url: str) -> str:
    """Accept plain postgresql:// URLs and route them through psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


UNREADABLE = {"unreadable": "nested deeper than the ledger reads; stored before tags were limited"}


def read_json(text: str | bytes) -> Any:
    """The JSON reader of every engine: a stored document too deep for Python's parser
    (tags written before they were limited) reads as a note, so one record never breaks
    a command that reads the whole ledger (`prices reprice`, `prices set`)."""
    try:
        return json.loads(text)
    except RecursionError:
        return dict(UNREADABLE)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite files get WAL, a busy timeout and their folder created."""
    kwargs.setdefault("json_deserializer", read_json)
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            _create_private_file(Path(parsed.database))
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _create_private_file(path: Path) -> None:
    """An empty file (which SQLite opens as a new database) of mode 0600, unless one exists."""
    make_private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


WIDE_CACHE_KIB = 65_536  # a sync's transaction: a window's pages, their index pages and rollups


def widen_cache(conn: Connection) -> Callable[[], None]:
    """Give a SQLite connection a page cache of WIDE_CACHE_KIB for a long write (a sync's
    transactions spill the default 2 MB: measured 19.8 s → 17.6 s for a year of OpenAI);
    returns what puts the connection's own size back, to call before it returns to the
    pool (a server's other connections keep the small cache: serve's memory target). It
    never raises: a connection whose size cannot be put back is invalidated, never pooled
    wide. The pragmas go to the driver's connection, which they do not open a transaction
    on. Other databases: nothing to do."""
    if conn.dialect.name != "sqlite":
        return lambda: None
    driver = conn.connection.driver_connection
    assert driver is not None
    before = int(driver.execute("PRAGMA cache_size").fetchone()[0])
    driver.execute(f"PRAGMA cache_size=-{WIDE_CACHE_KIB}")

    def restore() -> None:
        try:
            driver.execute(f"PRAGMA cache_size={before}")
        except Exception:
            conn.invalidate()

    return restore


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config  # here: alembic is ~12 MB that serving and folding never use

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (idempotent; run by `db upgrade` and `serve`).

    A migration that changes how rollups are keyed marks them stale; they are rebuilt
    from the records here, in the zone the ledger counts days in, once the schema is at
    its head (the rebuild writes today's rollup layout; an upgrade to an earlier revision
    leaves the mark for the next one). On PostgreSQL the months around today get their
    partitions of `usage` (partitions.maintain); on SQLite the planner's statistics are
    refreshed (ledger.analyze).
    """
    from alembic import command
    from alembic.script import ScriptDirectory

    config = alembic_config(engine)
    command.upgrade(config, revision)
    if current_revision(engine) != ScriptDirectory.from_config(config).get_current_head():
        return
    with engine.begin() as conn:
        if ledger.get_meta(conn, "rollups_stale") is not None:
            rollups.rebuild(conn)
            ledger.delete_meta(conn, "rollups_stale")
    with engine.begin() as conn:  # PostgreSQL: this month's partition of usage, and the next
        partitions.maintain(conn)
        ledger.analyze(conn)  # SQLite: the planner's statistics, sampled


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
