"""Rollups, kept current in the writer's transaction and rebuildable from `usage`.

A write computes the change it makes to each rollup row (a delta per measure), then
applies it with one multi-row INSERT ... ON CONFLICT DO UPDATE per table and chunk.
Rows are sorted by key so that concurrent PostgreSQL writers lock them in one order.

Every grain has a daily table and a monthly twin (tables.MONTHLY). Each rollup row
carries `covered`: 1 on metered rows that billed records cover, so "best available" is
a plain `covered = 0` on any rollup. The rule, written here once (`_is_covered` in
Python, `covered_sql` in SQL): a provider bills by UTC day, so a bucket covers the
instants it covers, in whatever zone the ledger shows days (`utc_day`, not `day`); a
metered record is covered on its UTC day by a billed record of its own account, or,
when it has no account (members.py found none), when its provider has exactly one
billed account that day; otherwise it counts. Coverage changes when billed records
arrive for a day (or leave it); the metered rows of that day then move from covered = 0
to 1 (or back) in every table, in the same transaction.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
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
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateTable
from sqlalchemy.sql.base import Executable

from spendledger.store import bulk
from spendledger.store.tables import GRAINS, MEASURES, MONTHLY, rollup_key, rollups, usage

# Every dimension any grain holds: deltas are gathered once at this grain, then
# projected onto each rollup.
_ALL_DIMS: tuple[str, ...] = tuple(dict.fromkeys(d for dims in GRAINS.values() for d in dims))
FINE_KEY: tuple[str, ...] = ("day", "utc_day", *_ALL_DIMS, "basis", "currency")
_COVERED_KEY = rollup_key(_ALL_DIMS)  # FINE_KEY with `covered` before the currency
_ADD = {m: f"{{t}}.{m} + excluded.{m}" for m in MEASURES}

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
_BILLED_ROLLUP = rollups["rollup_provider"]  # the smallest table that knows the billed days


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


def _project(delta: Delta, key_of: Callable[[tuple[Any, ...]], Any]) -> Delta:
    """The delta summed at a coarser key (`key_of` picks its parts from a finer key)."""
    out: Delta = {}
    get = out.get
    for fine, values in delta.items():
        key = key_of(fine)
        acc = get(key)
        out[key] = values if acc is None else list(map(add, acc, values))
    return out


def _month_of(key: tuple[Any, ...]) -> tuple[Any, ...]:
    """A daily rollup key's monthly twin: the month's first day, without `utc_day`."""
    return (key[0][:8] + "01", *key[2:])


def apply(conn: Connection, delta: Delta) -> None:
    """Apply a delta (at FINE_KEY) to every rollup; rows left with no records are removed."""
    if not delta:
        return
    if conn.dialect.name == "postgresql":
        # coverage is read, then written: one writer at a time decides it (SQLite
        # writers are serialised already)
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7240518)")
    billed_days = {(k[_UTC_DAY], k[_PROVIDER], k[_ACCOUNT]) for k in delta if k[_BASIS] == "billed"}
    before = _coverage(conn, billed_days)
    metered: Delta = {}
    others: Delta = {}
    for key, values in delta.items():
        (metered if key[_BASIS] == "metered" else others)[key] = values
    _upsert(conn, {(*k[:-1], 0, k[-1]): v for k, v in others.items()})
    if billed_days:
        _move_coverage(conn, before, _coverage(conn, billed_days), billed_days)
    if metered:
        covered = _is_covered(_coverage(conn, {(k[_UTC_DAY], k[_PROVIDER], "") for k in metered}))
        _upsert(
            conn,
            {
                (*k[:-1], covered(k[_UTC_DAY], k[_PROVIDER], k[_ACCOUNT]), k[-1]): v
                for k, v in metered.items()
            },
        )
    if any(values[_RECORDS] < 0 for values in delta.values()):
        for table in rollups.values():
            conn.execute(delete(table).where(table.c.records <= 0))


def _upsert(conn: Connection, delta: Delta) -> None:
    """Add a delta at _COVERED_KEY to every table.

    The grains without a user are projected from the delta summed at _STAGE_KEY (a
    batch's calls share far fewer keys once the user is left out), the others from the
    delta itself; the projections run at C speed (itemgetter, map), as they are a large
    share of a batch's time.
    """
    if not delta:
        return
    staged: Delta | None = None
    for name, dims in GRAINS.items():
        keys = rollup_key(dims)
        if _UNSTAGED & set(dims):
            source, source_key = delta, _COVERED_KEY
        else:
            if staged is None:
                staged = _project(delta, itemgetter(*(_COVERED_KEY.index(k) for k in _STAGE_KEY)))
            source, source_key = staged, _STAGE_KEY
        daily = _project(source, itemgetter(*(source_key.index(k) for k in keys)))
        _add(conn, rollups[name], keys, daily)
        _add(conn, rollups[MONTHLY[name]], rollup_key(dims, daily=False), _project(daily, _month_of))


def _add(conn: Connection, table: Table, keys: tuple[str, ...], delta: Delta) -> None:
    columns = (*keys, *MEASURES)
    rows = [
        dict(zip(columns, (*key, *values), strict=True))
        for key, values in sorted(delta.items())
        if any(values)
    ]
    bulk.upsert(conn, table, rows, conflict=keys, update=_ADD)


# ---- coverage: which metered rows billed records replace -------------------------------------


def _coverage(conn: Connection, days: AbstractSet[tuple[str, str, str]]) -> Coverage:
    """The billed (utc_day, provider, account)s among the UTC days and providers of `days`."""
    if not days:
        return set()
    t = _BILLED_ROLLUP
    pairs = sorted({(day, provider) for day, provider, _ in days})
    found: Coverage = set()
    for i in range(0, len(pairs), 500):
        rows = conn.execute(
            select(t.c.utc_day, t.c.provider, t.c.account)
            .where(
                t.c.basis == "billed",
                t.c.records > 0,
                tuple_(t.c.utc_day, t.c.provider).in_(pairs[i : i + 500]),
            )
            .distinct()
        )
        found.update((r.utc_day, r.provider, r.account) for r in rows)
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


def _move_coverage(
    conn: Connection, before: Coverage, after: Coverage, billed_days: AbstractSet[tuple[str, str, str]]
) -> None:
    """Move the metered rows whose coverage changed to their new `covered` value."""
    was, now = _is_covered(before), _is_covered(after)
    flips: dict[int, list[tuple[str, str, str]]] = {0: [], 1: []}  # new value -> (utc_day, provider, account)
    for day, provider in sorted({(d, p) for d, p, _ in billed_days}):
        accounts = {a for d, p, a in before | after if (d, p) == (day, provider)} | {""}
        for account in sorted(accounts):
            old, new = was(day, provider, account), now(day, provider, account)
            if old != new:
                flips[new].append((day, provider, account))
    for new, where in flips.items():
        for i in range(0, len(where), 300):
            _flip(conn, where[i : i + 300], old=1 - new, new=new)


def _flip(conn: Connection, where: list[tuple[str, str, str]], *, old: int, new: int) -> None:
    for name, dims in GRAINS.items():
        daily, keys = rollups[name], rollup_key(dims)
        condition = and_(
            daily.c.basis == "metered",
            daily.c.covered == old,
            tuple_(daily.c.utc_day, daily.c.provider, daily.c.account).in_(where),
        )
        rows = conn.execute(
            select(*(daily.c[k] for k in keys), *(daily.c[m] for m in MEASURES)).where(condition)
        )
        moved: Delta = {}
        at = keys.index("covered")
        for row in rows:
            key, values = tuple(row[: len(keys)]), tuple(row[len(keys) :])
            for cover, sign in ((old, -1), (new, 1)):
                month_key = _month_of((*key[:at], cover, *key[at + 1 :]))
                acc = moved.get(month_key)
                signed = [sign * v for v in values]
                moved[month_key] = signed if acc is None else list(map(add, acc, signed))
        if not moved:
            continue
        conn.execute(update(daily).where(condition).values(covered=new))
        _add(conn, rollups[MONTHLY[name]], rollup_key(dims, daily=False), moved)
    for name in GRAINS:
        monthly = rollups[MONTHLY[name]]
        conn.execute(delete(monthly).where(monthly.c.records <= 0))


def covered_sql(row: Any, billed: Any) -> Any:
    """`_is_covered` in SQL: `row` (metered) has a billed row in `billed` that covers it.

    `billed` is a table with basis, utc_day, provider and account (a daily rollup, or
    the rebuild's table of billed days). Two branches rather than one `account = ? OR
    account = ''`: each is a seek on the (basis, utc_day, provider, account) index.
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


# ---- new events: summed by the database ---------------------------------------------------


_NEW = Table(
    "_rollup_new",
    MetaData(),
    *(Column(k, SmallInteger if k == "covered" else usage.c[k].type, nullable=False) for k in _COVERED_KEY),
    *(Column(m, BigInteger, nullable=False) for m in MEASURES),
    prefixes=["TEMPORARY"],
)


def add_inserted(
    conn: Connection, ids: Sequence[int], *, billed_days: AbstractSet[tuple[str, str, str]] = frozenset()
) -> None:
    """Add records just inserted (their ids) to every rollup, summed by the database.

    The new rows are summed once at the finest key into a scratch table, marked covered
    there in one pass, and every table is summed from it with one INSERT ... SELECT ...
    GROUP BY ... ON CONFLICT: the work stays in C. Metered rows take their `covered` from
    the billed rows of rollup_provider; new billed rows must not come with metered ones
    (the sync writes billed alone) and name their (day, provider, account)s in
    `billed_days`, whose metered rows then move as coverage changes.
    """
    if not ids:
        return
    before = _coverage(conn, billed_days)
    lo, hi = min(ids), max(ids)
    if hi - lo + 1 == len(ids):  # SQLite's usual case: one writer, consecutive ids
        selections = [usage.c.id.between(lo, hi)]
    else:
        ordered = sorted(ids)
        selections = [usage.c.id.in_(ordered[i : i + 5000]) for i in range(0, len(ordered), 5000)]
    conn.execute(CreateTable(_NEW, if_not_exists=True))
    fine = [k for k in _COVERED_KEY if k != "covered"]
    for where in selections:
        conn.execute(delete(_NEW))
        conn.execute(
            insert(_NEW).from_select(
                [*fine, "covered", *MEASURES],
                select(*(usage.c[k] for k in fine), literal(0), *(func.sum(usage.c[m]) for m in MEASURES))
                .where(where)
                .group_by(*(usage.c[k] for k in fine)),
            )
        )
        for stmt in _from_new_statements(conn.dialect.name):
            conn.execute(stmt)
    if billed_days:
        _move_coverage(conn, before, _coverage(conn, billed_days), billed_days)


@functools.cache
def _from_new_statements(dialect: str) -> tuple[Executable, ...]:
    """The statements that mark `_rollup_new` covered and add it to every rollup: the same
    for every batch, so built once per dialect (building them cost ~10 ms a batch)."""
    billed = _BILLED_ROLLUP.alias("billed")
    stmts: list[Executable] = [update(_NEW).where(covered_sql(_NEW, billed)).values(covered=1)]
    for name, dims in GRAINS.items():
        keys, month_keys = rollup_key(dims), rollup_key(dims, daily=False)
        stmts.append(_add_select(dialect, rollups[name], keys, _sums(_NEW, keys).where(true())))
        month = (func.substr(_NEW.c.day, 1, 8) + "01").label("day")
        by_month = [month, *(_NEW.c[k] for k in month_keys[1:])]
        sums = (func.sum(_NEW.c[m]) for m in MEASURES)
        monthly = select(*by_month, *sums).where(true()).group_by(*by_month)
        stmts.append(_add_select(dialect, rollups[MONTHLY[name]], month_keys, monthly))
    return tuple(stmts)


def _add_select(dialect: str, table: Table, keys: Sequence[str], source: Select[Any]) -> Executable:
    insert_of = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert_of(table).from_select([*keys, *MEASURES], source)
    return stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={m: table.c[m] + stmt.excluded[m] for m in MEASURES},
    )


# ---- rebuild ----------------------------------------------------------------------------------


def rebuild(conn: Connection, *, progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Recompute every rollup from `usage`; returns the row count of each.

    `progress(done, total)` is told after each step: the staging pass, then each table.
    """
    steps = 1 + 2 * len(GRAINS)
    tell = progress or (lambda done, total: None)
    tell(0, steps)
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
