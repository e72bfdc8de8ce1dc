"""The audit log: one writer (`store.audit.record`) in the change's own transaction, read
newest first between two local days by /audit, `spendledger audit` and GET /api/v1/audit;
the admins' changes (sources, budgets, price overrides) are written to it. On SQLite and
PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from clirun import cli_runner
from logins import ADMIN_EMAIL, csrf_of, text_of
from spendledger import sources_admin
from spendledger.config import Settings
from spendledger.ingest.entries import parse_entry
from spendledger.ingest.manual import remove_entry, save_entry
from spendledger.ingest.subscriptions import create_subscription, remove_subscription
from spendledger.store.audit import entries, record
from spendledger.store.budgets import list_budgets

UTC_ZONE = ZoneInfo("UTC")
TOKYO = ZoneInfo("Asia/Tokyo")


def test_audit_record_roundtrip_newest_first(engine: Engine) -> None:
    with engine.begin() as conn:
        record(
            conn,
            actor="ann@example.com",
            action="entry.add",
            what={"id": "inv-1234", "day": date(2026, 11, 30), "amount": Decimal("40.00")},
            amount={"USD": Decimal("40.00")},
            at=datetime(2026, 11, 30, 9, tzinfo=UTC),
        )
        record(
            conn,
            actor="cli:bob",
            action="budget.remove",
            what={"name": "web"},
            at=datetime(2026, 12, 1, tzinfo=UTC),
        )
    with engine.connect() as conn:
        newest, oldest = entries(conn, tz=UTC_ZONE)
    assert (newest.actor, newest.action, newest.what, newest.amount) == (
        "cli:bob",
        "budget.remove",
        {"name": "web"},
        None,
    )
    assert oldest.what == {"id": "inv-1234", "day": "2026-11-30", "amount": "40.00"}  # JSON: strings
    assert oldest.amount == {"USD": Decimal("40.00")}
    assert oldest.at == datetime(2026, 11, 30, 9, tzinfo=UTC)


def test_audit_entries_between_local_days(engine: Engine) -> None:
    # 2026-11-30 20:00 UTC is already 12-01 05:00 in Tokyo
    with engine.begin() as conn:
        record(conn, actor="a", action="x.one", what={}, at=datetime(2026, 11, 30, 10, tzinfo=UTC))
        record(conn, actor="a", action="x.two", what={}, at=datetime(2026, 11, 30, 20, tzinfo=UTC))
    with engine.connect() as conn:
        utc_30th = [
            e.action for e in entries(conn, start=date(2026, 11, 30), end=date(2026, 11, 30), tz=UTC_ZONE)
        ]
        tokyo_1st = [e.action for e in entries(conn, start=date(2026, 12, 1), tz=TOKYO)]
        limited = [e.action for e in entries(conn, tz=UTC_ZONE, limit=1)]
    assert utc_30th == ["x.two", "x.one"]
    assert tokyo_1st == ["x.two"]
    assert limited == ["x.two"]


def test_audit_entry_rolls_back_with_its_change(engine: Engine) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), engine.begin() as conn:
        record(conn, actor="a", action="records.delete", what={"records": 3})
        raise Boom
    with engine.connect() as conn:
        assert entries(conn, tz=UTC_ZONE) == []


def test_audit_cli_shows_the_admins_changes(
    engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = cli_runner(db_url, tmp_path, monkeypatch, SPENDLEDGER_TIMEZONE="UTC")
    assert "no entry" in run("audit").output
    run("budgets", "add", "web", "--amount", "500")
    run("budgets", "remove", "web")
    run(
        "prices",
        "set",
        "--provider",
        "openai",
        "--model",
        "gpt-x",
        "--input",
        "1",
        "--output",
        "2",
        "--note",
        "test",
        "--no-reprice",
    )
    log = json.loads(run("audit", "--format", "json").output)
    assert [(e["action"], e["what"]) for e in log] == [
        ("price_override.add", {"id": 1, "model": "gpt-x"}),
        ("budget.remove", {"name": "web"}),
        ("budget.add", {"name": "web", "amount": "500.00"}),
    ]
    assert all(e["actor"].startswith("cli") and e["amount"] is None for e in log)
    table = " ".join(run("audit", "--from", "2000-01-01").output.split())
    assert "budget.add │ name: web · amount: 500.00" in table
    assert "no entry from 2999-01-01" in run("audit", "--from", "2999-01-01").output
    bad = run("audit", "--format", "xml", ok=False)
    assert bad.exit_code == 2 and "not one of table, json" in bad.output


def test_audit_source_add_and_purge(engine: Engine, settings: Settings) -> None:
    sources_admin.add(
        engine,
        settings,
        provider="openai",
        name="Edugami",
        key="sk-admin-" + "a" * 40,
        options={},
        actor="ann",
    )
    sources_admin.remove(engine, "Edugami", purge=True, actor="ann")
    with engine.connect() as conn:
        log = [(e.actor, e.action, e.what) for e in entries(conn, tz=UTC_ZONE)]
    assert ("ann", "source.add", {"name": "Edugami", "type": "openai"}) in log
    assert ("ann", "source.remove", {"name": "Edugami", "purge": True}) in log
    assert "sk-admin" not in json.dumps(log)  # never a key


def test_audit_page_and_api_show_a_budget_added_on_the_page(
    admin_client: TestClient, engine: Engine, client: TestClient
) -> None:
    csrf = csrf_of(admin_client.get("/budgets").text)
    added = admin_client.post("/budgets", data={"name": "web", "amount": "250", "csrf_token": csrf})
    assert added.status_code == 200
    with engine.connect() as conn:
        assert [b.name for b in list_budgets(conn)] == ["web"]
    page = text_of(admin_client.get("/audit").text)
    assert f"{ADMIN_EMAIL} budget.add name: web · amount: 250.00" in page
    assert "No entry" in text_of(admin_client.get("/audit", params={"from": "2999-01-01"}).text)
    bad = admin_client.get("/audit", params={"to": "soon"})
    assert bad.status_code == 400 and "to: 'soon' is not a date" in text_of(bad.text)
    (entry,) = client.get("/api/v1/audit").json()["entries"]
    assert {k: entry[k] for k in ("actor", "action", "what", "amount")} == {
        "actor": ADMIN_EMAIL,
        "action": "budget.add",
        "what": {"name": "web", "amount": "250.00"},
        "amount": None,
    }
    assert client.get("/api/v1/audit", params={"from": "2999-01-01"}).json() == {"entries": []}
    assert client.get("/api/v1/audit", params={"from": "soon"}).status_code == 422


def test_audit_log_records_manual_entries_and_subscriptions(engine: Engine) -> None:
    """Entries and subscriptions write the audit log in the transaction of their change."""
    utc = ZoneInfo("UTC")
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    with engine.begin() as conn:
        entry = parse_entry({"id": "inv-1", "provider": "mistral", "amount": "40.00", "date": "2026-11-30"})
        save_entry(conn, entry, tz=utc, actor="cli:ana")
        remove_entry(conn, "inv-1", actor="cli:ana")
        # 12 seats × $30 from 2026-11-01, billed on the 1st: November's charge is $360.00
        create_subscription(
            conn, name="team", seats=12, starts="2026-11-01", provider="openai", price_per_seat="30",
            billing_day=1, tz=utc, today=date(2026, 11, 30), now=now, actor="ana@example.com",
        )  # fmt: skip
        remove_subscription(conn, "team", tz=utc, actor="ana@example.com")
    with engine.connect() as conn:
        logged = [(e.actor, e.action, e.amount) for e in reversed(entries(conn, tz=utc))]
    assert logged == [
        ("cli:ana", "entry.add", {"USD": Decimal("40.00")}),
        ("cli:ana", "entry.remove", {"USD": Decimal("-40.00")}),
        ("ana@example.com", "subscription.add", {"USD": Decimal("360")}),
        ("ana@example.com", "subscription.remove", {"USD": Decimal("-360")}),
    ]


def test_audit_log_records_each_stored_import_batch(engine: Engine) -> None:
    import io

    from spendledger.imports.base import ImportOptions
    from spendledger.imports.importer import run_import
    from spendledger.pricing import Pricer

    csv = (
        b"date,provider,model,cost,currency\n"
        b"2026-11-20,groq,llama-3.3-70b,1.25,USD\n2026-11-21,groq,llama-3.3-70b,2.50,USD\n"
    )
    utc = ZoneInfo("UTC")
    run_import(
        io.BytesIO(csv), format_name="generic", options=ImportOptions(), pricer=Pricer(), tz=utc,
        engine=engine, actor="cli:ana",
    )  # fmt: skip
    with engine.connect() as conn:
        (logged,) = entries(conn, tz=utc)
    # one batch: $1.25 + $2.50 = $3.75
    assert (logged.actor, logged.action, logged.amount) == (
        "cli:ana",
        "records.import",
        {"USD": Decimal("3.75")},
    )
    assert logged.what == {"format": "generic", "source": "import", "records": 2}
