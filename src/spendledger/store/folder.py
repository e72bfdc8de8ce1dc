"""The folder: one process at a time sums the rollups' journal into the rollups.

Writers append to the journal (rollups.Change); `serve` and `worker` run a folder in a
process of their own (folder_process.py: a fold is CPU work, kept off the API's
interpreter lock), and `spendledger db fold` folds on demand. The lease is a row of
`leases` ("fold": holder, expiry) that a folder claims when it is free, expired or its
own. On PostgreSQL it is claimed in the very transaction of each fold, which also renews
it: the claim locks the row, so a second folder waits for the first's commit and then
finds the lease taken. On SQLite, whose one writer ingest waits for, a fold sums the
rows before it takes the write lock (`stage`) and adds them under it (`apply`) only if
the lease row is as it was before the sums were taken. A folder that dies mid-fold rolls
back: the rows it took are in the journal again, and the lease expires after `TTL` for
the next folder (at once for the next child of the same `serve`, which folds under the
same holder). Reads never wait for a fold: they sum the rollups and the journal
(rollups.current).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, RootTransaction, or_, select, update
from sqlalchemy.exc import OperationalError

from spendledger.store import rollups
from spendledger.store.rows import dialect_insert
from spendledger.store.tables import leases

LEASE = rollups.LEASE
TTL = timedelta(seconds=30)  # a folder that stops renewing (killed, hung) is replaced after this
INTERVAL = 0.5  # seconds between folds when the journal is drained
QUICK = 0.05  # the shortest pause between two folds of a journal that is not
BATCH = 200_000  # journal rows per fold; a fuller journal is folded again at once

log = logging.getLogger(__name__)


def new_holder() -> str:
    """A name for this folder that no other process shares."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def claim(conn: Connection, holder: str, *, ttl: timedelta = TTL, now: datetime | None = None) -> bool:
    """Take or renew the lease for `holder` in the caller's transaction; False: another holds it."""
    now = now or datetime.now(UTC)
    free = or_(leases.c.holder == holder, leases.c.expires_at < now)
    renewed = conn.execute(
        update(leases).where(leases.c.name == LEASE, free).values(holder=holder, expires_at=now + ttl)
    ).rowcount
    if renewed:
        return True
    stmt = dialect_insert(conn, leases).values(name=LEASE, holder=holder, expires_at=now + ttl)
    stmt = stmt.on_conflict_do_nothing(index_elements=["name"])  # type: ignore[attr-defined]
    return conn.execute(stmt.returning(leases.c.name)).first() is not None


def release(engine: Engine, holder: str) -> None:
    """Give the lease up (a folder that stops), so that the next need not wait for it to expire."""
    with engine.begin() as conn:
        conn.execute(
            update(leases)
            .where(leases.c.name == LEASE, leases.c.holder == holder)
            .values(expires_at=datetime(1970, 1, 1, tzinfo=UTC))
        )


def fold_once(engine: Engine, *, holder: str, limit: int = BATCH) -> int | None:
    """One fold under the lease: how many journal rows it folded, or None when another
    folder holds the lease. PostgreSQL: one transaction; SQLite: `_fold_sqlite`."""
    if engine.dialect.name == "sqlite":
        return _fold_sqlite(engine, holder=holder, limit=limit)
    with engine.begin() as conn:
        if not claim(conn, holder):
            return None
        return rollups.fold(conn, limit=limit)


def _fold_sqlite(engine: Engine, *, holder: str, limit: int) -> int | None:
    """SQLite has one writer at a time, and ingest waits for the lock a fold holds: the
    rows are summed in a read transaction (`stage`) and the write lock is taken only to
    add the sums and remove the rows (`apply`)."""
    with engine.connect() as conn:
        staged = stage(conn, holder=holder, limit=limit)
        if staged is None or not staged.sums.rows:
            return None if staged is None else 0
        return apply(conn, staged, holder=holder)


@dataclass(frozen=True)
class Staged:
    """A SQLite fold's sums (rollups.Staged) and the lease as its folder held it then."""

    sums: rollups.Staged
    lease: datetime


def stage(conn: Connection, *, holder: str, limit: int = BATCH) -> Staged | None:
    """SQLite: sum the journal's oldest rows under `holder`'s lease (taken first if it
    has not got it), without the write lock (the sums go to TEMPORARY tables of `conn`);
    None: another folder holds the lease."""
    with conn.begin():
        held = _held(conn, holder)
    if held is None:
        with _writing(conn):
            if not claim(conn, holder):
                return None
            held = _held(conn, holder)
        assert held is not None
    with conn.begin():
        return Staged(rollups.stage_fold(conn, limit=limit), held)


def apply(conn: Connection, staged: Staged, *, holder: str) -> int | None:
    """SQLite: add `stage`'s sums to the rollups and remove their rows from the journal,
    under the write lock; None, and nothing written, unless the lease row is as `stage`
    left it: another folder took the lease meanwhile, or a rebuild (which expires it)
    emptied the journal, and these sums are stale."""
    with _writing(conn) as transaction:
        renewed = conn.execute(
            update(leases)
            .where(leases.c.name == LEASE, leases.c.holder == holder, leases.c.expires_at == staged.lease)
            .values(expires_at=datetime.now(UTC) + TTL)
        ).rowcount
        if not renewed:
            transaction.rollback()
            return None
        return rollups.apply_fold(conn, staged.sums)


def _held(conn: Connection, holder: str) -> datetime | None:
    """When `holder`'s lease expires, if it holds one that has not."""
    expires = conn.execute(
        select(leases.c.expires_at).where(leases.c.name == LEASE, leases.c.holder == holder)
    ).scalar_one_or_none()
    if expires is None or expires.replace(tzinfo=UTC) <= datetime.now(UTC):
        return None
    return expires  # type: ignore[no-any-return]


def _writing(conn: Connection, *, within: float = 30.0) -> RootTransaction:
    """A transaction begun as SQLite's writer. A fold asks for the lock every few
    milliseconds rather than through SQLite's busy wait (which sleeps up to 100 ms between
    tries): ingest writers, which ask that way, would otherwise take it back to back and
    keep the journal from the rollups for seconds."""
    raw = conn.connection.driver_connection
    assert raw is not None
    deadline = time.monotonic() + within
    raw.execute("PRAGMA busy_timeout = 2")
    try:
        while True:
            transaction = conn.begin()
            try:
                rollups.take_write_lock(conn)
            except OperationalError as exc:
                transaction.rollback()
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.002)
            else:
                return transaction
    finally:
        raw.execute("PRAGMA busy_timeout = 30000")


def fold_all(engine: Engine, *, holder: str | None = None, limit: int = BATCH) -> int | None:
    """Fold until the journal is empty (`spendledger db fold`, tests); None: another folder
    holds the lease (it is folding, so the journal drains anyway)."""
    holder = holder or new_holder()
    total = 0
    try:
        while True:
            folded = fold_once(engine, holder=holder, limit=limit)
            if folded is None:
                return None
            total += folded
            if folded < limit:
                return total
    finally:
        release(engine, holder)


def run_forever(
    engine: Engine,
    *,
    stop: threading.Event,
    interval: float = INTERVAL,
    limit: int = BATCH,
    holder: str | None = None,
) -> None:
    """Fold until `stop` is set: every `interval` seconds while the journal is empty, and
    while it is not, again after a pause of twice the last fold (at least `QUICK`, at most
    `interval`), so a batch waits for at most about one pause and two folds, and writers
    have the database at least two thirds of the time; at once when a fold was full. An
    error is logged and the next fold tries again."""
    holder = holder or new_holder()
    try:
        while not stop.is_set():
            started = time.monotonic()
            try:
                folded = fold_once(engine, holder=holder, limit=limit)
            except Exception:  # noqa: BLE001 - a failed fold rolled back; the journal keeps its rows
                log.exception("folding the rollups' journal failed; trying again")
                folded = None
            if folded == limit:
                continue
            took = time.monotonic() - started
            stop.wait(min(interval, max(QUICK, 2 * took)) if folded else interval)
    finally:
        try:
            release(engine, holder)
        except Exception:  # noqa: BLE001 - the lease expires by itself
            log.warning("could not release the folder's lease; it expires in %s", TTL)


class Running:
    """A loop running in a daemon thread (the scheduler's; the folder's watcher, which
    stops its process: folder_process.py): `stop()` ends it and waits for its last round
    (a fold commits or rolls back), so nothing writes after its process moved on."""

    def __init__(self, stop: threading.Event, thread: threading.Thread) -> None:
        self._stop, self._thread = stop, thread

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
