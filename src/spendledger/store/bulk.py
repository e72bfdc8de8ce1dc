"""Multi-row INSERT ... ON CONFLICT statements sent straight to the driver.

SQLAlchemy's per-parameter processing costs more than SQLite's own insert (profiled:
~60 % of a batch), so the hot write paths build one multi-row statement per chunk and
hand the driver plain values. Values are converted here, the one place that knows how
each database stores a timestamp, a JSON document and a boolean; the formats match
SQLAlchemy's, so rows written here read back through SQLAlchemy unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from itertools import chain
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import JSON, Boolean, Connection, DateTime, Table

_MAX_PARAMS = 30_000  # below SQLite's 32 766 and PostgreSQL's 65 535 bind parameters


def _sqlite_time(value: datetime) -> str:
    if value.tzinfo is UTC:  # the rows' usual case: the text before the "+00:00"
        return value.isoformat(" ", "microseconds")[:26]
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")  # SQLAlchemy's SQLite format, 10x faster than strftime


_to_json = json.JSONEncoder(separators=(",", ":")).encode  # one encoder: dumps() builds one per call


def _json(value: Any) -> str | None:
    """A JSON document as text: orjson (~20x faster: tags are a large share of a billing
    page's write), or the standard encoder for what orjson refuses (integers past 64 bits,
    keys that are not text), which reads back the same."""
    if value is None:
        return None
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return _to_json(value)


def _memo_last(convert: Any) -> Any:
    """`convert`, remembering its last answer: a batch repeats values (written_at, a bucket's start)."""
    last: list[Any] = [object(), None]

    def memoised(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, convert(value)
        return last[1]

    return memoised


def _converters(conn: Connection, table: Table, columns: Sequence[str]) -> list[Any]:
    sqlite = conn.dialect.name == "sqlite"
    out: list[Any] = []
    for name in columns:
        col_type = table.c[name].type
        if isinstance(col_type, JSON):
            out.append(_json)
        elif sqlite and isinstance(col_type, DateTime):
            out.append(_memo_last(lambda v: None if v is None else _sqlite_time(v)))
        elif sqlite and isinstance(col_type, Boolean):
            out.append(lambda v: None if v is None else int(v))
        else:
            out.append(None)
    return out


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    conflict: Sequence[str],
    conflict_where: str = "",
    update: Mapping[str, str] | None = None,
    returning: Sequence[str] = (),
    claim: tuple[str, str] | None = None,
) -> list[Any]:
    """Insert `rows`; on a conflict on `conflict` do nothing, or set `update` (column → SQL).

    `conflict_where` names a partial unique index by its condition (SQL), e.g.
    "key_hash IS NOT NULL"; an empty `conflict` does nothing on any conflict.

    `claim` (PostgreSQL only), a (table, column): a row is inserted only if its value of
    `column` could be inserted into that table's unique `column` first, i.e. no other
    row claimed it: a key unique across the partitions of a partitioned table.

    In `update` expressions, `{t}` is the table and `excluded` the proposed row, e.g.
    {"cost_nanos": "{t}.cost_nanos + excluded.cost_nanos"}. With `returning`, a tuple of
    those columns' values for each row actually inserted or updated is returned, as the
    driver gives them (SQLite gives timestamps as text).
    """
    if not rows:
        return []
    columns = list(rows[0].keys())
    quote = conn.dialect.identifier_preparer.quote
    table_name = quote(table.name)
    conflict_sql = f" ON CONFLICT ({', '.join(quote(c) for c in conflict)}) " if conflict else " ON CONFLICT "
    if conflict_where:
        conflict_sql += f"WHERE {conflict_where} "
    if update:
        sets = ", ".join(f"{quote(c)} = {expr.format(t=table_name)}" for c, expr in update.items())
        conflict_sql += f"DO UPDATE SET {sets}"
    else:
        conflict_sql += "DO NOTHING"
    tail = f" RETURNING {', '.join(quote(c) for c in returning)}" if returning else ""
    values_of = itemgetter(*columns)
    if conn.dialect.name == "postgresql":
        values = map(values_of, rows) if len(columns) > 1 else ((values_of(row),) for row in rows)
        return _upsert_by_copy(conn, table, values, columns, conflict_sql + tail, bool(returning), claim)
    if claim is not None:
        raise ValueError("claim is for PostgreSQL's partitioned tables")
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    json_cast = "::json" if conn.dialect.name == "postgresql" else ""
    placeholder = (
        "("
        + ", ".join(marker + (json_cast if isinstance(table.c[c].type, JSON) else "") for c in columns)
        + ")"
    )
    head = f"INSERT INTO {table_name} ({', '.join(quote(c) for c in columns)}) VALUES "
    converters = [(i, f) for i, f in enumerate(_converters(conn, table, columns)) if f is not None]
    per_chunk = max(1, _MAX_PARAMS // len(columns))
    results: list[Any] = []
    for start in range(0, len(rows), per_chunk):
        chunk = rows[start : start + per_chunk]
        params = tuple(_flat_values(chunk, values_of, len(columns), converters))
        sql = head + ", ".join([placeholder] * len(chunk)) + conflict_sql + tail
        result = conn.exec_driver_sql(sql, params)
        if returning:
            results.extend(map(tuple, result.fetchall()))
    return results


def _flat_values(
    chunk: Sequence[Mapping[str, Any]], values_of: Any, width: int, converters: list[tuple[int, Any]]
) -> list[Any]:
    """The chunk's values, row after row, converted."""
    if width == 1:
        return _flat([(values_of(row),) for row in chunk], 1, converters)
    return _flat(list(map(values_of, chunk)), width, converters)


def _flat(values: Sequence[tuple[Any, ...]], width: int, converters: list[tuple[int, Any]]) -> list[Any]:
    """Rows of `width` values, flattened and converted: each converted column is a slice of
    the flat list, rewritten whole, so the per-value work stays in C (~30 values a row).
    A column of times or booleans is converted once per distinct value (a billing page's
    thousands of rows share a few dozen bucket bounds); JSON, whose 1 and true are equal
    keys, value by value."""
    flat = list(chain.from_iterable(values))
    for i, convert in converters:
        column = flat[i::width]
        if convert is _json:
            flat[i::width] = list(map(convert, column))
        else:
            converted = {value: convert(value) for value in set(column)}
            flat[i::width] = list(map(converted.__getitem__, column))
    return flat


def _upsert_by_copy(
    conn: Connection,
    table: Table,
    values: Iterable[tuple[Any, ...]],
    columns: Sequence[str],
    conflict_tail: str,
    returning: bool,
    claim: tuple[str, str] | None,
) -> list[Any]:
    """PostgreSQL: COPY into a temporary twin of `table`, then one INSERT ... SELECT.

    psycopg parses a statement's placeholders in Python (seconds for a 30 000-parameter
    statement); COPY streams rows at ~115 k/s instead.
    """
    quote = conn.dialect.identifier_preparer.quote
    stage = quote(f"_stage_{table.name}")
    cols = ", ".join(quote(c) for c in columns)
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} "
        f"(LIKE {quote(table.name)} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    conn.exec_driver_sql(f"TRUNCATE {stage}")
    json_columns = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, JSON)]
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f"COPY {stage} ({cols}) FROM STDIN") as copy:
            for row in values:
                if json_columns:
                    converted = list(row)
                    for i in json_columns:
                        converted[i] = _json(converted[i])
                    copy.write_row(converted)
                else:
                    copy.write_row(row)
    finally:
        cursor.close()
    head, where = "", ""
    if claim is not None:  # claim the rows' keys, then insert the rows whose claim held
        claims, column = quote(claim[0]), quote(claim[1])
        head = (
            f"WITH claimed AS (INSERT INTO {claims} ({column}) SELECT {column} FROM {stage} "
            f"ON CONFLICT DO NOTHING RETURNING {column}) "
        )
        where = f" WHERE {column} IN (SELECT {column} FROM claimed)"
    result = conn.exec_driver_sql(
        f"{head}INSERT INTO {quote(table.name)} ({cols}) SELECT {cols} FROM {stage}{where}{conflict_tail}"
    )
    return [tuple(r) for r in result] if returning else []


def _tuples(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> Iterable[tuple[Any, ...]]:
    """Each row's values of `columns`, as tuples."""
    if not columns:
        return (() for _ in rows)
    get = itemgetter(*columns)
    return map(get, rows) if len(columns) > 1 else ((get(row),) for row in rows)


def insert_values(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    values: Sequence[tuple[Any, ...]],
    *,
    conflict: Sequence[str],
) -> Sequence[int]:
    """Insert rows given as tuples in `columns` order (Python values, as `upsert` takes
    them), skipping those that conflict on `conflict`; returns the ids of those inserted.

    The bulk writers' form: no dict per row. SQLite: multi-row statements with no
    RETURNING (each row read back is a step of the driver, which hands the GIL to the
    sync's reading thread and waits to get it back); its one writer gives the rows it
    inserted the last ids, consecutively. PostgreSQL: `upsert`'s COPY.
    """
    if not values:
        return []
    quote = conn.dialect.identifier_preparer.quote
    on_conflict = f" ON CONFLICT ({', '.join(quote(c) for c in conflict)}) DO NOTHING"
    if conn.dialect.name == "postgresql":
        returned = _upsert_by_copy(conn, table, values, columns, on_conflict + " RETURNING id", True, None)
        return [i for (i,) in returned]
    width = len(columns)
    placeholder = "(" + ", ".join("?" * width) + ")"
    head = f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) VALUES "
    converters = [(i, f) for i, f in enumerate(_converters(conn, table, columns)) if f is not None]
    per_chunk = max(1, _MAX_PARAMS // width)
    inserted = top = 0
    for start in range(0, len(values), per_chunk):
        chunk = values[start : start + per_chunk]
        sql = head + ", ".join([placeholder] * len(chunk)) + on_conflict
        result = conn.exec_driver_sql(sql, tuple(_flat(chunk, width, converters)))
        if result.rowcount:  # the id of the last row inserted: the largest
            inserted, top = inserted + result.rowcount, int(result.lastrowid)
    return range(top - inserted + 1, top + 1) if inserted else []


def insert_new_sqlite(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    conflict: Sequence[str],
    conflict_where: str = "",
) -> range:
    """SQLite: insert `rows`, skipping those that conflict on `conflict`, with one prepared
    statement run for every row (executemany: one statement per batch, the binding in C,
    ~25 % faster than multi-row statements); returns the ids of the rows inserted.

    SQLite has one writer at a time, and a new row takes the id after the largest: the
    rows this statement inserted hold the last `rowcount` ids, consecutively.
    """
    if not rows:
        return range(0)
    # the columns sent as they are first, then those converted (bulk's SQLite formats):
    # each row's values are then two tuples joined, every step in C but the converters
    names = list(rows[0].keys())
    converters = dict(zip(names, _converters(conn, table, names), strict=True))
    plain = [c for c in names if converters[c] is None]
    converted = [c for c in names if converters[c] is not None]
    columns = plain + converted
    quote = conn.dialect.identifier_preparer.quote
    where = f" WHERE {conflict_where}" if conflict_where else ""
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join('?' * len(columns))}) "
        f"ON CONFLICT ({', '.join(quote(c) for c in conflict)}){where} DO NOTHING"
    )
    values: Iterable[tuple[Any, ...]] = _tuples(rows, plain)
    if converted:
        by_column = [map(converters[c], map(itemgetter(c), rows)) for c in converted]
        values = map(tuple.__add__, values, zip(*by_column, strict=True))
    inserted = conn.exec_driver_sql(sql, list(values)).rowcount
    if not inserted:
        return range(0)
    top = int(conn.exec_driver_sql(f"SELECT max(id) FROM {quote(table.name)}").scalar_one())
    return range(top - inserted + 1, top + 1)
