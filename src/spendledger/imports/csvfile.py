"""A CSV file read as it streams: its header, then its rows with their line numbers.

Invariants:
- the file is read line by line through a buffered text wrapper: memory holds one row
  (and the csv module's field limit bounds a runaway quoted field), whatever the size;
- UTF-8, with or without a byte-order mark; a row holding bytes that are not UTF-8 is
  rejected with its line, the rest of the file goes on;
- the delimiter is the header's most frequent of comma, semicolon and tab;
- header names are compared normalised (`normalise`): case, surrounding blanks, spaces
  and hyphens do not matter ("Input Tokens" is `input_tokens`);
- a row's line is the line it starts on (a quoted field may span lines), the header
  being line 1; blank lines are skipped.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from spendledger.imports.base import ImportFileError, Rejected

_DELIMITERS = (",", ";", "\t")
_SEPARATORS = re.compile(r"[\s\-]+")
REPLACEMENT = "\ufffd"  # what a byte that is not UTF-8 decodes to


def normalise(name: str) -> str:
    """A column name as compared: `  Input-Tokens ` → `input_tokens`."""
    return _SEPARATORS.sub("_", name.strip().lower())


def header_of(head: bytes) -> set[str]:
    """The normalised column names of the first line of `head` (a file's first bytes), for sniffing."""
    first = head.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace")
    delimiter = max(_DELIMITERS, key=first.count)
    return {normalise(name.strip().strip('"')) for name in first.split(delimiter)}


@dataclass
class CsvTable:
    header: list[str]  # as written in the file
    columns: list[str]  # normalised, in the same order
    rows: Iterator[tuple[int, list[str]] | Rejected]  # (line, cells) with len(cells) == len(columns)


def open_csv(stream: BinaryIO) -> CsvTable:
    """The header and a lazy iterator over the rows; ImportFileError when there is no header."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
    first = text.readline()
    if not first.strip():
        raise ImportFileError("the file is empty: its first line must name the columns", field="file")
    delimiter = max(_DELIMITERS, key=first.count)
    reader = csv.reader(itertools.chain([first], text), delimiter=delimiter)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise ImportFileError(f"line 1 (the header) cannot be read as CSV: {exc}", field="file") from None
    if REPLACEMENT in first:
        raise ImportFileError("the header is not UTF-8 text: save the file as UTF-8 (CSV)", field="file")
    columns = [normalise(name) for name in header]
    seen: set[str] = set()
    for name, column in zip(header, columns, strict=True):
        if not column:
            raise ImportFileError("a column of the header has no name: name every column", field="file")
        if column in seen:
            raise ImportFileError(f"column {name!r} appears twice in the header", field=name)
        seen.add(column)
    return CsvTable(header, columns, _rows(reader, len(columns)))


def _rows(reader: Iterator[list[str]], width: int) -> Iterator[tuple[int, list[str]] | Rejected]:
    line_num = 1  # lines read so far (the header's)
    while True:
        start = line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line_num = reader.line_num  # type: ignore[attr-defined]
            yield Rejected(start, "", f"not valid CSV ({exc}): check the quotes on this line")
            continue
        line_num = reader.line_num  # type: ignore[attr-defined]
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) > width:
            yield Rejected(
                start,
                "",
                f"{len(cells)} cells where the header names {width}: quote cells that hold the delimiter",
            )
            continue
        if any(REPLACEMENT in c for c in cells):
            yield Rejected(start, "", "bytes that are not UTF-8 text: save the file as UTF-8 (CSV)")
            continue
        if len(cells) < width:  # trailing empty cells left out by some tools
            cells.extend([""] * (width - len(cells)))
        yield start, cells
