"""Every provider a team names has a way in, the README says which, and a test walks it.

The seed list is the one a new user wrote down: OpenAI, Anthropic, Google, Azure,
Mistral, Groq, Perplexity, GitHub Copilot, ChatGPT and local LLMs. The providers with a
billing API are synced by a source type whose own test file drives the real client code
against a fake of the documented API and checks the ledger equals the bill to the cent:
`PROOF` names that test, and a test here checks it exists and the README row names the
type. The others come in without an API, and this file walks each of those ways as the
README writes them, on SQLite and PostgreSQL, asserting the November figures by hand:

- Mistral: an invoice, `entries add --provider mistral --amount 40.00 --period 2026-11`
  → $40.00; and the tracker's calls through the events API, priced from the catalogue:
  mistral-large-latest is Mistral Large 3 (the shipped correction) at $0.50 in / $1.50
  out per 1M tokens, 1M in + 500k out = 0.50 + 0.75 = $1.25.
- Groq: the events API, llama-3.3-70b-versatile at $0.59 in / $0.79 out per 1M tokens,
  2M in + 1M out = 1.18 + 0.79 = $1.97; plus an invoice entry of $12.50 on Nov 20.
- Perplexity: Perplexity Pro seats, `subscriptions add --plan perplexity-pro --seats 3`
  from Nov 1: 3 × $20 = $60.00 in November.
- ChatGPT: ChatGPT Business (Team) seats, `--plan chatgpt-team --seats 5` from Nov 1:
  5 × $25 = $125.00 in November.
- local LLMs: an Ollama call through the events API: self-hosted, $0.00, never unpriced.
"""

from __future__ import annotations

import importlib
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from clirun import Cli, cli_runner
from spendledger.sources.base import source_types

NOV_1 = "2026-11-01"
NOVEMBER = ("--from", NOV_1, "--to", "2026-11-30")
README = Path(__file__).resolve().parents[1] / "README.md"
SEEDS = [
    "OpenAI", "Anthropic", "Google", "Azure", "Mistral", "Groq", "Perplexity", "GitHub Copilot",
    "ChatGPT", "local",
]  # fmt: skip

# provider → (its billing source type, the test that syncs a fake bill and compares to the cent)
PROOF = {
    "OpenAI": ("openai", "test_source_openai", "test_openai_costs_equal_the_fake_to_the_cent"),
    "Anthropic": ("anthropic", "test_source_anthropic", "test_anthropic_costs_equal_the_fake_to_the_cent"),
    "Google": ("gcp", "test_source_gcp", "test_gcp_cli_add_test_sync_report_equal_the_fake"),
    "Azure": ("azure", "test_source_azure", "test_azure_costs_equal_the_fake_to_the_cent"),
    "GitHub Copilot": (
        "github-copilot",
        "test_source_copilot",
        "test_copilot_sync_report_equals_the_bill_again_and_after_a_revision",
    ),
}


def row_of(seed: str) -> str:
    """The provider table's row for `seed`: the one whose first cell starts with its name."""
    rows = [row for name, row in provider_rows().items() if name.lower().startswith(seed.lower())]
    assert len(rows) == 1, f"the README's provider table has {len(rows)} rows for {seed}: {rows}"
    return rows[0]


def provider_rows() -> dict[str, str]:
    """The README's "Providers: how each one's spend gets in" table: first cell → whole row."""
    text = README.read_text()
    section = text.split("## Providers: how each one's spend gets in", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("|--")]
    return {row.split("|")[1].strip(): row for row in rows[1:]}


@pytest.mark.parametrize("seed", SEEDS)
def test_the_readme_says_how_each_seed_providers_spend_gets_in(seed: str) -> None:
    row = row_of(seed)
    way = row.split("|")[2]
    assert re.search(r"billing sync|tracker|entries add|subscriptions add|events API|OTLP", way), row


@pytest.mark.parametrize("seed", sorted(PROOF))
def test_each_billing_api_provider_has_its_type_and_a_test_that_syncs_it(seed: str) -> None:
    type_name, module, test = PROOF[seed]
    assert type_name in {t.name for t in source_types()}
    assert f"`{type_name}`" in row_of(seed)
    assert callable(getattr(importlib.import_module(module), test))


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_runner(db_url, tmp_path, monkeypatch, SPENDLEDGER_TIMEZONE="UTC")


def _event(n: int, provider: str, model: str, day: str, **fields: Any) -> dict[str, Any]:
    when = f"2026-11-{day}T10:00:00Z"
    return {"id": f"{provider}-{n}", "timestamp": when, "provider": provider, "model": model, **fields}


def _november(cli: Cli) -> dict[str, Decimal]:
    report = json.loads(cli("report", *NOVEMBER, "--by", "provider", "--format", "json").stdout)
    return {row["provider"]: Decimal(row["cost"]) for row in report["rows"]}


def test_each_provider_without_a_billing_api_gets_in_as_the_readme_says(cli: Cli, client: TestClient) -> None:
    cli("entries", "add", "--provider", "mistral", "--amount", "40.00", "--period", "2026-11", "--note",
        "invoice 1234", "--id", "inv-1234")  # fmt: skip
    cli("entries", "add", "--provider", "groq", "--amount", "12.50", "--date", "2026-11-20", "--id", "g-11")
    cli("subscriptions", "add", "research", "--plan", "perplexity-pro", "--seats", "3", "--starts", NOV_1)
    cli("subscriptions", "add", "chat", "--plan", "chatgpt-team", "--seats", "5", "--starts", NOV_1)
    events = [
        _event(1, "mistral", "mistral-large-latest", "12", input_tokens=1_000_000, output_tokens=500_000),
        _event(1, "groq", "llama-3.3-70b-versatile", "13", input_tokens=2_000_000, output_tokens=1_000_000),
        _event(1, "ollama", "llama3.1:70b", "14", input_tokens=800_000, output_tokens=200_000),
    ]
    response = client.post("/api/v1/events", json={"events": events})
    assert response.status_code == 200 and response.json()["accepted"] == 3, response.text

    assert _november(cli) == {
        "mistral": Decimal("41.25"),  # the $40.00 invoice + 1M × $0.50 + 0.5M × $1.50 = $1.25
        "groq": Decimal("14.47"),  # the $12.50 invoice + 2M × $0.59 + 1M × $0.79 = $1.97
        "perplexity": Decimal("60.00"),  # 3 Perplexity Pro seats × $20
        "openai": Decimal("125.00"),  # ChatGPT Business: 5 seats × $25
        "ollama": Decimal("0.00"),  # self-hosted: $0, not unpriced
    }
    unpriced = json.loads(cli("report", *NOVEMBER, "--format", "json").stdout)
    assert not unpriced.get("unpriced"), unpriced

    # sent again, every way changes nothing
    again = client.post("/api/v1/events", json={"events": events}).json()
    assert (again["accepted"], again["duplicates"]) == (0, 3), again
    assert "nothing changed" in cli(
        "entries", "add", "--provider", "mistral", "--amount", "40.00", "--period", "2026-11", "--note",
        "invoice 1234", "--id", "inv-1234",
    ).output  # fmt: skip
    assert _november(cli)["mistral"] == Decimal("41.25")
