"""Rollups, written behind the writers by one folder, read exactly, rebuildable from `usage`.

Write-behind: a writer does not touch the rollups. It appends what it changed to the
journal (`rollup_pending`: signed rows at the finest rollup key, `covered` decided) in
its own transaction and returns; new records are copied there from `usage` by one
INSERT ... SELECT, removed and revised ones go in as negative rows, coverage moves as a
negative and a positive row (`Change`). The folder (`fold`, run by folder.py under a
lease) takes the journal's rows and adds them to every rollup in one transaction: a
crash rolls it back, and the rows wait for the next fold. Every read sums a rollup and
the journal's rows not folded yet in one statement (`current`, or `journal_of` grouped
beside the rollup): a record is always in exactly one of them.

Every grain has a daily table and a monthly twin (tables.MONTHLY). Each rollup row
carries `covered`: 1 on metered rows that billed records cover, so "best available" is
a plain `covered = 0` on any rollup. The rule, written here once (`_is_covered` in
Python, `covered_sql` and `_covered_sql` in SQL): a provider bills by UTC day, so a
bucket covers the instants it covers, in whatever zone the ledger shows days (`utc_day`,
not `day`); a metered record is covered on its UTC day by a billed record of its own
account, or, when it has no account (members.py found none), when its provider has
exactly one billed account that day; otherwise it counts. Coverage is read from the
billed records themselves (`ix_usage_billed_day`); when a write moves it, the metered
rows of that day move from covered = 0 to 1 (or back) in the journal, in that write's
transaction.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from operator import add, itemgetter
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    MetaData,
    PrimaryKeyConstraint,
    Select,
    SmallInteger,
    Table,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    true,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateTable
from sqlalchemy.sql import Subquery
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ColumnElement

from spendledger.errors import SpendledgerError
from spendledger.store.tables import (
    GRAINS,
    MEASURES,
    MONTHLY,
    leases,
    rollup_key,
    rollup_pending,
    rollups,
    usage,
)

# Every dimension any grain holds: the journal's grain, projected onto each rollup.
_ALL_DIMS: tuple[str, ...] = tuple(dict.fromkeys(d for dims in GRAINS.values() for d in dims))
FINE_KEY: tuple[str, ...] = ("day", "utc_day", *_ALL_DIMS, "basis", "currency")
_COVERED_KEY = rollup_key(_ALL_DIMS)  # FINE_KEY with `covered` before the currency

# A rebuild sums the grains without these dimensions from one staging aggregate of
# `usage` (by day and every other dimension: one row per day and calling pattern, not
# per call) and the others from `usage`, so the records are read and sorted twice in
# all rather than once per grain (measured on 10 M events: 208 s -> 132 s on SQLite).
_UNSTAGED = frozenset({"user", "customer"})
_STAGE_KEY: tuple[str, ...] = tuple(k for k in _COVERED_KEY if k not in _UNSTAGED)

Delta = dict[tuple[Any, ...], Sequence[int]]
Coverage = set[tuple[str, str, str]]  # (utc_day, provider, account) with billed records

_fine_key_of = itemgetter(*FINE_KEY)
_measures_of = itemgetter(*MEASURES)
_RECORDS = MEASURES.index("records")
_UTC_DAY, _BASIS, _PROVIDER, _ACCOUNT = (
    FINE_KEY.index(k) for k in ("utc_day", "basis", "provider", "account")
)


def new_delta() -> Delta:
    return {}


def add_rows(delta: Delta, rows: Iterable[Mapping[Any, Any]], sign: int = 1) -> None:
    """Add (or with sign=-1 subtract) usage rows to the delta at the fine grain."""
    get = delta.get
    for row in rows:
        key = _fine_key_of(row)
        values = _measures_of(row)
        if sign != 1:
            values = [-v for v in values]
        acc = get(key)
        delta[key] = values if acc is None else list(map(add, acc, values))


# ---- writers: a change, journaled ---------------------------------------------------------

_LOCK = 7240518  # PostgreSQL advisory lock: who may move coverage (SQLite serialises writers)


def _lock(conn: Connection, *, exclusive: bool) -> None:
    """Coverage is read, then written: writers that change billed records (or remove or
    revise any) hold the lock alone; new events, the folder and each other share it."""
    if conn.dialect.name == "postgresql":
        function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        conn.exec_driver_sql(f"SELECT {function}({_LOCK})")


class Change:
    """One write's change to the rollups, appended to the journal (`rollup_pending`).

    A metered row is journaled with the coverage its UTC day had when the change began;
    the billed days the change touches are named first (`expect`), and `close()` then
    moves the metered records of every day whose coverage the change moved, from the
    old `covered` to the new, as a negative and a positive row. Rows are journaled at the
    finest key, never summed into a rollup here: that is the folder's work (`fold`).
    """

    def __init__(self, conn: Connection, *, exclusive: bool) -> None:
        self.conn = conn
        _lock(conn, exclusive=exclusive)
        self._billed_days: set[tuple[str, str, str]] = set()
        self._before: Coverage = set()
        self._asked: set[tuple[str, str]] = set()

    def expect(self, billed_days: AbstractSet[tuple[str, str, str]]) -> None:
        """Name (utc_day, provider, account)s whose billed records this change writes or
        removes, before it touches them."""
        self._billed_days |= billed_days
        self._ask({(day, provider) for day, provider, _ in billed_days})

    def _ask(self, pairs: AbstractSet[tuple[str, str]]) -> None:
        new = pairs - self._asked
        if new:
            self._before |= _coverage(self.conn, new)
            self._asked |= new

    def add(self, delta: Delta) -> None:
        """Journal a delta at FINE_KEY."""
        self._ask({(k[_UTC_DAY], k[_PROVIDER]) for k in delta if k[_BASIS] == "metered"})
        covered = _is_covered(self._before)
        rows = [
            dict(
                zip(
                    _JOURNAL_COLUMNS,
                    (
                        *key[:-1],
                        covered(key[_UTC_DAY], key[_PROVIDER], key[_ACCOUNT])
                        if key[_BASIS] == "metered"
                        else 0,
                        key[-1],
                        *values,
                    ),
                    strict=True,
                )
            )
            for key, values in delta.items()
            if any(values)
        ]
        if rows:
            self.conn.execute(insert(rollup_pending), rows)

    def add_rows(self, rows: Iterable[Mapping[Any, Any]], sign: int = 1) -> None:
        """Journal usage rows (or with sign=-1 their removal)."""
        delta = new_delta()
        add_rows(delta, rows, sign)
        self.add(delta)

    def add_inserted(self, ids: Sequence[int], rows: Iterable[Mapping[str, Any]]) -> None:
        """Journal records just inserted (`ids`; `rows` holds them and maybe more), copied
        from `usage` by the database in one statement: the batch's work stays in C."""
        if not ids:
            return
        self._ask({(r["utc_day"], r["provider"]) for r in rows if r["basis"] == "metered"})
        covered = _covered_sql(usage, self._before)
        lo, hi = min(ids), max(ids)
        if hi - lo + 1 == len(ids):  # SQLite's usual case: one writer, consecutive ids
            selections = [usage.c.id.between(lo, hi)]
        else:
            ordered = sorted(ids)
            selections = [usage.c.id.in_(ordered[i : i + 5000]) for i in range(0, len(ordered), 5000)]
        source = [
            *(usage.c[k] for k in FINE_KEY[:-1]),
            covered,
            usage.c.currency,
            *(usage.c[m] for m in MEASURES),
        ]
        for where in selections:
            self.conn.execute(
                insert(rollup_pending).from_select(_JOURNAL_COLUMNS, select(*source).where(where))
            )

    def close(self) -> None:
        """Journal the moves of the metered records whose coverage this change moved."""
        if not self._billed_days:
            return
        pairs = {(day, provider) for day, provider, _ in self._billed_days}
        before = {t for t in self._before if (t[0], t[1]) in pairs}
        after = _coverage(self.conn, pairs)
        was, now = _is_covered(before), _is_covered(after)
        flips: dict[tuple[int, int], list[tuple[str, str, str]]] = {(0, 1): [], (1, 0): []}
        for day, provider in sorted(pairs):
            accounts = {a for d, p, a in before | after if (d, p) == (day, provider)} | {""}
            for account in sorted(accounts):
                old, new = was(day, provider, account), now(day, provider, account)
                if old != new:
                    flips[(old, new)].append((day, provider, account))
        for (old, new), where in flips.items():
            for i in range(0, len(where), 300):
                _journal_flip(self.conn, where[i : i + 300], old=old, new=new)


_JOURNAL_COLUMNS: tuple[str, ...] = (*_COVERED_KEY, *MEASURES)


def _journal_flip(conn: Connection, where: list[tuple[str, str, str]], *, old: int, new: int) -> None:
    """Journal the metered records of `where` (utc_day, provider, account) moving from
    covered=`old` to `new`, read from `usage` (a local day lies within a day of its UTC day)."""
    days = sorted(date.fromisoformat(d) for d, _, _ in where)
    condition = and_(
        usage.c.day >= (days[0] - timedelta(days=1)).isoformat(),
        usage.c.day <= (days[-1] + timedelta(days=1)).isoformat(),
        usage.c.basis == "metered",
        tuple_(usage.c.utc_day, usage.c.provider, usage.c.account).in_(where),
    )
    fine = [usage.c[k] for k in FINE_KEY]
    for cover, sign in ((old, -1), (new, 1)):
        moved = (
            select(*fine[:-1], literal(cover), fine[-1], *(sign * func.sum(usage.c[m]) for m in MEASURES))
            .where(condition)
            .group_by(*fine)
        )
        conn.execute(insert(rollup_pending).from_select(_JOURNAL_COLUMNS, moved))


# ---- coverage: which metered rows billed records replace -------------------------------------

_BILLED = text("basis = 'billed'")  # as the partial index states it, so both databases use it


def _coverage(conn: Connection, pairs: AbstractSet[tuple[str, str]]) -> Coverage:
    """The billed (utc_day, provider, account)s of these (utc_day, provider)s, from the
    records themselves (the rollups may not hold the latest yet): ix_usage_billed_day."""
    if not pairs:
        return set()
    days = sorted({day for day, _ in pairs})
    found: Coverage = set()
    for i in range(0, len(days), 500):
        rows = conn.execute(
            select(usage.c.utc_day, usage.c.provider, usage.c.account)
            .where(_BILLED, usage.c.utc_day.in_(days[i : i + 500]))
            .distinct()
        )
        found.update((r[0], r[1], r[2]) for r in rows if (r[0], r[1]) in pairs)
    return found


def _is_covered(coverage: Coverage) -> Callable[[str, str, str], int]:
    """A metered row is covered on its UTC day by a billed record of its own account; one
    with no account only when its provider has exactly one billed account that day."""
    accounts: dict[tuple[str, str], int] = {}
    for day, provider, _ in coverage:
        accounts[(day, provider)] = accounts.get((day, provider), 0) + 1

    def covered(day: str, provider: str, account: str) -> int:
        return int((day, provider, account) in coverage if account else accounts.get((day, provider)) == 1)

    return covered


def _covered_sql(row: Any, coverage: Coverage) -> Any:
    """`_is_covered(coverage)` as SQL on `row`'s columns: 0 on every row when nothing is billed."""
    accounts: dict[tuple[str, str], int] = {}
    for day, provider, _ in coverage:
        accounts[(day, provider)] = accounts.get((day, provider), 0) + 1
    own = sorted(t for t in coverage if t[2])
    only = sorted(pair for pair, n in accounts.items() if n == 1)
    branches = []
    if own:
        branches.append(
            and_(row.c.account != "", tuple_(row.c.utc_day, row.c.provider, row.c.account).in_(own))
        )
    if only:
        branches.append(and_(row.c.account == "", tuple_(row.c.utc_day, row.c.provider).in_(only)))
    if not branches:
        return literal(0, SmallInteger)
    return case((and_(row.c.basis == "metered", or_(*branches)), 1), else_=0)


def covered_sql(row: Any, billed: Any) -> Any:
    """`_is_covered` in SQL: `row` (metered) has a billed row in `billed` that covers it.

    `billed` is a table with basis, utc_day, provider and account (the rebuild's table of
    billed days). Two branches rather than one `account = ? OR account = ''`: each is a
    seek on the (basis, utc_day, provider, account) index.
    """
    same_day = (
        billed.c.basis == "billed",
        billed.c.utc_day == row.c.utc_day,
        billed.c.provider == row.c.provider,
    )
    own_account = exists().where(*same_day, billed.c.account == row.c.account)
    only_account = select(func.count(billed.c.account.distinct())).where(*same_day).scalar_subquery() == 1
    return and_(
        row.c.basis == "metered",
        or_(and_(row.c.account != "", own_account), and_(row.c.account == "", only_account)),
    )


# ---- the folder: the journal summed into the rollups ----------------------------------------


LEASE = "fold"  # the `leases` row a folder holds (folder.py); a rebuild expires it


def _scratch(name: str, columns: Sequence[tuple[str, Any]]) -> Table:
    return Table(
        name,
        MetaData(),
        *(Column(c, t, nullable=False) for c, t in columns),
        *(Column(m, BigInteger, nullable=False) for m in MEASURES),
        prefixes=["TEMPORARY"],
    )


# A fold's sums, in TEMPORARY scratch tables of the folding connection: the journal's rows
# at the covered key (`_NEW`), then each rollup's own (`_STAGED`), before any rollup is
# written (on SQLite without the write lock, which only adding them takes).
_NEW = _scratch(
    "_rollup_new", [(k, SmallInteger if k == "covered" else usage.c[k].type) for k in _COVERED_KEY]
)
_STAGED: dict[str, Table] = {
    name: _scratch(f"_fold_{name}", [(c.name, c.type) for c in table.columns if c.name not in MEASURES])
    for name, table in rollups.items()
}


def _summed_from() -> dict[str, str | None]:
    """Each daily grain's sums come from the smallest finer grain already summed (e.g. the
    provider's from the model's), or from `_NEW` (None); finer grains first."""
    source: dict[str, str | None] = {}
    for name in sorted(GRAINS, key=lambda n: -len(GRAINS[n])):
        finer = [o for o in source if set(GRAINS[name]) <= set(GRAINS[o])]
        source[name] = min(finer, key=lambda o: len(GRAINS[o])) if finer else None
    return source


@dataclass(frozen=True)
class Staged:
    """A fold's sums, staged (`stage_fold`), for `apply_fold` to add: `rows` journal rows;
    on SQLite those with ids up to `top`, left in the journal until then."""

    rows: int
    top: int | None
    emptied: tuple[str, ...]  # days where some rollup row may fall to no record


class FoldRaced(SpendledgerError, RuntimeError):
    """The journal rows a fold summed were gone when it came to remove them (a rebuild)."""


def fold(conn: Connection, *, limit: int = 200_000) -> int:
    """Sum the journal's oldest rows (up to `limit`) into every rollup and remove them, in
    the caller's transaction; returns how many rows were folded.

    `stage_fold` then `apply_fold` in one transaction; folder.py runs them in two on
    SQLite, so that a fold holds the write lock only to add its sums. A rollback leaves
    the rollups and the journal as they were: the rows wait for the next fold.
    """
    _lock(conn, exclusive=False)  # a rebuild holds it alone
    if conn.dialect.name == "sqlite":
        # take the write lock first: in WAL a transaction that read and then writes fails
        # at once (no busy wait) when another writer committed in between
        take_write_lock(conn)
    staged = stage_fold(conn, limit=limit)
    return apply_fold(conn, staged) if staged.rows else 0


def take_write_lock(conn: Connection) -> None:
    """SQLite: start the caller's transaction as a writer (waiting for the lock as any does)."""
    conn.exec_driver_sql("UPDATE rollup_pending SET id = id WHERE id < 0")


def stage_fold(conn: Connection, *, limit: int) -> Staged:
    """Sum the journal's oldest rows (up to `limit`) for every rollup into scratch tables.

    The rows are taken once: on PostgreSQL by one DELETE ... RETURNING of the rows this
    transaction locked (ids from a sequence commit out of order, so never "id <= N"), to
    be applied in the same transaction; on SQLite, whose writers are serialised and whose
    ids grow in commit order, they are read up to an id and only read, so this needs no
    write lock (the scratch tables are TEMPORARY): `apply_fold` removes them, in this
    transaction or a later one under the same lease.
    """
    _lock(conn, exclusive=False)
    for table in (_NEW, *_STAGED.values()):
        conn.execute(CreateTable(table, if_not_exists=True))
        conn.execute(delete(table))
    quote = conn.dialect.identifier_preparer.quote
    keys = ", ".join(quote(k) for k in _COVERED_KEY)
    sums = ", ".join(f"sum({quote(m)})" for m in MEASURES)
    columns = ", ".join(quote(c) for c in _JOURNAL_COLUMNS)
    top = None
    if conn.dialect.name == "postgresql":
        rows = conn.exec_driver_sql(
            "WITH taken AS (DELETE FROM rollup_pending WHERE id IN "
            f"(SELECT id FROM rollup_pending ORDER BY id LIMIT {int(limit)} FOR UPDATE SKIP LOCKED) "
            f"RETURNING {columns}), "
            f"summed AS (INSERT INTO _rollup_new ({columns}) "
            f"SELECT {keys}, {sums} FROM taken GROUP BY {keys}) "
            "SELECT count(*) FROM taken"
        ).scalar_one()
    else:
        top, rows = conn.exec_driver_sql(
            f"SELECT max(id), count(*) FROM (SELECT id FROM rollup_pending ORDER BY id LIMIT {int(limit)})"
        ).one()
        if rows:
            conn.exec_driver_sql(
                f"INSERT INTO _rollup_new ({columns}) SELECT {keys}, {sums} FROM rollup_pending "
                f"WHERE id <= ? GROUP BY {keys}",
                (top,),
            )
    if not rows:
        return Staged(0, None, ())
    for stmt in _stage_statements():
        conn.execute(stmt)
    emptied = conn.execute(select(_NEW.c.day).where(_NEW.c.records <= 0).distinct()).scalars().all()
    return Staged(int(rows), top, tuple(emptied))


def apply_fold(conn: Connection, staged: Staged) -> int:
    """Add staged sums to every rollup and (SQLite) remove their journal rows, in the
    caller's transaction, which holds the write lock; returns the rows folded."""
    if staged.top is not None:
        removed = conn.exec_driver_sql("DELETE FROM rollup_pending WHERE id <= ?", (staged.top,)).rowcount
        if removed != staged.rows:
            raise FoldRaced(f"{staged.rows} journal rows summed, {removed} left to remove")
    for stmt in _apply_statements(conn.dialect.name):
        conn.execute(stmt)
    if staged.emptied:  # rows left with no records are removed, on the days that lost some
        emptied = sorted(staged.emptied)
        months = sorted({day[:8] + "01" for day in emptied})
        for name in GRAINS:
            daily, monthly = rollups[name], rollups[MONTHLY[name]]
            for i in range(0, len(emptied), 500):
                conn.execute(delete(daily).where(daily.c.records <= 0, daily.c.day.in_(emptied[i : i + 500])))
            for i in range(0, len(months), 500):
                conn.execute(
                    delete(monthly).where(monthly.c.records <= 0, monthly.c.day.in_(months[i : i + 500]))
                )
    return staged.rows


def pending_rows(conn: Connection) -> int:
    """How many journal rows wait for the folder."""
    return int(conn.execute(select(func.count()).select_from(rollup_pending)).scalar_one())


@functools.cache
def _stage_statements() -> tuple[Executable, ...]:
    """The statements that sum `_NEW` into each rollup's scratch table: each daily grain
    from the smallest finer one summed before it, each monthly twin from its daily (built
    once: building them costs milliseconds)."""
    stmts: list[Executable] = []
    for name, finer in _summed_from().items():
        keys, month_keys = rollup_key(GRAINS[name]), rollup_key(GRAINS[name], daily=False)
        source = _NEW if finer is None else _STAGED[finer]
        daily = _STAGED[name]
        stmts.append(insert(daily).from_select([*keys, *MEASURES], _sums(source, keys)))
        month = (func.substr(daily.c.day, 1, 8) + "01").label("day")
        by_month = [month, *(daily.c[k] for k in month_keys[1:])]
        monthly = select(*by_month, *(func.sum(daily.c[m]) for m in MEASURES)).group_by(*by_month)
        stmts.append(insert(_STAGED[MONTHLY[name]]).from_select([*month_keys, *MEASURES], monthly))
    return tuple(stmts)


@functools.cache
def _apply_statements(dialect: str) -> tuple[Executable, ...]:
    """One upsert per rollup from its scratch table."""
    insert_of = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmts: list[Executable] = []
    for name, table in rollups.items():
        keys = [c.name for c in table.primary_key.columns]
        columns = [c.name for c in _STAGED[name].columns]
        stmt = insert_of(table).from_select(columns, select(_STAGED[name]).where(true()))
        stmts.append(
            stmt.on_conflict_do_update(
                index_elements=keys, set_={m: table.c[m] + stmt.excluded[m] for m in MEASURES}
            )
        )
    return tuple(stmts)


# ---- readers: the rollups as they stand -------------------------------------------------------


def current(table: Table) -> Subquery:
    """`table` as it stands: its rows UNION ALL the journal's rows not folded yet, at its
    grain's columns (a monthly twin's `day` the month's first day).

    Read it in one statement (one snapshot), summed: a record is then in the rollup or in
    the journal, never in both or neither. A key's rows may sum to no record (a removal
    not folded yet): readers that list keys keep those with `sum(records) > 0`.
    """
    return union_all(select(*table.columns), _journal_as(table)).subquery(f"{table.name}_now")


@functools.cache
def journal_of(table: Table) -> Subquery:
    """The journal's rows not folded yet, at `table`'s columns: `current(table)` less the
    rollup's own rows. A reader that groups the rollup and this apart, in one statement,
    and adds the two up by key reads what `current` holds, without the union in between
    (which kept SQLite from reading the rollup's rows straight into its GROUP BY). Built
    once per table: a statement may use it as often as it likes."""
    return _journal_as(table).subquery(f"{table.name}_pending")


def _journal_as(table: Table) -> Select[Any]:
    monthly = "utc_day" not in table.c
    pending = rollup_pending.c
    return select(
        *(
            (func.substr(pending.day, 1, 8) + "01").label("day")
            if monthly and c.name == "day"
            else pending[c.name]
            for c in table.columns
        )
    )


def holds_days(daily: Table, days: Sequence[tuple[date, date]]) -> ColumnElement[bool]:
    """Whether the daily rollup `daily` holds a row on any day of `days` (inclusive ranges),
    the journal aside: when it holds none, its monthly twin's rows of their month sum just
    that month's other days (the folder adds to both in one transaction), and a reader adds
    the journal's rows of the days it reads itself. Uncorrelated, so evaluated once per statement:
    a seek on the daily table's key (day first)."""
    within = or_(*(daily.c.day.between(a.isoformat(), b.isoformat()) for a, b in days))
    return exists().where(within)


# ---- rebuild ----------------------------------------------------------------------------------


def rebuild(conn: Connection, *, progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Recompute every rollup from `usage` and empty the journal; returns the row count of each.

    `progress(done, total)` is told after each step: the staging pass, then each table.
    The journal goes in the same transaction, the writers and the folder held off (the
    lock, alone): the records already hold everything it would have added.
    """
    steps = 1 + 2 * len(GRAINS)
    tell = progress or (lambda done, total: None)
    tell(0, steps)
    _lock(conn, exclusive=True)
    conn.execute(delete(rollup_pending))
    # a folder that summed journal rows before must not add them now: the lease it checks
    # before it writes is no longer as it left it (folder.py)
    expired = datetime(1970, 1, 1, tzinfo=UTC)
    conn.execute(update(leases).where(leases.c.name == LEASE).values(expires_at=expired))
    stage = Table(
        "_rollup_rebuild",
        MetaData(),
        *(Column(k, SmallInteger if k == "covered" else usage.c[k].type, nullable=False) for k in _STAGE_KEY),
        *(Column(m, BigInteger, nullable=False) for m in MEASURES),
        prefixes=["TEMPORARY"],
    )
    stage.create(conn)
    stage_dims = [k for k in _STAGE_KEY if k != "covered"]
    conn.execute(
        insert(stage).from_select(
            [*stage_dims, "covered", *MEASURES],
            select(
                *(usage.c[k] for k in stage_dims), literal(0), *(func.sum(usage.c[m]) for m in MEASURES)
            ).group_by(*(usage.c[k] for k in stage_dims)),
        )
    )
    # the billed days, small and indexed like rollup_provider's (basis, day, provider,
    # account): `covered` is then one index seek per row, where a look-up in the
    # unindexed stage itself walked it for every row
    billed_key = ("basis", "utc_day", "provider", "account")
    billed = Table(
        "_rollup_billed",
        MetaData(),
        *(Column(k, usage.c[k].type, nullable=False) for k in billed_key),
        PrimaryKeyConstraint(*billed_key),
        prefixes=["TEMPORARY"],
    )
    billed.create(conn)
    conn.execute(
        insert(billed).from_select(
            list(billed_key),
            select(*(stage.c[k] for k in billed_key)).where(stage.c.basis == "billed").distinct(),
        )
    )
    conn.execute(update(stage).where(covered_sql(stage, billed)).values(covered=1))
    tell(1, steps)
    counts: dict[str, int] = {}
    for name, dims in GRAINS.items():
        keys = rollup_key(dims)
        if _UNSTAGED & set(dims):
            sums = _sums(usage, [k for k in keys if k != "covered"]).subquery()
            source: Select[Any] = select(
                *(
                    case((covered_sql(sums, billed), 1), else_=0).label(k) if k == "covered" else sums.c[k]
                    for k in keys
                ),
                *(sums.c[m] for m in MEASURES),
            )
        else:
            source = _sums(stage, keys)
        counts[name] = _refill(conn, rollups[name], keys, source)
        tell(len(counts) + 1, steps)
        daily, month_keys = rollups[name], rollup_key(dims, daily=False)
        month = (func.substr(daily.c.day, 1, 8) + "01").label("day")
        by_month = [month, *(daily.c[k] for k in month_keys[1:])]
        monthly = select(*by_month, *(func.sum(daily.c[m]) for m in MEASURES)).group_by(*by_month)
        counts[MONTHLY[name]] = _refill(conn, rollups[MONTHLY[name]], month_keys, monthly)
        tell(len(counts) + 1, steps)
    stage.drop(conn)
    billed.drop(conn)
    return counts


def _refill(conn: Connection, table: Table, keys: Sequence[str], source: Select[Any]) -> int:
    conn.execute(delete(table))
    conn.execute(insert(table).from_select([*keys, *MEASURES], source))
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _sums(source: Any, keys: Sequence[str]) -> Select[Any]:
    return select(*(source.c[k] for k in keys), *(func.sum(source.c[m]).label(m) for m in MEASURES)).group_by(
        *(source.c[k] for k in keys)
    )
