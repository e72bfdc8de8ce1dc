"""The GitHub Copilot connector against the fake GitHub billing API, over real HTTP on 127.0.0.1.

The fake serves a seeded organisation's bill and knows its own truth (`expected_costs()`),
so these tests compare what the connector read, and what the ledger holds after
`spendledger sync`, with what the organisation was billed. The week straddles 1 June
2026, so both of Copilot's billing eras are read: premium requests, then AI credits.
Retries never sleep: the policy records the waits.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from clirun import Cli, cli_runner
from fakes.github_copilot import CLASSIC, FINE_GRAINED, MISSING, NO_ADMIN, FakeGitHubCopilot
from ledger_models import by_ledger_model, kept_provider_models, renamed
from spendledger.records import Basis, PricingStatus, TokenCounts, UsageRecord, cents
from spendledger.sources._github_copilot_payloads import BillingReport, SeatListing, UsageReport
from spendledger.sources._http import RetryPolicy
from spendledger.sources.base import Page, SourceConfig, SourceError, connector_for
from spendledger.sources.github_copilot import GitHubCopilotConnector, throttled

START, DAYS = date(2026, 5, 29), 7  # 29 May - 4 June: three premium-request days, four AI-credit days
SINCE = datetime(2026, 5, 29, tzinfo=UTC)
UNTIL = SINCE + timedelta(days=DAYS)
FIRST, LAST = "2026-05-29", "2026-06-04"
Costs = dict[tuple[str, str, str], Decimal]


@pytest.fixture
def fake() -> Iterator[FakeGitHubCopilot]:
    # 6 users: dev-000 holds a seat and never uses it, dev-005 has left (usage, no seat);
    # 2 seats a page: the listing takes 3 pages
    with FakeGitHubCopilot(start=START, days=DAYS, users=6, seats_per_page=2) as server:
        yield server


Connect = Callable[..., tuple[GitHubCopilotConnector, list[float]]]


@pytest.fixture
def connect(fake: FakeGitHubCopilot) -> Iterator[Connect]:
    opened: list[GitHubCopilotConnector] = []

    def make(key: str = FINE_GRAINED, **options: str) -> tuple[GitHubCopilotConnector, list[float]]:
        waits: list[float] = []
        policy = RetryPolicy(max_attempts=4, backoff=0.5, sleep=waits.append)
        scope = options if "enterprise" in options else {"org": "acme", **options}
        config = SourceConfig("Acme", key, {"base_url": fake.base_url, **scope})
        opened.append(GitHubCopilotConnector(config, policy=policy))
        return opened[-1], waits

    yield make
    for connector in opened:
        connector.close()


def pages(connector: GitHubCopilotConnector, endpoint: str) -> list[Page]:
    return list(connector.fetch(endpoint, SINCE, UNTIL))


def records(connector: GitHubCopilotConnector, *endpoints: str) -> list[UsageRecord]:
    return [r for e in endpoints or connector.endpoints() for p in pages(connector, e) for r in p.records]


def by_day_user_model(recs: list[UsageRecord]) -> Costs:
    out: Costs = defaultdict(Decimal)
    for r in recs:
        out[(r.start.date().isoformat(), r.user, r.model)] += r.cost or Decimal(0)
    return dict(out)


# ---- the figures ------------------------------------------------------------------------------


def test_copilot_costs_equal_the_fake_exactly(fake: FakeGitHubCopilot, connect: Connect) -> None:
    connector, waits = connect()
    recs = records(connector)
    expected = fake.expected_costs()
    assert by_day_user_model(recs) == expected  # exact: amounts are decoded as Decimal, never float
    assert {k: cents(v) for k, v in by_day_user_model(recs).items()} == {
        k: cents(v) for k, v in expected.items()
    }
    assert waits == []
    for r in recs:
        assert (r.basis, r.pricing_status, r.requests, r.tokens) == (
            Basis.BILLED,
            PricingStatus.PROVIDER,
            0,
            TokenCounts(),
        )
        assert (r.source, r.account, r.provider, r.currency) == ("Acme", "Acme", "github-copilot", "USD")
        assert r.end is not None and r.end - r.start == timedelta(days=1) and r.start.tzinfo == UTC
    usage = [r for r in recs if not r.key.startswith("seats|")]
    assert {r.key.split("|")[0] for r in usage} == {"premium_request", "ai_credit"}
    assert all(r.key == f"{r.key.split('|')[0]}|{r.user}|Copilot|{r.tags['sku']}|{r.model}" for r in usage)
    # each era on its own endpoint: premium requests until 31 May, AI credits from 1 June
    assert {r.start.date() < date(2026, 6, 1) for r in usage if r.key.startswith("premium_request|")} == {
        True
    }
    assert {r.tags["unit_type"] for r in usage if r.key.startswith("ai_credit|")} == {"ai-credits"}
    # the member's own spend is theirs; the seat holder who never used Copilot has none
    assert {r.user for r in usage} == {"dev-001", "dev-002", "dev-003", "dev-004", ""}
    assert all(r.workspace == "acme" for r in recs)


def test_copilot_net_is_read_not_computed(fake: FakeGitHubCopilot, connect: Connect) -> None:
    # the seed's first covered line has a discount above its gross and a net of 0 (GitHub's own sample)
    connector, _ = connect()
    odd = [
        r
        for r in records(connector, "premium_request", "ai_credit")
        if Decimal(r.tags["discount_amount"]) > Decimal(r.tags["gross_amount"])
    ]
    assert odd and all(r.cost == 0 for r in odd)
    # gross - discount would have billed a negative amount: 0.66 requests × $0.04 = -$0.0264 at most
    assert all(Decimal(r.tags["gross_amount"]) - Decimal(r.tags["discount_amount"]) < 0 for r in odd)


def test_copilot_departed_users_usage_stays_on_the_bill(fake: FakeGitHubCopilot, connect: Connect) -> None:
    connector, _ = connect()
    recs = records(connector, "premium_request", "ai_credit")
    unattributed = [r for r in recs if r.user == ""]
    assert unattributed and all(r.tags["by_user"] == "none" for r in unattributed)
    departed = sum(
        (ln.net_amount for (_d, u, _m), ln in fake.lines.items() if u in fake.departed), Decimal(0)
    )
    assert sum((r.cost or Decimal(0) for r in unattributed), Decimal(0)) == departed
    users_asked = {q["user"][0] for path, q, _h in fake.requests if "user" in q}
    assert fake.departed.isdisjoint(users_asked) and fake.idle in users_asked  # asked once a month


def test_copilot_seat_charges_leave_usage_and_other_products_out(
    fake: FakeGitHubCopilot, connect: Connect
) -> None:
    connector, _ = connect()
    seats = records(connector, "seats")
    # 5 seat holders (dev-001 from 31 May) at $19 a user-month: 29 May is 4 seats × 19/31
    may_29 = [r for r in seats if r.start.date() == START]
    assert len(may_29) == 1 and cents(may_29[0].cost or Decimal(0)) == Decimal("2.45")  # 4 × 0.612903226
    assert all(r.key == "seats|acme|Copilot Business|UserMonths" and r.model == r.user == "" for r in seats)
    assert {r.start.date() for r in seats} == {START + timedelta(days=i) for i in range(DAYS)}
    # two report lines a day summed into one record; Actions and Copilot usage lines left out
    june_1 = next(r for r in seats if r.start.date() == date(2026, 6, 1))
    assert Decimal(june_1.tags["quantity"]) == 5 * Decimal("0.033333333")  # 5 seats × 1/30 month
    sent = [q for path, q, _h in fake.requests if path.endswith("/settings/billing/usage")]
    assert [(q["year"], q["month"]) for q in sent] == [(["2026"], ["5"]), (["2026"], ["6"])]  # a page a month


def test_copilot_asks_as_github_documents(fake: FakeGitHubCopilot, connect: Connect) -> None:
    connector, _ = connect()
    records(connector)
    for _path, _q, headers in fake.requests:
        assert headers["accept"] == "application/vnd.github+json"
        assert headers["x-github-api-version"] == "2026-03-10"
        assert headers["authorization"] == f"Bearer {FINE_GRAINED}" and headers["user-agent"]
    credit = [q for p, q, _h in fake.requests if p == "/organizations/acme/settings/billing/ai_credit/usage"]
    days = [q for q in credit if "user" not in q and "day" in q]
    asked = [(q["year"][0], q["month"][0], q["day"][0]) for q in days]
    assert asked == [
        (str(d.year), str(d.month), str(d.day)) for d in (START + timedelta(i) for i in range(DAYS))
    ]
    # every day once; the premium-request days answer empty here: one call each, no one asked by user
    monthly = [q["user"][0] for q in credit if "user" in q and "day" not in q]
    assert monthly == ["dev-000", "dev-001", "dev-002", "dev-003", "dev-004"]  # the seat holders, once
    listing = [q for p, q, _h in fake.requests if p == "/orgs/acme/copilot/billing/seats"]
    assert [(q.get("per_page"), q.get("page")) for q in listing] == [
        (["100"], None),
        (["100"], ["2"]),
        (["100"], ["3"]),
    ]  # the Link header's next pages, followed once per connector


def test_copilot_revised_day_replaces_its_figures(fake: FakeGitHubCopilot, connect: Connect) -> None:
    connector, _ = connect()
    before = {(r.start, r.key): r.cost for r in records(connector)}
    fake.revise(date(2026, 6, 2), Decimal(3))
    after_recs = records(connector)
    after = {(r.start, r.key): r.cost for r in after_recs}
    assert before.keys() == after.keys()  # the same natural keys: the new version replaces the old
    changed = {start.date() for (start, key), cost in after.items() if before[(start, key)] != cost}
    assert changed == {date(2026, 6, 2)}
    assert by_day_user_model(after_recs) == fake.expected_costs()


def test_copilot_users_option_narrows_the_split(fake: FakeGitHubCopilot, connect: Connect) -> None:
    none, _ = connect(users="none")
    whole = records(none, "ai_credit")
    assert {r.user for r in whole} == {""} and not any("user" in q for _p, q, _h in fake.requests)
    by_day: dict[str, Decimal] = defaultdict(Decimal)
    for (day, _user, _model), cost in fake.expected_costs().items():
        if day >= "2026-06-01":
            by_day[day] += cost
    seats = by_day_user_model(records(none, "seats"))
    got: dict[str, Decimal] = defaultdict(Decimal)
    for (day, _user, _model), cost in {**by_day_user_model(whole)}.items():
        got[day] += cost
    assert {d: got[d] + seats.get((d, "", ""), Decimal(0)) for d in got} == dict(by_day)
    two, _ = connect(users="dev-002, dev-003")
    assert {r.user for r in records(two, "ai_credit")} <= {"dev-002", "dev-003", ""}


def test_copilot_enterprise_reads_with_a_classic_token(fake: FakeGitHubCopilot, connect: Connect) -> None:
    connector, _ = connect(key=CLASSIC, enterprise="acme-corp")
    recs = records(connector)
    assert by_day_user_model(recs) == fake.expected_costs()
    listing = [q for p, q, _h in fake.requests if p == "/enterprises/acme-corp/copilot/billing/seats"]
    assert len(listing) == 5  # each user listed twice (organisation and team): 10 entries, 2 a page
    monthly = [(p, q["user"][0]) for p, q, _h in fake.requests if "user" in q and "day" not in q]
    assert len(monthly) == len(set(monthly)) == 2 * 5  # once per report, despite the double listing
    assert {r.workspace for r in recs if r.key.startswith("seats|")} == {"acme"}  # the report's org


def test_copilot_check_reports_the_organisation(connect: Connect) -> None:
    connector, _ = connect()
    assert connector.check().startswith('GitHub Copilot organisation "acme" reachable; 5 Copilot seats;')
    assert connector_for("github-copilot") is GitHubCopilotConnector


def test_copilot_needs_an_org_or_an_enterprise(fake: FakeGitHubCopilot) -> None:
    for options in ({}, {"org": "acme", "enterprise": "acme-corp"}):
        with pytest.raises(SourceError, match="exactly one of --option org=") as caught:
            GitHubCopilotConnector(SourceConfig("Acme", FINE_GRAINED, {"base_url": fake.base_url, **options}))
        assert caught.value.kind == "config"


# ---- throttling, auth, permissions ------------------------------------------------------------


def test_copilot_primary_rate_limit_waits_until_the_reset(fake: FakeGitHubCopilot, connect: Connect) -> None:
    connector, waits = connect()
    fake.throttle("primary", at=2, path="/ai_credit/usage", wait=30)
    assert by_day_user_model(records(connector)) == fake.expected_costs()
    assert len(waits) == 1 and 27 <= waits[0] <= 30  # x-ratelimit-reset, 30 s ahead when it answered


@pytest.mark.parametrize(("style", "wait"), [("secondary", 7.0), ("secondary-403", 60.0)])
def test_copilot_secondary_rate_limit_waits(
    fake: FakeGitHubCopilot, connect: Connect, style: str, wait: float
) -> None:
    connector, waits = connect()
    fake.throttle(style, at=3, path="/premium_request/usage")
    assert len(pages(connector, "premium_request")) == DAYS
    assert waits == [wait]  # retry-after when given, else a minute, as GitHub's docs ask


def test_copilot_rate_limit_that_never_lifts_says_so(fake: FakeGitHubCopilot, connect: Connect) -> None:
    connector, waits = connect()
    fake.fail(429, times=None, headers={"retry-after": "2"}, message="secondary rate limit")
    with pytest.raises(SourceError) as caught:
        pages(connector, "ai_credit")
    assert caught.value.kind == "rate_limited" and not caught.value.stops_source
    assert waits == [2.0, 2.0, 2.0] and "keeps rate-limiting" in str(caught.value)


def test_copilot_bad_token_is_an_auth_error(connect: Connect) -> None:
    key = "github_pat_11WRONG000_0000000000000000000000000000"
    connector, waits = connect(key=key)
    with pytest.raises(SourceError) as caught:
        connector.check()
    message = str(caught.value)
    assert caught.value.kind == "auth" and caught.value.stops_source and waits == []
    assert "401 Bad credentials" in message and "expired or revoked" in message and key not in message


def test_copilot_token_without_administration_names_the_permission(connect: Connect) -> None:
    connector, _ = connect(key=NO_ADMIN)
    with pytest.raises(SourceError) as caught:
        pages(connector, "ai_credit")
    message = str(caught.value)
    assert caught.value.kind == "permission" and "403 Resource not accessible" in message
    assert '"Administration" (read)' in message and '"GitHub Copilot Business" (read)' in message
    assert "Personal access tokens" in message and NO_ADMIN not in message


def test_copilot_fine_grained_token_on_an_enterprise_asks_for_a_classic_one(connect: Connect) -> None:
    connector, _ = connect(enterprise="acme-corp")
    with pytest.raises(SourceError) as caught:
        pages(connector, "seats")
    assert caught.value.kind == "permission" and "personal access token (classic)" in str(caught.value)
    assert "manage_billing:enterprise" in str(caught.value)


def test_copilot_enterprise_owned_org_explains_the_split_by_user() -> None:
    with FakeGitHubCopilot(start=START, days=DAYS, enterprise_owned=True) as fake:
        config = SourceConfig("Acme", FINE_GRAINED, {"base_url": fake.base_url, "org": "acme"})
        connector = GitHubCopilotConnector(config, policy=RetryPolicy(sleep=lambda _s: None))
        with pytest.raises(SourceError) as caught:
            list(connector.fetch("ai_credit", SINCE, UNTIL))
        connector.close()
        assert caught.value.kind == "permission" and "--option users=none" in str(caught.value)
        assert "--option enterprise=<slug>" in str(caught.value)
        whole = GitHubCopilotConnector(
            SourceConfig("Acme", FINE_GRAINED, {**config.options, "users": "none"})
        )
        assert records(whole, "ai_credit")  # the bill, without the split
        whole.close()


# ---- bad pages ---------------------------------------------------------------------------------


def test_copilot_malformed_amount_names_endpoint_page_and_field(
    fake: FakeGitHubCopilot, connect: Connect
) -> None:
    connector, _ = connect()
    fake.malform("ai_credit", field="netAmount", value="abc", day=date(2026, 6, 2))
    fetched = connector.fetch("ai_credit", SINCE, UNTIL)
    assert [next(fetched).number for _ in range(4)] == [1, 2, 3, 4]  # 29-31 May: empty; 1 June
    with pytest.raises(SourceError) as caught:
        next(fetched)
    message = str(caught.value)
    assert (caught.value.kind, caught.value.endpoint, caught.value.page) == ("malformed", "ai_credit", 5)
    assert "ai_credit (page 5): unexpected data at usageItems[0].netAmount" in message
    assert FINE_GRAINED not in message


def test_copilot_missing_seat_date_is_malformed(fake: FakeGitHubCopilot, connect: Connect) -> None:
    connector, _ = connect()
    fake.malform("settings/billing/usage", field="date", value=MISSING)
    with pytest.raises(
        SourceError, match=r"seats \(page 1\): unexpected data at usageItems\[0\]\.date: Field"
    ):
        pages(connector, "seats")


def test_copilot_body_that_is_no_report_is_malformed(fake: FakeGitHubCopilot, connect: Connect) -> None:
    connector, _ = connect()
    fake.fail(200, path="/premium_request/usage", message="")  # a body that is no report at all
    with pytest.raises(SourceError, match="premium_request \\(page 1\\): unexpected data at timePeriod"):
        pages(connector, "premium_request")


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=25,
)
_FIELDS = ("product", "sku", "model", "unitType", "pricePerUnit", "grossQuantity", "grossAmount")
_item = st.fixed_dictionaries(
    {name: _json | st.decimals(allow_nan=False, allow_infinity=False) | st.text() for name in _FIELDS},
    optional={"netAmount": _json | st.decimals(), "discountAmount": _json, "date": _json | st.text()},
)
_page = st.fixed_dictionaries(
    {"timePeriod": _json | st.fixed_dictionaries({"year": st.integers(), "day": _json}), "usageItems": _json},
) | st.dictionaries(
    st.sampled_from(["usageItems", "seats", "total_seats", "timePeriod"]), st.lists(_item) | _json
)


_PARSER = GitHubCopilotConnector(  # no request is made: the parser and the translation only
    SourceConfig("Acme", FINE_GRAINED, {"org": "acme"}), client=httpx.Client(base_url="http://127.0.0.1:9")
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_json | _page)
def test_copilot_garbage_pages_give_only_source_errors(body: Any) -> None:
    for model in (UsageReport, BillingReport, SeatListing):
        try:
            parsed = _PARSER._parse(model, body, "ai_credit", 1)
        except SourceError as exc:
            assert exc.kind == "malformed" and "ai_credit (page 1)" in str(exc)
            continue
        if isinstance(parsed, UsageReport):  # what parses must translate
            _PARSER._usage_records("ai_credit", date(2026, 6, 1), parsed, {"dev-001": parsed})


def test_copilot_throttled_reads_githubs_answers() -> None:
    def answer(status: int, headers: dict[str, str], text: str = "") -> httpx.Response:
        return httpx.Response(status, headers=headers, text=text)

    assert throttled(answer(403, {"retry-after": "12"})) == 12.0
    reset = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1000"}
    assert throttled(answer(403, reset), now=lambda: 990.0) == 10.0
    assert throttled(answer(429, {})) == 60.0
    assert throttled(answer(403, {}, '{"message":"You have exceeded a secondary rate limit"}')) == 60.0
    assert throttled(answer(403, {"x-ratelimit-remaining": "4999"}, '{"message":"Must have admin"}')) is None
    assert throttled(answer(500, {"retry-after": "3"})) is None


# ---- the whole path: sources add, sync, report ------------------------------------------------


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_runner(
        db_url, tmp_path, monkeypatch, SPENDLEDGER_TIMEZONE="UTC", GH_BILLING_TOKEN=FINE_GRAINED
    )


def _ledger(cli: Cli) -> Costs:
    result = cli(
        "report", "--from", FIRST, "--to", LAST, "--by", "user,model", "--granularity", "day",
        "--basis", "billed", "--format", "json",
    )  # fmt: skip
    out: Costs = defaultdict(Decimal)
    for row in json.loads(result.stdout)["rows"]:
        out[(row["period"], row["user"] or "", row["model"] or "")] += Decimal(row["cost"])
    return {k: cents(v) for k, v in out.items() if v}


def _cents(costs: Costs) -> Costs:
    """The fake's `costs`, the model named as the ledger names it, to the cent."""
    return {k: cents(v) for k, v in by_ledger_model(costs).items() if cents(v)}


def test_copilot_sync_report_equals_the_bill_again_and_after_a_revision(cli: Cli, engine: Engine) -> None:
    with FakeGitHubCopilot(start=START, days=DAYS, seats_per_page=2) as fake:
        cli("sources", "add", "github-copilot", "--name", "Acme", "--key-env", "GH_BILLING_TOKEN",
            "--option", "org=acme", "--option", f"base_url={fake.base_url}")  # fmt: skip
        listed = cli("sources", "list").stdout
        assert "Acme" in listed and FINE_GRAINED not in listed
        assert "reachable" in cli("sources", "test", "Acme").stdout
        cli("sync", "--since", FIRST, "--until", LAST)
        expected = _cents(fake.expected_costs())
        assert _ledger(cli) == expected
        assert any(user.startswith("dev-") for _d, user, _m in expected)
        # each renamed model keeps the id GitHub billed it as ("Claude Sonnet 4.6" → claude-sonnet-4-6)
        kept = kept_provider_models(engine)
        assert kept == renamed(m for _d, _u, m in fake.expected_costs()) and kept
        cli("sync", "--since", FIRST, "--until", LAST)  # a second run changes nothing
        assert _ledger(cli) == expected
        fake.revise(date(2026, 6, 3), Decimal(2))  # a revised day replaces, never adds
        cli("sync", "--since", FIRST, "--until", LAST)
        assert _ledger(cli) == _cents(fake.expected_costs()) != expected


def test_copilot_sync_interrupted_then_rerun_is_exact(cli: Cli) -> None:
    with FakeGitHubCopilot(start=START, days=DAYS) as fake:
        cli("sources", "add", "github-copilot", "--name", "Acme", "--key-env", "GH_BILLING_TOKEN",
            "--option", "org=acme", "--option", f"base_url={fake.base_url}")  # fmt: skip
        fake.fail(401, at=30, times=None)  # the token revoked half way through the AI-credit days
        failed = cli("sync", "--since", FIRST, "--until", LAST, ok=False)
        assert failed.exit_code == 1 and "401" in failed.stderr and "expired or revoked" in failed.stderr
        half = _ledger(cli)
        assert half and half != _cents(fake.expected_costs())  # some days kept, not all
        fake.clear_faults()
        cli("sync", "--since", FIRST, "--until", LAST)
        assert _ledger(cli) == _cents(fake.expected_costs())
