"""The generic CSV: one row per record, its columns named like the ingest API's event fields.

Columns (any case; spaces and hyphens read as underscores), every one optional but a time
and a provider:

    id                  the row's own id: its natural key (else a hash, see below)
    timestamp | date    an instant with a zone (2026-11-20T10:00:00Z, or Unix seconds), or a
                        day (2026-11-20, the UTC day); `end` closes a bucket that starts there
    provider model account workspace project api_key_id user feature service_tier
    requests            the calls counted (1 a row when absent, 0 for a day's figure)
    input_tokens cached_input_tokens cache_write_5m_tokens cache_write_1h_tokens output_tokens
    reasoning_tokens audio_input_tokens audio_output_tokens
                        the ledger's token columns (records.TOKEN_COLUMNS), OpenAI's counting:
                        cached reads and writes are part of input; `uncached_input_tokens`
                        instead of `input_tokens` counts Anthropic's way (input without cache)
    cost currency       the cost as charged (a point for decimals), its ISO 4217 code (USD)
    basis batch         billed | metered | manual; true | false

A row without a cost is priced from the catalogue (the importer does it); the basis is the
row's, else `--basis`, else the layout's (generic: manual). A column the file has and the
layout does not know stops the import before the first row (rename it with `--map`).

Natural keys (`base.natural_key`): `<source>|id|<id>` when the row has an id; otherwise a
hash of the row's time (start and end), its dimensions (provider, model, account,
workspace, project, api_key_id, user, feature, service_tier, batch, currency) and the
layout's tag columns, and, for a metered call with no bucket, of its figures too (two calls
alike in every dimension in the same instant are told apart by their tokens and cost).
Billed and manual records are revisable: re-importing a row with a new figure replaces the
stored one; a metered record keeps its first version. Rows alike in every identifying field
are one record: give them an `id` to keep them apart.

Console exports are `Layout`s of this reader (consoles.py): their column names mapped
onto these fields, their defaults (provider, currency, basis) and their quirks.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, BinaryIO

from spendledger.currencies import currency_problem
from spendledger.errors import SpendledgerError
from spendledger.imports.base import (
    Imported,
    ImportFileError,
    ImportOptions,
    ImportRow,
    Reader,
    Rejected,
    natural_key,
)
from spendledger.imports.csvfile import header_of, normalise, open_csv
from spendledger.records import (
    TOKEN_COLUMNS,
    Basis,
    PricingStatus,
    TokenCounts,
    TokenError,
    UsageRecord,
    tags_problem,
    timestamp_problem,
)

TEXT_FIELDS = ("provider", "model", "account", "workspace", "project", "api_key_id", "user", "feature")
TOKEN_FIELDS = tuple(TOKEN_COLUMNS.values())
COUNT_FIELDS = ("requests", *TOKEN_FIELDS, "uncached_input_tokens")
FIELDS: tuple[str, ...] = (
    "id",
    "timestamp",
    "date",
    "end",
    *TEXT_FIELDS,
    "service_tier",
    *COUNT_FIELDS,
    "cost",
    "currency",
    "basis",
    "batch",
)
IGNORE = "-"  # `--map COLUMN=-`: leave that column out
MAX_TEXT = 200  # the ledger's dimension length (store.tables.DIM)
MAX_ID = 280  # the key holds the source and the id within 400 characters
MAX_COST = Decimal(10) ** 9  # nano-units of it still fit a 64-bit integer
_BASES = {b.value: b for b in (Basis.BILLED, Basis.METERED, Basis.MANUAL)}
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_EPOCH = re.compile(r"\d{9,10}(\.\d+)?")


class _Bad(SpendledgerError):
    """One cell that cannot be read; the message says what to write instead."""


@dataclass(frozen=True)
class Layout:
    """How a CSV's columns map onto the generic fields, and what a row lacks by default."""

    columns: Mapping[str, str]  # normalised file column → field (or IGNORE)
    basis: Basis = Basis.MANUAL  # when neither the row nor the options name one
    defaults: Mapping[str, str] = field(default_factory=dict)  # field → value for a blank or absent cell
    tags: Mapping[str, str] = field(default_factory=dict)  # normalised column → tag, part of the identity
    naive_utc: bool = False  # times without a zone are UTC (the provider documents its export so)
    skip_empty: bool = False  # a row with no figure (no cost, tokens or requests) is an empty bucket
    strict: bool = True  # a column the layout does not know stops the import
    adjust: Callable[[UsageRecord], None] | None = None  # a provider's quirk, applied to each record

    def with_map(self, mapping: Mapping[str, str]) -> Layout:
        """This layout with `--map COLUMN=FIELD` applied; ImportFileError for an unknown field."""
        columns = dict(self.columns)
        for column, target in mapping.items():
            if target not in (*FIELDS, IGNORE):
                raise ImportFileError(
                    f"--map {column}={target}: {target!r} is not a field; map a column to one of "
                    f"{', '.join(FIELDS)}, or to {IGNORE} to leave it out",
                    field="map",
                )
            columns[normalise(column)] = target
        return dataclasses.replace(self, columns=columns)


GENERIC = Layout({name: name for name in FIELDS})


def read_layout(stream: BinaryIO, options: ImportOptions, layout: Layout) -> Iterator[ImportRow]:
    """The rows of a CSV read with `layout` (and the options' --map)."""
    layout = layout.with_map(options.mapping)
    table = open_csv(stream)
    plan = _plan(table.header, table.columns, layout)
    basis_default = options.basis or layout.basis
    for item in table.rows:
        if isinstance(item, Rejected):
            yield item
            continue
        line, cells = item
        try:
            record = _record(plan, cells, layout, options, basis_default)
        except _CellError as exc:
            yield Rejected(line, exc.column, exc.reason)
            continue
        if record is not None:
            yield Imported(line, record)


@dataclass(frozen=True)
class _Plan:
    """How to read a row of this file: each field's cell and parser, compiled once."""

    cells: tuple[tuple[str, int, str, Callable[[str], Any]], ...]  # (field, index, column, parser)
    defaults: dict[str, Any]  # the layout's defaults, parsed
    columns: dict[str, str]  # field → the file's column name
    tags: tuple[tuple[int, str, str], ...]  # (index, column, tag)

    def column(self, name: str) -> str:
        return self.columns.get(name, name)


class _CellError(SpendledgerError):
    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason, field=column)
        self.column = column
        self.reason = reason


def _parsers(layout: Layout) -> dict[str, Callable[[str], Any]]:
    instant = functools.partial(_instant, naive_utc=layout.naive_utc)
    parsers: dict[str, Callable[[str], Any]] = dict.fromkeys((*TEXT_FIELDS, "service_tier"), _text)
    parsers |= dict.fromkeys(COUNT_FIELDS, _count)
    parsers |= {"timestamp": instant, "end": instant, "date": _day, "cost": _cost, "currency": _currency}
    parsers |= {"id": _row_id, "basis": _basis, "batch": _flag}
    return parsers


def _plan(header: list[str], columns: list[str], layout: Layout) -> _Plan:
    fields: dict[str, tuple[int, str]] = {}
    tags: list[tuple[int, str, str]] = []
    for index, (name, column) in enumerate(zip(header, columns, strict=True)):
        target = layout.columns.get(column)
        if target == IGNORE:
            continue
        if column in layout.tags:
            tags.append((index, name, layout.tags[column]))
            if target is None:
                continue
        if target is None:
            if layout.strict:
                raise ImportFileError(
                    f"column {name!r} is not a field of this format: rename it with --map '{name}=FIELD' "
                    f"(fields: {', '.join(FIELDS)}) or leave it out with --map '{name}={IGNORE}'",
                    field=name,
                )
            continue
        if target in fields:
            raise ImportFileError(
                f"columns {fields[target][1]!r} and {name!r} both give {target}: map one of them to {IGNORE}",
                field=name,
            )
        fields[target] = (index, name)
    if "timestamp" not in fields and "date" not in fields:
        raise ImportFileError("the file has no time: add a timestamp or a date column", field="timestamp")
    if "provider" not in fields and "provider" not in layout.defaults:
        raise ImportFileError(
            "the file has no provider column: add one (openai, anthropic...)", field="provider"
        )
    if "input_tokens" in fields and "uncached_input_tokens" in fields:
        raise ImportFileError(
            "give input_tokens (cache included) or uncached_input_tokens (cache apart), not both",
            field="uncached_input_tokens",
        )
    parsers = _parsers(layout)
    return _Plan(
        cells=tuple((name, index, column, parsers[name]) for name, (index, column) in fields.items()),
        defaults={name: parsers[name](value) for name, value in layout.defaults.items()},
        columns={name: column for name, (_, column) in fields.items()},
        tags=tuple(tags),
    )


def _record(
    plan: _Plan, cells: list[str], layout: Layout, options: ImportOptions, basis_default: Basis
) -> UsageRecord | None:
    v = dict(plan.defaults)  # field → value: the row's cells over the layout's defaults
    for name, index, column, parser in plan.cells:
        if cell := cells[index].strip():
            try:
                v[name] = parser(cell)
            except _Bad as exc:
                raise _CellError(column, str(exc)) from None
    cost: Decimal | None = v.get("cost")
    if layout.skip_empty and cost is None and not any(name in v for name in COUNT_FIELDS):
        return None
    basis: Basis = v.get("basis", basis_default)
    start, end = _times(v, plan)
    text = {name: v.get(name, "") for name in TEXT_FIELDS}
    if not text["provider"]:
        raise _CellError(plan.column("provider"), "provider is empty: name it (openai, anthropic...)")
    tokens = _tokens(v, plan)
    requests: int | None = v.get("requests")
    if requests is None:
        requests = 1 if end is None else 0
    currency: str = v.get("currency", "USD")
    batch: bool = v.get("batch", False)
    service_tier: str | None = v.get("service_tier") or None
    tags = {tag: cell for index, _, tag in plan.tags if (cell := cells[index].strip())}
    if tags and (problem := tags_problem(tags)):
        raise _CellError(plan.tags[0][1], problem)
    identity: list[object] = [start.isoformat(), end.isoformat() if end else "", *text.values()]
    identity += [service_tier or "", batch, currency, *sorted(tags.items())]
    if basis is Basis.METERED and end is None:
        identity += [requests, cost, *(getattr(tokens, f) for f in TOKEN_COLUMNS)]
    record = UsageRecord(
        key=natural_key(options, v.get("id"), identity),
        source=options.source,
        basis=basis,
        start=start,
        end=end,
        provider=text["provider"],
        model=text["model"],
        account=text["account"],
        workspace=text["workspace"],
        project=text["project"],
        api_key_id=text["api_key_id"],
        user=text["user"],
        feature=text["feature"],
        tags=tags,
        requests=requests,
        tokens=tokens,
        cost=cost,
        currency=currency,
        pricing_status=PricingStatus.UNPRICED if cost is None else PricingStatus.PROVIDER,
        service_tier=service_tier,
        batch=batch,
    )
    if layout.adjust is not None:
        layout.adjust(record)
    return record


def _times(v: dict[str, Any], plan: _Plan) -> tuple[datetime, datetime | None]:
    """The row's start and, for a bucket (a day, or a row with an end), its end."""
    end: datetime | None = None
    name = "timestamp"
    start: datetime | None = v.get("timestamp")
    if start is None:
        name = "date"
        day: date | datetime | None = v.get("date")
        if day is None:
            raise _CellError(
                plan.column("timestamp" if "timestamp" in plan.columns else "date"),
                "no time: write a timestamp (2026-11-20T10:00:00Z) or a date (2026-11-20)",
            )
        if isinstance(day, datetime):
            start = day
        else:
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            end = start + timedelta(days=1)
    if (explicit_end := v.get("end")) is not None:
        if explicit_end <= start:
            raise _CellError(plan.column("end"), "end must come after the start of the row's period")
        end = explicit_end
    for field_name, value in ((name, start), ("end", end)):
        if value is not None and (problem := timestamp_problem(field_name, value)):
            raise _CellError(plan.column(field_name), problem)
    return start, end


def _tokens(v: dict[str, Any], plan: _Plan) -> TokenCounts:
    values = {f: v.get(column, 0) for f, column in TOKEN_COLUMNS.items()}
    if (uncached := v.get("uncached_input_tokens")) is not None:  # Anthropic's counting: cache apart
        values["input"] = uncached + values["cached_input"]
        values["input"] += values["cache_write_5m"] + values["cache_write_1h"] + values["audio_input"]
    tokens = TokenCounts(**values)
    try:
        tokens.validate()
    except TokenError as exc:
        raise _CellError(plan.column(exc.field), str(exc)) from None
    return tokens


# ---- cells ----------------------------------------------------------------------------------


def _instant(raw: str, *, naive_utc: bool) -> datetime:
    if _EPOCH.fullmatch(raw):
        return datetime.fromtimestamp(float(raw), UTC)
    try:
        value = datetime.fromisoformat(raw.replace(" UTC", "Z"))
    except ValueError:
        raise _Bad(
            f"{_shown(raw)} is not a time: write ISO 8601 with a zone, e.g. 2026-11-20T10:00:00Z"
        ) from None
    if value.tzinfo is None:
        if not naive_utc:
            raise _Bad(
                f"{_shown(raw)} has no time zone: add Z for UTC or an offset, e.g. 2026-11-20T10:00:00Z"
            )
        value = value.replace(tzinfo=UTC)
    return value


def _day(raw: str) -> date | datetime:
    if _DAY.fullmatch(raw):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise _Bad(f"{_shown(raw)} is not a day of the calendar: write YYYY-MM-DD") from None
    try:
        return _instant(raw, naive_utc=True)  # a day column holding a time: the provider's UTC
    except _Bad:
        raise _Bad(f"{_shown(raw)} is not a date: write YYYY-MM-DD, e.g. 2026-11-20") from None


def _count(raw: str) -> int:
    text = raw.replace(",", "").replace("_", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _Bad(f"{_shown(raw)} is not a count: write a whole number such as 1200") from None
    if not value.is_finite() or value != value.to_integral_value() or value < 0 or value >= 2**62:
        raise _Bad(f"{_shown(raw)} is not a count: write a whole number, zero or more, such as 1200")
    return int(value)


def _cost(raw: str) -> Decimal:
    text = raw.lstrip("$€£").strip()
    if "," in text:
        raise _Bad(f"{_shown(raw)}: write the cost with a point for decimals and no separators, e.g. 1234.50")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _Bad(f"{_shown(raw)} is not an amount: write a number such as 12.50") from None
    if not value.is_finite() or abs(value) >= MAX_COST:
        raise _Bad(f"{_shown(raw)} is not an amount the ledger keeps: write a number below 1,000,000,000")
    return value


def _currency(raw: str) -> str:
    if problem := currency_problem(raw):
        raise _Bad(problem)
    return raw.upper()


def _basis(raw: str) -> Basis:
    basis = _BASES.get(raw.lower())
    if basis is None:
        raise _Bad(f"basis {_shown(raw)} is not one of billed, metered, manual")
    return basis


def _flag(raw: str) -> bool:
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise _Bad(f"{_shown(raw)} is not true or false")


def _text(raw: str) -> str:
    if len(raw) > MAX_TEXT:
        raise _Bad(f"{len(raw)} characters: the ledger keeps at most {MAX_TEXT}")
    return raw


def _row_id(raw: str) -> str:
    if len(raw) > MAX_ID:
        raise _Bad(f"the id has {len(raw)} characters: the ledger keeps at most {MAX_ID}")
    return raw


def _shown(raw: str) -> str:
    return repr(raw if len(raw) <= 40 else raw[:37] + "...")


def _sniff(head: bytes) -> bool:
    """A CSV whose header names a time and a provider, and only generic fields."""
    names = header_of(head)
    return bool(names & {"timestamp", "date"}) and "provider" in names and names <= set(FIELDS)


def _read(stream: BinaryIO, options: ImportOptions) -> Iterator[ImportRow]:
    return read_layout(stream, options, GENERIC)


READER = Reader(
    name="generic",
    help="one row per record, columns named like the ingest API's event fields (timestamp or date, "
    "provider, model, ..., the token columns, cost, currency, optional id and basis)",
    sniff=_sniff,
    read=_read,
)
