"""One model, whatever the cloud: the provider's ids → the ledger's model name, prices unmoved."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from genai_prices.data_snapshot import get_snapshot
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from clirun import cli_runner
from old_ledgers import ledger_at
from spendledger.model_names import (
    MAX_GROWN,
    PROVIDER_MODEL_TAG,
    canonical_model,
    canonicalise,
    provider_model,
)
from spendledger.pricing import PriceOverride, Pricer
from spendledger.queries import SpendQuery, spend
from spendledger.records import TAGS_MAX_BYTES, TokenCounts
from spendledger.repricing import reprice
from spendledger.store.engine import upgrade
from spendledger.store.ledger import get_meta
from spendledger.store.tables import MEASURES, budgets, usage
from test_explore_page import table
from usage_records import usage_record

SONNET = "claude-sonnet-4-5"
# The same Claude Sonnet 4.5 as each route bills it, with the provider it is bought from.
SONNET_ROUTES = [
    ("anthropic", "claude-sonnet-4-5-20250929"),
    ("anthropic", "claude-sonnet-4-5"),
    ("aws", "anthropic.claude-sonnet-4-5-20250929-v1:0"),
    ("aws", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    ("aws", "global.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    (
        "aws",
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
    ),
    ("google", "claude-sonnet-4-5@20250929"),
    ("google", "projects/p-1/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929"),
    ("openrouter", "anthropic/claude-sonnet-4.5"),
    ("gcp", "Claude Sonnet 4.5"),  # a billing SKU's spelling
    ("aws", "Claude Sonnet 4.5 (Amazon Bedrock Edition)"),  # a Cost Explorer service
    ("aws", "Claude4.5Sonnet"),  # a Cost Explorer usage type's
    ("github-copilot", "Claude Sonnet 4.5 (Preview)"),
]


@pytest.mark.parametrize(("provider", "model"), SONNET_ROUTES)
def test_model_names_claude_sonnet_is_one_model_on_every_route(provider: str, model: str) -> None:
    assert canonical_model(model) == SONNET


@pytest.mark.parametrize(
    ("model", "name"),
    [
        # OpenAI keeps its dates: a snapshot is a model with its own price
        ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),
        ("gpt-4o", "gpt-4o"),
        ("openai/gpt-4o", "gpt-4o"),
        ("openai/gpt-4o-2024-08-06", "gpt-4o-2024-08-06"),
        ("azure/gpt-4o-mini", "gpt-4o-mini"),
        # Azure's spellings of the same snapshots
        ("gpt-4o-0806", "gpt-4o-2024-08-06"),
        ("gpt 4o 0806", "gpt-4o-2024-08-06"),
        ("gpt-4o-mini-0718", "gpt-4o-mini-2024-07-18"),
        ("o3-mini-0131", "o3-mini-2025-01-31"),
        ("gpt-35-turbo", "gpt-3.5-turbo"),
        ("gpt-35-turbo-0125", "gpt-3.5-turbo-0125"),  # OpenAI's own id is month-day here
        ("gpt-4-0613", "gpt-4-0613"),
        ("gpt-4o-0999", "gpt-4o-0999"),  # no such snapshot: left as given
        # Gemini: routes and stable versions go, previews stay apart
        ("publishers/google/models/gemini-2.5-pro", "gemini-2.5-pro"),
        ("models/gemini-2.5-flash", "gemini-2.5-flash"),
        ("google/gemini-2.0-flash-001", "gemini-2.0-flash"),
        ("Gemini 2.5 Pro", "gemini-2.5-pro"),
        ("gemini-2.5-pro-preview-05-06", "gemini-2.5-pro-preview-05-06"),
        ("gemini-embedding-001", "gemini-embedding-001"),
        # Claude: every version mark and spelling of one model
        ("claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet"),
        ("anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-3-5-sonnet"),
        ("anthropic/claude-3.5-sonnet", "claude-3-5-sonnet"),
        ("anthropic/claude-3.7-sonnet:thinking", "claude-3-7-sonnet"),
        ("claude-3-5-haiku-latest", "claude-3-5-haiku"),
        ("anthropic.claude-3-sonnet-20240229-v1:0:200k", "claude-3-sonnet"),
        ("claude-sonnet-4-0", "claude-sonnet-4"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("claude-4-sonnet", "claude-sonnet-4"),
        ("claude-sonnet-3-7", "claude-3-7-sonnet"),
        ("claude-opus-4-1@20250805", "claude-opus-4-1"),
        ("anthropic.claude-v2:1", "claude-v2:1"),  # Claude 2.1: no date, nothing to drop
        # AWS's usage types and services
        ("Claude3.5Sonnet", "claude-3-5-sonnet"),
        ("Claude 3.5 Sonnet (Amazon Bedrock Edition)", "claude-3-5-sonnet"),
        ("Claude4.5Haiku", "claude-haiku-4-5"),
        ("NovaPro", "nova-pro"),
        ("Nova2.0Lite", "nova-2-lite"),  # as Bedrock's amazon.nova-2-lite-v1:0
        ("us.amazon.nova-2-lite-v1:0", "nova-2-lite"),
        ("TitanEmbeddingsG1-Text", "titan-embeddings-g1-text"),
        ("GPT-4.1", "gpt-4.1"),  # GitHub Copilot's spelling
        ("Auto: Claude Haiku 4.5", "claude-haiku-4-5"),  # Copilot's auto selection: the model it chose
        ("(preview)", "(preview)"),  # nothing but a note: kept as given
        # Bedrock's other vendors: the revision goes, a model version stays
        ("us.amazon.nova-pro-v1:0", "nova-pro"),
        ("amazon.titan-embed-text-v2:0", "titan-embed-text-v2"),
        ("mistral.mistral-7b-instruct-v0:2", "mistral-7b-instruct-v0:2"),
        ("openai.gpt-oss-120b-1:0", "gpt-oss-120b"),
        ("deepseek.r1-v1:0", "deepseek-r1"),
        # OpenRouter's other models and variants
        ("meta-llama/llama-3.3-70b-instruct:free", "llama-3.3-70b-instruct"),
        ("deepseek/deepseek-chat", "deepseek-chat"),
        ("mistral-large-2411@001", "mistral-large-2411"),
        # left alone: fine-tunes (case-sensitive, one organisation's), names already canonical
        ("ft:gpt-4o-mini-2024-07-18:acme::9xYz", "ft:gpt-4o-mini-2024-07-18:acme::9xYz"),
        ("mistral-large-latest", "mistral-large-latest"),
        ("acme-llm-7b", "acme-llm-7b"),
        ("", ""),
    ],
)
def test_model_names_map_each_spelling(model: str, name: str) -> None:
    assert canonical_model(model) == name
    assert canonical_model(name) == name


MODEL_PARTS = st.sampled_from(
    ["", "us.", "global.", "anthropic.", "amazon.", "openai/", "models/", "publishers/google/models/", "a/b/",
     "claude-", "gpt-", "gemini-", "35", "4o", "sonnet-", "opus", "haiku-", "4-5", "3.7", "-0", "-2",
     "-latest", "-20250929", "-0806", "@20250929", "@001", "-v1:0", "-v2", ":0", ":200k", ":free",
     ":thinking", "-001", " (Preview)", "Claude3.5", "NovaPro", "Nova2.0", "Auto: ", "(", ")", " ", "-", ".",
     "/", "@", ":", "ft:", "Claude Sonnet 4.5", "İ", "\t"]
)  # fmt: skip
MODEL_LIKE = st.lists(MODEL_PARTS, max_size=8).map("".join)


@given(st.one_of(MODEL_LIKE, st.text(max_size=200)))
def test_model_names_are_idempotent_and_never_raise(model: str) -> None:
    name = canonical_model(model)
    assert canonical_model(name) == name
    assert name or not model  # never empties a name
    assert len(name) <= max(len(model), MAX_GROWN)  # a name that fits a column still fits


def test_model_names_keep_the_providers_id_in_the_tags_only_when_it_differs() -> None:
    routed = usage_record(
        provider="aws", model="us.anthropic.claude-sonnet-4-5-20250929-v1:0", tags={"env": "prod"}
    )
    canonicalise(routed)
    assert (routed.model, routed.tags) == (
        SONNET,
        {"env": "prod", PROVIDER_MODEL_TAG: "us.anthropic.claude-sonnet-4-5-20250929-v1:0"},
    )
    assert provider_model(routed) == "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    canonicalise(routed)  # a second pass changes nothing
    assert routed.tags[PROVIDER_MODEL_TAG] == "us.anthropic.claude-sonnet-4-5-20250929-v1:0"

    plain = usage_record(model="gpt-4o-mini")
    canonicalise(plain)
    assert (plain.model, plain.tags) == ("gpt-4o-mini", {})
    # a caller's own tag of that name is not the provider's id: the record keeps its model
    labelled = usage_record(model="claude-sonnet-4-5-20250929", tags={PROVIDER_MODEL_TAG: "mine"})
    canonicalise(labelled)
    assert (labelled.model, labelled.tags) == ("claude-sonnet-4-5-20250929", {PROVIDER_MODEL_TAG: "mine"})
    assert provider_model(usage_record(model=SONNET, tags={PROVIDER_MODEL_TAG: "gpt-4o"})) == SONNET
    # tags with no room for the id: the id stays the model, never lost
    full = {"note": "x" * (TAGS_MAX_BYTES - 40)}
    crowded = usage_record(model="claude-sonnet-4-5-20250929", tags=dict(full))
    canonicalise(crowded)
    assert (crowded.model, crowded.tags) == ("claude-sonnet-4-5-20250929", full)


NOVEMBER_10 = datetime(2026, 11, 10, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("provider", "model", "stored", "cost"),
    [
        # 1000 input and 1000 output tokens each, at the price of the provider's own id:
        # gpt-4o-2024-05-13 at $5/$15 per 1M: 0.005 + 0.015 = $0.020
        ("openai", "gpt-4o-2024-05-13", "gpt-4o-2024-05-13", "0.02"),
        # gpt-4o at $2.50/$10: 0.0025 + 0.010 = $0.0125
        ("openai", "gpt-4o", "gpt-4o", "0.0125"),
        # a Bedrock regional profile pays 10 % more, $3.30/$16.50: 0.0033 + 0.0165 = $0.0198
        ("aws", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", SONNET, "0.0198"),
        # the global profile Anthropic's own $3/$15: 0.003 + 0.015 = $0.018
        ("aws", "global.anthropic.claude-sonnet-4-5-20250929-v1:0", SONNET, "0.018"),
        ("anthropic", "claude-sonnet-4-5-20250929", SONNET, "0.018"),
        # ids the catalogue does not list are found under the ledger's name: Azure's
        # gpt-4o-0806 as gpt-4o-2024-08-06 at $2.50/$10 = $0.0125; Vertex's path to
        # gemini-2.5-pro at $1.25/$10: 0.00125 + 0.010 = $0.01125
        ("azure", "gpt-4o-0806", "gpt-4o-2024-08-06", "0.0125"),
        ("google", "publishers/google/models/gemini-2.5-pro", "gemini-2.5-pro", "0.01125"),
    ],
)
def test_model_names_leave_prices_as_the_providers_id_sets_them(
    engine: Engine, client: TestClient, provider: str, model: str, stored: str, cost: str
) -> None:
    body = {"events": [{"id": "e1", "timestamp": NOVEMBER_10.isoformat(), "provider": provider,
                        "model": model, "input_tokens": 1000, "output_tokens": 1000}]}  # fmt: skip
    assert client.post("/api/v1/events", json=body).json()["accepted"] == 1
    with engine.connect() as conn:
        row = conn.execute(select(usage)).one()
    assert row.model == stored
    assert (row.tags or {}).get(PROVIDER_MODEL_TAG) == (model if model != stored else None)
    assert Decimal(row.cost_nanos).scaleb(-9) == Decimal(cost)
    before = Pricer().rates_for(provider, model, NOVEMBER_10)  # as the id alone was priced
    if before is not None:
        assert before.cost(TokenCounts(input=1000, output=1000)) == Decimal(cost)
    # re-pricing the stored record reads the provider's id back from the tags
    assert reprice(engine, pricer=Pricer()).changed == 0


CATALOGUE_PROVIDERS = ("openai", "anthropic", "google", "aws", "azure", "openrouter", "mistral", "x-ai")


def test_model_names_price_every_catalogue_id_as_before() -> None:
    tokens = TokenCounts(input=1_000, cached_input=200, output=500)
    plain, named = Pricer(), Pricer()
    checked = 0
    for provider in get_snapshot().providers:
        if provider.id not in CATALOGUE_PROVIDERS:
            continue
        for model in provider.models:
            record = usage_record(provider=provider.id, model=model.id, tokens=tokens, start=NOVEMBER_10)
            plain.price(record)
            before = (record.cost, record.price_source)
            record.cost = None
            canonicalise(record)
            named.price(record)
            assert (record.cost, record.price_source) == before, (provider.id, model.id, record.model)
            checked += 1
    assert checked > 1000


def test_model_names_an_override_on_the_ledgers_name_prices_every_route() -> None:
    negotiated = PriceOverride(
        id=7,
        provider="aws",
        model_pattern=SONNET,
        prices={"input_mtok": "2", "output_mtok": "10"},
        note="EDP rate",
    )
    record = usage_record(provider="aws", model="us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                          tokens=TokenCounts(input=1000, output=1000), start=NOVEMBER_10)  # fmt: skip
    canonicalise(record)
    Pricer([negotiated]).price(record)
    # 1000 × 2/1e6 + 1000 × 10/1e6 = 0.002 + 0.010 = $0.012
    assert (record.cost, record.price_source) == (Decimal("0.012"), "override #7: EDP rate")


def test_model_names_compare_one_models_cost_across_its_routes(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: TestClient, admin_client: TestClient
) -> None:
    # 100,000 input and 10,000 output tokens per call (under the 200k long-context tier):
    # Anthropic, Vertex and OpenRouter at $3/$15: 0.30 + 0.15 = $0.45 each;
    # Bedrock's us. profile at $3.30/$16.50: 0.33 + 0.165 = $0.495, its global one $0.45
    routes = [
        ("anthropic", "claude-sonnet-4-5-20250929"),
        ("aws", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
        ("aws", "global.anthropic.claude-sonnet-4-5-20250929-v1:0"),
        ("google", "claude-sonnet-4-5@20250929"),
        ("openrouter", "anthropic/claude-sonnet-4.5"),
        ("openai", "gpt-4o-mini"),  # another model: 0.1 × 0.15 + 0.01 × 0.60 = $0.021
    ]
    events = [
        {"id": f"e{i}", "timestamp": NOVEMBER_10.isoformat(), "provider": provider, "model": model,
         "input_tokens": 100_000, "output_tokens": 10_000}
        for i, (provider, model) in enumerate(routes)
    ]  # fmt: skip
    assert client.post("/api/v1/events", json={"events": events}).json()["accepted"] == 6
    cli = cli_runner(db_url, tmp_path, monkeypatch)
    report = cli("report", "--from", "2026-11-01", "--to", "2026-11-30", "--by", "model,provider",
                 "--basis", "metered", "--format", "json")  # fmt: skip
    rows = {(r["model"], r["provider"]): Decimal(r["cost"]) for r in json.loads(report.stdout)["rows"]}
    assert rows == {
        (SONNET, "anthropic"): Decimal("0.45"),
        (SONNET, "aws"): Decimal("0.945"),  # 0.495 + 0.45
        (SONNET, "google"): Decimal("0.45"),
        (SONNET, "openrouter"): Decimal("0.45"),
        ("gpt-4o-mini", "openai"): Decimal("0.021"),
    }
    by_model = json.loads(
        cli(
            "report",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-30",
            "--by",
            "model",
            "--basis",
            "metered",
            "--format",
            "json",
        ).stdout  # fmt: skip
    )["rows"]
    assert {r["model"]: Decimal(r["cost"]) for r in by_model} == {
        SONNET: Decimal("2.295"),  # 0.45 + 0.945 + 0.45 + 0.45
        "gpt-4o-mini": Decimal("0.021"),
    }
    page = admin_client.get(
        f"/explore?from=2026-11-01&to=2026-11-30&by=model,provider&granularity=total&filter=model:{SONNET}"
    )
    assert page.status_code == 200, page.text
    assert [row[:3] for row in table(page.text)] == [
        [SONNET, "aws", "$0.94"],  # $0.945 to the cent, half to even
        [SONNET, "anthropic", "$0.45"],
        [SONNET, "google", "$0.45"],
        [SONNET, "openrouter", "$0.45"],
    ]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ledger_0002(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty ledger at revision 0002 (before the ledger's model names), on each database."""
    with ledger_at("0002", request, tmp_path) as engine:
        yield engine


def _stored(key: str, provider: str, model: str, cost: str, tags: dict[str, Any] | None) -> dict[str, Any]:
    measures = dict.fromkeys(MEASURES, 0)
    measures.update(cost_nanos=int(Decimal(cost) * 10**9), records=1)
    return {
        "start": datetime(2026, 11, 20, 10, tzinfo=UTC), "key": key, "end": None, "day": "2026-11-20",
        "utc_day": "2026-11-20", "source": "api", "basis": "metered", "provider": provider, "account": "",
        "workspace": "", "project": "", "api_key_id": "", "model": model, "user": "", "feature": "",
        "tags": tags, **measures, "currency": "USD", "pricing_status": "provider", "batch": False,
        "written_at": datetime(2026, 11, 22, tzinfo=UTC),
    }  # fmt: skip


def test_migration_0004_renames_stored_models_and_rebuilds_the_rollups(ledger_0002: Engine) -> None:
    rows = [
            _stored("api:e1", "anthropic", "claude-sonnet-4-5-20250929", "1.00", None),
            _stored("api:e2", "aws", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "2.00", {"env": "prod"}),
            _stored("api:e3", "openai", "gpt-4o-mini", "0.50", None),
            # a caller's own tag of that name: the record keeps its model rather than lose either
            _stored("api:e4", "anthropic", "claude-sonnet-4-5-20250929", "4.00",
                    {PROVIDER_MODEL_TAG: "mine"}),
            # OpenTelemetry's spelling of Bedrock: the ledger's provider name is aws
            _stored("api:e5", "aws.bedrock", "gpt-4o-mini", "0.25", None),
    ]  # fmt: skip
    with ledger_0002.begin() as conn:
        # the columns of revision 0002 only (today's table has more, e.g. customer)
        conn.execute(
            sa.table("usage", *(sa.column(name, usage.c[name].type) for name in rows[0])).insert(), rows
        )
        conn.execute(budgets.insert().values(
            name="sonnet",
            scope={"model": ["claude-sonnet-4-5-20250929", SONNET], "provider": ["bedrock", "aws"]},
            amount_nanos=10**11, currency="USD", period="monthly", thresholds=[100], basis="best",
            channels=[], created_at=datetime(2026, 11, 1, tzinfo=UTC),
        ))  # fmt: skip
    upgrade(ledger_0002)
    with ledger_0002.connect() as conn:
        stored = {
            r.key: (r.model, r.tags) for r in conn.execute(select(usage.c.key, usage.c.model, usage.c.tags))
        }
        assert stored == {
            "api:e1": (SONNET, {PROVIDER_MODEL_TAG: "claude-sonnet-4-5-20250929"}),
            "api:e2": (
                SONNET,
                {"env": "prod", PROVIDER_MODEL_TAG: "us.anthropic.claude-sonnet-4-5-20250929-v1:0"},
            ),
            "api:e3": ("gpt-4o-mini", None),
            "api:e4": ("claude-sonnet-4-5-20250929", {PROVIDER_MODEL_TAG: "mine"}),
            "api:e5": ("gpt-4o-mini", None),
        }
        providers = dict(conn.execute(select(usage.c.key, usage.c.provider)).all())
        assert providers["api:e5"] == "aws" and providers["api:e2"] == "aws"
        assert conn.execute(select(budgets.c.scope)).scalar_one() == {"model": [SONNET], "provider": ["aws"]}
        assert get_meta(conn, "rollups_stale") is None
        day = date(2026, 11, 20)
        by_model = spend(conn, SpendQuery(start=day, end=day, basis="all", by=("model",)))
    # the rollups follow: $1.00 + $2.00 under one name
    assert {r.dims["model"]: r.cost for r in by_model.rows} == {
        SONNET: Decimal("3.00"),
        "gpt-4o-mini": Decimal("0.75"),  # $0.50 + $0.25
        "claude-sonnet-4-5-20250929": Decimal("4.00"),
    }
