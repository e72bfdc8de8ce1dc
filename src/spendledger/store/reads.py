"""The read side's SQL: which table answers a spend question, the statements, their sums.

`queries` owns the questions (what a period, a filter, a scope mean) and the typed rows
the pages, CLI, alerts and exports read; this module owns how they are answered. A
question is read from the smallest daily rollup whose dimensions cover its filters and
group-bys (`choose_table`), by month or in total from that grain's monthly twin for the
whole months inside the period (`segments`), and from `usage` only when no rollup holds
the dimensions. Every table it reads has the same measure columns. A rollup is read as it
stands (`rollups.current`: its rows and the journal's not folded yet), and a question's
segments in one statement, so an answer is one snapshot of the ledger.

"Best available" is decided once, in rollups.py: rollups carry `covered` (a metered row
a billed one covers), and a read of `usage` applies the same rule through `covered_days`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    FromClause,
    Select,
    String,
    Table,
    and_,
    false,
    func,
    literal,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from spendledger.store import mapped, rollups
from spendledger.store.tables import GRAINS, MEASURES, MONTHLY, usage
from spendledger.store.tables import rollups as rollup_tables

# the measures a report sums (tables.MEASURES less the audio split and record counts)
SUMMED: tuple[str, ...] = tuple(
    m for m in MEASURES if m not in ("audio_input_tokens", "audio_output_tokens", "records")
)
NOTHING = "(nothing)"  # stands for "no value": a filter left with it matches no record
GRANULARITIES = ("day", "week", "month", "total")


@dataclass(frozen=True)
class SpendQuestion:
    """A spend question in the store's terms: inclusive local days, filters, a grouping."""

    start: date
    end: date
    by: tuple[str, ...]
    filters: Mapping[str, tuple[str, ...]]
    granularity: str  # one of GRANULARITIES
    basis: str  # best | all | billed | metered | manual | demo


# (period or None, the group-by values..., currency) → the SUMMED measures, in nano-units
Sums = dict[tuple[Any, ...], list[int]]


def choose_table(question: SpendQuestion, maps: mapped.Maps = mapped.NO_MAPS) -> Table:
    """The smallest daily rollup holding every column the question filters or groups by
    (an aliased or mapped dimension's expression may read more than its own, mapped.py)."""
    needed = {c for d in (*question.by, *question.filters) for c in mapped.columns_of(d, maps)}
    needed -= {"basis", "currency"}
    for name, dims in GRAINS.items():
        if needed <= set(dims):
            return rollup_tables[name]
    return usage


def spend_sums(conn: Connection, question: SpendQuestion) -> tuple[str, Sums]:
    """The summed measures of `question` per (period, group, currency), and the table read.

    Dimensions are read as reports name them: aliases, teams and tags applied (mapped.py).
    """
    dims = (*question.by, *question.filters)
    maps = mapped.load_maps(conn) if mapped.needs_maps(dims) else mapped.NO_MAPS
    table = choose_table(question, maps)
    merged: Sums = {}
    width = len(question.by) + 1  # the group-by columns and the currency
    timed = question.granularity != "total"
    statements: list[Any] = []
    for part, start, end in segments(question, table):
        source: FromClause = usage if part is usage else rollups.current(part)
        statements.append(_statement(question, source, start, end, maps))
    statement: Any = statements[0] if len(statements) == 1 else union_all(*statements)
    for row in conn.execute(statement):  # period?, dims..., currency, sums...
        key = tuple(row[: width + 1]) if timed else (None, *row[:width])
        measures = row[width + 1 :] if timed else row[width:]
        acc = merged.get(key)
        if acc is None:
            merged[key] = [int(v or 0) for v in measures]
        else:
            for i, v in enumerate(measures):
                acc[i] += int(v or 0)
    return table.name, merged


def segments(question: SpendQuestion, table: Table) -> list[tuple[Table, date, date]]:
    """The (table, first day, last day) reads that answer the question.

    By month or in total, the whole months inside the period come from the grain's
    monthly twin and only the days before and after them from the daily table.
    """
    whole = [(table, question.start, question.end)]
    if table is usage or question.granularity in ("day", "week"):
        return whole
    first = question.start if question.start.day == 1 else _next_month(question.start)
    after = _next_month(question.end)
    last = after - timedelta(days=1)
    if question.end != last:
        after = question.end.replace(day=1)
    if first >= after:  # no whole month inside
        return whole
    parts = [(rollup_tables[MONTHLY[table.name]], first, after - timedelta(days=1))]
    if question.start < first:
        parts.append((table, question.start, first - timedelta(days=1)))
    if after <= question.end:
        parts.append((table, after, question.end))
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


def _statement(question: SpendQuestion, table: FromClause, start: date, end: date, maps: mapped.Maps) -> Any:
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
    statement = (
        select(*group_cols, *(func.sum(table.c[m]).label(m) for m in SUMMED))
        .where(and_(*conditions(question, table, start, end, maps)))
        .group_by(*group_cols)
    )
    # a rollup's key may sum to no record (a removal the folder has not folded yet)
    return statement if table is usage else statement.having(func.sum(table.c.records) > 0)


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
