"""`spendledger fx ...` and `report --currency`, as typed, on a real ledger; `fx update` and
the scheduler's daily download from a fake ECB over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select

from clirun import Cli, cli_runner
from fakes.ecb import FakeECB
from spendledger.config import Settings
from spendledger.imports.fx_rates import last_update
from spendledger.scheduler import run_due
from spendledger.store import write_records
from spendledger.store.audit import entries
from spendledger.store.tables import fx_rates
from test_fx_conversion import LEDGER, RATES

UTC_ZONE = ZoneInfo("UTC")


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_runner(db_url, tmp_path, monkeypatch)


@pytest.fixture
def rates_file(tmp_path: Path) -> Path:
    path = tmp_path / "eurofxref-hist.csv"
    path.write_bytes(RATES)
    return path


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(fx_rates)).scalar_one())


def _actions(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [e.action for e in entries(conn, tz=UTC_ZONE)][::-1]


def test_fx_import_twice_changes_nothing(cli: Cli, engine: Engine, rates_file: Path) -> None:
    first = cli("fx", "import", str(rates_file))
    assert "4 rates (ecb-csv) from 2026-11-02 to 2026-11-03: 4 new, 0 changed, 0 unchanged" in first.output
    again = cli("fx", "import", str(rates_file))
    assert "0 new, 0 changed, 4 unchanged" in again.output
    assert _count(engine) == 4
    assert _actions(engine) == ["fx.import"]  # the second import wrote nothing


def test_fx_import_names_bad_lines_and_keeps_the_good(cli: Cli, engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "rates.csv"
    path.write_text("date,currency,rate\n2026-11-02,USD,1.25\n2026-11-03,USD,abc\n2026-11-03,XXX,1\n")
    result = cli("fx", "import", str(path))
    assert "1 rates (generic-csv)" in result.output and "2 lines rejected" in result.output
    assert "│ 3    │ rate" in result.output and "│ 4    │ currency" in result.output
    assert _count(engine) == 1
    path.write_text("date,currency,rate\n2026-11-03,USD,abc\n")
    assert cli("fx", "import", str(path), ok=False).exit_code == 1  # nothing usable at all
    bad = cli("fx", "import", str(tmp_path / "missing.csv"), ok=False)
    assert bad.exit_code == 1 and "no such file" in bad.output


def test_fx_set_wins_over_imports_and_is_audited(cli: Cli, engine: Engine, rates_file: Path) -> None:
    cli("fx", "import", str(rates_file))
    result = cli("fx", "set", "2026-11-03", "usd", "1.5")
    assert "2026-11-03: 1 EUR = 1.5 USD (was 1.20, ecb)" in result.output
    assert "1 kept manual" in cli("fx", "import", str(rates_file)).output
    listed = cli("fx", "list", "--currency", "USD").output
    assert "2026-11-03 │ EUR  │ USD      │  1.5 │ manual" in listed
    assert "2026-11-02 │ EUR  │ USD      │ 1.25 │ ecb" in listed
    assert "Removed 2026-11-03: 1 EUR = 1.5 USD (manual)" in cli("fx", "remove", "2026-11-03", "USD").output
    gone = cli("fx", "remove", "2026-11-03", "USD", ok=False)
    assert gone.exit_code == 1 and "no rate for EUR→USD on 2026-11-03" in gone.output
    assert _actions(engine) == ["fx.import", "fx.set", "fx.remove"]
    bad = cli("fx", "set", "2026-11-03", "USD", "0", ok=False)
    assert bad.exit_code == 1 and "'0' is not a rate" in bad.output


def test_fx_list_shows_each_currencys_latest(cli: Cli, rates_file: Path) -> None:
    cli("fx", "import", str(rates_file))
    listed = cli("fx", "list").output
    assert "│ EUR  │ USD      │        1.20 │ 2026-11-03 │ ecb    │    2 │ 2026-11-02" in listed
    assert "│ EUR  │ CHF      │        0.96 │ 2026-11-03 │ ecb    │    2 │ 2026-11-02" in listed


def test_fx_report_currency_as_typed(cli: Cli, engine: Engine, rates_file: Path) -> None:
    with engine.begin() as conn:
        write_records(conn, LEDGER, tz=UTC_ZONE)
    cli("fx", "import", str(rates_file))
    args = ("report", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "json")
    # in CHF, worked out in test_fx_conversion: 143.20 + 9.60 + 5 = 157.80
    chf = json.loads(cli(*args, "--currency", "chf").output)
    assert (chf["currency"], chf["total"], chf["unconverted"]) == ("CHF", "157.80", [])
    table = cli("report", "--from", "2026-11-01", "--to", "2026-11-30", "--currency", "CHF").output
    assert "Cost (CHF)" in table and "157.80" in table and "in CHF, each day at its rate" in table
    # October 30's $7 has no rate: flagged, in its own currency
    oct_ = json.loads(
        cli(
            "report", "--from", "2026-10-30", "--to", "2026-10-30", "--format", "json", "--currency", "EUR"
        ).output
    )
    assert oct_["totals"] == {"USD": "7.00"} and oct_["total"] is None
    assert oct_["unconverted"] == [{"day": "2026-10-30", "currency": "USD", "amount": "7.00"}]
    assert "1 days had no exchange rate into EUR" in oct_["note"]
    warned = cli("report", "--from", "2026-10-30", "--to", "2026-10-30", "--currency", "EUR")
    assert "No exchange rate into EUR on or before 1 days" in warned.output
    # as charged
    plain = json.loads(cli(*args, "--currency", "original").output)
    assert plain["totals"] == {"CHF": "5.00", "EUR": "10.00", "USD": "184.00"} and "unconverted" not in plain


def test_fx_report_currency_errors_name_the_option(cli: Cli, engine: Engine, rates_file: Path) -> None:
    with engine.begin() as conn:
        write_records(conn, LEDGER, tz=UTC_ZONE)
    bad = cli("report", "--currency", "dollars", ok=False)
    assert bad.exit_code == 2 and "currency: currency 'dollars' is not an ISO 4217 code" in bad.output
    none = cli("report", "--currency", "JPY", ok=False)  # no rates and no JPY spend
    assert none.exit_code == 2 and "currency: no exchange rates for JPY" in none.output
    assert "CHF, EUR, USD, original" in none.output
    cli("fx", "import", str(rates_file))
    assert cli("report", "--currency", "USD").exit_code == 0


def test_fx_display_currency_setting_is_the_default(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: Engine, rates_file: Path
) -> None:
    run = cli_runner(db_url, tmp_path, monkeypatch, SPENDLEDGER_CURRENCY="chf")
    with engine.begin() as conn:
        write_records(conn, LEDGER, tz=UTC_ZONE)
    run("fx", "import", str(rates_file))
    got = json.loads(run("report", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "json").output)
    assert (got["currency"], got["total"]) == ("CHF", "157.80")


def test_fx_update_from_the_configured_url(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: Engine
) -> None:
    with FakeECB() as ecb:
        ecb.publish(date(2026, 11, 20), {"USD": "1.0705", "CHF": "0.9634"})
        run = cli_runner(db_url, tmp_path, monkeypatch, SPENDLEDGER_FX_URL=ecb.url)
        assert "2 rates (ecb-xml) from 2026-11-20 to 2026-11-20: 2 new" in run("fx", "update").output
        assert "0 new, 0 changed, 2 unchanged" in run("fx", "update").output
        assert "Last download" in run("fx", "list").output and ": ok: " in run("fx", "list").output
        ecb.status = 503
        failed = run("fx", "update", ok=False)
        assert (
            failed.exit_code == 1
            and f"{ecb.url} answered HTTP 503; check SPENDLEDGER_FX_URL" in failed.output
        )
        assert "FAILED" in run("fx", "list").output
    assert _count(engine) == 2


def test_fx_scheduler_downloads_daily_and_survives_failures(
    engine: Engine, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with FakeECB() as ecb:
        ecb.publish(date(2026, 11, 20), {"USD": "1.0705"})
        on = settings.model_copy(update={"fx_daily_update": True, "fx_url": ecb.url})
        start = datetime(2026, 11, 20, 18, tzinfo=UTC)
        run_due(engine, on, owner="test", now=lambda: start)
        run_due(engine, on, owner="test", now=lambda: start + timedelta(hours=1))  # not due yet
        assert ecb.requests == 1 and _count(engine) == 1
        ecb.publish(date(2026, 11, 23), {"USD": "1.08"})
        later = start + timedelta(hours=12)
        run_due(engine, on, owner="test", now=lambda: later)
        assert ecb.requests == 2 and _count(engine) == 2
        ecb.status = 500
        with caplog.at_level(logging.WARNING, logger="spendledger.fx"):
            run_due(engine, on, owner="test", now=lambda: later + timedelta(hours=12))  # fails, logged
        assert "the download failed" in caplog.text and "HTTP 500" in caplog.text
        with engine.connect() as conn:
            state = last_update(conn)
        assert state is not None and state.ok is False and "HTTP 500" in state.message
        ecb.status = 200
        run_due(
            engine, on, owner="test", now=lambda: later + timedelta(hours=12, minutes=30)
        )  # retry waits 1 h
        assert ecb.requests == 3
        run_due(engine, on, owner="test", now=lambda: later + timedelta(hours=13))
        assert ecb.requests == 4
        run_due(engine, settings, owner="test", now=lambda: later + timedelta(days=5))  # off: never fetches
        assert ecb.requests == 4
