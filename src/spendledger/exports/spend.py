"""A `SpendReport` as JSON (the API's and `report --format json`'s shape) and as CSV.

Money leaves as decimal strings, exact to the nano-unit with at least two places
(`records.format_nanos`, the same strings as `format_money`); tables round to the cent
with `records.cents`. Both come from the same report, so every rendering of a query
agrees to the cent.

An answer can hold thousands of rows (two years by model and project per month), so rows
are written straight from the report's tuples (`SpendReport.lines`) through one format
string per report, never through a model or a dict per row: a text value is escaped
once per distinct value (orjson for JSON, `csvfile.text_cell` for CSV) and reused. The
envelope around the rows is small and goes through orjson. CSV comes in chunks, so the
API can stream a big answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson

from spendledger.exports.csvfile import csv_line, text_cell
from spendledger.queries import LINE_COUNTS, SpendQuery, SpendReport
from spendledger.records import format_money, format_nanos

ROW_FIELDS: tuple[str, ...] = ("period", "currency", "cost", *LINE_COUNTS)
CSV_CHUNK_ROWS = 2000  # rows per chunk of a streamed CSV


class _Encoded(dict[Any, str]):
    """Each text value (or None) as it is written, computed once per distinct value."""

    def __init__(self, encode: Callable[[Any], str]) -> None:
        super().__init__()
        self.encode = encode

    def __missing__(self, value: Any) -> str:
        text = self[value] = self.encode(value)
        return text


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def _row_format(report: SpendReport, *, indent: bool) -> str:
    """The %-format of one row object: the `by` values, then ROW_FIELDS. A `by` dimension
    named like a row field (`currency`) keeps its place and takes the field's value, as a
    dict built `{**dims, "currency": ...}` would."""
    by = report.query.by
    names = [*by, *(f for f in ROW_FIELDS if f not in by)]
    cells = dict.fromkeys((*by, "period", "currency"), "%s")
    cells["cost"] = '"%s"'
    cells.update(dict.fromkeys(LINE_COUNTS, "%d"))
    if indent:
        inner = ",\n".join(f"      {_json_text(n)}: {cells[n]}" for n in names)
        return "    {\n" + inner + "\n    }"
    return "{" + ",".join(f"{_json_text(n)}:{cells[n]}" for n in names) + "}"


def _json_rows(report: SpendReport, *, indent: bool) -> list[str]:
    """Each line as its JSON object: text encoded once per value, cost formatted, counts as they are."""
    form, by = _row_format(report, indent=indent), report.query.by
    text, money, width = _Encoded(_json_text), format_nanos, len(by)
    cost, counts = width + 2, width + 3
    if "currency" in by:  # the field's value in the dimension's place, and written once
        at = by.index("currency")
        return [
            form
            % (
                *[text[line[width + 1]] if i == at else text[v] for i, v in enumerate(line[:width])],
                text[line[width]],
                money(line[cost]),
                *line[counts:],
            )
            for line in report.lines
        ]
    return [
        form % (*[text[v] for v in line[:cost]], money(line[cost]), *line[counts:]) for line in report.lines
    ]


def report_header(report: SpendReport) -> dict[str, Any]:
    """Everything of the JSON answer but its rows, in its order (`rows` comes after `totals`)."""
    q = report.query
    return {
        "currency": report.currency,
        "from": q.start.isoformat(),
        "to": q.end.isoformat(),
        "basis": q.basis,
        "granularity": str(q.granularity),
        "by": list(q.by),
        "filters": {k: list(v) for k, v in q.filters.items()},
        # several currencies are never added up: `currency` and `total` are null then
        "total": None if report.total is None else format_money(report.total),
        "totals": {c: format_money(v) for c, v in sorted(report.totals.items())},
    }


def report_footer(report: SpendReport) -> dict[str, Any]:
    """What follows the rows: what had no exchange rate, and a note when a total is missing."""
    q, out = report.query, dict[str, Any]()
    if q.currency is not None:
        out["unconverted"] = [
            {"day": u.day.isoformat(), "currency": u.currency, "amount": format_money(u.amount)}
            for u in report.unconverted
        ]
    if report.unconverted:
        days = len({u.day for u in report.unconverted})
        out["note"] = (
            f"{days} days had no exchange rate into {q.currency} on or before them: their amounts stay "
            "in their own currency, in `totals` and in `unconverted`; import rates with `spendledger fx`"
        )
    elif report.currency is None:
        out["note"] = "several currencies: no single total, one per currency in `totals` (not converted)"
    return out


def report_json(report: SpendReport, *, indent: bool = False) -> bytes:
    """The report as JSON (`SpendPublic`): compact for the API, indented by two for people."""
    option = orjson.OPT_INDENT_2 if indent else 0
    head = orjson.dumps(report_header(report), option=option)
    footer = report_footer(report)
    tail = orjson.dumps(footer, option=option) if footer else b""
    rows = (",\n" if indent else ",").join(_json_rows(report, indent=indent)).encode()
    if indent:
        listed = b"[\n" + rows + b"\n  ]" if rows else b"[]"
        return head[:-2] + b',\n  "rows": ' + listed + (b",\n" + tail[2:] if tail else b"\n}")
    return head[:-1] + b',"rows":[' + rows + b"]" + (b"," + tail[1:] if tail else b"}")


def report_csv_chunks(report: SpendReport, rows: int = CSV_CHUNK_ROWS) -> Iterator[str]:
    """The report's rows as CSV, header first, `rows` lines a chunk: dimensions, then
    `ROW_FIELDS`; text cells made safe (csvfile.py)."""
    by = report.query.by
    width = len(by)
    yield csv_line([*by, *ROW_FIELDS])
    form = ",".join(["%s"] * (width + 3) + ["%d"] * len(LINE_COUNTS)) + "\n"
    text, money, lines = _Encoded(text_cell), format_nanos, report.lines
    cost, counts = width + 2, width + 3
    for at in range(0, len(lines), rows):
        chunk = lines[at : at + rows]
        yield "".join(
            [form % (*[text[v] for v in line[:cost]], money(line[cost]), *line[counts:]) for line in chunk]
        )


def report_to_csv(report: SpendReport) -> str:
    """The report's rows as CSV text (`report_csv_chunks` joined)."""
    return "".join(report_csv_chunks(report))


def csv_filename(query: SpendQuery) -> str:
    """The name a CSV download is saved under: `spend-<from>_<to>.csv`."""
    return f"spend-{query.start.isoformat()}_{query.end.isoformat()}.csv"
