"""Rate files → `Rate`s: the ECB's euro reference rates and a generic `date,currency,rate` CSV.

The formats, recognised from the file's first bytes:
- the ECB's XML (eurofxref-daily.xml, eurofxref-hist.xml, eurofxref-hist-90d.xml): a
  gesmes:Envelope holding `<Cube time="2024-06-28">` days, each holding
  `<Cube currency="USD" rate="1.0705"/>`; base EUR;
- the ECB's CSV, daily (eurofxref.csv: `Date, USD, JPY, ...` then `28 June 2024, 1.0705,
  ...`) or historical (eurofxref-hist.csv: `Date,USD,JPY,...` then a row per day with
  ISO dates); `N/A` or an empty cell is a currency the ECB did not quote that day; rows end
  in a comma; base EUR;
- a generic CSV with the columns `date,currency,rate` and optionally `base` (default EUR):
  on `date`, 1 `base` = `rate` units of `currency`;
- the ECB's zip files (eurofxref.zip, eurofxref-hist.zip): the one CSV or XML inside.

A bad line never sinks the file: it gives a `RateRejected(line, column, reason)` and the
reading goes on; the good lines' rates are kept. A problem with the whole file (not a
rate file, an unknown column) raises `RateFileError` before the first rate. Lines are
counted from 1 (the CSV's header is line 1).
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from xml.parsers import expat

from spendledger.errors import SpendledgerError
from spendledger.fx.rates import ECB_BASE, Rate, RateError, make_rate, parse_day, parse_rate

MAX_UNZIPPED = 64 * 1024 * 1024  # eurofxref-hist.xml is ~8 MiB; more is not an ECB file
_XML_CHUNK = 64 * 1024
_ECB_NS = "http://www.ecb.int/vocabulary/2002-08-01/eurofxref"
_NO_RATE = ("", "N/A", "NA", "-")
GENERIC_COLUMNS = ("date", "currency", "rate", "base")


class RateFileError(SpendledgerError, ValueError):
    """A file that cannot be read as rates at all; the message says what to send instead."""


@dataclass(frozen=True, slots=True)
class RateRejected:
    line: int
    column: str  # the file's column (or XML attribute) at fault; "" for the line as a whole
    reason: str


RateRow = Rate | RateRejected


def read_rates(data: bytes, *, source: str) -> tuple[str, Iterator[RateRow]]:
    """The format's name and the rows of a rate file's bytes, rates carrying `source`."""
    if data[:4] == b"PK\x03\x04":
        return read_rates(_unzip(data), source=source)
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return "ecb-xml", _read_xml(data, source)
    lines = _text_lines(data)
    header_line, header = _header(lines)
    names = [cell.strip() for cell in header]
    while names and not names[-1]:
        names.pop()  # the ECB's rows end in a comma
    if len(names) > 1 and names[0].lower() == "date" and all(_looks_like_code(n) for n in names[1:]):
        return "ecb-csv", _read_ecb_csv(names, header_line, lines, source)
    lowered = [n.lower() for n in names]
    if {"date", "currency", "rate"} <= set(lowered):
        unknown = [n for n in names if n.lower() not in GENERIC_COLUMNS]
        if unknown or len(set(lowered)) != len(lowered):
            what = f"unknown columns {unknown}" if unknown else "a column named twice"
            raise RateFileError(
                f"line {header_line}: {what}; a generic rate file has the columns "
                "date,currency,rate and optionally base",
                field="header",
            )
        return "generic-csv", _read_generic_csv(lowered, lines, source)
    raise RateFileError(
        f"line {header_line}: not a rate file; send the ECB's euro reference rates (CSV or XML, "
        "e.g. eurofxref-hist.zip) or a CSV with the header date,currency,rate",
        field="header",
    )


def _unzip(data: bytes) -> bytes:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if m.filename.lower().endswith((".csv", ".xml"))]
        if len(members) != 1:
            raise RateFileError(
                f"the zip holds {len(members)} CSV or XML files; the ECB's zips hold one", field="file"
            )
        with archive.open(members[0]) as inner:
            content = inner.read(MAX_UNZIPPED + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        if isinstance(exc, RateFileError):
            raise
        raise RateFileError(f"not a readable zip file ({exc})", field="file") from None
    if len(content) > MAX_UNZIPPED:
        raise RateFileError(f"the zip's file unpacks to more than {MAX_UNZIPPED:,} bytes", field="file")
    return content


# ---- CSV --------------------------------------------------------------------------------------


class _Lines:
    """The file's lines as text, numbered from 1; a line that is not UTF-8 is remembered."""

    def __init__(self, data: bytes) -> None:
        self._raw = data.removeprefix(b"\xef\xbb\xbf").splitlines()
        self.undecodable: set[int] = set()

    def __iter__(self) -> Iterator[str]:
        for number, raw in enumerate(self._raw, start=1):
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                self.undecodable.add(number)
                yield ""


def _text_lines(data: bytes) -> Iterator[tuple[int, list[str]]]:
    """(line, cells) of each non-empty CSV row; a line that is not UTF-8 comes as cells ["\0"]."""
    lines = _Lines(data)
    reader = csv.reader(iter(lines), skipinitialspace=True, strict=False)
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield reader.line_num, ["\0", f"not CSV ({exc})"]
            continue
        if reader.line_num in lines.undecodable:
            yield reader.line_num, ["\0", "not UTF-8 text: save the file as UTF-8"]
        elif any(c.strip() for c in cells):
            yield reader.line_num, cells


def _header(lines: Iterator[tuple[int, list[str]]]) -> tuple[int, list[str]]:
    for line, cells in lines:
        if cells[0] == "\0":
            raise RateFileError(f"line {line}: {cells[1]}", field="header")
        return line, cells
    raise RateFileError("the file is empty; send the ECB's rates or a date,currency,rate CSV", field="file")


def _looks_like_code(name: str) -> bool:
    return len(name) == 3 and name.isascii() and name.isalpha()


def _read_ecb_csv(
    names: list[str], header_line: int, lines: Iterable[tuple[int, list[str]]], source: str
) -> Iterator[RateRow]:
    """One rate per quoted cell; a column of a code the ledger does not take is skipped,
    said once (the historical file carries withdrawn currencies: CYP, SIT, ...)."""
    usable: list[str | None] = [None]
    for code in names[1:]:
        try:
            make_rate("2000-01-03", code, "1", source=source)
            usable.append(code.upper())
        except RateError as exc:
            usable.append(None)
            yield RateRejected(header_line, code, f"{exc}; its column is skipped")
    for line, cells in lines:
        if cells[0] == "\0":
            yield RateRejected(line, "", cells[1])
            continue
        values = [c.strip() for c in cells]
        while len(values) > len(names) and not values[-1]:
            values.pop()
        if len(values) != len(names):
            yield RateRejected(line, "", f"{len(values)} cells where the header has {len(names)}")
            continue
        try:
            day = parse_day(values[0])
        except RateError as exc:
            yield RateRejected(line, names[0], str(exc))
            continue
        for wanted, text in zip(usable[1:], values[1:], strict=True):
            if wanted is None or text.upper() in _NO_RATE:
                continue
            try:  # the day and the column's currency are checked once; each cell's rate here
                yield Rate(day, ECB_BASE, wanted, parse_rate(text), source)
            except RateError as exc:
                yield RateRejected(line, wanted, str(exc))


def _read_generic_csv(
    names: list[str], lines: Iterable[tuple[int, list[str]]], source: str
) -> Iterator[RateRow]:
    for line, cells in lines:
        if cells[0] == "\0":
            yield RateRejected(line, "", cells[1])
            continue
        values = [c.strip() for c in cells]
        while len(values) > len(names) and not values[-1]:
            values.pop()
        if len(values) != len(names):
            yield RateRejected(line, "", f"{len(values)} cells where the header has {len(names)}")
            continue
        row = dict(zip(names, values, strict=True))
        base = row.get("base") or ECB_BASE
        yield _checked(line, "", row["date"], row["currency"], row["rate"], base, source)


def _checked(line: int, column: str, day: str, currency: str, rate: str, base: str, source: str) -> RateRow:
    """The rate of a line's texts, or its rejection naming `column` (else the field at fault)."""
    try:
        return make_rate(day, currency, rate, base=base, source=source)
    except RateError as exc:
        named = exc.field or "" if not column or exc.field == "date" else column
        return RateRejected(line, named, str(exc))


# ---- XML --------------------------------------------------------------------------------------


def _read_xml(data: bytes, source: str) -> Iterator[RateRow]:
    """The ECB's gesmes envelope, streamed through expat (no DTD, no entities)."""
    found: list[RateRow] = []
    state: dict[str, object] = {"day": None, "days": 0}
    parser = expat.ParserCreate(namespace_separator=" ")

    def refuse(*_: object) -> None:
        raise RateFileError("the XML declares a DOCTYPE or entities; the ECB's file has none", field="file")

    def start(name: str, attrs: dict[str, str]) -> None:
        if name.rpartition(" ")[2] != "Cube":
            return
        line = parser.CurrentLineNumber
        if "time" in attrs:
            state["days"] = int(str(state["days"])) + 1
            try:
                state["day"] = parse_day(attrs["time"])
            except RateError as exc:
                state["day"] = None
                found.append(RateRejected(line, "time", f"{exc}; the day's rates are skipped"))
        elif "currency" in attrs or "rate" in attrs:
            day = state["day"]
            if not isinstance(day, date):
                if state["days"] == 0:
                    found.append(RateRejected(line, "time", "a rate outside any <Cube time=...> day"))
                return
            iso = day.isoformat()
            cur, rate = attrs.get("currency", ""), attrs.get("rate", "")
            found.append(_checked(line, "", iso, cur, rate, ECB_BASE, source))

    def end(name: str) -> None:
        return None

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse  # type: ignore[assignment]
    view = memoryview(data)
    for offset in range(0, max(len(data), 1), _XML_CHUNK):
        try:
            parser.Parse(bytes(view[offset : offset + _XML_CHUNK]), offset + _XML_CHUNK >= len(data))
        except expat.ExpatError as exc:
            yield from found
            yield RateRejected(exc.lineno, "", f"the XML breaks off here ({expat.errors.messages[exc.code]})")
            return
        yield from found
        found.clear()
    if not state["days"]:
        raise RateFileError(
            "no <Cube time=...> day in the XML: not the ECB's euro reference rates", field="file"
        )
