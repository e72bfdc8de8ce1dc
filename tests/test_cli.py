"""The `spendledger` command, run in-process against real SQLite and PostgreSQL databases.

Every test asserts figures, not just exit codes: the report's totals against an
independent sum over the `usage` table, prices against the published rates, a re-priced
cost against the arithmetic written out beside it.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from clirun import Cli, cli_runner
from folder_children import folder_children
from spendledger.cli import app
from spendledger.demo_bill import LABS, SOURCES
from spendledger.pricing import Pricer
from spendledger.records import TokenCounts, cents, from_nanos, instant_of
from spendledger.store import write_records
from spendledger.store.folder import fold_all
from spendledger.store.tables import rollups, usage
from spendledger.store.tokens import verify_token
from usage_records import usage_record

ZONE = "America/Los_Angeles"  # days are local: a UTC day boundary must not leak into reports


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Run `spendledger --database-url <db_url> ...`; returns the click Result."""
    return cli_runner(db_url, tmp_path, monkeypatch, SPENDLEDGER_TIMEZONE=ZONE)


def _table_rows(output: str) -> dict[str, list[str]]:
    """A Rich table's body rows, keyed by their first cell."""
    rows = {}
    for line in output.splitlines():
        if line.startswith("│"):
            cells = [c.strip() for c in line.strip("│").split("│")]
            rows[cells[0]] = cells[1:]
    return rows


def _local_today() -> date:
    return datetime.now(ZoneInfo(ZONE)).date()


def _expected_by_provider(engine: Engine, first: date, last: date) -> dict[str, int]:
    """Nano-units per provider of the records that count (best available) whose local day
    (from the record's instant: an event's time, a bucket's midpoint) is in [first, last].

    The demo's bill covers every day of its accounts (demo_bill.py), so their metered
    records do not count; the metering of the account no bill covers (LABS) does."""
    zone = ZoneInfo(ZONE)
    sums: dict[str, int] = {}
    counts = (usage.c.basis != "metered") | (usage.c.account == LABS)
    columns = (usage.c.start, usage.c.end, usage.c.provider, usage.c.cost_nanos)
    with engine.connect() as conn:
        for row in conn.execute(select(*columns).where(counts)):
            if first <= instant_of(row.start, row.end).astimezone(zone).date() <= last:
                sums[row.provider] = sums.get(row.provider, 0) + row.cost_nanos
        by_sql = conn.execute(
            select(func.sum(usage.c.cost_nanos)).where(
                counts, usage.c.day >= first.isoformat(), usage.c.day <= last.isoformat()
            )
        ).scalar_one()
    assert by_sql == sum(sums.values())  # the stored local day agrees with the recomputed one
    return sums


def test_cli_demo_report_totals_match_the_ledger(cli: Any, engine: Engine) -> None:
    loaded = cli("demo", "--days", "30")
    assert "Loaded" in loaded.output
    today = _local_today()
    expected = _expected_by_provider(engine, today - timedelta(days=29), today)
    assert set(expected) == {"openai", "anthropic", "mistral", "google"}
    total = from_nanos(sum(expected.values()))

    report = json.loads(cli("report", "--period", "30d", "--by", "provider", "--format", "json").stdout)

    assert (report["from"], report["to"]) == ((today - timedelta(days=29)).isoformat(), today.isoformat())
    assert Decimal(report["total"]) == total
    assert {r["provider"]: Decimal(r["cost"]) for r in report["rows"]} == {
        p: from_nanos(n) for p, n in expected.items()
    }
    assert sum(Decimal(r["cost"]) for r in report["rows"]) == Decimal(report["total"])
    assert f"{cents(total):,}" in loaded.output  # the demo's own summary agrees

    # csv and the table show the same cents
    csv_rows = list(
        csv.DictReader(
            io.StringIO(cli("report", "--period", "30d", "--by", "provider", "--format", "csv").stdout)
        )
    )
    assert {r["provider"]: cents(Decimal(r["cost"])) for r in csv_rows} == {
        p: cents(from_nanos(n)) for p, n in expected.items()
    }
    table = _table_rows(cli("report", "--period", "30d", "--by", "provider").stdout)
    for provider, nanos in expected.items():
        assert table[provider][0] == f"{cents(from_nanos(nanos)):,}"
    assert table["Total"][0] == f"{cents(total):,}"

    # a second `demo` changes nothing
    again = cli("demo", "--days", "30")
    assert "already loaded" in again.output
    assert _expected_by_provider(engine, today - timedelta(days=29), today) == expected


def test_cli_demo_refuses_real_data_and_clear_removes_only_demo(cli: Any, engine: Engine) -> None:
    real = usage_record(
        key="api:evt-1",
        source="api",
        start=datetime.now(UTC) - timedelta(days=2),
        model="gpt-4o-mini",
        tokens=TokenCounts(input=1000, output=100),
    )
    Pricer().price(real)
    with engine.begin() as conn:
        write_records(conn, [real], tz=ZoneInfo(ZONE))

    refused = cli("demo", "--days", "7", ok=False)
    assert refused.exit_code == 1 and "holds real records" in refused.stderr and "--force" in refused.stderr
    cli("demo", "--days", "7", "--force")
    with engine.connect() as conn:
        demo = (usage.c.basis == "demo") | usage.c.source.in_(SOURCES)  # its calls, its bill and metering
        demo_rows = conn.execute(select(func.count()).where(demo)).scalar_one()
    assert demo_rows > 500

    cleared = cli("demo", "--clear")

    assert f"Removed {demo_rows:,} demo records" in cleared.stdout
    fold_all(engine)  # the rollups are written behind: fold the journal before reading them
    with engine.connect() as conn:
        assert conn.execute(select(usage.c.key)).scalars().all() == ["api:evt-1"]
        assert conn.execute(select(func.sum(rollups["rollup_model"].c.records))).scalar_one() == 1
    report = json.loads(cli("report", "--period", "7d", "--format", "json").stdout)
    # 1000 × $0.15/M + 100 × $0.60/M = $0.00021
    assert report["total"] == "0.00021"


def test_cli_db_fold_sums_the_journal_into_the_rollups(cli: Any, engine: Engine) -> None:
    calls = [
        usage_record(
            key=f"api:evt-{i}", source="api", start=datetime.now(UTC) - timedelta(days=1), cost="0.25"
        )
        for i in range(3)
    ]
    with engine.begin() as conn:
        write_records(conn, calls, tz=ZoneInfo(ZONE))
    table = rollups["rollup_model"]
    with engine.connect() as conn:  # written behind: the journal holds them, the rollup not yet
        assert conn.execute(select(func.sum(table.c.records))).scalar_one() is None

    assert "Folded 3 journal rows into the rollups." in cli("db", "fold").stdout
    with engine.connect() as conn:
        # three calls at the $0.25 each reported: $0.75
        assert conn.execute(select(func.sum(table.c.records), func.sum(table.c.cost_nanos))).one() == (
            3,
            750_000_000,
        )
    assert "Folded 0 journal rows" in cli("db", "fold").stdout


def test_cli_tokens_create_prints_the_token_last(cli: Any, engine: Engine) -> None:
    created = cli("tokens", "create", "ci-bot")

    token = created.stdout.splitlines()[-1]
    assert token.startswith("sl_") and " " not in token and len(created.stdout.splitlines()) >= 2
    with engine.begin() as conn:
        assert verify_token(conn, token) == "ci-bot"
    listed = _table_rows(cli("tokens", "list").stdout)
    assert listed["ci-bot"][0] == f"sl_…{token[-4:]}" and listed["ci-bot"][3] == "—"

    duplicate = cli("tokens", "create", "ci-bot", ok=False)
    assert duplicate.exit_code == 1 and duplicate.stdout == ""
    assert duplicate.stderr == (
        "a token named 'ci-bot' exists and its token cannot be shown again; `spendledger tokens create "
        "ci-bot --replace` revokes it and prints a new one (apps sending the old one get 401), or pick "
        "another name\n"
    )

    cli("tokens", "revoke", "ci-bot")
    with engine.begin() as conn:
        assert verify_token(conn, token) is None
    assert _table_rows(cli("tokens", "list").stdout)["ci-bot"][3] != "—"
    missing = cli("tokens", "revoke", "ci-bot", ok=False)
    assert missing.exit_code == 1 and "no active token named 'ci-bot'" in missing.stderr


def test_cli_tokens_create_replace_revokes_the_old_token(cli: Any, engine: Engine) -> None:
    old = cli("tokens", "create", "my-app").stdout.splitlines()[-1]

    replaced = cli("tokens", "create", "my-app", "--replace")
    fresh = cli("tokens", "create", "new-app", "--replace")  # nothing to replace: created

    new = replaced.stdout.splitlines()[-1]
    revoked = "Revoked the previous token 'my-app': apps sending it now get 401."
    assert replaced.stdout.splitlines()[0] == revoked
    with engine.begin() as conn:
        assert verify_token(conn, old) is None and verify_token(conn, new) == "my-app"
        assert verify_token(conn, fresh.stdout.splitlines()[-1]) == "new-app"
    assert "Revoked" not in fresh.stdout
    assert sorted(_table_rows(cli("tokens", "list").stdout)) == ["my-app", "new-app"]


def test_cli_prices_show_catalogue_rates(cli: Any) -> None:
    shown = cli("prices", "show", "gpt-4o-mini", "--provider", "openai", "--at", "2026-11-01")

    rates = _table_rows(shown.stdout)
    assert {k: v[0] for k, v in rates.items() if k != "Price"} == {
        "input": "$0.15",
        "cached input": "$0.075",
        "output": "$0.60",
    }
    assert "Source: catalogue (genai-prices" in shown.stdout
    # the provider is guessed from the catalogue, and a shipped correction says so
    corrected = cli("prices", "show", "mistral-large-latest", "--at", "2026-11-01")
    assert _table_rows(corrected.stdout)["input"][0] == "$0.50"
    assert "Source: correction" in corrected.stdout

    unknown = cli("prices", "show", "acme-llm-7b", ok=False)
    assert unknown.exit_code == 1
    assert "unknown model" in unknown.stderr and "spendledger prices set" in unknown.stderr


def _acme_records(engine: Engine) -> None:
    start = datetime.now(UTC) - timedelta(days=3)
    records = [
        usage_record(
            key=f"api:acme-{i}",
            source="api",
            start=start + timedelta(hours=i),
            provider="acme",
            model="acme-llm-7b",
            tokens=TokenCounts(input=1_000_000, cached_input=200_000, output=250_000),
        )
        for i in range(3)
    ]
    Pricer().price_all(records)
    with engine.begin() as conn:
        write_records(conn, records, tz=ZoneInfo(ZONE))


def test_cli_prices_set_reprices_an_unpriced_model(cli: Any, engine: Engine) -> None:
    _acme_records(engine)
    before = _table_rows(cli("prices", "unpriced").stdout)
    assert before["acme"][:3] == ["acme-llm-7b", "3", "3"]
    assert before["acme"][3:5] == ["3,000,000", "750,000"]

    set_ = cli(
        "prices", "set", "--provider", "acme", "--model", "acme-llm-7b",
        "--input", "0.2", "--cached-input", "0.05", "--output", "0.8", "--note", "Acme order form 2026-11",
    )  # fmt: skip

    assert "Added price override #1" in set_.stdout
    assert "3 changed, 3 newly priced, 0 still unpriced" in set_.stdout
    with engine.connect() as conn:
        rows = conn.execute(select(usage.c.cost_nanos, usage.c.pricing_status, usage.c.price_source)).all()
    # 800k uncached input × $0.2/M + 200k cached × $0.05/M + 250k output × $0.8/M
    # = $0.16 + $0.01 + $0.20 = $0.37 per record
    assert [(r.cost_nanos, r.pricing_status) for r in rows] == [(370_000_000, "priced")] * 3
    assert {r.price_source for r in rows} == {"override #1: Acme order form 2026-11"}
    report = json.loads(cli("report", "--period", "7d", "--format", "json").stdout)
    assert (report["total"], report["rows"][0]["unpriced_requests"]) == ("1.11", 0)  # 3 × $0.37
    assert "Every record has a price." in cli("prices", "unpriced").stdout
    assert "acme-llm-7b" not in cli("prices", "unpriced").stdout

    listed = _table_rows(cli("prices", "list").stdout)
    assert listed["1"][:2] == ["acme", "acme-llm-7b"]
    assert "override #1: Acme order form" in cli("prices", "show", "acme-llm-7b").stdout

    removed = cli("prices", "remove", "1")
    assert "3 changed, 0 newly priced, 3 still unpriced" in removed.stdout
    assert _table_rows(cli("prices", "unpriced").stdout)["acme"][0] == "acme-llm-7b"
    assert cli("prices", "remove", "1", ok=False).exit_code == 1


def test_cli_prices_set_rejects_bad_input(cli: Any) -> None:
    no_note = cli(
        "prices", "set", "--provider", "acme", "--model", "x", "--input", "1", "--note", " ", ok=False
    )
    assert no_note.exit_code == 1 and "needs a note" in no_note.stderr
    bad = cli(
        "prices", "set", "--provider", "acme", "--model", "x", "--input", "1,5", "--note", "n", ok=False
    )
    assert bad.exit_code == 1 and "price for 'input' is not a number: '1,5'" in bad.stderr
    bad_day = cli(
        "prices",
        "set",
        "--provider",
        "acme",
        "--model",
        "x",
        "--input",
        "1",
        "--note",
        "n",
        "--from",
        "soon",
        ok=False,
    )
    assert bad_day.exit_code == 2 and "--from: 'soon' is not a date" in bad_day.stderr
    assert "No price overrides" in cli("prices", "list").stdout


def test_cli_prices_reprice_reports_counts(cli: Any, engine: Engine) -> None:
    _acme_records(engine)
    result = cli("prices", "reprice", "--since", (date.today() - timedelta(days=30)).isoformat())
    assert "Re-priced 3 records: 0 changed, 0 newly priced, 3 still unpriced." in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--by", "provider,colour"], "by: unknown dimension 'colour'"),
        (["--filter", "colour=red"], "filter: unknown dimension 'colour'"),
        (["--filter", "provider"], "filter: 'provider' is not DIM=VALUE"),
        (["--period", "2w"], "period: unknown preset '2w'"),
        (["--from", "2026-13-01"], "from: '2026-13-01' is not a date"),
        (["--from", "2026-11-20", "--to", "2026-11-01"], "from: 2026-11-20 is after to=2026-11-01"),
        (["--granularity", "hour"], "granularity: 'hour' is not one of"),
        (["--basis", "guessed"], "basis: 'guessed' is not one of"),
    ],
)
def test_cli_report_bad_parameters_exit_2(cli: Any, args: list[str], message: str) -> None:
    result = cli("report", *args, ok=False)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_cli_report_by_day_and_filter(cli: Any, engine: Engine) -> None:
    cli("demo", "--days", "10")
    today = _local_today()
    report = json.loads(
        cli(
            "report", "--from", (today - timedelta(days=2)).isoformat(), "--granularity", "day",
            "--filter", "provider=anthropic", "--by", "workspace", "--format", "json",
        ).stdout
    )  # fmt: skip
    assert {r["workspace"] for r in report["rows"]} == {"Default workspace", "Claude Code", "Platform"}
    assert {r["period"] for r in report["rows"]} == {
        (today - timedelta(days=i)).isoformat() for i in range(3)
    }
    with engine.connect() as conn:
        expected = conn.execute(
            select(func.sum(usage.c.cost_nanos)).where(
                usage.c.provider == "anthropic",
                usage.c.basis != "metered",  # the demo's bill covers its Anthropic metering
                usage.c.day >= (today - timedelta(days=2)).isoformat(),
            )
        ).scalar_one()
    assert Decimal(report["total"]) == from_nanos(expected)
    assert sum(Decimal(r["cost"]) for r in report["rows"]) == from_nanos(expected)


def test_cli_db_upgrade_and_rebuild_rollups(cli: Any, engine: Engine) -> None:
    assert "is at schema revision" in cli("db", "upgrade").stdout
    cli("demo", "--days", "5")
    fold_all(engine)  # the rollups are written behind: fold the journal before reading them
    with engine.connect() as conn:
        daily = conn.execute(select(func.count()).select_from(rollups["rollup_model"])).scalar_one()
    before = cli("report", "--period", "7d", "--format", "json").stdout

    rebuilt = _table_rows(cli("db", "rebuild-rollups").stdout)

    assert rebuilt["rollup_model"] == [f"{daily:,}"]
    grains = {"rollup_provider", "rollup_model", "rollup_user", "rollup_feature", "rollup_key"}
    assert set(rebuilt) == grains | {f"{name}_month" for name in grains}
    assert cli("report", "--period", "7d", "--format", "json").stdout == before


def test_cli_bad_database_url_says_what_to_do(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--database-url", "nosuchdb://x", "tokens", "list"])
    assert result.exit_code == 1
    assert "--database-url or SPENDLEDGER_DATABASE_URL" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_cli_serve_upgrades_then_runs_the_app(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    import spendledger.web

    served: dict[str, Any] = {}
    sentinel = object()
    monkeypatch.setattr(spendledger.web, "create_app", lambda settings: (sentinel, settings), raising=False)
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port: served.update(app=app, host=host, port=port))

    result = cli("serve", "--port", "8123", "--no-sync")

    assert "http://127.0.0.1:8123" in result.stdout
    app_, settings = served["app"]
    assert app_ is sentinel and settings.timezone == ZONE
    assert (served["host"], served["port"]) == ("127.0.0.1", 8123)
    # the server stopped, so did its folder: none folds this ledger behind later writers
    assert not [t for t in threading.enumerate() if t.name == "spendledger-folder"]
    assert folder_children() == []  # its process waited for, not left running
