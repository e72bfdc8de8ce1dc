"""FOCUS 1.0–1.3 cost and usage exports (CSV, gzipped CSV or Parquet) → billed records.

One reader for the FOCUS exports of Azure, AWS and Google (and any other issuer): one
record per row, streamed in batches of `BATCH_ROWS` (CSV through the csv module, Parquet
through `ParquetFile.iter_batches`, only the columns read here), so memory stays flat
however large the file.

The mapping (standards.md, provider-apis-2026.md §3):
- money: `BilledCost` in `BillingCurrency`, kept exactly as written (Decimal, never
  float; a Parquet double is read through its shortest decimal text), so the records of a
  file add up to its BilledCost sum, per currency; credits stay negative, as FOCUS writes
  them; the basis is billed unless the importer's options name another;
- bucket: [ChargePeriodStart, ChargePeriodEnd) in UTC (a time without zone is UTC, as
  FOCUS requires; BigQuery's "2026-11-01 00:00:00 UTC" is read too);
- provider: the route that sold it: the host when it is the invoice issuer too (1.3:
  Claude bought on Bedrock, whose service provider is Anthropic, is aws, as the AWS
  connector names it), else `ServiceProviderName` (1.3) else `ProviderName` (1.0–1.2),
  else `HostProviderName`, `PublisherName`, `InvoiceIssuerName`; the clouds and the
  providers FOCUS names by display name under the ledger's names (Microsoft → azure,
  AWS → aws, Google Cloud → google, Mistral AI → mistral: exports/focus_entities.py),
  any other name as `model_names.canonical_provider` spells it;
- account: `SubAccountName` (else `SubAccountId`, else the billing account); project:
  `ResourceName` (else the last part of `ResourceId`); workspace: Azure's resource group
  (`x_ResourceGroupName`); user, feature, workspace, api_key_id and a project named in
  `Tags` win, as the Google connector reads labels;
- model and tokens: from the clouds' SKU names (focus_skus.py), tokens only on usage rows;
  a spendledger export's own columns (exports/focus_columns.py: `x_Model`, `x_Requests`
  and a column per token kind) give them exactly when the file has them;
- tags: charge category and class, service, billing and sub-account ids, resource id,
  SKU ids, region, publisher, the consumed quantity, and the row's `Tags` under `labels`.

Column names differ across versions: 1.0-preview's `ChargeType`, `UsageQuantity` and
`UsageUnit` read as `ChargeCategory`, `ConsumedQuantity` and `ConsumedUnit`; 1.3's
`ServiceProviderName` and `HostProviderName` stand beside (or for) 1.2's deprecated
`ProviderName`; names are matched without regard to case.

Natural key (FOCUS has no row id): `natural_key` of the row's identifying columns,
`IDENTITY` (the charge period, accounts, provider, service, resource, SKU, charge
category and class, description, units, commitment, region, currency, tags and the
clouds' identifying x_ columns), never its amounts: re-importing a file, or a later
export of the same month whose costs were revised, replaces each row's record instead
of adding one. Rows identical in every identifying column are one charge: the later wins.

A row that cannot be read is `Rejected` with its line (CSV; the header is line 1) or its
row number (Parquet, from 1), the column at fault and what to write instead.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from itertools import islice
from typing import Any, BinaryIO, Literal

from spendledger.currencies import currency_problem
from spendledger.errors import SpendledgerError
from spendledger.exports.focus_entities import PROVIDER_BY_NAME
from spendledger.imports import focus_skus
from spendledger.imports.base import (
    Imported,
    ImportFileError,
    ImportOptions,
    ImportRow,
    Reader,
    Rejected,
    natural_key,
)
from spendledger.model_names import canonical_provider
from spendledger.records import (
    Basis,
    PricingStatus,
    TokenCounts,
    UsageRecord,
    tags_problem,
    timestamp_problem,
)

BATCH_ROWS = 2_000  # rows read at a time (a Parquet record batch, a slice of CSV rows): a few MB
MAX_COST = 10**9  # a row's largest cost either way, as the events API takes (nano-units fit 64 bits)
DIM = 200  # the ledger's dimension columns (store.tables.DIM): longer names are cut
Services = Literal["all", "ai"]
SERVICES: tuple[Services, ...] = ("all", "ai")

REQUIRED = ("billedcost", "billingcurrency", "chargeperiodstart", "chargeperiodend")
PROVIDER_COLUMNS = (
    "serviceprovidername",
    "providername",
    "hostprovidername",
    "publishername",
    "invoiceissuername",
)
ALIASES = {"chargetype": "chargecategory", "usagequantity": "consumedquantity", "usageunit": "consumedunit"}
IDENTITY = (
    "chargeperiodstart", "chargeperiodend", "billingaccountid", "subaccountid",
    "serviceprovidername", "providername", "hostprovidername", "publishername", "invoiceissuername",
    "servicename", "resourceid", "resourcename", "regionid", "availabilityzone",
    "skuid", "skupriceid", "skumeter", "chargecategory", "chargeclass", "chargefrequency",
    "chargedescription", "pricingcategory", "pricingunit", "consumedunit",
    "commitmentdiscountid", "commitmentdiscountstatus", "capacityreservationid",
    "capacityreservationstatus", "allocatedmethodid", "allocatedresourceid", "contractapplied",
    "billingcurrency", "tags",
    "x_usagetype", "x_operation", "x_servicecode",  # AWS
    "x_skumeterid", "x_skumetername", "x_resourcegroupname", "x_skudescription",  # Azure, Google
)  # fmt: skip
_TAGS_AT = IDENTITY.index("tags")
_READ = frozenset(
    (*REQUIRED, *PROVIDER_COLUMNS, *IDENTITY, "subaccountname", "billingaccountname", "servicecategory",
     "consumedquantity", "x_skumetercategory", *focus_skus.OWN_COLUMNS)
)  # fmt: skip
CLOUDS = PROVIDER_BY_NAME | {  # the clouds' names in their FOCUS exports → the ledger's provider names
    "microsoft": "azure", "microsoft azure": "azure", "microsoft corporation": "azure", "azure": "azure",
    "aws": "aws", "amazon web services": "aws", "amazon web services, inc.": "aws", "amazon": "aws",
    "google cloud": "google", "google cloud platform": "google", "google": "google", "gcp": "google",
}  # fmt: skip
AI_CATEGORY = "ai and machine learning"  # FOCUS ServiceCategory
AI_SERVICE_WORDS = ("bedrock", "openai", "vertex ai", "gemini", "foundry", "cognitive services", "generative")
_GZIP = b"\x1f\x8b"
_PARQUET = b"PAR1"
_TOKENS_ON = ("usage", "")  # charge categories whose quantity is consumption


def read(stream: BinaryIO, options: ImportOptions, services: Services = "all") -> Iterator[ImportRow]:
    """The rows of a FOCUS file, one `ImportRow` each, in file order; `services="ai"` keeps
    only the AI services' rows (the others are skipped, neither imported nor rejected)."""
    if not stream.seekable():
        raise ImportFileError("a FOCUS file is read from a file, not a pipe: save it first", field="format")
    head = stream.read(4)
    stream.seek(0)
    if head == _PARQUET:
        rows = _parquet_rows(stream)
    else:
        rows = _csv_rows(gzip.GzipFile(fileobj=stream) if head[:2] == _GZIP else stream)
    basis = options.basis or Basis.BILLED
    for line, row in rows:
        if isinstance(row, Rejected):
            yield row
            continue
        if services == "ai" and not is_ai_service(row.values):
            continue
        yield _to_row(line, row, options, basis)


def reader_for(services: Services) -> Reader:
    """The FOCUS reader keeping every service's rows ("all") or only the AI services' ("ai")."""
    return Reader(
        name="focus",  # one name, so both land on the same source and keys: never counted twice
        help="FOCUS 1.0-1.3 cost and usage export (Azure, AWS, Google...), CSV, CSV.gz or Parquet"
        + ("; AI services only" if services == "ai" else ""),
        sniff=sniff,
        read=lambda stream, options: read(stream, options, services),
    )


def sniff(head: bytes) -> bool:
    """A Parquet file, or a CSV (gzipped or not) whose header names FOCUS's cost and period columns."""
    if head.startswith(_PARQUET):
        return True
    if head.startswith(_GZIP):
        try:
            head = zlib.decompressobj(wbits=31).decompress(head, 64 * 1024)
        except zlib.error:
            return False
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace").lower()
    return all(name in first for name in ("billedcost", "chargeperiodstart", "billingcurrency"))


def is_ai_service(values: Mapping[str, str]) -> bool:
    """Whether a row bills an AI service: FOCUS's category, or a service or SKU the clouds sell AI under."""
    if values.get("servicecategory", "").strip().lower() == AI_CATEGORY:
        return True
    service = values.get("servicename", "").lower()
    return any(word in service for word in AI_SERVICE_WORDS) or service.endswith("(amazon bedrock edition)")


# ---- reading: CSV and Parquet as (line, row) in batches ----------------------------------------


class _Row:
    """One row's text by lower-case FOCUS name, with the file's spelling of each name."""

    __slots__ = ("values", "names", "raw")

    def __init__(self, values: dict[str, str], names: Mapping[str, str], raw: dict[str, Any]) -> None:
        self.values = values  # every column read, as text ("" for null)
        self.names = names  # lower-case name → the file's header
        self.raw = raw  # the typed values a Parquet file gives (datetimes, Decimals, maps), else empty


def _columns(header: Iterable[str]) -> dict[str, str]:
    """The file's headers by the lower-case FOCUS name they stand for; ImportFileError when one is missing."""
    names: dict[str, str] = {}
    for name in header:
        key = name.strip().lstrip("\ufeff").lower()
        key = ALIASES.get(key, key)
        names.setdefault(key, name)
    missing = [n for n in REQUIRED if n not in names]
    if missing or not any(n in names for n in PROVIDER_COLUMNS):
        wanted = [_SPELLING[n] for n in missing] or ["ProviderName (or ServiceProviderName)"]
        raise ImportFileError(
            f"not a FOCUS cost and usage file: no {', '.join(wanted)} column; export the FOCUS cost and "
            "usage dataset (Azure: Cost Management exports, FOCUS; AWS: Data Exports, FOCUS 1.0/1.2; "
            "Google: the FOCUS BigQuery export) with its column names as the specification writes them",
            field="format",
        )
    return names


_SPELLING = {
    "billedcost": "BilledCost",
    "billingcurrency": "BillingCurrency",
    "chargeperiodstart": "ChargePeriodStart",
    "chargeperiodend": "ChargePeriodEnd",
}


def _csv_rows(stream: BinaryIO | gzip.GzipFile) -> Iterator[tuple[int, _Row | Rejected]]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        yield from _csv_text_rows(text)
    finally:
        text.detach()  # the caller's file stays open: whoever opened it closes it


def _csv_text_rows(text: io.TextIOWrapper) -> Iterator[tuple[int, _Row | Rejected]]:
    rows = csv.reader(text)
    try:
        header = next(rows, None)
    except (csv.Error, UnicodeDecodeError, OSError, EOFError) as exc:
        raise ImportFileError(f"line 1: the header cannot be read as CSV ({exc})", field="format") from None
    if not header:
        raise ImportFileError("the file is empty: a FOCUS CSV starts with its header line", field="format")
    names = _columns(header)
    keep = [(header.index(name), key) for key, name in names.items() if key in _READ]
    width = len(header)
    numbered = _numbered(rows)
    while True:
        try:
            batch = list(islice(numbered, BATCH_ROWS))
        except (UnicodeDecodeError, OSError, EOFError) as exc:
            raise ImportFileError(
                f"after line {rows.line_num}: the file cannot be read further ({exc}); save it as UTF-8 CSV",
                field="format",
            ) from None
        if not batch:
            return
        for line, item in batch:
            if isinstance(item, csv.Error):
                reason = f"not a CSV row ({item}); quote fields that hold commas or quotes"
                yield line, Rejected(line, "", reason)
            elif len(item) != width and item:
                yield line, Rejected(line, "", f"{len(item)} fields where the header has {width}")
            elif item:
                values = {key: item[i].strip() for i, key in keep}
                yield line, _Row(values, names, {})


def _numbered(rows: Any) -> Iterator[tuple[int, list[str] | csv.Error]]:
    """The reader's rows with the line each starts on; a row it cannot parse as its csv.Error
    (the reader goes on after it)."""
    while True:
        line = rows.line_num + 1
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            yield line, exc
            continue
        yield line, row


def _parquet_rows(stream: BinaryIO) -> Iterator[tuple[int, _Row | Rejected]]:
    import pyarrow as pa  # only when a Parquet file comes
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(stream)
        names = _columns(parquet.schema_arrow.names)
        wanted = {names[key]: key for key in names if key in _READ}
        batches = parquet.iter_batches(batch_size=BATCH_ROWS, columns=list(wanted))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ImportFileError(f"not a readable Parquet file ({exc})", field="format") from None
    number = 0
    while True:
        try:
            batch = next(batches, None)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise ImportFileError(
                f"after row {number}: the Parquet file cannot be read further ({exc})", field="format"
            ) from None
        if batch is None:
            return
        columns = {wanted[name]: batch.column(name).to_pylist() for name in batch.schema.names}
        for i in range(batch.num_rows):
            number += 1
            raw = {key: values[i] for key, values in columns.items()}
            yield number, _Row({key: _text(value) for key, value in raw.items()}, names, raw)


def _text(value: Any) -> str:
    """A Parquet value as the text a CSV export writes for it."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, list | dict):
        return json.dumps(_mapping(value), sort_keys=True, ensure_ascii=False, default=str)
    return str(value).strip()


def _mapping(value: Any) -> Any:
    """Parquet's map type (a list of key-value pairs) as a dict; other values as they are."""
    if isinstance(value, list) and all(isinstance(p, tuple) and len(p) == 2 for p in value):
        return {str(k): v for k, v in value}
    return value


# ---- one row → one record -----------------------------------------------------------------------


class _RowError(SpendledgerError):
    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason, field=column)
        self.column, self.reason = column, reason


def _to_row(line: int, row: _Row, options: ImportOptions, basis: Basis) -> ImportRow:
    try:
        return Imported(line, _record(row, options, basis))
    except _RowError as exc:
        return Rejected(line, row.names.get(exc.column, exc.column), exc.reason)


def _record(row: _Row, options: ImportOptions, basis: Basis) -> UsageRecord:
    v = row.values
    cost = _cost(row)
    currency = v["billingcurrency"].upper()
    if problem := currency_problem(currency):
        empty = "BillingCurrency is empty: write the ISO 4217 code, USD, EUR..."
        raise _RowError("billingcurrency", problem if currency else empty)
    start, end = _time(row, "chargeperiodstart"), _time(row, "chargeperiodend")
    if end <= start:
        reason = "ChargePeriodEnd must come after ChargePeriodStart (the end is exclusive)"
        raise _RowError("chargeperiodend", reason)
    provider = provider_of(v)
    if not provider:
        reason = "ProviderName is empty: every FOCUS row names the provider that bills it"
        raise _RowError("providername", reason)
    labels = _labels(row)
    category = v.get("chargecategory", "")
    found = focus_skus.billed(provider, v)
    tokens = TokenCounts()
    quantity = _decimal(row, "consumedquantity") if v.get("consumedquantity") else None
    requests, model = 0, found.model
    if focus_skus.OWN_TOKENS["input"] in row.names:  # spendledger's own export: its exact figures
        try:
            tokens, requests = focus_skus.own_figures(v)
        except SpendledgerError as exc:
            raise _RowError(exc.field or "x_inputtokens", str(exc)) from None
        model = v.get(focus_skus.OWN_MODEL) or model
    elif category.lower() in _TOKENS_ON and not v.get("chargeclass"):
        try:
            tokens = focus_skus.token_counts(found, quantity, v.get("consumedunit", ""))
        except ValueError as exc:
            raise _RowError("consumedquantity", str(exc)) from None
    identity = [v.get(name, "") for name in IDENTITY]
    identity[:2] = start.isoformat(), end.isoformat()  # one spelling of the period, whatever the file's
    identity[_TAGS_AT] = json.dumps(labels, sort_keys=True, ensure_ascii=False, default=str) if labels else ""
    return UsageRecord(
        key=natural_key(options, None, identity),
        source=options.source,
        basis=basis,
        start=start,
        end=end,
        provider=provider,
        model=model[:DIM],
        account=(
            v.get("subaccountname")
            or v.get("subaccountid")
            or v.get("billingaccountname")
            or v.get("billingaccountid", "")
        )[:DIM],  # fmt: skip
        workspace=v.get("x_resourcegroupname", "")[:DIM] or _label(labels, "workspace"),
        api_key_id=_label(labels, "api_key_id"),
        project=_label(labels, "project") or _resource_name(v),
        user=_label(labels, "user"),
        feature=_label(labels, "feature"),
        tags=_tags(v, labels, provider, quantity),
        requests=requests,
        tokens=tokens,
        cost=cost,
        currency=currency,
        pricing_status=PricingStatus.PROVIDER,
        service_tier=found.service_tier,
        batch=found.batch,
    )


def _resource_name(values: Mapping[str, str]) -> str:
    """ResourceName, else the last part of ResourceId (an ARN's or Azure id's name)."""
    if name := values.get("resourcename"):
        return name[:DIM]
    last = values.get("resourceid", "").rstrip("/").rsplit("/")[-1]
    return (last.rsplit(":")[-1] if last.startswith("arn:") else last)[:DIM]


def provider_of(values: Mapping[str, str]) -> str:
    """The ledger's provider of a row: the route that sold it (see the module's doc)."""
    host, issuer = (_provider(values.get(c, "")) for c in ("hostprovidername", "invoiceissuername"))
    if host and host == issuer and host != "not applicable":  # the host bills it: the route
        return host
    return _provider(next((values[c] for c in PROVIDER_COLUMNS if values.get(c)), ""))


def _provider(name: str) -> str:
    return CLOUDS.get(name.strip().lower()) or canonical_provider(name)[:DIM]


def _cost(row: _Row) -> Decimal:
    cost = _decimal(row, "billedcost")
    if cost is None:
        raise _RowError("billedcost", "BilledCost is empty: every FOCUS row states its cost, 0 when free")
    if abs(cost) > MAX_COST:
        reason = f"BilledCost {cost:f} is beyond ±{MAX_COST:,}: check the column's figures"
        raise _RowError("billedcost", reason)
    return cost


def _decimal(row: _Row, column: str) -> Decimal | None:
    raw = row.raw.get(column)
    if isinstance(raw, Decimal | int) and not isinstance(raw, bool):
        value: Decimal = Decimal(raw)
    else:
        text = row.values.get(column, "")
        if not text:
            return None
        try:
            value = Decimal(text)
        except (InvalidOperation, ValueError):
            value = Decimal("NaN")
        if not value.is_finite() or value.adjusted() > 18:
            shown = text if len(text) <= 20 else text[:17] + "..."
            reason = f"{shown!r} is not a decimal number: write it as 12.345 (a point, no unit)"
            raise _RowError(column, reason)
    return value


def _time(row: _Row, column: str) -> datetime:
    raw, text = row.raw.get(column), row.values.get(column, "")
    value: datetime | None = None
    if isinstance(raw, datetime):
        value = raw
    elif isinstance(raw, date):
        value = datetime(raw.year, raw.month, raw.day)
    elif text:
        spelled = text[:-4] + "+00:00" if text.upper().endswith(" UTC") else text
        try:
            value = datetime.fromisoformat(spelled)
        except ValueError:
            value = None
    name = _SPELLING.get(column, column)
    if value is None:
        shown = text if len(text) <= 30 else text[:27] + "..."
        raise _RowError(column, f"{name} {shown!r} is not a date and time: write 2026-11-01T00:00:00Z (UTC)")
    value = value if value.tzinfo and value.utcoffset() is not None else value.replace(tzinfo=UTC)
    if problem := timestamp_problem(name, value):
        raise _RowError(column, problem)
    return value.astimezone(UTC)


def _labels(row: _Row) -> dict[str, Any]:
    """The row's Tags: a JSON object in a CSV, a map or struct in a Parquet file."""
    raw = row.raw.get("tags")
    if isinstance(raw, list | dict):  # a Parquet map or struct; a string column is JSON text
        value = _mapping(raw)
    else:
        text = row.values.get("tags", "")
        if not text:
            return {}
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            raise _RowError("tags", 'Tags is not JSON: write an object such as {"team": "search"}') from None
    if not isinstance(value, dict):
        raise _RowError("tags", 'Tags must be a JSON object such as {"team": "search"}')
    return value


def _label(labels: Mapping[str, Any], name: str) -> str:
    value = labels.get(name)
    return value.strip()[:DIM] if isinstance(value, str) else ""


def _tags(
    values: Mapping[str, str], labels: dict[str, Any], provider: str, quantity: Decimal | None
) -> dict[str, Any]:
    tags: dict[str, Any] = {}
    if quantity is not None:  # one spelling whatever the file's type: 1500000, not 1500000.000
        tags["consumed_quantity"] = f"{quantity.normalize():f}"
    for tag, column in (
        ("charge_category", "chargecategory"),
        ("charge_class", "chargeclass"),
        ("service", "servicename"),
        ("service_category", "servicecategory"),
        ("billing_account_id", "billingaccountid"),
        ("sub_account_id", "subaccountid"),
        ("resource_id", "resourceid"),
        ("region", "regionid"),
        ("sku_id", "skuid"),
        ("sku_price_id", "skupriceid"),
        ("meter", "skumeter"),
        ("usage_type", "x_usagetype"),
        ("consumed_unit", "consumedunit"),
    ):
        if value := values.get(column):
            tags[tag] = value[:DIM]
    publisher = values.get("publishername", "")
    if publisher and CLOUDS.get(publisher.lower(), publisher.lower()) != provider:
        tags["publisher"] = publisher[:DIM]
    if labels:
        tags["labels"] = labels
        if tags_problem(tags):  # keep what fits of a large or deep Tags object, and say so
            kept = {k: v for k, v in list(labels.items())[:8] if isinstance(v, str | int | bool) or v is None}
            tags["labels"] = {k: v[:DIM] if isinstance(v, str) else v for k, v in kept.items()}
            tags["labels_truncated"] = True
            if tags_problem(tags):
                del tags["labels"]
    return tags


READER = reader_for("all")
# `--format focus-ai` (or the CLI's `--focus-services ai`): the AI services' rows only
READERS = {"focus": READER, "focus-ai": reader_for("ai")}
