"""Aliases: the OpenAI bill's project "Support bot", the Anthropic workspace "Support" and
the tracker's project "support-bot" read as one project, in every figure, past and future,
and undone by removing the alias. On SQLite and PostgreSQL.

The ledger (November 2026, UTC, best available):
- OpenAI bill, account org-main, project "Support bot": $40 on Nov 2, $25 on Nov 3;
- tracked calls, openai org-main, project "support-bot": $9 on Nov 3 (the bill covers
  that day: not counted) and $3.50 on Nov 4 (no bill yet: counted);
- Anthropic bill, workspace "Support", no project: $10 on Nov 2;
- tracked calls of project "search" (openai org-main): $5 on Nov 4.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from clirun import cli_runner
from spendledger.alerts.budgets import budget_status, create_budget
from spendledger.queries import SpendQuery, build_query, dimension_values, spend
from spendledger.records import Basis
from spendledger.store import write_records
from spendledger.store.aliases import Alias, AliasError, add_alias, list_aliases, remove_alias
from spendledger.store.audit import entries
from usage_records import usage_record

UTC_ZONE = ZoneInfo("UTC")
TODAY = date(2026, 11, 30)
NOVEMBER = SpendQuery(start=date(2026, 11, 1), end=TODAY)
SUPPORT_BOT = Alias("project", "Support bot", "support-bot", provider="openai")
SUPPORT_WORKSPACE = Alias("project", "Support", "support-bot", provider="anthropic", found_in="workspace")


def _day(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def write_ledger(engine: Engine) -> None:
    billed = [
        usage_record(
            key=f"costs|{key}",
            source=source,
            basis=Basis.BILLED,
            start=_day(day),
            end=_day(day) + timedelta(days=1),
            provider=provider,
            account=account,
            project=project,
            workspace=workspace,
            cost=cost,
            requests=0,
        )
        for key, source, provider, account, project, workspace, day, cost in (
            ("sb-2", "org-main", "openai", "org-main", "Support bot", "", 2, "40"),
            ("sb-3", "org-main", "openai", "org-main", "Support bot", "", 3, "25"),
            ("ws-2", "anthropic-main", "anthropic", "anthropic-main", "", "Support", 2, "10"),
        )
    ]
    tracked = [
        usage_record(key=key, start=_day(day, 12), account="org-main", project=project, cost=cost)
        for key, project, day, cost in (
            ("api:t-3", "support-bot", 3, "9"),
            ("api:t-4", "support-bot", 4, "3.50"),
            ("api:s-4", "search", 4, "5"),
        )
    ]
    with engine.begin() as conn:
        write_records(conn, billed, tz=UTC_ZONE)
        write_records(conn, tracked, tz=UTC_ZONE)


def by_project(engine: Engine) -> dict[str | None, Decimal]:
    with engine.connect() as conn:
        report = spend(conn, SpendQuery(start=NOVEMBER.start, end=NOVEMBER.end, by=("project",)))
    return {r.dims["project"]: r.cost for r in report.rows}


def test_alias_joins_the_bill_and_the_tracked_calls_past_and_future(engine: Engine) -> None:
    write_ledger(engine)
    assert by_project(engine) == {
        "Support bot": Decimal("65"),  # 40 + 25
        None: Decimal("10"),  # the Anthropic workspace
        "search": Decimal("5"),
        "support-bot": Decimal("3.5"),  # Nov 4 only: the bill covers Nov 3's $9
    }
    with engine.begin() as conn:
        add_alias(conn, SUPPORT_BOT, actor="test")
        add_alias(conn, SUPPORT_WORKSPACE, actor="test")
    # 40 + 25 + 3.50 + 10 = 78.50; the total is unchanged: 40 + 25 + 10 + 5 + 3.50 = 83.50
    assert by_project(engine) == {"support-bot": Decimal("78.5"), "search": Decimal("5")}
    # a record written after the alias is read through it too: $2 more on Nov 5 = 80.50
    with engine.begin() as conn:
        write_records(
            conn,
            [usage_record(key="api:t-5", start=_day(5, 9), project="Support bot", cost="2")],
            tz=UTC_ZONE,
        )
    assert by_project(engine)["support-bot"] == Decimal("80.5")
    with engine.begin() as conn:
        for alias in list_aliases(conn):
            remove_alias(conn, alias.id or 0, actor="test")
    assert by_project(engine)["Support bot"] == Decimal("67")  # 40 + 25 + 2: as the sources named it again


def test_alias_project_budget_counts_the_bill_and_the_tracked_calls(engine: Engine) -> None:
    write_ledger(engine)
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    with engine.begin() as conn:
        budget = create_budget(conn, name="support", amount="100", now=now, filters=["project=support-bot"])
        before = budget_status(conn, budget, today=TODAY).spent
        add_alias(conn, SUPPORT_BOT, actor="test")
        after = budget_status(conn, budget, today=TODAY).spent
    assert before == Decimal("3.50")  # the tracked call of Nov 4 alone
    assert after == Decimal("68.50")  # + the bill's 40 + 25 for "Support bot"


def test_alias_narrowed_to_a_provider_leaves_the_others(engine: Engine) -> None:
    write_ledger(engine)
    with engine.begin() as conn:
        write_records(
            conn,
            [
                usage_record(
                    key="api:m-4", start=_day(4, 8), provider="mistral", project="Support bot", cost="1.25"
                )
            ],
            tz=UTC_ZONE,
        )
        add_alias(conn, SUPPORT_BOT, actor="test")
    figures = by_project(engine)
    assert figures["Support bot"] == Decimal("1.25")  # Mistral's: the alias is OpenAI's only
    assert figures["support-bot"] == Decimal("68.5")  # 40 + 25 + 3.50
    with engine.connect() as conn:  # a filter matches exactly what the group-by puts under a name
        q = build_query(today=TODAY, period="mtd", filters=["project=Support bot"])
        assert spend(conn, q).totals == {"USD": Decimal("1.25")}
        values = dimension_values(conn, build_query(today=TODAY, period="mtd", by=["project"]))
    assert [v.value for v in values.values] == ["support-bot", None, "search", "Support bot"]  # by spend


def test_alias_every_rendering_agrees(
    engine: Engine, client: TestClient, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_ledger(engine)
    with engine.begin() as conn:
        add_alias(conn, SUPPORT_BOT, actor="test")
        add_alias(conn, SUPPORT_WORKSPACE, actor="test")
    params = {"from": "2026-11-01", "to": "2026-11-30", "filter": "project:support-bot", "by": "project"}
    api = client.get("/api/v1/spend", params=params).json()
    csv_text = client.get("/api/v1/spend", params={**params, "format": "csv"}).text
    run = cli_runner(db_url, tmp_path, monkeypatch)
    cli = json.loads(
        run(
            "report",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-30",
            "--by",
            "project",
            "--filter",
            "project=support-bot",
            "--format",
            "json",
        ).stdout
    )
    assert api["total"] == cli["total"] == "78.50"  # 40 + 25 + 10 + 3.50
    assert api["rows"] == cli["rows"]
    assert csv_text.splitlines()[1].split(",")[:4] == ["support-bot", "", "USD", "78.50"]


def _focus_projects(path: Path) -> dict[str, Decimal]:
    """BilledCost per project (the Tags' `project`) of a FOCUS CSV."""
    found: dict[str, Decimal] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            project = json.loads(row["Tags"] or "{}").get("project", "")
            found[project] = found.get(project, Decimal(0)) + Decimal(row["BilledCost"])
    return found


def test_alias_focus_export_names_the_project_as_the_report_does(
    engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_ledger(engine)
    run = cli_runner(db_url, tmp_path, monkeypatch, SPENDLEDGER_TIMEZONE="UTC")
    days = ("--from", "2026-11-01", "--to", "2026-11-30")
    run("aliases", "add", "project", "Support bot", "support-bot", "--provider", "openai")
    run("export", "focus", *days, "-o", "all.csv")
    exported = _focus_projects(tmp_path / "all.csv")
    report = json.loads(run("report", *days, "--by", "project", "--format", "json").stdout)
    reported = {r["project"]: Decimal(r["cost"]) for r in report["rows"]}
    # by hand: the OpenAI bill's "Support bot" $40 (Nov 2) + $25 (Nov 3), now support-bot, and
    # the tracked support-bot call of Nov 4, $3.50 (Nov 3's $9 is covered by that day's bill):
    # 40 + 25 + 3.50 = 68.50; the Anthropic workspace's $10 has no project (no alias for it)
    assert exported["support-bot"] == reported["support-bot"] == Decimal("68.50")
    assert "Support bot" not in exported
    assert exported == {"support-bot": Decimal("68.50"), "search": Decimal("5"), "": Decimal("10")}
    # a filter on the canonical name picks the same rows: the bill and the tracked call
    run("export", "focus", *days, "--filter", "project=support-bot", "-o", "support.csv")
    assert _focus_projects(tmp_path / "support.csv") == {"support-bot": Decimal("68.50")}


def test_alias_changes_are_audited_and_idempotent(engine: Engine) -> None:
    with engine.begin() as conn:
        stored, outcome = add_alias(conn, SUPPORT_BOT, actor="cli:ana")
        _, again = add_alias(conn, SUPPORT_BOT, actor="cli:ana")
        remove_alias(conn, stored.id or 0, actor="cli:bo")
        log = entries(conn, tz=UTC_ZONE)
    assert (outcome, again) == ("added", "unchanged")
    assert [(e.actor, e.action, e.what["name"], e.what["canonical"]) for e in reversed(log)] == [
        ("cli:ana", "alias.add", "Support bot", "support-bot"),
        ("cli:bo", "alias.remove", "Support bot", "support-bot"),
    ]


@pytest.mark.parametrize(
    ("alias", "field", "says"),
    [
        (Alias("provider", "oai", "openai"), "dimension", "cannot have aliases"),
        (Alias("project", "", "x"), "name", "empty"),
        (Alias("project", "a\x00b", "x"), "name", "control character"),
        (Alias("project", "same", "same"), "canonical", "its own name"),
        (Alias("project", "x" * 201, "y"), "name", "at most 200"),
        (Alias("model", "Support", "x", found_in="workspace"), "from", "found in model"),
        (Alias("account", "a", "b", account="c"), "account", "--provider"),
    ],
)
def test_alias_refused_says_what_to_send(engine: Engine, alias: Alias, field: str, says: str) -> None:
    with engine.begin() as conn, pytest.raises(AliasError) as refused:
        add_alias(conn, alias, actor="test")
    assert refused.value.field == field
    assert says in str(refused.value)


def test_alias_refuses_chains_and_a_second_name(engine: Engine) -> None:
    with engine.begin() as conn:
        add_alias(conn, SUPPORT_BOT, actor="test")
        with pytest.raises(AliasError, match="map 'Support Bot' to 'support-bot' instead"):
            add_alias(conn, Alias("project", "Support Bot", "Support bot"), actor="test")
        with pytest.raises(AliasError, match="the name other aliases map to"):
            add_alias(conn, Alias("project", "support-bot", "support"), actor="test")
        with pytest.raises(AliasError, match="exists already; remove it first"):
            add_alias(conn, Alias("project", "Support bot", "helpdesk", provider="openai"), actor="test")


def test_alias_cli_add_by_source_list_remove(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = cli_runner(db_url, tmp_path, monkeypatch)
    unknown = run("aliases", "add", "project", "Support bot", "support-bot", "--source", "nope", ok=False)
    assert unknown.exit_code == 1 and "no source named 'nope'" in unknown.stderr
    added = run("aliases", "add", "project", "Support bot", "support-bot", "--provider", "openai")
    assert (
        "Added alias 1: project 'Support bot' of provider 'openai' → project 'support-bot'." in added.stdout
    )
    listed = json.loads(run("aliases", "list", "--format", "json").stdout)
    assert listed == [
        {
            "id": 1,
            "dimension": "project",
            "from": "project",
            "name": "Support bot",
            "canonical": "support-bot",
            "provider": "openai",
            "account": None,
        },
    ]
    bad = run("aliases", "add", "basis", "a", "b", ok=False)
    assert bad.exit_code == 1 and "cannot have aliases" in bad.stderr
    assert (
        "Removed alias 1" in run("aliases", "remove", "project", "Support bot", "--provider", "openai").stdout
    )
    assert (
        "no alias for project 'Support bot'"
        in run("aliases", "remove", "project", "Support bot", ok=False).stderr
    )


def test_alias_cli_removes_an_alias_named_as_it_was_added(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = cli_runner(db_url, tmp_path, monkeypatch)
    added = ("project", "Support bot", "support-bot", "--provider", "openai")
    run("aliases", "add", *added)
    wrong = run(
        "aliases", "remove", "project", "Support bot", "support-bots", "--provider", "openai", ok=False
    )
    assert wrong.exit_code == 1
    assert "is reported as 'support-bot', not 'support-bots'" in " ".join(wrong.stderr.split())
    assert "Removed alias 1" in run("aliases", "remove", *added).stdout  # the add command's words


def test_alias_api_add_list_remove_and_refuse(client: TestClient) -> None:
    body = {"dimension": "project", "name": "Support bot", "canonical": "support-bot", "provider": "openai"}
    added = client.post("/api/v1/aliases", json=body)
    assert added.status_code == 200 and added.json()["outcome"] == "added"
    assert client.post("/api/v1/aliases", json=body).json()["outcome"] == "unchanged"
    (alias,) = client.get("/api/v1/aliases").json()["aliases"]
    assert alias == {
        "id": 1,
        "dimension": "project",
        "from": "project",
        "name": "Support bot",
        "canonical": "support-bot",
        "provider": "openai",
        "account": None,
    }
    refused = client.post("/api/v1/aliases", json={**body, "dimension": "currency"})
    assert refused.status_code == 400 and "cannot have aliases" in refused.json()["detail"]
    assert client.delete("/api/v1/aliases/1").json()["outcome"] == "removed"
    assert client.delete("/api/v1/aliases/1").status_code == 404


_TEXT = st.text(st.characters(codec="utf-8"), max_size=220)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    dimension=st.one_of(st.sampled_from(["project", "workspace", "model", "customer"]), _TEXT),
    name=_TEXT,
    canonical=_TEXT,
    provider=_TEXT,
    found_in=st.one_of(st.just(""), st.just("workspace"), _TEXT),
)
def test_alias_garbage_is_stored_or_refused_by_name(
    engine: Engine, dimension: str, name: str, canonical: str, provider: str, found_in: str
) -> None:
    """Whatever the input, an alias is stored (and read back, and applied to a report) or
    refused with an AliasError naming the field: never a database error."""
    alias = Alias(dimension, name, canonical, provider=provider, found_in=found_in)
    try:
        with engine.begin() as conn:
            stored, _ = add_alias(conn, alias, actor="test")
    except AliasError as exc:
        assert exc.field in ("dimension", "name", "canonical", "provider", "account", "from")
        return
    with engine.begin() as conn:
        assert stored.id in {a.id for a in list_aliases(conn)}
        spend(conn, SpendQuery(start=NOVEMBER.start, end=NOVEMBER.end, by=(stored.dimension,)))
        remove_alias(conn, stored.id or 0, actor="test")


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    body=st.dictionaries(
        st.sampled_from(["dimension", "name", "canonical", "provider", "account", "from", "x"]),
        st.one_of(st.text(max_size=220), st.integers(), st.none(), st.booleans()),
    )
)
def test_alias_api_garbage_is_a_4xx(client: TestClient, body: dict[str, object]) -> None:
    answer = client.post("/api/v1/aliases", json=body)
    assert answer.status_code in (200, 400, 422), (body, answer.text)
    if answer.status_code == 200:
        client.delete(f"/api/v1/aliases/{answer.json()['alias']['id']}")
