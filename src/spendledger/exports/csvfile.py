"""CSV text for spreadsheets: every CSV the project writes goes through `write_csv`.

Text cells hold what clients sent (project, user, feature names...), and a spreadsheet
runs a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return as a formula
(`=HYPERLINK(...)` leaks the sheet, `+cmd|...` runs a program). Following OWASP's advice
on CSV injection, such a text cell is written with a leading `'`, which spreadsheets show
as text. Numbers are typed cells (`int`, `Decimal`) and are never touched: `-1.50` stays
the exact amount, written as `records.format_money` writes money everywhere.

Cells are quoted here rather than by `csv.writer`, which leaves a lone carriage return
unquoted when lines end in `\n` and so splits the row in every reader.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from decimal import Decimal

from spendledger.records import format_money

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | Decimal | None


def safe_text(value: str) -> str:
    """A text cell a spreadsheet shows as text: `'` before a formula's first character."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, str):  # the common case first: exports write ~10^6 cells
        return safe_text(value)
    if isinstance(value, Decimal):
        return format_money(value)
    return str(value)


def _quoted(text: str) -> str:
    if _QUOTE_WHEN.search(text):
        return '"' + text.replace('"', '""') + '"'
    return text


_QUOTE_WHEN = re.compile('[,"\r\n]')


def _line(cells: Iterable[str]) -> str:
    return ",".join(_quoted(c) for c in cells) + "\n"


def text_cell(value: str | None) -> str:
    """A text cell as it goes between the commas: made safe, quoted when it must be."""
    return _quoted(_cell(value))


def write_csv(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> str:
    """The CSV text (header first, `\\n` line ends) of `rows`; text cells made safe."""
    return "".join([csv_line(header), *(csv_line(row) for row in rows)])


def csv_line(row: Iterable[Cell]) -> str:
    """One CSV line (a header or a row, ending in `\\n`) for writers that stream; text cells made safe."""
    return _line(_cell(value) for value in row)
