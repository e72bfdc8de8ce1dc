"""The FOCUS export: which money goes in, how each column reads, CSV and Parquet, the CLI
and the API, and a round trip through `spendledger import`.

The ledger is tests/focus_ledger.py (every figure named there); the official validator's
run is tests/test_export_focus_validator.py.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from clirun import cli_runner
from focus_ledger import BEST_BY_PROVIDER, BEST_TOTALS, UTC_ZONE, focus_records, load_focus_ledger
from logins import add_user, login
from spendledger.charges import Charge, charges
from spendledger.config import Settings
from spendledger.exports.focus import focus_row, focus_rows
from spendledger.exports.focus_columns import columns
from spendledger.exports.focus_files import export_focus
from spendledger.imports import focus as focus_reader
from spendledger.imports.base import ImportOptions, Rejected
from spendledger.queries import QueryError, SpendQuery, spend
from spendledger.records import TokenCounts
from spendledger.store import make_engine, upgrade, write_records
from spendledger.store.users import grant
from spendledger.web import create_app

NOVEMBER = SpendQuery(start=date(2026, 11, 1), end=date(2026, 11, 30))


def _export(engine: Engine, query: SpendQuery = NOVEMBER, **options: Any) -> bytes:
    out = io.BytesIO()
    with engine.connect() as conn:
        export_focus(conn, query, tz=options.pop("tz", UTC_ZONE), out=out, **options)
    return out.getvalue()


def _csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def _by_sku(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for row in rows:
        found.setdefault(f"{row['ProviderName']}|{row['SkuId']}|{row['ChargePeriodStart'][:10]}", row)
    return found


# ---- which money: best available, per currency, equal to the report ----------------------------


def test_focus_export_totals_equal_the_report_per_currency(engine: Engine) -> None:
    load_focus_ledger(engine)
    rows = _csv_rows(_export(engine))
    totals: dict[str, Decimal] = {}
    for row in rows:
        totals[row["BillingCurrency"]] = totals.get(row["BillingCurrency"], Decimal(0)) + Decimal(
            row["BilledCost"]
        )
    # USD 1.50 + 0.25 + 3.00 + 0.80 + 0.10 + 125.00 - 10.00 = 120.65 (B covered by A's bill); EUR 2.00
    assert totals == BEST_TOTALS
    with engine.connect() as conn:
        assert spend(conn, NOVEMBER).totals == totals
    assert len(rows) == 9  # A, C, D, E, F, G, H, I, J (B is covered)
    bases = {row["x_Basis"] for row in rows}
    assert bases == {"billed", "metered", "manual"}


def test_focus_export_billed_basis_holds_only_the_bills(engine: Engine) -> None:
    load_focus_ledger(engine)
    rows = _csv_rows(_export(engine, SpendQuery(start=NOVEMBER.start, end=NOVEMBER.end, basis="billed")))
    # A 1.50 + D 3.00 + F 0.80 = 5.30 USD; E 2.00 EUR
    assert sorted((r["BillingCurrency"], Decimal(r["BilledCost"])) for r in rows) == [
        ("EUR", Decimal("2.00")),
        ("USD", Decimal("0.80")),
        ("USD", Decimal("1.50")),
        ("USD", Decimal("3.00")),
    ]
    assert {r["ChargeDescription"].rsplit(", ", 1)[1] for r in rows} == {"billed by the provider"}


# ---- the columns ---------------------------------------------------------------------------------


def test_focus_1_2_row_for_a_billed_openai_charge() -> None:
    rows = _csv_rows(_export_records())
    a = _by_sku(rows)["OpenAI|gpt-4o|2026-11-10"]
    assert list(rows[0]) == list(columns("1.2"))
    assert a["BilledCost"] == a["EffectiveCost"] == a["ListCost"] == a["ContractedCost"] == "1.50"
    assert (a["BillingAccountId"], a["BillingAccountName"], a["BillingCurrency"]) == ("org-a", "org-a", "USD")
    assert (a["ChargePeriodStart"], a["ChargePeriodEnd"]) == ("2026-11-10T00:00:00Z", "2026-11-11T00:00:00Z")
    assert (a["BillingPeriodStart"], a["BillingPeriodEnd"]) == (
        "2026-11-01T00:00:00Z",
        "2026-12-01T00:00:00Z",
    )
    assert (a["ChargeCategory"], a["ChargeClass"], a["ChargeFrequency"]) == ("Usage", "", "Usage-Based")
    assert a["ChargeDescription"] == "gpt-4o on OpenAI API, billed by the provider"
    # 1000 input + 500 output tokens: 1500 consumed, 0.0015 of a million priced
    assert (a["ConsumedQuantity"], a["ConsumedUnit"]) == ("1500.00", "Tokens")
    assert (a["PricingQuantity"], a["PricingUnit"]) == ("0.0015", "1000000 Tokens")
    assert (a["ProviderName"], a["PublisherName"], a["InvoiceIssuerName"]) == ("OpenAI", "OpenAI", "OpenAI")
    assert (a["ServiceName"], a["ServiceCategory"], a["ServiceSubcategory"]) == (
        "OpenAI API",
        "AI and Machine Learning",
        "Generative AI",
    )
    assert a["InvoiceId"] == ""  # the ledger knows no invoice ids
    assert json.loads(a["Tags"]) == {"labels.team": "search", "line_item": "gpt-4o, input", "project": "web"}
    assert (a["x_Model"], a["x_InputTokens"], a["x_OutputTokens"], a["x_Requests"]) == (
        "gpt-4o",
        "1000",
        "500",
        "1",
    )


def test_focus_hosted_models_name_the_maker_and_the_host() -> None:
    """Bedrock, Azure, Vertex and OpenRouter: the model's maker is the service provider
    (1.3) and publisher (1.2), the cloud or gateway the host, the provider and the issuer."""
    rows = _by_sku(_csv_rows(_export_records(version="1.3")))
    seen = {
        key.split("|")[0]: (
            r["ServiceProviderName"],
            r["HostProviderName"],
            r["ProviderName"],
            r["PublisherName"],
            r["InvoiceIssuerName"],
            r["ServiceName"],
        )
        for key, r in rows.items()
        if r["x_Model"] != "gpt-unknown-9"
    }
    assert seen == {
        "Amazon Web Services": ("Anthropic", "Amazon Web Services", "Amazon Web Services", "Anthropic",
                                "Amazon Web Services", "Amazon Bedrock"),
        "Microsoft": ("OpenAI", "Microsoft", "Microsoft", "OpenAI", "Microsoft", "Azure OpenAI"),
        "OpenRouter": ("Anthropic", "OpenRouter", "OpenRouter", "Anthropic", "OpenRouter", "OpenRouter"),
        "Google Cloud": (*("Google Cloud",) * 5, "Vertex AI"),
        "OpenAI": ("OpenAI", "OpenAI", "OpenAI", "OpenAI", "OpenAI", "OpenAI API"),
        "Anthropic": ("Anthropic", "Anthropic", "Anthropic", "Anthropic", "Anthropic", "Claude API"),
    }  # fmt: skip


def test_focus_vertex_claude_names_anthropic_and_google_cloud() -> None:
    charge = _charge(provider="google", model="claude-sonnet-4-5")
    row = focus_row(charge, version="1.3", tz=UTC_ZONE)
    assert (row["ServiceProviderName"], row["HostProviderName"]) == ("Anthropic", "Google Cloud")
    llama = focus_row(_charge(provider="groq", model="llama-3.3-70b"), version="1.3", tz=UTC_ZONE)
    assert (llama["ServiceProviderName"], llama["HostProviderName"]) == ("Meta", "Groq")
    nova = focus_row(_charge(provider="aws", model="nova-pro"), version="1.3", tz=UTC_ZONE)
    assert (nova["ServiceProviderName"], nova["HostProviderName"]) == ("Amazon Web Services",) * 2


def test_focus_subscription_credit_and_unpriced_rows() -> None:
    rows = _csv_rows(_export_records())
    h = next(r for r in rows if r["SkuId"] == "team")
    assert (h["ChargeCategory"], h["ChargeFrequency"], h["BilledCost"]) == ("Usage", "Recurring", "125.00")
    assert h["EffectiveCost"] == "125.00"  # a seat's cost shows nowhere else
    assert (h["PricingQuantity"], h["PricingUnit"], h["ConsumedQuantity"], h["ConsumedUnit"]) == (
        "5.00",
        "Seats",
        "5.00",
        "Seats",
    )
    assert h["ChargeDescription"] == "team on OpenAI API, entered by hand"
    i = next(r for r in rows if r["ProviderName"] == "Anthropic")
    assert (i["ChargeCategory"], i["ChargeFrequency"], i["BilledCost"]) == ("Credit", "One-Time", "-10.00")
    assert (i["PricingQuantity"], i["ConsumedQuantity"], i["SkuId"]) == ("", "", "Other")
    j = next(r for r in rows if r["x_Model"] == "gpt-unknown-9")
    assert (j["BilledCost"], j["x_UnpricedRequests"], j["ConsumedQuantity"]) == ("0.00", "1", "20.00")


def test_focus_imported_purchase_keeps_its_category_with_no_effective_cost() -> None:
    """A FOCUS file's Purchase (an upfront commitment: its effective cost is on the charges
    it covers) comes back a Purchase, BilledCost 120.00, EffectiveCost 0."""
    charge = _charge(cost=Decimal("120.00"), basis="billed", tags={"charge_category": "Purchase"})
    row = focus_row(charge, version="1.2", tz=UTC_ZONE)
    assert (row["ChargeCategory"], row["ChargeFrequency"]) == ("Purchase", "One-Time")
    assert (row["BilledCost"], row["EffectiveCost"], row["ListCost"]) == (
        Decimal("120.00"),
        0,
        Decimal("120.00"),
    )
    assert (row["PricingQuantity"], row["PricingUnit"], row["ConsumedQuantity"]) == (1, "Charges", None)


def test_focus_charge_periods_are_local_days_written_in_utc() -> None:
    """In Zurich (UTC+1 in November) the local day 2026-11-10 runs 2026-11-09T23:00Z to
    2026-11-10T23:00Z, and its month from 2026-10-31T23:00Z."""
    row = focus_row(_charge(day=date(2026, 11, 10)), version="1.2", tz=ZoneInfo("Europe/Zurich"))
    assert row["ChargePeriodStart"] == datetime(2026, 11, 9, 23, tzinfo=UTC)
    assert row["ChargePeriodEnd"] == datetime(2026, 11, 10, 23, tzinfo=UTC)
    assert row["BillingPeriodStart"] == datetime(2026, 10, 31, 23, tzinfo=UTC)
    assert row["BillingPeriodEnd"] == datetime(2026, 11, 30, 23, tzinfo=UTC)


def test_focus_tags_are_flat_and_the_dimensions_win() -> None:
    charge = _charge(
        project="web", user="u_9", tags={"project": "old", "a": {"b": {"c": 1}}, "list": [1, "x"], "ok": True}
    )
    tags = json.loads(focus_row(charge, version="1.2", tz=UTC_ZONE)["Tags"])
    assert tags == {"a.b.c": 1, "list": '[1,"x"]', "ok": True, "project": "web", "user": "u_9"}
    assert focus_row(_charge(), version="1.2", tz=UTC_ZONE)["Tags"] is None


def test_focus_rows_a_reader_cannot_tell_apart_are_added_into_one() -> None:
    """Tags equal once flattened ({"a": {"b": 1}} and {"a.b": 1}) would be one charge to a
    FOCUS reader keying rows on their columns: 1.25 + 0.75 = 2.00 in one row."""
    first = _charge(cost=Decimal("1.25"), tags={"a": {"b": 1}}, tokens=TokenCounts(input=10))
    second = _charge(cost=Decimal("0.75"), tags={"a.b": 1}, tokens=TokenCounts(input=5))
    (row,) = focus_rows([first, second], version="1.2", tz=UTC_ZONE)
    assert (row["BilledCost"], row["ConsumedQuantity"], row["x_InputTokens"]) == (
        Decimal("2.00"),
        Decimal(15),
        15,
    )


# ---- files: Parquet, 1.3 ----------------------------------------------------------------------------


def test_focus_parquet_is_typed_and_equal_to_the_csv(engine: Engine, tmp_path: Path) -> None:
    load_focus_ledger(engine)
    path = tmp_path / "f.parquet"
    path.write_bytes(_export(engine, fmt="parquet", version="1.3"))
    table = pq.read_table(path)
    assert table.schema.names == list(columns("1.3"))
    assert str(table.schema.field("BilledCost").type) == "decimal128(38, 9)"
    assert str(table.schema.field("ChargePeriodStart").type) == "timestamp[ms, tz=UTC]"
    costs: dict[str, Decimal] = {}
    for currency, cost in zip(
        table["BillingCurrency"].to_pylist(), table["BilledCost"].to_pylist(), strict=True
    ):
        costs[currency] = costs.get(currency, Decimal(0)) + cost
    assert costs == BEST_TOTALS
    csv_rows = _csv_rows(_export(engine, version="1.3"))
    assert sorted(table["Tags"].to_pylist(), key=str) == sorted(
        (r["Tags"] or None for r in csv_rows), key=str
    )


def test_focus_parquet_is_written_a_row_group_at_a_time(engine: Engine, tmp_path: Path) -> None:
    load_focus_ledger(engine)
    path = tmp_path / "groups.parquet"
    path.write_bytes(_export(engine, fmt="parquet", row_group=4))
    parquet = pq.ParquetFile(path)
    assert [parquet.metadata.row_group(i).num_rows for i in range(parquet.num_row_groups)] == [4, 4, 1]
    whole = tmp_path / "whole.parquet"
    whole.write_bytes(_export(engine, fmt="parquet"))
    assert parquet.read().equals(pq.read_table(whole))


def test_focus_api_member_downloads_only_their_scope(engine: Engine, settings: Settings) -> None:
    """A member granted project web gets A and C (1.50 + 0.25 = 1.75), nothing else; asking
    for another project is refused."""
    load_focus_ledger(engine)
    add_user(engine, "bob@example.com", "member password!", "member")
    with engine.begin() as conn:
        grant(conn, "bob@example.com", dimension="project", value="web")
    with TestClient(create_app(settings)) as client:
        assert login(client, "bob@example.com", "member password!").status_code == 303
        params = {"from": "2026-11-01", "to": "2026-11-30"}
        rows = _csv_rows(client.get("/api/v1/exports/focus", params=params).content)
        assert sorted(r["BilledCost"] for r in rows) == ["0.25", "1.50"]
        other = client.get("/api/v1/exports/focus", params={**params, "filter": "project:other"})
        assert other.status_code == 403


def test_focus_empty_export_has_its_columns(engine: Engine, tmp_path: Path) -> None:
    assert _export(engine).decode().splitlines() == [",".join(columns("1.2"))]
    path = tmp_path / "empty.parquet"
    path.write_bytes(_export(engine, fmt="parquet"))
    assert pq.read_table(path).num_rows == 0


# ---- round trip: export, then `spendledger import` into a fresh ledger ------------------------------


@pytest.mark.parametrize(("version", "suffix"), [("1.2", "csv"), ("1.3", "parquet")])
def test_focus_round_trip_through_import_keeps_every_figure(
    engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str, suffix: str
) -> None:
    load_focus_ledger(engine)
    cli = cli_runner(db_url, tmp_path, monkeypatch)
    path = tmp_path / f"november.{suffix}"
    cli(
        "export", "focus", "--from", "2026-11-01", "--to", "2026-11-30", "--version", version, "-o", str(path)
    )
    fresh = tmp_path / "fresh.db"
    other = cli_runner(f"sqlite:///{fresh}", tmp_path, monkeypatch)
    other("import", str(path))
    again = make_engine(f"sqlite:///{fresh}")
    try:
        figures = (
            "cost",
            "requests",
            "input_tokens",
            "cached_input_tokens",
            "output_tokens",
            "reasoning_tokens",
        )
        by = ("provider", "model", "project", "user", "feature", "workspace", "api_key_id")

        def report(e: Engine) -> dict[tuple[Any, ...], tuple[Any, ...]]:
            with e.connect() as conn:
                found = spend(conn, SpendQuery(start=NOVEMBER.start, end=NOVEMBER.end, by=by))
            return {
                (*(r.dims[d] for d in by), r.currency): tuple(getattr(r, f) for f in figures)
                for r in found.rows
            }

        assert report(again) == report(engine)
        with again.connect() as conn:
            by_provider = spend(conn, SpendQuery(start=NOVEMBER.start, end=NOVEMBER.end, by=("provider",)))
        assert {(r.dims["provider"], r.currency): r.cost for r in by_provider.rows} == BEST_BY_PROVIDER
        assert by_provider.totals == BEST_TOTALS
        other("import", str(path))  # again: nothing moves
        assert report(again) == report(engine)
    finally:
        again.dispose()


def test_focus_reader_rejects_a_bad_count_in_its_own_columns_naming_it() -> None:
    data = _export_records().decode()
    header, first, *rest = data.splitlines()
    names = header.split(",")
    cells = next(csv.reader([first]))
    broken = {**dict(zip(names, cells, strict=True))}
    bad_count = {**broken, "x_InputTokens": "lots"}
    bad_subset = {**broken, "x_InputTokens": "5", "x_CachedInputTokens": "9"}
    out = io.StringIO()
    writer = csv.DictWriter(out, names, lineterminator="\n")
    writer.writeheader()
    writer.writerows([bad_count, bad_subset])
    rows = list(focus_reader.read(io.BytesIO(out.getvalue().encode()), ImportOptions(source="t")))
    assert [(r.line, r.column) for r in rows if isinstance(r, Rejected)] == [
        (2, "x_InputTokens"),
        (3, "x_CachedInputTokens"),
    ]
    assert "'lots' is not a count: write a whole number from 0" in rows[0].reason  # type: ignore[union-attr]


# ---- the CLI and the API ----------------------------------------------------------------------------


def test_focus_cli_writes_the_file_and_says_what(
    db_url: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_focus_ledger(engine)
    cli = cli_runner(db_url, tmp_path, monkeypatch)
    result = cli("export", "focus", "--from", "2026-11-01", "--to", "2026-11-30", "-o", "nov.parquet")
    assert "FOCUS 1.2 parquet, 9 rows" in result.output
    assert "$120.65" in result.output and "€2.00" in result.output
    assert pq.read_table(tmp_path / "nov.parquet").num_rows == 9
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".nov")] == []  # no scratch file left


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--version", "1.4"], "version: '1.4' is not a FOCUS version spendledger writes; use 1.2 or 1.3"),
        (["--format", "xlsx"], "format: 'xlsx' is not an export format; use csv or parquet"),
        (["--from", "2026-13-01"], "from: '2026-13-01' is not a date (YYYY-MM-DD)"),
        (["--from", "2026-11-30", "--to", "2026-11-01"], "from: 2026-11-30 is after to=2026-11-01"),
        (["--basis", "guess"], "basis: 'guess' is not one of best, all, billed"),
        (["--filter", "colour=red"], "filter: unknown dimension 'colour'"),
        (["-o", "nowhere/f.csv"], "the folder nowhere does not exist"),
    ],
)
def test_focus_cli_refuses_bad_options_with_what_to_send(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    cli = cli_runner(db_url, tmp_path, monkeypatch)
    result = cli("export", "focus", *(args if "-o" in args else [*args, "-o", "f.csv"]), ok=False)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "f.csv").exists()


_TEXT = st.text(st.characters(codec="utf-8"), max_size=30)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_focus_cli_garbage_options_end_in_a_message_never_a_traceback(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = cli_runner(db_url, tmp_path, monkeypatch)

    @settings(max_examples=40, deadline=None)
    @given(start=_TEXT, version=_TEXT, fmt=_TEXT, basis=_TEXT, filt=_TEXT, name=_TEXT)
    def run(start: str, version: str, fmt: str, basis: str, filt: str, name: str) -> None:
        args = ["--from", start, "--version", version, "--format", fmt, "--basis", basis, "--filter", filt]
        result = cli("export", "focus", *args, "-o", name or "f.csv", ok=False)
        assert result.exit_code in (0, 1, 2), result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert "Traceback" not in result.output

    run()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=_TEXT, version=_TEXT, fmt=_TEXT, basis=_TEXT, filt=_TEXT)
def test_focus_api_garbage_parameters_are_answered_never_a_server_error(
    client: TestClient, start: str, version: str, fmt: str, basis: str, filt: str
) -> None:
    params = {"from": start, "version": version, "format": fmt, "basis": basis, "filter": filt}
    response = client.get("/api/v1/exports/focus", params=params)
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert response.json()["detail"]


def test_focus_api_downloads_csv_and_parquet(engine: Engine, client: TestClient, tmp_path: Path) -> None:
    load_focus_ledger(engine)
    params = {"from": "2026-11-01", "to": "2026-11-30"}
    response = client.get("/api/v1/exports/focus", params=params)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert (
        response.headers["content-disposition"]
        == 'attachment; filename="focus-1.2-2026-11-01_2026-11-30.csv"'
    )
    assert response.content == _export(engine)
    parquet = client.get("/api/v1/exports/focus", params={**params, "version": "1.3", "format": "parquet"})
    assert parquet.headers["content-type"] == "application/vnd.apache.parquet"
    (tmp_path / "f.parquet").write_bytes(parquet.content)
    assert pq.read_table(tmp_path / "f.parquet").num_rows == 9
    refused = client.get("/api/v1/exports/focus", params={"version": "2"})
    assert refused.status_code == 400 and "use 1.2 or 1.3" in refused.json()["detail"]
    assert client.get("/api/v1/exports/focus", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_focus_api_filters_like_the_report(engine: Engine, client: TestClient) -> None:
    load_focus_ledger(engine)
    params = {"from": "2026-11-01", "to": "2026-11-30", "filter": "provider:aws"}
    rows = _csv_rows(client.get("/api/v1/exports/focus", params=params).content)
    assert [(r["ProviderName"], r["BilledCost"]) for r in rows] == [("Amazon Web Services", "3.00")]


# ---- helpers --------------------------------------------------------------------------------------


def _export_records(**options: Any) -> bytes:
    """The export of tests/focus_ledger.py from a ledger of its own (SQLite, in a temp dir)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/f.db")
        try:
            upgrade(engine)
            with engine.begin() as conn:
                write_records(conn, focus_records(), tz=UTC_ZONE)
            return _export(engine, **options)
        finally:
            engine.dispose()


def _charge(**fields: Any) -> Charge:
    values: dict[str, Any] = {
        "day": date(2026, 11, 10),
        "provider": "openai",
        "account": "org-a",
        "workspace": "",
        "project": "",
        "api_key_id": "",
        "model": "gpt-4o",
        "user": "",
        "feature": "",
        "basis": "metered",
        "currency": "USD",
        "cost": Decimal("1.00"),
        "requests": 1,
        "tokens": TokenCounts(input=100, output=10),
        "unpriced_requests": 0,
        "records": 1,
        "tags": {},
    }
    return Charge(**(values | fields))


def test_focus_charges_stream_in_day_order(engine: Engine) -> None:
    load_focus_ledger(engine)
    with engine.connect() as conn:
        days = [c.day for c in charges(conn, NOVEMBER)]
    assert days == sorted(days) and len(days) == 9


def test_focus_query_errors_are_query_errors() -> None:
    from spendledger.exports.focus_files import check_options

    with pytest.raises(QueryError, match="format"):
        check_options("1.2", "json")
