"""The reader contract of file imports, and the registry of formats.

A format is a `Reader`: a name, a help line, a `sniff` that recognises the format from
the first bytes of a file, and a `read` that turns a binary file into `ImportRow`s, one
per data row, in file order: `Imported(line, record)` for a row that makes a record,
`Rejected(line, column, reason)` for one that cannot (the file goes on). A problem with
the whole file (no header, a required column missing, not the format at all) raises
`ImportFileError` before the first row.

What a reader does, and what it leaves to the importer (importer.py):
- it reads the stream as it comes (never the whole file into memory) and yields rows
  one at a time; the importer batches them, prices and writes them;
- its records carry `source = options.source`, a basis (the row's own, else
  `options.basis`, else the format's default) and a natural key from `natural_key`, so
  re-importing a file, or an export overlapping an earlier one, changes nothing;
- a record without a cost (`cost=None`, pricing status unpriced) is priced from the
  catalogue by the importer; a cost the file states is kept (pricing status `provider`);
- the importer gives provider and model the ledger's names (`model_names.canonicalise`),
  so a reader keeps the file's spelling.

The registry lists the built-in formats by module, imported only when asked for; each
module holds `READER`. `auto` tries each format's `sniff` in `FORMATS`' order (the most
specific first, `generic` last).
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from spendledger.errors import SpendledgerError
from spendledger.records import Basis, UsageRecord

SNIFF_BYTES = 64 * 1024  # how much of a file `sniff` is shown
AUTO = "auto"

# name → module holding READER; sniffed in this order by `auto`
FORMATS: dict[str, str] = {
    "focus": "spendledger.imports.focus",
    "openai-usage": "spendledger.imports.consoles",
    "anthropic-console": "spendledger.imports.consoles",
    "mistral": "spendledger.imports.consoles",
    "openrouter-activity": "spendledger.imports.consoles",
    "generic": "spendledger.imports.generic",
}


class ImportFileError(SpendledgerError, ValueError):
    """A file that cannot be imported as a whole; the message says what to send instead."""


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """What the person importing chose (the CLI's options, the upload form's fields)."""

    source: str = "import"  # the records' source, and the first part of their keys
    basis: Basis | None = None  # for rows that name none; None: the format's default
    mapping: Mapping[str, str] = field(default_factory=dict)  # --map: file column → generic field


@dataclass(frozen=True, slots=True)
class Imported:
    line: int  # the row's line in the file (the header is line 1); a Parquet row's number
    record: UsageRecord


@dataclass(frozen=True, slots=True)
class Rejected:
    line: int
    column: str  # the file's column at fault ("" when the row as a whole is)
    reason: str  # what is wrong and what to write instead


ImportRow = Imported | Rejected


@dataclass(frozen=True)
class Reader:
    """One file format. `documented` is False for a `--map` preset of an undocumented
    export: its help says so."""

    name: str
    help: str
    sniff: Callable[[bytes], bool]  # the file's first SNIFF_BYTES bytes → is it this format?
    read: Callable[[BinaryIO, ImportOptions], Iterator[ImportRow]]
    documented: bool = True


def reader(name: str) -> Reader:
    """The reader of format `name` (not `auto`); ImportFileError names the known ones."""
    if name not in FORMATS:
        known = ", ".join([AUTO, *FORMATS])
        raise ImportFileError(f"unknown format {name!r}; use one of {known}", field="format")
    module = importlib.import_module(FORMATS[name])
    readers: Mapping[str, Reader] = getattr(module, "READERS", None) or {name: module.READER}
    return readers[name]


def detect(head: bytes) -> Reader:
    """The first format, in FORMATS' order, whose sniff recognises `head`."""
    for name in FORMATS:
        found = reader(name)
        if found.sniff(head):
            return found
    raise ImportFileError(
        "no format recognises this file: name it with --format "
        f"({', '.join(FORMATS)}), or rename its columns with --map COLUMN=FIELD",
        field="format",
    )


def natural_key(options: ImportOptions, row_id: str | None, identity: Sequence[object]) -> str:
    """A row's key: `<source>|id|<id>` when the file gives an id, else
    `<source>|row|<hash>` of the fields that identify the row (`identity`), so the same
    row imported twice, from the same file or an overlapping export, is one record."""
    if row_id:
        return f"{options.source}|id|{row_id}"
    digest = hashlib.blake2b("\x1f".join(map(str, identity)).encode(), digest_size=16).hexdigest()
    return f"{options.source}|row|{digest}"
