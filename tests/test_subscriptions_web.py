"""/subscriptions, its JSON twin /api/v1/subscriptions and `spendledger subscriptions`, on
SQLite and PostgreSQL: admins add, change seats and remove through the forms (CSRF on
each), viewers read, members may not; the API and the CLI state the same figures as the
ledger's spend (`/api/v1/spend`, `report`). The subscriptions start in September 2026,
before any day these tests run, so the periods asserted are all in the past.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from clirun import Cli, cli_runner
from logins import add_user, csrf_of, login, text_of
from spendledger.config import Settings
from spendledger.secrets import mask
from spendledger.store.ledger import records_by_source
from spendledger.store.sources import add_source
from spendledger.web import create_app
from test_readme import readme_snippet

TEAM = {"name": "team", "provider": "openai", "seats": "12", "price_per_seat": "30", "starts": "2026-09-01"}


@pytest.fixture
def admin(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    add_user(engine, "admin@example.com", "correct horse battery", "admin")
    with TestClient(create_app(settings)) as client:
        assert login(client, "admin@example.com", "correct horse battery").status_code == 303
        yield client


@contextmanager
def _as(settings: Settings, engine: Engine, role: str) -> Iterator[TestClient]:
    add_user(engine, f"{role}@example.com", "correct horse battery", role)
    with TestClient(create_app(settings)) as client:
        assert login(client, f"{role}@example.com", "correct horse battery").status_code == 303
        yield client


def _post(client: TestClient, path: str, data: dict[str, str]) -> Any:
    csrf = csrf_of(client.get("/subscriptions").text)
    return client.post(path, data={**data, "csrf_token": csrf})


def _months(client: TestClient) -> dict[str, str]:
    """The ledger's spend per month, Sep–Nov 2026, as /api/v1/spend answers it."""
    answer = client.get(
        "/api/v1/spend",
        params={"from": "2026-09-01", "to": "2026-11-30", "granularity": "month", "basis": "all"},
    )
    assert answer.status_code == 200, answer.text
    return {row["period"]: row["cost"] for row in answer.json()["rows"]}


def test_subscriptions_page_admin_adds_changes_seats_and_removes(admin: TestClient, engine: Engine) -> None:
    added = _post(admin, "/subscriptions", TEAM)
    assert added.status_code == 200 and "Added subscription 'team'" in text_of(added.text)
    changed = _post(admin, "/subscriptions/team/seats", {"seats": "15", "from_day": "2026-11-01"})
    assert "'team': 15 seats from 2026-11-01" in text_of(changed.text)
    page = text_of(admin.get("/subscriptions").text)
    # 12 × 30 = 360 in September and October, 15 × 30 = 450 in November
    assert "2026-09-01 → 2026-09-30 12 $360.00" in page and "2026-11-01 → 2026-11-30 15 $450.00" in page
    assert "this subscription" in page
    months = _months(admin)
    assert [Decimal(months[m]) for m in ("2026-09", "2026-10", "2026-11")] == [360, 360, 450]

    removed = _post(admin, "/subscriptions/team/remove", {})
    assert "Removed subscription 'team'" in text_of(removed.text)
    with engine.connect() as conn:
        assert records_by_source(conn) == {}


def test_subscriptions_page_names_the_wrong_field_and_keeps_the_form(admin: TestClient) -> None:
    answer = _post(admin, "/subscriptions", {**TEAM, "seats": "twelve"})
    assert answer.status_code == 400
    assert "seats: 'twelve' is not a whole number of seats" in text_of(answer.text)
    assert 'name="seats" type="number" min="1" value="twelve" required aria-invalid="true"' in answer.text
    assert _post(admin, "/subscriptions", TEAM).status_code == 200
    again = _post(admin, "/subscriptions", TEAM)
    assert again.status_code == 400 and "a subscription named 'team' exists" in text_of(again.text)
    bad_seats = _post(admin, "/subscriptions/team/seats", {"seats": "15", "from_day": "2026-08-01"})
    assert bad_seats.status_code == 400 and "from: 2026-08-01 is outside the subscription" in text_of(
        bad_seats.text
    )
    assert _post(admin, "/subscriptions/nope/remove", {}).status_code == 404
    assert admin.post("/subscriptions", data=TEAM).status_code == 403  # no CSRF token


def test_subscriptions_page_viewer_reads_member_may_not(
    admin: TestClient, settings: Settings, engine: Engine
) -> None:
    _post(admin, "/subscriptions", TEAM)
    with _as(settings, engine, "viewer") as viewer:
        page = viewer.get("/subscriptions")
        assert page.status_code == 200 and "team" in text_of(page.text)
        assert "Add subscription" not in page.text and "Change seats" not in page.text
        assert (
            viewer.post("/subscriptions", data={**TEAM, "csrf_token": csrf_of(page.text)}).status_code == 403
        )
        assert viewer.get("/api/v1/subscriptions").status_code == 200
    with _as(settings, engine, "member") as member:
        assert member.get("/subscriptions").status_code == 403
        assert member.get("/api/v1/subscriptions").status_code == 403


def test_subscriptions_page_says_which_figures_count(admin: TestClient, engine: Engine) -> None:
    with engine.begin() as conn:
        add_source(
            conn, name="gh", provider="github-copilot", credential="sealed",
            key_hint=mask("ghp_xxxxxxxxxxxx"), options={"org": "acme", "account": "acme"},
            now=datetime.now(UTC),
        )  # fmt: skip
    answer = _post(
        admin,
        "/subscriptions",
        {**TEAM, "provider": "", "price_per_seat": "", "plan": "github-copilot-business", "account": "acme"},
    )
    text = text_of(answer.text)
    assert "covered by source 'gh', which syncs github-copilot seat charges for account 'acme'" in text
    assert "source gh its billed seat charges count; this subscription records nothing" in text
    with engine.connect() as conn:
        assert records_by_source(conn) == {}


def test_subscriptions_api_posts_idempotently_and_agrees_with_spend(client: TestClient) -> None:
    body = {
        "name": "team", "provider": "openai", "seats": 12, "price_per_seat": "30", "starts": "2026-09-01",
        "seat_changes": [{"from": "2026-11-01", "seats": 15}],
    }  # fmt: skip
    first = client.post("/api/v1/subscriptions", json=body)
    assert first.status_code == 200, first.text
    again = client.post("/api/v1/subscriptions", json=body).json()
    assert first.json()["created"] and not again["created"]
    assert (again["records_written"], again["records_revised"], again["records_removed"]) == (0, 0, 0)
    listed = client.get("/api/v1/subscriptions").json()
    (team,) = listed["subscriptions"]
    assert listed["view"] == "charge" and team["counted"] == "subscription"
    assert team["seat_changes"] == [{"from": "2026-09-01", "seats": 12}, {"from": "2026-11-01", "seats": 15}]
    costs = {p["start"]: p["cost"] for p in team["periods"]}
    assert [costs[d] for d in ("2026-09-01", "2026-10-01", "2026-11-01")] == ["360.00", "360.00", "450.00"]
    months = _months(client)
    assert [Decimal(months[m]) for m in ("2026-09", "2026-10", "2026-11")] == [360, 360, 450]
    # the whole recorded total is the sum of its periods (December's charge of 450 when today is past Dec 1)
    assert sum(Decimal(p["cost"]) for p in team["periods"]) == Decimal(team["recorded"])


@pytest.mark.parametrize(
    ("change", "param", "message"),
    [
        ({"seats": -1}, "seats", "seats: -1: seats are 1 to 100,000"),
        ({"price_per_seat": "1e400"}, "price_per_seat", "price_per_seat: 1e400: send an amount from 0"),
        ({"interval": "weekly"}, "interval", "interval: 'weekly' is not one of monthly, annual"),
        ({"starts": "1990-01-01"}, "starts", "starts: 1990-01-01 is outside 2015-01-01 to 2099-12-31"),
        ({"plan": "nope"}, "plan", "plan: 'nope' is not a shipped plan"),
        ({"name": ""}, "name", "name: a subscription's name is 1 to 200 characters"),
    ],
)
def test_subscriptions_api_refuses_bad_fields_by_name(
    client: TestClient, change: dict[str, Any], param: str, message: str
) -> None:
    answer = client.post("/api/v1/subscriptions", json={**TEAM, "seats": 12, **change})
    assert answer.status_code == 400, answer.text
    assert answer.json()["param"] == param and answer.json()["detail"].startswith(message)


def test_subscriptions_api_post_needs_an_admin(settings: Settings, engine: Engine) -> None:
    with _as(settings, engine, "viewer") as viewer:
        answer = viewer.post("/api/v1/subscriptions", json={**TEAM, "seats": 12})
    assert answer.status_code == 403 and "needs the role admin" in answer.text


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_runner(db_url, tmp_path, monkeypatch, SPENDLEDGER_TIMEZONE="UTC")


def test_subscriptions_cli_add_seats_show_report_remove(cli: Cli) -> None:
    added = cli(
        "subscriptions", "add", "team", "--provider", "openai", "--seats", "12", "--price-per-seat", "30",
        "--starts", "2026-09-01",
    )  # fmt: skip
    assert "Added subscription 'team': openai, $30.00 per seat monthly, billed on day 1" in added.output
    cli("subscriptions", "seats", "team", "15", "--from", "2026-11-01")
    shown = cli("subscriptions", "show", "team").output
    assert "Seats: 12 from 2026-09-01, 15 from 2026-11-01" in shown
    assert "2026-11-01 → 2026-11-30 │ 15    │ $450.00" in shown
    report = cli(
        "report", "--from", "2026-09-01", "--to", "2026-11-30", "--granularity", "month", "--basis", "all",
        "--format", "json",
    ).output  # fmt: skip
    months = {row["period"]: row["cost"] for row in json.loads(report)["rows"]}
    assert [Decimal(months[m]) for m in ("2026-09", "2026-10", "2026-11")] == [360, 360, 450]
    assert "team" in cli("subscriptions", "list").output
    synced = cli("subscriptions", "sync").output
    assert "team: 0 records written, 0 revised, 0 removed" in synced
    assert "now recorded as a share on every day paid" in cli("subscriptions", "view", "spread").output
    assert "chatgpt-business" in cli("subscriptions", "plans").output
    assert "Removed subscription 'team'" in cli("subscriptions", "remove", "team").output


def test_subscriptions_cli_bad_input_exits_2_naming_the_option(cli: Cli) -> None:
    bad = cli(
        "subscriptions",
        "add",
        "team",
        "--provider",
        "openai",
        "--seats",
        "12",
        "--starts",
        "2026-09-01",
        ok=False,
    )
    assert bad.exit_code == 2 and "price_per_seat: send --price-per-seat" in bad.output
    unknown = cli("subscriptions", "remove", "nope", ok=False)
    assert unknown.exit_code == 1 and "no subscription named 'nope'" in unknown.output


def test_subscriptions_readme_commands_give_its_figures(cli: Cli) -> None:
    snippet = readme_snippet("## Seat subscriptions")
    outputs = [cli(*shlex.split(line.removeprefix("spendledger "))).output for line in snippet.splitlines()]
    assert all(line.startswith("spendledger ") for line in snippet.splitlines())
    # "$360 in September and October and $450 in November", as the README says
    report = outputs[-1]
    for month, cost in (("2026-09", "360.00"), ("2026-10", "360.00"), ("2026-11", "450.00")):
        assert re.search(rf"│ {month} │\s+{re.escape(cost)} │", report), report
    assert "Total   │   1,170.00" in report
