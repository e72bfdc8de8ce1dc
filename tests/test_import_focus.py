"""The FOCUS reader: Azure, AWS and Google FOCUS exports → billed records in the ledger.

The samples in tests/fixtures/focus/ are FOCUS 1.2 cost and usage files written from the
specification and each cloud's documented FOCUS columns (Azure's x_ResourceGroupName and
SkuMeter, AWS's x_UsageType/x_ServiceCode/x_Operation, Google's SKU descriptions). Each
was checked with the FinOps Foundation's validator (`/work/shared/tools/focus-validate`,
focus-validator 2.2.1, rules 1.2.0.1), as CSV and as typed Parquet: 136 rules pass, 441
do not apply, and one fails on every file whatever it holds: InvoiceId-C-004-C ("MUST be
null") and InvoiceId-C-005-C ("MUST NOT be null") are encoded without their conditions,
so a file with invoice ids fails the first and one without fails the second. As CSV, the
validator's type inference also reads AWS's 12-digit account ids and Google's invoice
numbers as integers; the Parquet forms, which carry types, pass.

Records are stored the way the importer stores them: canonicalised, then `write_records`;
totals are read back through `queries.spend`, the function the CLI, API and pages call.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from spendledger.errors import SpendledgerError
from spendledger.imports import focus
from spendledger.imports.base import Imported, ImportFileError, ImportOptions, ImportRow, Rejected
from spendledger.model_names import canonicalise
from spendledger.queries import SpendQuery, spend
from spendledger.records import Basis, TokenCounts, UsageRecord
from spendledger.store import write_records
from spendledger.store.ledger import WriteResult

FIXTURES = Path(__file__).parent / "fixtures" / "focus"
OPTIONS = ImportOptions(source="focus-import")
UTC_ZONE = ZoneInfo("UTC")
NOVEMBER = SpendQuery(start=date(2026, 10, 1), end=date(2026, 11, 30))

# Each sample's BilledCost column, added by hand:
# azure.csv  EUR 3.45 + 1.84 + 0.069 - 1.00 (credit) + 0.20 (storage) - 0.46 (correction) = 4.099
#            USD 2.50 (the second billing profile)
# aws.csv    USD 6.00 + 2.25 + 3.60 + 0.10 - 5.00 (credit) + 1.20 (tax) + 0.2496 (EC2) = 8.3996
# google.csv USD 1.20 + 1.25 + 0.50 + 1.25 - 0.75 (credit) + 0.758664 (Compute Engine) - 0.10 = 4.108664
TOTALS = {
    "azure": {"EUR": Decimal("4.099"), "USD": Decimal("2.50")},
    "aws": {"USD": Decimal("8.3996")},
    "google": {"USD": Decimal("4.108664")},
}
# the same without the rows of services that are not AI: Azure's storage 0.20, AWS's EC2
# 0.2496, Google's Compute Engine 0.758664
AI_TOTALS = {
    "azure": {"EUR": Decimal("3.899"), "USD": Decimal("2.50")},
    "aws": {"USD": Decimal("8.15")},
    "google": {"USD": Decimal("3.35")},
}
PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _rows(data: bytes | Path, services: focus.Services = "all") -> list[ImportRow]:
    stream = open(data, "rb") if isinstance(data, Path) else io.BytesIO(data)  # noqa: SIM115
    with stream:
        return list(focus.read(stream, OPTIONS, services))


def _records(data: bytes | Path, services: focus.Services = "all") -> list[UsageRecord]:
    rows = _rows(data, services)
    assert [r for r in rows if isinstance(r, Rejected)] == []
    return [r.record for r in rows if isinstance(r, Imported)]


def _store(engine: Engine, records: list[UsageRecord]) -> WriteResult:
    for record in records:
        canonicalise(record)
    with engine.begin() as conn:
        return write_records(conn, records, tz=UTC_ZONE)


def _totals(engine: Engine) -> dict[str, Decimal]:
    with engine.connect() as conn:
        return spend(conn, NOVEMBER).totals


def _csv_sum(path: Path) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            sums[row["BillingCurrency"]] = sums.get(row["BillingCurrency"], Decimal(0)) + Decimal(
                row["BilledCost"]
            )
    return sums


def _csv_text(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def _sample(name: str) -> tuple[list[str], list[list[str]]]:
    with (FIXTURES / f"{name}.csv").open(newline="") as f:
        header, *rows = list(csv.reader(f))
    return header, rows


# ---- the acceptance: a FOCUS file's total equals its BilledCost sum --------------------------------


@pytest.mark.parametrize("cloud", ["azure", "aws", "google"])
def test_focus_sample_stores_its_billed_cost_sum(engine: Engine, cloud: str) -> None:
    path = FIXTURES / f"{cloud}.csv"
    assert _csv_sum(path) == TOTALS[cloud]  # the hand-added figures are the file's
    result = _store(engine, _records(path))
    assert result.inserted == 7  # one record per row
    assert _totals(engine) == TOTALS[cloud]


def test_focus_all_three_clouds_add_up_per_currency(engine: Engine) -> None:
    for cloud in ("azure", "aws", "google"):
        _store(engine, _records(FIXTURES / f"{cloud}.csv"))
    # EUR 4.099 (Azure); USD 2.50 + 8.3996 + 4.108664 = 15.008264
    assert _totals(engine) == {"EUR": Decimal("4.099"), "USD": Decimal("15.008264")}
    with engine.connect() as conn:
        report = spend(conn, SpendQuery(start=date(2026, 10, 1), end=date(2026, 11, 30), by=("provider",)))
    by_provider = {(r.dims["provider"], r.currency): r.cost for r in report.rows}
    assert by_provider == {
        ("azure", "EUR"): Decimal("4.099"),
        ("azure", "USD"): Decimal("2.50"),
        ("aws", "USD"): Decimal("8.3996"),
        ("google", "USD"): Decimal("4.108664"),
    }


def test_focus_maps_models_tokens_and_dimensions() -> None:
    azure = _records(FIXTURES / "azure.csv")
    for record in azure:
        canonicalise(record)
    first = azure[0]  # gpt-4o-0806 Inp glbl Tokens: 1 500 000 tokens
    assert (first.provider, first.account, first.workspace, first.project) == (
        "azure",
        "contoso-prod",
        "rg-ai",
        "assistant",  # the Tags' project wins over the resource name
    )
    assert (first.model, first.tokens.input, first.basis) == ("gpt-4o-2024-08-06", 1_500_000, Basis.BILLED)
    assert first.start == datetime(2026, 11, 2, tzinfo=UTC) and first.end == datetime(2026, 11, 3, tzinfo=UTC)
    assert first.tags["labels"] == {"team": "search", "project": "assistant"}
    assert azure[2].tokens == TokenCounts(input=3_000_000, cached_input=3_000_000)  # gpt-4.1-nano cached
    assert azure[2].project == "contoso-batch"

    aws = _records(FIXTURES / "aws.csv")
    for record in aws:
        canonicalise(record)
    assert [(r.model, r.tokens.input, r.tokens.output, r.tokens.cached_input) for r in aws[:4]] == [
        ("claude-3-5-sonnet", 2_000_000, 0, 0),
        ("claude-3-5-sonnet", 0, 150_000, 0),
        ("claude-sonnet-4-5", 1_200_000, 0, 0),  # the edition's "Units" are millions of tokens
        ("nova-pro", 500_000, 0, 500_000),
    ]
    assert aws[2].tags["publisher"] == "Anthropic" and aws[2].provider == "aws"
    assert aws[6].project == "i-0abc123def4567890"  # the ARN's name

    google = _records(FIXTURES / "google.csv")
    for record in google:
        canonicalise(record)
    assert [(r.model, r.user, r.feature, r.project) for r in google[:4]] == [
        ("gemini-2.5-flash", "ana", "", "chatbot"),
        ("gemini-2.5-flash", "ana", "", "chatbot"),
        ("gemini-2.5-flash", "ana", "", "chatbot"),
        ("gemini-2.5-pro", "", "summaries", "docs-search"),
    ]
    assert google[2].tokens == TokenCounts(output=200_000, reasoning=200_000)  # thinking output
    assert google[0].account == "ACME ML Prod" and google[0].tags["sub_account_id"] == "acme-ml-prod"


def test_focus_credits_are_negative_and_categories_kept() -> None:
    records = {cloud: _records(FIXTURES / f"{cloud}.csv") for cloud in ("azure", "aws", "google")}
    credits = [r for rs in records.values() for r in rs if r.tags["charge_category"] == "Credit"]
    assert sorted(r.cost for r in credits if r.cost is not None) == [
        Decimal("-5.00"),
        Decimal("-1.00"),
        Decimal("-0.75"),
    ]
    assert all(r.tokens == TokenCounts() for r in credits)  # a credit consumes nothing
    correction = records["azure"][5]
    assert correction.tags["charge_class"] == "Correction" and correction.cost == Decimal("-0.46")
    assert correction.tokens == TokenCounts()  # money only
    assert {r.tags["charge_category"] for r in records["aws"]} == {"Usage", "Credit", "Tax"}
    assert records["google"][6].tags["charge_category"] == "Adjustment"


# ---- idempotence ------------------------------------------------------------------------------------


def test_focus_reimport_changes_nothing(engine: Engine) -> None:
    path = FIXTURES / "aws.csv"
    assert _store(engine, _records(path)).inserted == 7
    again = _store(engine, _records(path))
    assert (again.inserted, again.replaced, again.duplicates) == (0, 0, 7)
    assert _totals(engine) == {"USD": Decimal("8.3996")}


def test_focus_revised_export_replaces_rows_never_adds(engine: Engine) -> None:
    header, rows = _sample("aws")
    _store(engine, _records(_csv_text(header, rows)))
    cost = header.index("BilledCost")
    rows[0][cost] = "6.30"  # AWS's refreshed month: the day's input cost revised from 6.00
    result = _store(engine, _records(_csv_text(header, rows)))
    assert (result.inserted, result.replaced) == (0, 1)
    assert _totals(engine) == {"USD": Decimal("8.6996")}  # 8.3996 + 0.30


def test_focus_rows_differing_only_in_amounts_share_a_key() -> None:
    header, rows = _sample("google")
    other = [*rows[0]]
    other[header.index("BilledCost")] = "9.99"
    keys = [r.key for r in _records(_csv_text(header, [rows[0], other]))]
    assert keys[0] == keys[1] and keys[0].startswith("focus-import|row|")


# ---- errors named by line, column and reason --------------------------------------------------------


def test_focus_malformed_rows_are_named() -> None:
    header, rows = _sample("google")
    col = {name: i for i, name in enumerate(header)}
    bad = [[*rows[0]] for _ in range(6)]
    bad[0][col["BilledCost"]] = "12,5 USD"  # line 3
    bad[1][col["ChargePeriodStart"]] = "02/11/2026"  # line 4
    bad[2][col["BillingCurrency"]] = "US$"  # line 5
    bad[3][col["Tags"]] = "{project: chatbot}"  # line 6
    bad[4][col["ChargePeriodEnd"]] = "2026-11-02T09:00:00Z"  # line 7: before its start
    bad[5] = bad[5][:10]  # line 8: a short row
    found = _rows(_csv_text(header, [rows[0], *bad, rows[1]]))
    rejected = [(r.line, r.column) for r in found if isinstance(r, Rejected)]
    assert rejected == [
        (3, "BilledCost"),
        (4, "ChargePeriodStart"),
        (5, "BillingCurrency"),
        (6, "Tags"),
        (7, "ChargePeriodEnd"),
        (8, ""),
    ]
    reasons = {r.line: r.reason for r in found if isinstance(r, Rejected)}
    assert "'12,5 USD' is not a decimal number" in reasons[3]
    assert "write 2026-11-01T00:00:00Z" in reasons[4]
    assert "not an ISO 4217 code" in reasons[5]
    assert "10 fields where the header has" in reasons[8]
    assert [r.line for r in found if isinstance(r, Imported)] == [2, 9]


def test_focus_missing_column_is_a_file_error() -> None:
    header, rows = _sample("azure")
    i = header.index("BilledCost")
    text = _csv_text(
        [h for j, h in enumerate(header) if j != i], [[v for j, v in enumerate(r) if j != i] for r in rows]
    )
    with pytest.raises(ImportFileError, match="no BilledCost column"):
        _rows(text)
    with pytest.raises(ImportFileError, match="empty"):
        _rows(b"")


@given(
    cells=st.lists(
        st.lists(
            st.one_of(
                st.text(max_size=12),
                st.sampled_from(
                    ["", "NaN", "-Infinity", "1e999999", "9" * 40, "2026-13-45T99:00Z", "{", "[]"]
                ),
                st.sampled_from(["2026-11-02T00:00:00Z", "1.5", "USD", "Usage", "AWS", '{"a": {"b": [1]}}']),
            ),
            min_size=0,
            max_size=8,
        ),
        max_size=6,
    )
)
@PROPERTY
def test_focus_garbage_rows_are_rejected_never_raised(cells: list[list[str]]) -> None:
    header = ["BilledCost", "BillingCurrency", "ChargePeriodStart", "ChargePeriodEnd", "ProviderName", "Tags",
              "ConsumedQuantity", "ChargeCategory"]  # fmt: skip
    rows = _rows(_csv_text(header, cells))
    for row in rows:
        assert isinstance(row, Imported | Rejected)
        if isinstance(row, Rejected):
            assert row.line >= 2 and row.reason
        else:
            assert row.record.cost is not None and abs(row.record.cost) <= focus.MAX_COST
            row.record.tokens.validate()


@given(data=st.binary(max_size=300))
@PROPERTY
def test_focus_garbage_files_raise_only_our_errors(data: bytes) -> None:
    for head in (
        b"",
        b"PAR1",
        b"\x1f\x8b",
        b"BilledCost,BillingCurrency,ChargePeriodStart,ChargePeriodEnd,ProviderName\n",
    ):
        try:
            rows = _rows(head + data)
        except SpendledgerError:
            continue
        assert all(isinstance(row, Imported | Rejected) for row in rows)


# ---- versions, spellings and containers -------------------------------------------------------------


def test_focus_reads_1_0_preview_and_1_3_column_names() -> None:
    header, rows = _sample("aws")
    expected = [(r.key, r.cost, r.provider, r.tokens) for r in _records(_csv_text(header, rows))]
    preview = {
        "ChargeCategory": "ChargeType",
        "ConsumedQuantity": "UsageQuantity",
        "ConsumedUnit": "UsageUnit",
    }
    renamed = [preview.get(h, h) for h in header]
    assert [(r.key, r.cost, r.provider, r.tokens) for r in _records(_csv_text(renamed, rows))] == expected
    v13 = ["ServiceProviderName" if h == "ProviderName" else h for h in header] + ["HostProviderName"]
    records = _records(_csv_text(v13, [[*r, "AWS"] for r in rows]))
    assert [(r.cost, r.provider, r.tokens) for r in records] == [(c, p, t) for _, c, p, t in expected]
    lower = [h.lower() for h in header]
    assert [r.key for r in _records(_csv_text(lower, rows))] == [k for k, *_ in expected]


def test_focus_reads_bigquery_times_and_gzip() -> None:
    header, rows = _sample("google")
    start, end = header.index("ChargePeriodStart"), header.index("ChargePeriodEnd")
    for row in rows:
        row[start], row[end] = "2026-11-02 10:00:00 UTC", "2026-11-02 11:00:00 UTC"
    text = _csv_text(header, rows)
    records = _records(gzip.compress(text))
    assert records[0].start == datetime(2026, 11, 2, 10, tzinfo=UTC)
    assert [r.key for r in records] == [r.key for r in _records(FIXTURES / "google.csv")]
    assert focus.sniff(gzip.compress(text)[:4096]) and focus.sniff(text[:4096])
    assert not focus.sniff(b"timestamp,provider,model,cost\n")


def test_focus_ai_services_option_keeps_only_ai_rows(engine: Engine) -> None:
    for cloud in ("azure", "aws", "google"):
        kept = _records(FIXTURES / f"{cloud}.csv", services="ai")
        assert {r.tags["service"] for r in kept}.isdisjoint(
            {"Storage Accounts", "Amazon Elastic Compute Cloud", "Compute Engine"}
        )
        sums: dict[str, Decimal] = {}
        for r in kept:
            sums[r.currency] = sums.get(r.currency, Decimal(0)) + (r.cost or Decimal(0))
        assert sums == AI_TOTALS[cloud]
    ai = focus.READERS["focus-ai"]
    with (FIXTURES / "aws.csv").open("rb") as f:
        services = {row.record.tags["service"] for row in ai.read(f, OPTIONS) if isinstance(row, Imported)}
    assert services == {"Amazon Bedrock", "Claude Sonnet 4.5 (Amazon Bedrock Edition)"}
    with (FIXTURES / "aws.csv").open("rb") as f:
        assert len(list(focus.READERS["focus"].read(f, OPTIONS))) == 7  # every row


# ---- Parquet ---------------------------------------------------------------------------------------

_DECIMAL = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "ConsumedQuantity",
            "PricingQuantity", "ListUnitPrice", "ContractedUnitPrice")  # fmt: skip
_TIMES = ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd")


def _parquet(path: Path, *, money: pa.DataType, tags_as_map: bool) -> bytes:
    """The CSV sample as a typed Parquet file, as the clouds write them: decimals (Azure, Google)
    or doubles (AWS), UTC timestamps, Tags as JSON text or as a map (AWS)."""
    header, rows = _sample(path.stem)
    columns: dict[str, pa.Array] = {}
    for i, name in enumerate(header):
        values = [row[i] or None for row in rows]
        if name in _DECIMAL:
            parsed = [Decimal(v) if v else None for v in values]
            floats = [None if v is None else float(v) for v in parsed]
            columns[name] = pa.array(floats if money == pa.float64() else parsed, money)
        elif name in _TIMES:
            columns[name] = pa.array(
                [datetime.fromisoformat(v) if v else None for v in values], pa.timestamp("ms", "UTC")
            )
        elif name == "Tags" and tags_as_map:
            maps = [list(json.loads(v).items()) if v else None for v in values]
            columns[name] = pa.array(maps, pa.map_(pa.string(), pa.string()))
        else:
            columns[name] = pa.array(values, pa.string())
    out = io.BytesIO()
    pq.write_table(pa.table(columns), out, row_group_size=3)
    return out.getvalue()


def _same(record: UsageRecord) -> tuple[object, ...]:
    return tuple(getattr(record, name) for name in _COMPARED)


_COMPARED = ("key", "start", "end", "provider", "model", "account", "project", "user", "cost", "currency",
             "tokens", "tags")  # fmt: skip


@pytest.mark.parametrize(
    ("cloud", "money", "tags_as_map"),
    [
        ("aws", pa.float64(), True),
        ("azure", pa.decimal128(38, 12), False),
        ("google", pa.decimal128(38, 12), False),
    ],
)
def test_focus_parquet_reads_as_its_csv(
    engine: Engine, cloud: str, money: pa.DataType, tags_as_map: bool
) -> None:
    data = _parquet(FIXTURES / f"{cloud}.csv", money=money, tags_as_map=tags_as_map)
    assert focus.sniff(data[:4096])
    from_parquet = _records(data)
    from_csv = _records(FIXTURES / f"{cloud}.csv")
    assert len(from_parquet) == len(from_csv)
    for p, c in zip(from_parquet, from_csv, strict=True):
        assert _same(p) == _same(c)
        assert p.cost == c.cost  # the same Decimal value, however the file typed it
    _store(engine, from_parquet)
    assert _totals(engine) == TOTALS[cloud]
    again = _store(engine, from_csv)  # the CSV after its Parquet twin: the same records
    assert (again.inserted, again.replaced) == (0, 0)


def test_focus_parquet_rows_are_numbered() -> None:
    header, rows = _sample("google")
    rows[4][header.index("BillingCurrency")] = "XX"  # the fifth row
    path_rows = _rows(_parquet_from(header, rows))
    assert [(r.line, r.column) for r in path_rows if isinstance(r, Rejected)] == [(5, "BillingCurrency")]


def _parquet_from(header: list[str], rows: list[list[str]]) -> bytes:
    table = pa.table({name: pa.array([row[i] for row in rows], pa.string()) for i, name in enumerate(header)})
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


# ---- streaming: flat memory ---------------------------------------------------------------------------

BIG_ROWS = 200_000
BIG_HEADER = ["BilledCost", "BillingCurrency", "ChargePeriodStart", "ChargePeriodEnd", "ProviderName",
              "ServiceName", "SubAccountId", "SkuId", "ConsumedQuantity", "ConsumedUnit", "x_UsageType",
              "Tags"]  # fmt: skip
USAGE_TYPES = [
    "USE1-Claude3.5Sonnet-input-tokens",
    "USE1-Claude3.5Sonnet-output-tokens",
    "USE1-NovaPro-input-tokens",
]


def _rss() -> int:
    """This process's resident memory now, in bytes (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _big_rows() -> Iterator[list[str]]:
    """BIG_ROWS rows of Bedrock usage, each its own hour, costing 0.000 to 0.999 in turn."""
    for n in range(BIG_ROWS):
        day, hour = 1 + (n // 24) % 28, n % 24
        period = f"2026-11-{day:02d}T{hour:02d}"
        yield [
            f"0.{n % 1000:03d}", "USD", f"{period}:00:00Z", f"{period}:59:59Z", "AWS", "Amazon Bedrock",
            f"{100000000000 + n // 672}", "QZ7XJ4N2UXQ5A3PD", str(1000 + n % 7), "Tokens", USAGE_TYPES[n % 3],
            json.dumps({"project": f"p{n % 50}"}),
        ]  # fmt: skip


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_focus_large_file_reads_with_flat_memory(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"big.{kind}"
    if kind == "csv":
        with path.open("w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(BIG_HEADER)
            writer.writerows(_big_rows())
    else:
        rows = _big_rows()
        with pq.ParquetWriter(path, pa.schema([(h, pa.string()) for h in BIG_HEADER])) as writer:
            while chunk := list(itertools.islice(rows, 20_000)):
                writer.write_table(pa.table({h: [r[i] for r in chunk] for i, h in enumerate(BIG_HEADER)}))
    size = path.stat().st_size
    before = peak = _rss()
    count, total, keys = 0, Decimal(0), set()
    with path.open("rb") as f:
        for n, row in enumerate(focus.read(f, OPTIONS)):
            assert isinstance(row, Imported)
            count += 1
            total += row.record.cost or 0
            if n % 5000 == 0:
                peak = max(peak, _rss())
                keys.add(row.record.key)
    growth = peak - before
    print(f"FOCUS {kind}: {count} rows, {size / 1e6:.1f} MB file, RSS growth {growth / 1e6:.1f} MB")
    assert count == BIG_ROWS and len(keys) == BIG_ROWS // 5000  # every row its own key
    # 0.000 .. 0.999 repeated 200 times: 200 × (999 × 1000 / 2) / 1000 = 99 900
    assert total == Decimal("99900")
    assert growth < 30_000_000  # flat: the rows read never pile up
