"""The read side's SQL: which table answers a spend question, the statements, their sums.

`queries` owns the questions (what a period, a filter, a scope mean) and the typed rows
the pages, CLI, alerts and exports read; this module owns how they are answered. A
question is read from the smallest daily rollup whose dimensions cover its filters and
group-bys (`choose_table`), by month or in total from that grain's monthly twin for the
months inside the period, and for a month it holds in part when nothing lies on that
month's other days (`segments`), and from `usage` only when no rollup holds the
dimensions. Every table it reads has the same measure columns. A rollup is read as it
stands: its rows and the journal's not folded yet (`rollups.journal_of`), each grouped
on its own and added up by key, and a question's segments in one statement, so an
answer is one snapshot of the ledger. (Grouped over `rollups.current`'s union instead,
SQLite passed every row through a co-routine before its GROUP BY: ~1.4x the time.)

"Best available" is decided once, in rollups.py: rollups carry `covered` (a metered row
a billed one covers), and a read of `usage` applies the same rule through `covered_days`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from operator import add
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    FromClause,
    Select,
    String,
    Table,
    and_,
    cast,
    false,
    func,
    literal,
    not_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from spendledger.store import mapped, rollups
from spendledger.store.tables import GRAINS, MONTHLY, usage
from spendledger.store.tables import rollups as rollup_tables

# What a spend read sums, in the order of a report's line (queries.Line): the cost in
# nano-units, then the counts, the two cache writes added up as one (`cache_write_tokens`).
SUMS: tuple[str, ...] = (
    "cost_nanos",
    "requests",
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
    "unpriced_requests",
)
NOTHING = "(nothing)"  # stands for "no value": a filter left with it matches no record
GRANULARITIES = ("day", "week", "month", "total")
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class SpendQuestion:
    """A spend question in the store's terms: inclusive local days, filters, a grouping."""

    start: date
    end: date
    by: tuple[str, ...]
    filters: Mapping[str, tuple[str, ...]]
    granularity: str  # one of GRANULARITIES
    basis: str  # best | all | billed | metered | manual | demo


# (period or None, the group-by values..., currency) → the SUMS, in nano-units
Sums = dict[tuple[Any, ...], tuple[int, ...]]


@dataclass(frozen=True)
class Segment:
    """One read of a question: `source`'s rows of the days `start`..`end` (a monthly twin's
    rows, dated on their month's first day, of the months from `start`), taken only when
    `when` holds (uncorrelated, decided within the statement). The reads of one `part`
    are added up by key before a key that sums to no record is dropped."""

    source: FromClause  # a daily rollup, its monthly twin, the journal as the daily's rows, usage
    start: date
    end: date
    part: int
    when: ColumnElement[bool] | None = None


def choose_table(
    question: SpendQuestion, maps: mapped.Maps = mapped.NO_MAPS, conn: Connection | None = None
) -> Table:
    """The smallest daily rollup holding every column the question filters or groups by
    (an aliased or mapped dimension's expression may read more than its own, mapped.py).

    A grain whose dimensions hold another fitting grain's is never the smaller; between
    grains that do not (by project: by model or by API key), `conn` counts their monthly
    twins' rows in the question's months, a seek on their key that grows as the daily
    rows to read do (without it: the first in GRAINS).
    """
    needed = {c for d in (*question.by, *question.filters) for c in mapped.columns_of(d, maps)}
    needed -= {"basis", "currency"}
    fits = {name: set(dims) for name, dims in GRAINS.items() if needed <= set(dims)}
    least = [name for name, dims in fits.items() if not any(other < dims for other in fits.values())]
    if not least:
        return usage
    if len(least) == 1 or conn is None:
        return rollup_tables[least[0]]
    months = (question.start.replace(day=1).isoformat(), question.end.isoformat())
    twins = [rollup_tables[MONTHLY[name]] for name in least]
    counted = (select(func.count()).where(t.c.day.between(*months)).scalar_subquery() for t in twins)
    counts = conn.execute(select(*counted)).one()
    return rollup_tables[min(zip(counts, range(len(least)), least, strict=True))[2]]


def spend_sums(conn: Connection, question: SpendQuestion) -> tuple[str, Sums]:
    """The SUMS of `question` per (period, group, currency), and the table read.

    Every segment is read in one statement (one snapshot, `spend_statement`), a rollup's
    rows and the journal's grouped apart and added up here, a key kept when it sums to a
    record.
    """
    table, statement = spend_statement(conn, question)
    timed = question.granularity != "total"
    width = len(question.by) + 2 + timed  # the part, period?, group-by columns, currency
    # (part, period?, dims..., currency) → its SUMS and records, the rollup's and the journal's
    found: dict[tuple[Any, ...], tuple[int, ...]] = {}
    get = found.get
    for row in conn.execute(statement).fetchall():
        key, sums = tuple(row[:width]), tuple(row[width:])
        acc = get(key)
        found[key] = sums if acc is None else tuple(map(add, acc, sums))
    merged: Sums = {}
    for key, sums in found.items():
        if sums[-1] <= 0:  # a key that sums to no record: removals not folded yet
            continue
        at = key[1:] if timed else (None, *key[1:])
        acc = merged.get(at)
        merged[at] = sums[:-1] if acc is None else tuple(map(add, acc, sums[:-1]))
    return table.name, merged


def spend_statement(conn: Connection, question: SpendQuestion) -> tuple[Table, Any]:
    """The table that answers `question` and the one statement that reads it: per part,
    period, group and currency, the part first, then the SUMS and the records.

    Dimensions are read as reports name them: aliases, teams and tags applied (mapped.py).
    """
    dims = (*question.by, *question.filters)
    maps = mapped.load_maps(conn) if mapped.needs_maps(dims) else mapped.NO_MAPS
    table = choose_table(question, maps, conn)
    statements = [_statement(question, segment, maps) for segment in segments(question, table)]
    return table, statements[0] if len(statements) == 1 else union_all(*statements)


def segments(question: SpendQuestion, table: Table) -> list[Segment]:
    """The reads that answer the question: a rollup's rows and the journal's, in parts.

    By day or week, the daily table. By month or in total, the whole months inside the
    period come from the grain's monthly twin; a month the period holds in part comes
    from the twin too when the daily table holds no row on that month's other days (the
    period up to today, a ledger's first month), else from the daily table: both reads
    are in the statement, each under its side of that one condition. The twin holds the
    sums of the daily table's rows (the folder adds to both in one transaction), so it
    then holds those of the period's days; the journal's rows are read by their days.
    """
    start, end = question.start, question.end
    if table is usage:
        return [Segment(usage, start, end, 0)]
    journal = rollups.journal_of(table)
    if question.granularity in ("day", "week"):
        return [Segment(table, start, end, 0), Segment(journal, start, end, 0)]
    monthly = rollup_tables[MONTHLY[table.name]]
    whole_from = start if start.day == 1 else _next_month(start)
    whole_to = end if _next_month(end) - _ONE_DAY == end else end.replace(day=1) - _ONE_DAY
    parts = []
    if whole_from <= whole_to:
        parts += [Segment(monthly, whole_from, whole_to, 0), Segment(journal, whole_from, whole_to, 0)]
    edges = []
    if start.day != 1:
        edges.append((start, min(end, _next_month(start) - _ONE_DAY)))
    if whole_to < end:
        edges.append((max(start, end.replace(day=1)), end))
    for n, (first, last) in enumerate(dict.fromkeys(edges), 1):
        month, month_end = first.replace(day=1), _next_month(first) - _ONE_DAY
        outside = [(month, first - _ONE_DAY)] if first > month else []
        outside += [(last + _ONE_DAY, month_end)] if last < month_end else []
        held = rollups.holds_days(table, outside)
        parts.append(Segment(monthly, month, month, n, not_(held)))
        parts.append(Segment(table, first, last, n, held))
        parts.append(Segment(journal, first, last, n))
    return parts


class WeekStart(FunctionElement[str]):
    """The Monday of a 'YYYY-MM-DD' day, as 'YYYY-MM-DD': weeks are grouped in the database."""

    type = String()
    inherit_cache = True


@compiles(WeekStart, "sqlite")
def _week_start_sqlite(element: WeekStart, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)}, 'weekday 0', '-6 days')"


@compiles(WeekStart, "postgresql")
def _week_start_postgresql(element: WeekStart, compiler: Any, **kw: Any) -> str:
    return (
        f"to_char(date_trunc('week', CAST({compiler.process(element.clauses, **kw)} AS date)), 'YYYY-MM-DD')"
    )


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _basis_condition(table: FromClause, basis: str) -> ColumnElement[bool] | None:
    if basis == "all":
        return None
    if basis != "best":
        return table.c.basis == basis
    if table is not usage:
        return table.c.covered == 0  # rollups mark the metered rows billed ones cover
    covered = tuple_(usage.c.utc_day, usage.c.provider, usage.c.account).in_(covered_days())
    return (usage.c.basis != "metered") | ~covered


def covered_days() -> Select[Any]:
    """The (UTC day, provider, account) a bill covers, `rollups.covered_sql`'s rule as one
    set: a metered record is covered when its triple is in it. A record of an account is
    covered by a bill of that account; one of no account ('') when its provider has
    exactly one billed account that day. Read once per question (the billed days are
    few), where a test per record cost ~3 µs each (bench/allocation.py, tag questions)."""
    now = rollups.current(rollup_tables["rollup_provider"])
    key = (now.c.utc_day, now.c.provider, now.c.account)
    billed = (
        select(*key)
        .where(now.c.basis == "billed")
        .group_by(*key)
        .having(func.sum(now.c.records) > 0)
        .subquery()
    )
    own = select(billed.c.utc_day, billed.c.provider, billed.c.account).where(billed.c.account != "")
    only = (
        select(billed.c.utc_day, billed.c.provider, literal("").label("account"))
        .group_by(billed.c.utc_day, billed.c.provider)
        .having(func.count(billed.c.account) == 1)
    )
    return union_all(own, only)  # type: ignore[return-value]


def _statement(question: SpendQuestion, segment: Segment, maps: mapped.Maps) -> Any:
    """The segment's SUMS, grouped, tagged with its part, the records summed last (on
    `usage`: its rows counted)."""
    table = segment.source
    period_col: Any = None
    if question.granularity == "day":
        period_col = table.c.day
    elif question.granularity == "week":
        period_col = WeekStart(table.c.day)
    elif question.granularity == "month":
        period_col = func.substr(table.c.day, 1, 7)
    group_cols: list[Any] = [mapped.expression(table, d, maps) for d in question.by]
    if period_col is not None:
        group_cols.insert(0, period_col.label("period"))
    group_cols.append(table.c.currency.label("cur"))
    records = func.count() if table is usage else _sum(table.c.records)
    where = conditions(question, table, segment.start, segment.end, maps)
    if segment.when is not None:
        where.append(segment.when)
    return (
        select(literal(segment.part).label("part"), *group_cols, *_sums(table), records.label("records"))
        .where(and_(*where))
        .group_by(*group_cols)
    )


def _sum(column: Any) -> Any:
    """A column's sum as an integer on both databases (PostgreSQL sums BIGINTs as NUMERIC)."""
    return cast(func.sum(column), BigInteger)


@functools.cache
def _sums(table: FromClause) -> tuple[Any, ...]:
    """The SUMS' columns on `table`, built once per table (each read used to spend ~1 ms here)."""
    c = table.c
    writes = _sum(c.cache_write_5m_tokens + c.cache_write_1h_tokens)  # one sum: a column less to sort
    return tuple((writes if m == "cache_write_tokens" else _sum(c[m])).label(m) for m in SUMS)


def conditions(
    question: SpendQuestion, table: FromClause, start: date, end: date, maps: mapped.Maps = mapped.NO_MAPS
) -> list[ColumnElement[bool]]:
    """The days, filters and basis of `question` on `table`, as WHERE conditions; a filtered
    dimension read through `maps` (aliases, teams, tags)."""
    found: list[ColumnElement[bool]] = [table.c.day >= start.isoformat(), table.c.day <= end.isoformat()]
    for dim, wanted in question.filters.items():
        values = ["" if v in ("", "-", "none") else v for v in wanted if v is not NOTHING]
        column = mapped.expression(table, dim, maps)
        # one value as `=`: SQLite then uses a partial index on it (`basis = 'manual'`)
        found.append(column == values[0] if len(values) == 1 else column.in_(values) if values else false())
    basis_cond = _basis_condition(table, question.basis)
    if basis_cond is not None:
        found.append(basis_cond)
    return found


@dataclass(frozen=True)
class UnpricedSums:
    provider: str
    model: str
    records: int
    requests: int
    input_tokens: int
    output_tokens: int
    first_seen: datetime  # as stored (naive UTC on SQLite)
    last_seen: datetime


def unpriced_sums(conn: Connection) -> Iterator[UnpricedSums]:
    """Per provider and model, the records waiting for a price, most tokens first."""
    stmt = (
        select(
            usage.c.provider,
            usage.c.model,
            func.count().label("records"),
            func.sum(usage.c.requests).label("requests"),
            func.sum(usage.c.input_tokens).label("input_tokens"),
            func.sum(usage.c.output_tokens).label("output_tokens"),
            func.min(usage.c.start).label("first_seen"),
            func.max(usage.c.start).label("last_seen"),
        )
        .where(usage.c.pricing_status == "unpriced")
        .group_by(usage.c.provider, usage.c.model)
        .order_by(func.sum(usage.c.input_tokens + usage.c.output_tokens).desc())
    )
    for r in conn.execute(stmt):
        yield UnpricedSums(
            r.provider,
            r.model,
            int(r.records),
            int(r.requests),
            int(r.input_tokens),
            int(r.output_tokens),
            r.first_seen,
            r.last_seen,
        )


def has_basis(conn: Connection, basis: str) -> bool:
    """Whether any record of `basis` (e.g. demo) is in the ledger (the smallest rollup read)."""
    now = rollups.current(rollup_tables["rollup_provider_month"])
    return bool(conn.execute(select(func.sum(now.c.records)).where(now.c.basis == basis)).scalar())
