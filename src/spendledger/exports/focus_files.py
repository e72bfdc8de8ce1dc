"""A FOCUS export written to a file, as CSV or Parquet, streamed from the ledger.

Rows are written as they come (CSV a batch of lines at a time, Parquet one row group per
`ROW_GROUP` rows), so an export of a year holds one day's charges and one row group in
memory, never the year.

CSV: RFC 4180 through csvfile.py, every CSV the project writes: money and quantities as
exact decimals (always with a decimal point, so readers type them as decimals), times as
`YYYY-MM-DDTHH:mm:ssZ`, null as an empty field; a text cell a spreadsheet would run as a
formula (`=`, `+`, `-`, `@` first) gets a leading `'`. Parquet keeps every value exactly:
decimal(38, 9) money and quantities, UTC timestamps, int64 counts, strings.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import IO, Any
from zoneinfo import ZoneInfo

from spendledger.charges import charges
from spendledger.exports.csvfile import Cell, csv_line
from spendledger.exports.focus import Row, focus_rows
from spendledger.exports.focus_columns import VERSIONS, Kind, columns
from spendledger.queries import QueryError, SpendQuery
from spendledger.store import Connection

ROW_GROUP = 50_000  # rows per Parquet row group (a few tens of MB in memory)
CSV_BATCH = 2_000  # lines written at a time


class FocusFormat(enum.StrEnum):
    CSV = "csv"
    PARQUET = "parquet"


@dataclass
class FocusSummary:
    """What an export wrote: its rows and its BilledCost per currency."""

    version: str
    format: str
    rows: int = 0
    totals: dict[str, Decimal] = field(default_factory=dict)


def check_options(version: str, fmt: str) -> tuple[str, FocusFormat]:
    """The version and format, or a QueryError naming the one at fault and what to send."""
    if version not in VERSIONS:
        raise QueryError(
            "version", f"{_shown(version)} is not a FOCUS version spendledger writes; use 1.2 or 1.3"
        )
    try:
        return version, FocusFormat(fmt)
    except ValueError:
        raise QueryError("format", f"{_shown(fmt)} is not an export format; use csv or parquet") from None


def export_focus(
    conn: Connection,
    query: SpendQuery,
    *,
    tz: ZoneInfo,
    out: IO[bytes],
    version: str = "1.2",
    fmt: str = "csv",
    row_group: int = ROW_GROUP,
) -> FocusSummary:
    """Write the FOCUS `version` export of `query` (its days, filters and basis) to `out`."""
    version, form = check_options(version, fmt)
    summary = FocusSummary(version=version, format=str(form))
    rows = _counted(focus_rows(charges(conn, query), version=version, tz=tz), summary)
    if form is FocusFormat.PARQUET:
        _write_parquet(rows, columns(version), out, row_group)
    else:
        _write_csv(rows, columns(version), out)
    return summary


def file_name(query: SpendQuery, version: str, fmt: str) -> str:
    """The name a download is saved under: `focus-1.2-<from>_<to>.csv`."""
    return f"focus-{version}-{query.start.isoformat()}_{query.end.isoformat()}.{fmt}"


def _counted(rows: Iterable[Row], summary: FocusSummary) -> Iterator[Row]:
    for row in rows:
        summary.rows += 1
        currency = row["BillingCurrency"]
        summary.totals[currency] = summary.totals.get(currency, Decimal(0)) + row["BilledCost"]
        yield row


def _write_csv(rows: Iterable[Row], kinds: dict[str, Kind], out: IO[bytes]) -> None:
    names = list(kinds)
    out.write(csv_line(names).encode())
    batch: list[str] = []
    for row in rows:
        batch.append(csv_line([_cell(row[name], kinds[name]) for name in names]))
        if len(batch) >= CSV_BATCH:
            out.write("".join(batch).encode())
            batch.clear()
    out.write("".join(batch).encode())


def _cell(value: Any, kind: Kind) -> Cell:
    """A CSV cell: times in FOCUS's form; money and quantities as `format_money` writes them
    (exact, always with a point, so every reader types them as decimals)."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    cell: Cell = value
    return cell


def _write_parquet(rows: Iterable[Row], kinds: dict[str, Kind], out: IO[bytes], row_group: int) -> None:
    import pyarrow as pa  # only when a Parquet export is asked for
    import pyarrow.parquet as pq

    types = {
        Kind.STRING: pa.string(),
        Kind.JSON: pa.string(),
        Kind.DECIMAL: pa.decimal128(38, 9),
        Kind.DATETIME: pa.timestamp("ms", tz="UTC"),  # Parquet keeps no seconds unit
        Kind.INTEGER: pa.int64(),
    }
    schema = pa.schema([pa.field(name, types[kind]) for name, kind in kinds.items()])
    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
        batch: dict[str, list[Any]] = {name: [] for name in kinds}
        count, written = 0, False
        for row in rows:
            for name, values in batch.items():
                values.append(row[name])
            count += 1
            if count >= row_group:
                writer.write_table(pa.Table.from_pydict(batch, schema=schema))
                batch, count, written = {name: [] for name in kinds}, 0, True
        if count or not written:  # an empty export still has its columns
            writer.write_table(pa.Table.from_pydict(batch, schema=schema))


def _shown(value: str) -> str:
    return repr(value if len(value) <= 20 else value[:17] + "...")
