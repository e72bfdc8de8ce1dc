"""`spendledger import`: the generic CSV and the console exports, into a real ledger.

The acceptance: a generic CSV of 1 000 rows, 3 of them bad, stores 997 and names the 3 by
line, column and reason; importing it again changes nothing; a dry run stores nothing.
Every figure below is worked out by hand in a comment.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from clirun import Cli, cli_runner
from import_samples import (
    ANTHROPIC_COSTS,
    ANTHROPIC_COSTS_TOTAL,
    ANTHROPIC_USAGE,
    ANTHROPIC_USAGE_COST,
    BAD_LINES,
    MISTRAL,
    MISTRAL_MAP,
    MISTRAL_TOTAL,
    OPENAI_COSTS,
    OPENAI_COSTS_TOTAL,
    OPENAI_USAGE,
    OPENAI_USAGE_COST,
    OPENROUTER,
    OPENROUTER_TOTAL,
    thousand_rows,
    write,
)
from spendledger.imports.base import reader
from spendledger.records import from_nanos
from spendledger.store.tables import usage


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_runner(db_url, tmp_path, monkeypatch, SPENDLEDGER_TIMEZONE="UTC")


def _ledger(engine: Engine, **where: str) -> tuple[int, Decimal]:
    """(records, total cost) of the ledger, or of the records matching `where`."""
    query = select(func.count(), func.coalesce(func.sum(usage.c.cost_nanos), 0))
    for name, value in where.items():
        query = query.where(usage.c[name] == value)
    with engine.connect() as conn:
        count, nanos = conn.execute(query).one()
    return int(count), from_nanos(int(nanos))


def _report(cli: Cli) -> list[dict[str, Any]]:
    result = cli(
        "report", "--from", "2026-10-01", "--to", "2026-11-30", "--by", "provider",
        "--granularity", "month", "--format", "json",
    )  # fmt: skip
    rows: list[dict[str, Any]] = json.loads(result.stdout)["rows"]
    return rows


def test_import_generic_stores_997_of_1000_and_names_the_3_bad_lines(
    cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    result = cli("import", str(thousand_rows(tmp_path / "spend.csv")))
    assert "997 new, 0 replaced, 0 already stored; 3 rejected" in result.stdout
    # 997 rows × $1.25 = $1,246.25
    assert _ledger(engine) == (997, Decimal("1246.25"))
    for line, column in BAD_LINES.items():
        assert any(f"{line} │ {column}" in row for row in result.stdout.splitlines()), (line, column)
    assert "'twelve' is not an amount" in result.stdout
    assert "'2026-11-01T09:00:00' has no time zone" in result.stdout
    assert "cached reads + cache writes + uncached audio (5000) exceed input_tokens (1000)" in result.stdout
    # per provider and month: openai October 250 - 1 bad (row 100) = 249 × 1.25 = $311.25;
    # anthropic October 250 × 1.25 = $312.50; openai November 250 - 1 (row 500) = $311.25;
    # anthropic November 250 - 1 (row 901) = $311.25
    assert "│ openai    │ 2026-10 │  249 │ $311.25 │" in result.stdout
    assert "│ anthropic │ 2026-10 │  250 │ $312.50 │" in result.stdout
    assert "│ openai    │ 2026-11 │  249 │ $311.25 │" in result.stdout
    assert "│ anthropic │ 2026-11 │  249 │ $311.25 │" in result.stdout
    costs = {(r["period"], r["provider"]): Decimal(r["cost"]) for r in _report(cli)}
    assert costs == {
        ("2026-10", "openai"): Decimal("311.25"),
        ("2026-10", "anthropic"): Decimal("312.50"),
        ("2026-11", "openai"): Decimal("311.25"),
        ("2026-11", "anthropic"): Decimal("311.25"),
    }


def test_import_generic_again_changes_nothing(cli: Cli, engine: Engine, tmp_path: Path) -> None:
    path = thousand_rows(tmp_path / "spend.csv")
    cli("import", str(path))
    before = (_ledger(engine), _report(cli))
    again = cli("import", str(path))
    assert "0 new, 0 replaced, 997 already stored; 3 rejected" in again.stdout
    assert (_ledger(engine), _report(cli)) == before


def test_import_generic_dry_run_stores_nothing(cli: Cli, engine: Engine, tmp_path: Path) -> None:
    result = cli("import", str(thousand_rows(tmp_path / "spend.csv")), "--dry-run")
    assert "Dry run, nothing stored: 997 rows would be stored" in result.stdout
    assert "3 rejected" in result.stdout
    assert "│ anthropic │ 2026-10 │  250 │ $312.50 │" in result.stdout
    assert _ledger(engine) == (0, Decimal(0))


def test_import_generic_prices_rows_without_a_cost_from_the_catalogue(
    cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "calls.csv",
        """
timestamp,provider,model,input_tokens,cached_input_tokens,output_tokens,basis
2026-11-20T10:00:00Z,openai,gpt-4o-mini,1000000,200000,100000,metered
2026-11-20T11:00:00Z,openai,no-such-model-xyz,1000,0,10,metered
""",
    )
    result = cli("import", str(path))
    # gpt-4o-mini: 800k uncached × $0.15/M + 200k cached × $0.075/M + 100k × $0.60/M
    #            = 0.12 + 0.015 + 0.06 = $0.195; the unknown model stays unpriced, never $0
    assert _ledger(engine, model="gpt-4o-mini") == (1, Decimal("0.195"))
    with engine.connect() as conn:
        status = conn.execute(select(usage.c.pricing_status).where(usage.c.model == "no-such-model-xyz"))
        assert status.scalar_one() == "unpriced"
    assert "1 rows name a model with no known price" in result.stdout


def test_import_generic_revised_export_replaces_manual_rows(cli: Cli, engine: Engine, tmp_path: Path) -> None:
    first = write(
        tmp_path / "october.csv",
        """
date,provider,account,cost,currency
2026-10-01,groq,acme,10.00,USD
2026-10-02,groq,acme,20.00,USD
""",
    )
    overlap = write(
        tmp_path / "october-revised.csv",
        """
date,provider,account,cost,currency
2026-10-02,groq,acme,25.00,USD
2026-10-03,groq,acme,5.00,USD
""",
    )
    cli("import", str(first))
    result = cli("import", str(overlap))
    assert "1 new, 1 replaced, 0 already stored" in result.stdout
    # 10.00 + 25.00 (the revised day replaces its 20.00) + 5.00 = $40.00 over 3 records
    assert _ledger(engine) == (3, Decimal("40.00"))
    with engine.connect() as conn:
        assert set(conn.execute(select(usage.c.basis)).scalars()) == {"manual"}


def test_import_generic_id_column_is_the_natural_key(cli: Cli, engine: Engine, tmp_path: Path) -> None:
    path = write(
        tmp_path / "invoices.csv",
        """
id,date,provider,cost,basis
inv-1,2026-10-31,perplexity,40.00,billed
inv-2,2026-10-31,perplexity,40.00,billed
""",
    )
    cli("import", str(path))
    assert _ledger(engine) == (2, Decimal("80.00"))  # alike but for their ids: two records
    write(path, "id,date,provider,cost,basis\ninv-2,2026-10-31,perplexity,45.00,billed\n")
    cli("import", str(path))
    assert _ledger(engine) == (2, Decimal("85.00"))  # 40.00 + the revised 45.00


def test_import_unknown_column_stops_before_any_row(cli: Cli, engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "date,provider,Cost (USD)\n2026-10-01,groq,3\n")
    result = cli("import", str(path), "--format", "generic", ok=False)
    assert result.exit_code == 1
    assert "column 'Cost (USD)' is not a field of this format" in result.output
    assert "--map 'Cost (USD)=FIELD'" in result.output
    fixed = cli("import", str(path), "--format", "generic", "--map", "Cost (USD)=cost")
    assert "1 new" in fixed.stdout
    assert _ledger(engine) == (1, Decimal("3"))


def test_import_bad_options_name_what_to_send(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "date,provider,cost\n2026-10-01,groq,3\n")
    assert "use billed, metered or manual" in cli("import", str(path), "--basis", "x", ok=False).output
    assert "write COLUMN=FIELD" in cli("import", str(path), "--map", "cost", ok=False).output
    wrong_field = cli("import", str(path), "--map", "cost=price", ok=False).output
    assert "'price' is not a field" in wrong_field
    assert "unknown format 'xls'" in cli("import", str(path), "--format", "xls", ok=False).output
    other = write(tmp_path / "y.csv", "a,b\n1,2\n")
    assert "column 'a' is not a field" in cli("import", str(other), "--format", "generic", ok=False).output
    no_time = write(tmp_path / "z.csv", "provider,cost\ngroq,2\n")
    assert "the file has no time" in cli("import", str(no_time), "--format", "generic", ok=False).output


@pytest.mark.parametrize(
    ("text", "format_name", "extra", "where", "expected"),
    [
        (OPENAI_USAGE, "openai-usage", [], {"basis": "metered"}, (2, OPENAI_USAGE_COST)),
        (OPENAI_COSTS, "openai-usage", [], {"basis": "billed"}, (3, OPENAI_COSTS_TOTAL)),
        (ANTHROPIC_USAGE, "anthropic-console", [], {"provider": "anthropic"}, (2, ANTHROPIC_USAGE_COST)),
        (ANTHROPIC_COSTS, "anthropic-console", [], {"provider": "anthropic"}, (3, ANTHROPIC_COSTS_TOTAL)),
        (OPENROUTER, "openrouter-activity", [], {"provider": "openrouter"}, (2, OPENROUTER_TOTAL)),
        (MISTRAL, "mistral", MISTRAL_MAP, {"provider": "mistral", "currency": "EUR"}, (2, MISTRAL_TOTAL)),
    ],
    ids=["openai-usage", "openai-costs", "anthropic-usage", "anthropic-costs", "openrouter", "mistral"],
)
def test_import_console_export_totals_and_reimport(
    cli: Cli,
    engine: Engine,
    tmp_path: Path,
    text: Path,
    format_name: str,
    extra: list[str],
    where: dict[str, str],
    expected: tuple[int, str],
) -> None:
    path = write(tmp_path / f"{format_name}.csv", text)
    # auto tells each export by its columns; an undocumented one (mistral) is named
    args = ["import", str(path), *extra, *(["--format", format_name] if format_name == "mistral" else [])]
    result = cli(*args)
    assert f"format {format_name}" in result.stdout
    assert "0 rejected" in result.stdout, result.stdout
    count, cost = expected[0], Decimal(expected[1])
    assert _ledger(engine, **where) == (count, cost)
    assert _ledger(engine) == (count, cost)
    assert f"{count} already stored" in cli(*args).stdout
    assert _ledger(engine) == (count, cost)


def test_import_console_exports_keep_their_dimensions(cli: Cli, engine: Engine, tmp_path: Path) -> None:
    cli("import", str(write(tmp_path / "costs.csv", OPENAI_COSTS)))
    cli("import", str(write(tmp_path / "usage.csv", ANTHROPIC_USAGE)))
    cli("import", str(write(tmp_path / "or.csv", OPENROUTER)))
    with engine.connect() as conn:
        rows = conn.execute(
            select(usage.c.provider, usage.c.model, usage.c.account, usage.c.project, usage.c.requests,
                   usage.c.cached_input_tokens, usage.c.tags)
            .order_by(usage.c.provider, usage.c.start, usage.c.cost_nanos)
        ).all()  # fmt: skip
    by_provider: dict[str, list[Any]] = {}
    for row in rows:
        by_provider.setdefault(row.provider, []).append(row)
    # OpenAI's cost export: the model read from its line item, the organisation as account
    assert [(r.model, r.account, r.project) for r in by_provider["openai"]] == [
        ("gpt-4o-mini-2024-07-18", "org-1", "proj_a"),
        ("gpt-4o-mini-2024-07-18", "org-1", "proj_a"),
        ("", "org-1", "proj_a"),  # web search tool calls: no model
    ]
    # Anthropic's usage export: 630k input in calls under 200k is at least 4 calls
    first = by_provider["anthropic"][0]
    assert (first.requests, first.cached_input_tokens, first.tags["requests_estimated"]) == (4, 500000, True)
    # OpenRouter: one record per generation, the upstream provider kept as a tag
    assert {r.tags.get("upstream_provider") for r in by_provider["openrouter"]} == {"Cerebras", "Anthropic"}


def test_import_reader_says_mistral_is_a_map_preset() -> None:
    mistral = reader("mistral")
    assert not mistral.documented
    assert "publishes no column list" in mistral.help
    assert "--map" in mistral.help


def test_import_cli_help_says_mistral_is_a_map_preset(cli: Cli) -> None:
    words = " ".join(w for w in cli("import", "--help").stdout.split() if w != "│")  # Rich's box wraps lines
    assert "mistral is a --map preset" in words
