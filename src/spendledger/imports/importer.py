"""A file → its reader's rows → priced records → the ledger, in batches; or a dry run's summary.

Invariants:
- streaming: rows are read, priced and written BATCH at a time, each batch in its own
  transaction, so memory holds one batch whatever the file's size; an import cut short
  keeps its finished batches, and running it again completes it (writes are idempotent);
- nothing lost, nothing doubled: every record has its row's natural key (base.py), so
  re-importing a file, or an export overlapping an earlier one, changes no total;
  revisable records (billed, manual) take the file's figure, metered ones keep theirs;
- a bad row never sinks the file: it is rejected with its line, column and reason, and
  the summary keeps the first MAX_REJECTIONS of them (and counts them all);
- a dry run reads, checks and prices exactly as an import does and writes nothing;
- provider and model get the ledger's names (model_names.canonicalise), cost-less rows
  a price from the catalogue (an unknown model stays unpriced, never $0);
- the summary's totals are per provider, month (of the record's instant, in the ledger's
  zone) and currency, summed in Decimal.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import BinaryIO
from zoneinfo import ZoneInfo

from spendledger.imports.base import (
    AUTO,
    SNIFF_BYTES,
    ImportFileError,
    ImportOptions,
    Rejected,
    detect,
    reader,
)
from spendledger.model_names import canonicalise
from spendledger.pricing import Pricer
from spendledger.records import UsageRecord
from spendledger.store import Engine, audit, write_records

BATCH = 5000
MAX_REJECTIONS = 1000


@dataclass
class MonthTotal:
    rows: int = 0
    cost: Decimal = Decimal(0)  # the priced and provider-costed rows
    unpriced: int = 0  # rows no price is known for (no cost counted)


@dataclass
class ImportSummary:
    """What an import stored, or a dry run would store."""

    format: str
    source: str
    dry_run: bool
    rows: int = 0  # rows that make records
    inserted: int = 0
    replaced: int = 0  # revisable records whose stored figure changed
    unchanged: int = 0  # rows already stored as they are
    rejected_count: int = 0
    rejected: list[Rejected] = field(default_factory=list)  # the first MAX_REJECTIONS, in file order
    totals: dict[tuple[str, str, str], MonthTotal] = field(
        default_factory=dict
    )  # (provider, YYYY-MM, currency)

    def add(self, records: Iterable[UsageRecord], tz: ZoneInfo) -> None:
        for record in records:
            self.rows += 1
            month = record.instant.astimezone(tz).strftime("%Y-%m")
            total = self.totals.setdefault((record.provider, month, record.currency), MonthTotal())
            total.rows += 1
            if record.cost is None:
                total.unpriced += 1
            else:
                total.cost += record.cost

    def reject(self, rejection: Rejected) -> None:
        self.rejected_count += 1
        if len(self.rejected) < MAX_REJECTIONS:
            self.rejected.append(rejection)

    @property
    def unpriced(self) -> int:
        return sum(t.unpriced for t in self.totals.values())

    def sorted_totals(self) -> list[tuple[tuple[str, str, str], MonthTotal]]:
        return sorted(self.totals.items())


def parse_map(items: Iterable[str]) -> dict[str, str]:
    """`COLUMN=FIELD` items (the CLI's --map, the upload form's lines) → {column: field}."""
    mapping: dict[str, str] = {}
    for item in items:
        column, sep, field_name = item.strip().rpartition("=")
        if not sep or not column.strip() or not field_name.strip():
            raise ImportFileError(f"map {item.strip()!r}: write COLUMN=FIELD, e.g. Cost=cost", field="map")
        mapping[column.strip()] = field_name.strip()
    return mapping


class Counted(io.RawIOBase):
    """A binary file that counts the bytes read from it (the progress bar's measure); wrap it
    in `io.BufferedReader` to hand it to `run_import`."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self.raw.seekable()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        position = self.raw.seek(offset, whence)
        self.bytes_read = position
        return position

    def tell(self) -> int:
        return self.raw.tell()

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.bytes_read += len(data)
        return len(data)


def run_import(
    stream: BinaryIO,
    *,
    format_name: str,
    options: ImportOptions,
    pricer: Pricer,
    tz: ZoneInfo,
    engine: Engine | None,
    on_batch: Callable[[ImportSummary], None] | None = None,  # every BATCH rows read, and at the end
    now: datetime | None = None,
    actor: str = "library",  # who imports, for the audit log: "cli:LOGIN", an email, "token:NAME"
) -> ImportSummary:
    """Import `stream` (seekable, binary) as `format_name` (or `auto`); `engine=None` is a dry run.

    An empty `options.source` is `import-<format>`: the same file imported twice lands on
    the same keys.

    Raises ImportFileError when the file as a whole cannot be read as that format.
    """
    if format_name == AUTO:
        head = stream.read(SNIFF_BYTES)
        stream.seek(0)
        found = detect(head)
    else:
        found = reader(format_name)
    if not options.source:
        options = replace(options, source=f"import-{found.name}")
    summary = ImportSummary(format=found.name, source=options.source, dry_run=engine is None)
    if len(options.source) > 100 or "|" in options.source:
        raise ImportFileError("--source must be 1 to 100 characters, without '|'", field="source")
    batch: list[UsageRecord] = []
    for read, row in enumerate(found.read(stream, options), 1):
        if isinstance(row, Rejected):
            summary.reject(row)
        else:
            record = row.record
            canonicalise(record)
            if record.cost is None:
                pricer.price(record)
            batch.append(record)
            if len(batch) >= BATCH:
                _flush(batch, summary, engine, tz, now, actor)
        if on_batch is not None and read % BATCH == 0:  # rejected rows move the bar too
            on_batch(summary)
    _flush(batch, summary, engine, tz, now, actor)
    if on_batch is not None:
        on_batch(summary)
    return summary


def _flush(
    batch: list[UsageRecord],
    summary: ImportSummary,
    engine: Engine | None,
    tz: ZoneInfo,
    now: datetime | None,
    actor: str,
) -> None:
    if not batch:
        return
    summary.add(batch, tz)
    if engine is None:
        summary.inserted += len(batch)
    else:
        amount: dict[str, Decimal] = {}
        for record in batch:
            amount[record.currency] = amount.get(record.currency, Decimal(0)) + (record.cost or Decimal(0))
        with engine.begin() as conn:  # each batch is stored, and written to the audit log, at once
            written = write_records(conn, batch, tz=tz, now=now)
            what = {"format": summary.format, "source": summary.source, "records": len(batch)}
            audit.record(conn, actor=actor, action="records.import", what=what, amount=amount)
        summary.inserted += written.inserted
        summary.replaced += written.replaced
        summary.unchanged += written.duplicates
    batch.clear()
