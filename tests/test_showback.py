"""The showback: each group's direct spend plus its shares of the shared pools, split by rule
exactly to the nano-unit, the shares summing to each pool. On SQLite and PostgreSQL.

The ledger (November 2026, UTC; teams from projects: search-api → search, helpdesk → support):
- direct: search $150 (mistral calls of search-api), support $50 (helpdesk): 3:1;
- seat subscriptions (source "subscriptions", no project): $30;
- an OpenAI billed line item naming no model (org-level web search, no project): $10;
- calls of no project (mistral): $100.
Spend in all: 150 + 50 + 30 + 10 + 100 = $340.
"""

from __future__ import annotations

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
from logins import add_user, login
from spendledger.config import Settings
from spendledger.queries import SpendQuery
from spendledger.records import Basis
from spendledger.showback import showback, showback_to_csv, split
from spendledger.store import write_records
from spendledger.store.aliases import set_team
from spendledger.store.allocation import AllocationRule, RuleError, add_rule, list_rules, remove_rule
from spendledger.store.audit import entries
from spendledger.web import create_app
from usage_records import usage_record

UTC_ZONE = ZoneInfo("UTC")
NOVEMBER = SpendQuery(start=date(2026, 11, 1), end=date(2026, 11, 30), by=("team",))
D = Decimal
NANO = 10**9


# ---- split: exact shares ------------------------------------------------------------------------


def test_split_in_proportion_three_to_one() -> None:
    # $100 in proportion 3:1 → $75 and $25
    assert split(100 * NANO, {"search": 3, "support": 1}) == {"search": 75 * NANO, "support": 25 * NANO}


def test_split_even_gives_the_left_over_nano_by_name() -> None:
    # $100 / 3 = 33.333333333 and a third of a nano-unit each: one nano-unit left over,
    # which goes to the first name (equal remainders)
    assert split(100 * NANO, dict.fromkeys(("c", "a", "b"), 1)) == {
        "a": 33_333_333_334,
        "b": 33_333_333_333,
        "c": 33_333_333_333,
    }


def test_split_largest_remainders_first() -> None:
    # 10 nano-units in 1:2:4 (sum 7): quotas 1.43, 2.86, 5.71 → floors 1, 2, 5 (8), the two
    # left go to the largest remainders: .86 (b) and .71 (c)
    assert split(10, {"a": 1, "b": 2, "c": 4}) == {"a": 1, "b": 3, "c": 6}


def test_split_of_a_credit_is_negative_and_exact() -> None:
    assert split(-100 * NANO, {"search": 3, "support": 1}) == {"search": -75 * NANO, "support": -25 * NANO}


@given(
    amount=st.integers(-(10**15), 10**15),
    weights=st.dictionaries(st.text(max_size=5), st.integers(0, 10**12), min_size=1, max_size=12).filter(
        lambda w: sum(w.values()) > 0
    ),
)
def test_split_shares_sum_to_the_pool_within_a_nano_of_their_quota(
    amount: int, weights: dict[str, int]
) -> None:
    shares = split(amount, weights)
    assert sum(shares.values()) == amount
    total = sum(weights.values())
    for group, share in shares.items():
        assert abs(share * total - amount * weights[group]) < total  # |share - exact quota| < 1 nano-unit
    assert split(amount, dict(reversed(list(weights.items())))) == shares  # the order given does not matter


# ---- the ledger ---------------------------------------------------------------------------------


def _at(day: int) -> datetime:
    return datetime(2026, 11, day, 12, tzinfo=UTC)


def write_ledger(engine: Engine) -> None:
    records = [
        usage_record(key="api:s1", start=_at(3), provider="mistral", project="search-api", cost="100"),
        usage_record(key="api:s2", start=_at(4), provider="mistral", project="search-api", cost="50"),
        usage_record(key="api:h1", start=_at(4), provider="mistral", project="helpdesk", cost="50"),
        usage_record(key="api:n1", start=_at(5), provider="mistral", cost="100"),
        usage_record(
            key="sub:1|charge|2026-11-01",
            source="subscriptions",
            basis=Basis.MANUAL,
            start=datetime(2026, 11, 1, tzinfo=UTC),
            end=datetime(2026, 11, 2, tzinfo=UTC),
            provider="openai",
            model="",
            cost="30",
            requests=0,
        ),
        usage_record(
            key="costs||web search tool calls|",
            source="org-main",
            basis=Basis.BILLED,
            start=datetime(2026, 11, 10, tzinfo=UTC),
            end=datetime(2026, 11, 10, tzinfo=UTC) + timedelta(days=1),
            account="org-main",
            model="",
            cost="10",
            requests=0,
        ),
    ]
    with engine.begin() as conn:
        write_records(conn, records, tz=UTC_ZONE)
        set_team(conn, project="search-api", team="search", actor="test")
        set_team(conn, project="helpdesk", team="support", actor="test")


def add_rules(engine: Engine) -> None:
    with engine.begin() as conn:
        add_rule(conn, AllocationRule("seats", "subscriptions", "team", "even"), actor="test")
        add_rule(conn, AllocationRule("tools", "non-token", "team", "proportional"), actor="test")
        add_rule(conn, AllocationRule("leftovers", "unattributed", "team", "proportional"), actor="test")


def test_showback_splits_each_pool_by_its_rule(engine: Engine) -> None:
    write_ledger(engine)
    add_rules(engine)
    with engine.connect() as conn:
        result = showback(conn, NOVEMBER)
    assert [(p.what, p.amount, p.shares) for p in result.pools] == [
        ("subscriptions", D(30), {"search": D(15), "support": D(15)}),  # even: 30 / 2
        ("non-token", D(10), {"search": D("7.5"), "support": D("2.5")}),  # 10 in 150:50 = 3:1
        ("unattributed", D(100), {"search": D(75), "support": D(25)}),  # 100 in 3:1
    ]
    assert [(r.group, r.direct, r.shared, r.total) for r in result.rows] == [
        ("search", D(150), D("97.5"), D("247.5")),  # 150 + 15 + 7.50 + 75
        ("support", D(50), D("42.5"), D("92.5")),  # 50 + 15 + 2.50 + 25
    ]
    assert result.unallocated == {}
    assert result.totals == {"USD": D(340)}  # 247.50 + 92.50


def test_showback_without_rules_leaves_the_shared_spend_unallocated(engine: Engine) -> None:
    write_ledger(engine)
    with engine.connect() as conn:
        result = showback(conn, NOVEMBER)
    assert [(r.group, r.direct, r.shared) for r in result.rows] == [
        ("search", D(150), 0),
        ("support", D(50), 0),
    ]
    assert result.pools == []
    assert result.unallocated == {"USD": D(140)}  # 30 + 10 + 100


def test_showback_even_split_over_three_teams_to_the_nano(engine: Engine) -> None:
    write_ledger(engine)
    with engine.begin() as conn:
        write_records(
            conn,
            [usage_record(key="api:w1", start=_at(6), provider="mistral", project="web", cost="1")],
            tz=UTC_ZONE,
        )
        set_team(conn, project="web", team="web", actor="test")
        add_rule(conn, AllocationRule("leftovers", "unattributed", "team", "even"), actor="test")
        result = showback(conn, NOVEMBER)
    (pool,) = result.pools
    # $140 / 3 = 46.666666666 and two thirds of a nano-unit each: two nano-units left over,
    # to the first two names (equal remainders)
    assert pool.shares == {
        "search": D("46.666666667"),
        "support": D("46.666666667"),
        "web": D("46.666666666"),
    }
    assert sum(pool.shares.values()) == D(140)


def test_showback_by_project_and_by_customer(engine: Engine) -> None:
    write_ledger(engine)
    with engine.begin() as conn:
        write_records(
            conn,
            [
                usage_record(
                    key="api:c1",
                    start=_at(7),
                    provider="mistral",
                    project="helpdesk",
                    customer="acme",
                    cost="20",
                )
            ],
            tz=UTC_ZONE,
        )
        add_rule(conn, AllocationRule("shared", "unattributed", "customer", "proportional"), actor="test")
        by_customer = showback(conn, SpendQuery(start=NOVEMBER.start, end=NOVEMBER.end, by=("customer",)))
        by_project = showback(conn, SpendQuery(start=NOVEMBER.start, end=NOVEMBER.end, by=("project",)))
    # acme is the only customer: it carries its $20 and all $340 of the rest
    assert [(r.group, r.direct, r.shared) for r in by_customer.rows] == [("acme", D(20), D(340))]
    # the rule is the customer's: by project, the $140 of no project stays unallocated
    assert [(r.group, r.total) for r in by_project.rows] == [("search-api", D(150)), ("helpdesk", D(70))]
    assert by_project.unallocated == {"USD": D(140)}


def test_showback_every_rendering_agrees(
    engine: Engine, client: TestClient, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_ledger(engine)
    add_rules(engine)
    params = {"by": "team", "from": "2026-11-01", "to": "2026-11-30"}
    api = client.get("/api/v1/showback", params=params).json()
    cli = json.loads(
        cli_runner(db_url, tmp_path, monkeypatch)(
            "showback", "--by", "team", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "json"
        ).stdout
    )
    assert api == cli
    assert api["rows"][0] == {
        "group": "search",
        "currency": "USD",
        "direct": "150.00",
        "shared": "97.50",
        "total": "247.50",
    }
    spent = client.get("/api/v1/spend", params={"from": "2026-11-01", "to": "2026-11-30"}).json()
    assert api["totals"] == spent["totals"] == {"USD": "340.00"}
    csv_text = client.get("/api/v1/showback", params={**params, "format": "csv"}).text
    lines = csv_text.splitlines()
    assert lines[0] == "team,currency,direct,shared,total"
    assert sum(D(line.split(",")[4]) for line in lines[1:]) == D(340)
    with engine.connect() as conn:
        assert showback_to_csv(showback(conn, NOVEMBER)) == csv_text


def test_showback_page_shows_the_table_and_links_its_csv(engine: Engine, admin_client: TestClient) -> None:
    write_ledger(engine)
    add_rules(engine)
    page = admin_client.get("/showback", params={"by": "team", "from": "2026-11-01", "to": "2026-11-30"})
    assert page.status_code == 200
    assert (
        '<th scope="row">search</th><td class="num">$150.00</td>'
        '<td class="num">$97.50</td><td class="num">$247.50</td>' in page.text
    )
    assert 'data-total="USD">$340.00<' in page.text
    assert "/api/v1/showback?by=team&amp;from=2026-11-01&amp;to=2026-11-30&amp;format=csv" in page.text
    bad = admin_client.get("/showback", params={"by": "model"})
    assert bad.status_code == 400 and "the showback groups by one of team, project, customer" in bad.text


def test_showback_members_are_refused(settings: Settings, engine: Engine) -> None:
    add_user(engine, "m@example.com", "correct horse battery", "member")
    with TestClient(create_app(settings)) as member:
        assert login(member, "m@example.com", "correct horse battery").status_code == 303
        assert member.get("/showback").status_code == 403
        assert member.get("/api/v1/showback").status_code == 403


def test_showback_report_by_team_reads_the_project_teams(
    db_url: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_ledger(engine)
    run = cli_runner(db_url, tmp_path, monkeypatch)
    out = json.loads(
        run("report", "--from", "2026-11-01", "--to", "2026-11-30", "--by", "team", "--format", "json").stdout
    )
    assert [(r["team"], r["cost"]) for r in out["rows"]] == [
        ("search", "150.00"),
        (None, "140.00"),
        ("support", "50.00"),
    ]


def test_allocation_rules_cli_and_audit(
    db_url: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = cli_runner(db_url, tmp_path, monkeypatch)
    assert (
        "Added rule 'seats': subscriptions split by team, even."
        in run(
            "allocate", "rule", "add", "seats", "--what", "subscriptions", "--by", "team", "--split", "even"
        ).stdout
    )
    again = run(
        "allocate", "rule", "add", "seats", "--what", "subscriptions", "--by", "team", "--split", "even"
    )
    assert "Unchanged" in again.stdout
    clash = run("allocate", "rule", "add", "seats2", "--what", "subscriptions", "--by", "team", ok=False)
    assert "the rule 'seats' splits subscriptions by team already" in clash.stderr
    bad = run("allocate", "rule", "add", "x", "--what", "seats", "--by", "team", ok=False)
    assert "what: 'seats' is not one of subscriptions, non-token, unattributed" in bad.stderr
    assert "seats" in run("allocate", "rule", "list").stdout
    assert "Removed rule 'seats'" in run("allocate", "rule", "remove", "seats").stdout
    with engine.connect() as conn:
        assert list_rules(conn) == []
        assert [e.action for e in reversed(entries(conn, tz=UTC_ZONE))] == [
            "allocation_rule.add",
            "allocation_rule.remove",
        ]
    with engine.begin() as conn, pytest.raises(RuleError, match="no rule named 'seats'"):
        remove_rule(conn, name="seats", actor="test")


def test_allocation_page_adds_an_alias_a_team_and_a_rule(engine: Engine, admin_client: TestClient) -> None:
    page = admin_client.get("/allocation")
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    added = admin_client.post(
        "/allocation/aliases",
        data={
            "dimension": "project",
            "name": "Support bot",
            "canonical": "support-bot",
            "provider": "openai",
            "csrf_token": csrf,
        },
    )
    assert (
        "Added: project &#39;Support bot&#39; of provider &#39;openai&#39; → project &#39;support-bot&#39;."
        in added.text
    )
    team = admin_client.post(
        "/allocation/teams", data={"project": "support-bot", "team": "support", "csrf_token": csrf}
    )
    assert "Added: project &#39;support-bot&#39; in team &#39;support&#39;." in team.text
    rule = admin_client.post(
        "/allocation/rules",
        data={"name": "leftovers", "what": "unattributed", "by": "team", "split": "even", "csrf_token": csrf},
    )
    assert "Added: rule &#39;leftovers&#39;, unattributed split by team, even." in rule.text
    refused = admin_client.post("/allocation/rules", data={"name": "x", "what": "nope", "csrf_token": csrf})
    assert refused.status_code == 400 and "what: &#39;nope&#39; is not one of" in refused.text
    assert admin_client.post("/allocation/rules", data={"name": "y"}).status_code == 403  # no CSRF token
    with engine.connect() as conn:
        assert [e.actor for e in entries(conn, tz=UTC_ZONE)] == ["admin@example.com"] * 3


_PARAM = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["team", "project", "customer", "tag:team", "tag:", "provider", "team,project"]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    by=_PARAM,
    filter_=st.lists(
        st.one_of(
            st.text(max_size=30),
            st.sampled_from(["tag:team:x", "team:none", "tag:a b:c", "customer=acme", "project="]),
        ),
        max_size=3,
    ),
    period=st.one_of(st.none(), st.sampled_from(["last-month", "0d", "7d", "x"])),
)
def test_showback_api_garbage_is_a_4xx(
    client: TestClient, by: str, filter_: list[str], period: str | None
) -> None:
    params: dict[str, object] = {"by": by, "filter": filter_}
    if period is not None:
        params["period"] = period
    answer = client.get("/api/v1/showback", params=params)
    assert answer.status_code in (200, 400, 422), (params, answer.text)
