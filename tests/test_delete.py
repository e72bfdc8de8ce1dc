"""Removing data: a deletion removes exactly its scope (the figures before and after are
worked out by hand in deletion_ledger.py), the rollups follow (they equal a rebuild), a
dry run removes nothing, the audit log shows who removed what and how much, and only
admins may (members and viewers: 403). The CLI, the /data page and the JSON API share
one scope and one summary (store/deletions.py). On SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from clirun import cli_runner
from deletion_ledger import UTC_ZONE, keys, rollups_equal_a_rebuild, seed, totals
from logins import ADMIN_EMAIL, ADMIN_PASSWORD, add_user, csrf_of, login, text_of
from spendledger.config import Settings
from spendledger.errors import SpendledgerError
from spendledger.store.audit import entries
from spendledger.store.deletions import DeletionError, DeletionScope, delete, parse_scope, summarise
from spendledger.store.ledger import delete_records
from spendledger.web import create_app

PLAUSIBLE = ("", " ", "none", "-", "openai", "billed", "2026-11-20", "2026-02-30", "20261120")
NOV_20 = {"provider": "openai", "start": "2026-11-20", "end": "2026-11-20"}


def _log(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return entries(conn, tz=UTC_ZONE)


def test_delete_removes_exactly_its_scope_and_logs_it(engine: Engine) -> None:
    seed(engine)
    assert totals(engine) == {"USD": Decimal("18.50"), "EUR": Decimal("3.00")}
    scope = parse_scope(provider="OpenAI", start="2026-11-20", end="2026-11-20")  # the ledger's name: openai

    with engine.begin() as conn:
        gone = delete(conn, scope, actor="admin@example.com")

    # openai on the 20th: b (metered 2.50 USD), c (billed 10.00 USD), f (manual 3.00 EUR)
    assert gone.records == 3
    assert [(s.provider, s.basis, s.records, s.amounts) for s in gone.slices] == [
        ("openai", "billed", 1, {"USD": Decimal("10.00")}),
        ("openai", "manual", 1, {"EUR": Decimal("3.00")}),
        ("openai", "metered", 1, {"USD": Decimal("2.50")}),
    ]
    assert gone.amounts == {"EUR": Decimal("3.00"), "USD": Decimal("12.50")}
    assert (gone.first_day, gone.last_day, gone.days) == (date(2026, 11, 20), date(2026, 11, 20), 1)
    assert keys(engine) == {"a", "d", "e"}
    # 18.50 - 12.50 = 6.00 USD left (a 1.25 + d 4.00 + e 0.75); no EUR
    assert totals(engine) == {"USD": Decimal("6.00")}
    assert totals(engine, "best") == {"USD": Decimal("6.00")}
    assert rollups_equal_a_rebuild(engine)

    (entry,) = _log(engine)
    assert (entry.actor, entry.action) == ("admin@example.com", "records.delete")
    assert entry.amount == {"EUR": Decimal("3.00"), "USD": Decimal("12.50")}
    assert entry.what == {
        "scope": {"provider": "openai", "from": "2026-11-20", "to": "2026-11-20"},
        "records": 3,
        "first_day": "2026-11-20",
        "last_day": "2026-11-20",
        "days": 1,
        "by_provider_basis": {"openai/billed": 1, "openai/manual": 1, "openai/metered": 1},
    }


def test_delete_scope_fields_combine(engine: Engine) -> None:
    seed(engine)
    with engine.begin() as conn:
        # metered calls of project web, any provider: a 1.25 + b 2.50 + d 4.00 = 7.75
        web = delete(conn, parse_scope(basis="metered", project="web"), actor="t")
        # what has no project among what is left: c (billed) and f (manual)
        none = delete(conn, parse_scope(project="none"), actor="t")
    assert (web.records, web.amounts) == (3, {"USD": Decimal("7.75")})
    assert (none.records, none.amounts) == (2, {"EUR": Decimal("3.00"), "USD": Decimal("10.00")})
    assert keys(engine) == {"e"}
    assert totals(engine) == {"USD": Decimal("0.75")}
    assert rollups_equal_a_rebuild(engine)


def test_delete_by_source_from_a_day_on(engine: Engine) -> None:
    seed(engine)
    with engine.begin() as conn:
        gone = delete(conn, parse_scope(source="api", start="2026-11-20"), actor="t")  # b, d, e
        assert summarise(conn, parse_scope(source="api")).records == 1  # a, on the 19th
    assert (gone.records, gone.amounts, gone.days) == (3, {"USD": Decimal("7.25")}, 2)
    assert keys(engine) == {"a", "c", "f"}
    assert rollups_equal_a_rebuild(engine)


def test_delete_everything_needs_all(engine: Engine) -> None:
    seed(engine)
    with pytest.raises(DeletionError, match="--all for every record") as refused:
        parse_scope()
    assert refused.value.field == "scope"
    with pytest.raises(ValueError, match="needs a scope"), engine.begin() as conn:
        delete_records(conn)
    assert len(keys(engine)) == 6
    with engine.begin() as conn:
        gone = delete(conn, parse_scope(everything=True), actor="t")
    assert (gone.records, gone.amounts) == (6, {"EUR": Decimal("3.00"), "USD": Decimal("18.50")})
    assert keys(engine) == set() and totals(engine) == {}
    assert rollups_equal_a_rebuild(engine)
    assert _log(engine)[0].what["scope"] == {"all": True}


def test_delete_nothing_matched_logs_nothing(engine: Engine) -> None:
    seed(engine)
    with engine.begin() as conn:
        gone = delete(conn, parse_scope(provider="mistral"), actor="t")
    assert gone.records == 0 and gone.amounts == {}
    assert len(keys(engine)) == 6 and _log(engine) == []


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"start": "2026-11-31"}, "from", "--from: '2026-11-31' is not a date"),
        ({"end": "yesterday"}, "to", "--to: 'yesterday' is not a date"),
        ({"start": "2026-11-21", "end": "2026-11-20"}, "from", "is after --to"),
        ({"basis": "best"}, "basis", "use one of billed, metered, manual, demo"),
        ({"provider": "openai", "everything": True}, "all", "--all means every record"),
        ({"source": "  "}, "scope", "name what to delete"),
    ],
)
def test_delete_scope_mistakes_are_named(fields: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(DeletionError, match=message) as refused:
        parse_scope(**fields)
    assert refused.value.field == field


@given(
    st.fixed_dictionaries(
        {},
        optional={
            name: st.one_of(st.none(), st.sampled_from(PLAUSIBLE), st.text(max_size=20))
            for name in ("source", "provider", "account", "project", "basis", "start", "end")
        },
    ),
    st.booleans(),
)
@settings(suppress_health_check=[HealthCheck.too_slow])  # the machine is shared; the drawing is cheap
def test_delete_scope_parser_only_raises_our_errors(fields: dict[str, str | None], everything: bool) -> None:
    try:
        scope = parse_scope(**fields, everything=everything)
    except SpendledgerError:
        return
    assert isinstance(scope, DeletionScope)
    assert scope.everything or scope.filters()


# ---- the CLI ------------------------------------------------------------------------------


def test_delete_cli_dry_run_then_confirm(
    engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(engine)
    run = cli_runner(db_url, tmp_path, monkeypatch, SPENDLEDGER_TIMEZONE="UTC")
    scope = ["--provider", "openai", "--from", "2026-11-20", "--to", "2026-11-20"]

    refused = run("delete", ok=False)
    assert refused.exit_code == 1 and "or --all for every record" in refused.output

    dry = run("delete", *scope, "--dry-run")
    text = " ".join(dry.output.split())
    assert "Would delete 3 records of provider openai, days 2026-11-20 → 2026-11-20" in text
    assert "€3.00 + $12.50" in text and "on 1 day (2026-11-20 to 2026-11-20)" in text
    assert "openai │ billed │ 1 │ $10.00" in text and "openai │ manual │ 1 │ €3.00" in text
    assert "Nothing was deleted (--dry-run)." in text
    assert len(keys(engine)) == 6 and _log(engine) == []

    declined = run("delete", *scope, stdin="n\n", ok=False)
    assert declined.exit_code == 1 and "Nothing was deleted." in declined.output
    assert len(keys(engine)) == 6 and _log(engine) == []

    done = run("delete", *scope, stdin="y\n")
    assert "Deleted 3 records (€3.00 + $12.50)" in " ".join(done.output.split())
    assert keys(engine) == {"a", "d", "e"}
    (entry,) = _log(engine)
    assert entry.actor.startswith("cli") and entry.what["records"] == 3

    again = run("delete", *scope, "--yes")
    assert "No record matches provider openai" in again.output and len(_log(engine)) == 1


# ---- the page and the JSON API --------------------------------------------------------------


def test_delete_page_states_what_goes_then_deletes(admin_client: TestClient, engine: Engine) -> None:
    seed(engine)
    page = admin_client.get("/data/confirm", params=NOV_20)
    assert page.status_code == 200
    text = text_of(page.text)
    assert "These 3 records go" in text
    assert "Scope: provider openai, days 2026-11-20 → 2026-11-20 ." in text
    assert "Money: €3.00 + $12.50 (in 2 currencies, never added up), on 1 day from 2026-11-20" in text
    assert "openai billed 1 $10.00 openai manual 1 €3.00 openai metered 1 $2.50" in text
    assert len(keys(engine)) == 6  # stating changes nothing

    form = {**NOV_20, "csrf_token": csrf_of(page.text)}
    stale = admin_client.post("/data/delete", data={**form, "expected": "2"})
    assert stale.status_code == 409 and "holds 3 records now, not the 2 stated" in text_of(stale.text)
    assert len(keys(engine)) == 6

    forged = admin_client.post("/data/delete", data={**NOV_20, "expected": "3", "csrf_token": "x"})
    assert forged.status_code == 403 and len(keys(engine)) == 6

    done = admin_client.post("/data/delete", data={**form, "expected": "3"})
    assert done.status_code == 200
    assert "Deleted 3 records (€3.00 + $12.50) of provider openai" in text_of(done.text)
    assert keys(engine) == {"a", "d", "e"}
    assert rollups_equal_a_rebuild(engine)
    audit = text_of(admin_client.get("/audit").text)
    assert f"{ADMIN_EMAIL} records.delete scope: provider=openai, from=2026-11-20, to=2026-11-20" in audit
    assert "$12.50" in audit and "€3.00" in audit


def test_delete_page_names_a_bad_scope(admin_client: TestClient, engine: Engine) -> None:
    seed(engine)
    empty = admin_client.get("/data/confirm")
    assert empty.status_code == 400 and "or --all for every record" in text_of(empty.text)
    bad = admin_client.get("/data/confirm", params={"start": "2026-11-31"})
    assert bad.status_code == 400
    assert 'name="start" type="date" value="2026-11-31" aria-invalid="true"' in bad.text
    nothing = admin_client.get("/data/confirm", params={"provider": "mistral"})
    assert "No record matches provider mistral: nothing to delete." in text_of(nothing.text)


def test_delete_api_dry_run_then_delete(client: TestClient, engine: Engine) -> None:
    seed(engine)
    body = {"provider": "openai", "from": "2026-11-20", "to": "2026-11-20"}
    dry = client.post("/api/v1/deletions", json={**body, "dry_run": True})
    assert dry.status_code == 200, dry.text
    assert dry.json() == {
        "dry_run": True,
        "deleted": 0,
        "records": 3,
        "scope": body,
        "amounts": {"EUR": "3.00", "USD": "12.50"},
        "by_provider_basis": [
            {"provider": "openai", "basis": "billed", "records": 1, "amounts": {"USD": "10.00"}},
            {"provider": "openai", "basis": "manual", "records": 1, "amounts": {"EUR": "3.00"}},
            {"provider": "openai", "basis": "metered", "records": 1, "amounts": {"USD": "2.50"}},
        ],
        "first_day": "2026-11-20",
        "last_day": "2026-11-20",
        "days": 1,
    }
    assert len(keys(engine)) == 6 and _log(engine) == []

    assert client.post("/api/v1/deletions", json={}).status_code == 400
    done = client.post("/api/v1/deletions", json=body)
    assert done.json()["deleted"] == 3 and keys(engine) == {"a", "d", "e"}
    (entry,) = client.get("/api/v1/audit").json()["entries"]
    assert entry["actor"] == "token:test" and entry["amount"] == {"EUR": "3.00", "USD": "12.50"}


def test_delete_api_session_needs_its_csrf_token(admin_client: TestClient, engine: Engine) -> None:
    seed(engine)
    body = {"project": "search"}
    refused = admin_client.post("/api/v1/deletions", json=body)
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["detail"]
    csrf = csrf_of(admin_client.get("/data").text)
    done = admin_client.post("/api/v1/deletions", json=body, headers={"X-CSRF-Token": csrf})
    assert done.json()["deleted"] == 1 and "e" not in keys(engine)
    assert _log(engine)[0].actor == ADMIN_EMAIL


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_delete_members_and_viewers_get_403(settings: Settings, engine: Engine, role: str) -> None:
    seed(engine)
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    add_user(engine, f"{role}@example.com", "correct horse battery", role)
    with TestClient(create_app(settings)) as client:
        login(client, f"{role}@example.com", "correct horse battery")
        csrf = csrf_of(client.get("/account/password").text)
        answers = [
            client.get("/data/confirm", params=NOV_20),
            client.post("/data/delete", data={**NOV_20, "expected": "3", "csrf_token": csrf}),
            client.post("/api/v1/deletions", json={"provider": "openai"}, headers={"X-CSRF-Token": csrf}),
            client.get("/audit"),
            client.get("/api/v1/audit"),
        ]
    assert [a.status_code for a in answers] == [403] * 5
    assert all("needs the role admin" in a.text for a in answers)
    assert len(keys(engine)) == 6 and _log(engine) == []
