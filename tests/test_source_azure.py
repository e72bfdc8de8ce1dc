"""The Azure connector against the fake Entra + Cost Management, over real HTTP on 127.0.0.1.

Nothing of ours is mocked: the fake answers each query from its own table of cost rows
(honouring scope, time period, grouping and filter) and knows its truth
(`expected_costs()`, `expected_tokens()`), so these tests compare what the connector read,
and what the ledger then reports, with what the scope spent. Retries never sleep: the
policy records the waits.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict
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
from fakes.azure_cost import (
    BILLING_ACCOUNT,
    CLIENT_ID,
    CLIENT_SECRET,
    MISSING,
    SUBSCRIPTION,
    TENANT,
    FakeAzureCost,
)
from ledger_models import by_ledger_model, kept_provider_models, renamed
from spendledger.config import Settings
from spendledger.records import Basis, PricingStatus, TokenCounts, UsageRecord, cents
from spendledger.sources._azure_meters import meter_kind
from spendledger.sources._azure_payloads import Where, read_page
from spendledger.sources._http import RetryPolicy
from spendledger.sources._oauth import ClientCredentials
from spendledger.sources.azure import AzureConnector
from spendledger.sources.base import Page, SourceConfig, SourceError, source_type
from spendledger.sync import sync_source

START = date(2025, 3, 1)
SINCE = datetime(2025, 3, 1, tzinfo=UTC)
SUB_SCOPE = f"/subscriptions/{SUBSCRIPTION}"
RG_SCOPE = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-ai-01"
BILLING_SCOPE = f"/providers/Microsoft.Billing/billingAccounts/{BILLING_ACCOUNT}"
THROTTLED = {
    "Retry-After": "5",
    "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after": "12",
    "x-ms-ratelimit-microsoft.costmanagement-entity-retry-after": "40",
    "x-ms-ratelimit-microsoft.costmanagement-tenant-retry-after": "7",
}


@pytest.fixture
def fake() -> Iterator[FakeAzureCost]:
    with FakeAzureCost(start=START, days=7, page_rows=40) as server:  # ~5 pages a week
        yield server


Connect = Callable[..., tuple[AzureConnector, list[float]]]


def options(fake: FakeAzureCost, **more: str) -> dict[str, str]:
    base = {"base_url": fake.url, "login_url": fake.url, "tenant_id": TENANT, "client_id": CLIENT_ID}
    return base | {"scope": SUB_SCOPE} | more


@pytest.fixture
def connect(fake: FakeAzureCost) -> Iterator[Connect]:
    """Connectors on the fake (built as `SourceType.open` builds them), recording their waits."""
    opened: list[AzureConnector] = []

    def make(key: str = CLIENT_SECRET, **more: str) -> tuple[AzureConnector, list[float]]:
        waits: list[float] = []
        policy = RetryPolicy(max_attempts=4, backoff=0.5, sleep=waits.append)
        connector = source_type("azure").open(
            SourceConfig("Contoso", key, options(fake, **more)), policy=policy
        )
        assert isinstance(connector, AzureConnector)
        opened.append(connector)
        return connector, waits

    yield make
    for connector in opened:
        connector.close()


def pages(connector: AzureConnector, days: int = 7) -> list[Page]:
    return list(connector.fetch("costs", SINCE, SINCE + timedelta(days=days)))


def by_day_project_model(recs: list[UsageRecord]) -> dict[tuple[str, str, str], Decimal]:
    out: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for r in recs:
        out[(r.start.date().isoformat(), r.project, r.model)] += r.cost or Decimal(0)
    return dict(out)


def records(connector: AzureConnector, days: int = 7) -> list[UsageRecord]:
    return [r for p in pages(connector, days) for r in p.records]


# ---- the figures ----------------------------------------------------------------------------


@pytest.mark.parametrize("scope", [SUB_SCOPE, RG_SCOPE, BILLING_SCOPE])
def test_azure_costs_equal_the_fake_to_the_cent(fake: FakeAzureCost, connect: Connect, scope: str) -> None:
    connector, _ = connect(scope=scope)
    recs = records(connector)
    expected = fake.expected_costs(scope)
    assert {k: cents(v) for k, v in by_day_project_model(recs).items()} == {
        k: cents(v) for k, v in expected.items()
    }
    assert any(v != cents(v) for v in expected.values())  # sub-cent amounts: exactness matters
    for r in recs:
        assert (r.basis, r.pricing_status, r.requests, r.provider) == (
            Basis.BILLED,
            PricingStatus.PROVIDER,
            0,
            "azure",
        )
        assert (r.source, r.account, r.currency) == ("Contoso", "Contoso", "USD")
        assert r.end is not None and r.end - r.start == timedelta(days=1) and r.start.tzinfo == UTC
        assert r.key.startswith("costs|") and r.key.endswith(f"|{r.tags['meter']}|USD")
    if scope == BILLING_SCOPE:  # no resource grouping above a subscription: one project per subscription
        assert {r.project for r in recs} == {r.tags["subscription_id"] for r in recs} and len(
            {r.project for r in recs}
        ) == 2
    else:
        assert all(
            r.workspace == r.tags["resource_group"] and r.project in r.tags["resource_id"]
            for r in recs
            if r.project != SUBSCRIPTION
        )


def test_azure_reservation_is_spread_when_amortized(fake: FakeAzureCost, connect: Connect) -> None:
    actual, _ = connect()
    amortized, _ = connect(cost_type="AmortizedCost")
    ptu = ("Provisioned Managed Global Hourly", "Provisioned Managed Reservation")

    def ptu_cost(connector: AzureConnector) -> Decimal:
        return sum((r.cost or Decimal(0) for r in records(connector) if r.tags["meter"] in ptu), Decimal(0))

    # ActualCost: the month's reservation bought on 2025-03-01, $1,627.50; its hours cost $0.
    # AmortizedCost: no purchase, 7 days of hours at $52.50 a day = $367.50.
    assert ptu_cost(actual) == Decimal("1627.50")
    assert ptu_cost(amortized) == Decimal("367.50")
    assert (
        by_day_project_model(records(amortized)).keys()
        <= fake.expected_costs(cost_type="AmortizedCost").keys()
    )
    assert sum(by_day_project_model(records(amortized)).values()) == pytest.approx(
        sum(fake.expected_costs(cost_type="AmortizedCost").values()), abs=Decimal("0.005")
    )
    assert all(r.tags["cost_type"] == "AmortizedCost" for r in records(amortized))


def test_azure_tokens_equal_the_fake(fake: FakeAzureCost, connect: Connect) -> None:
    connector, _ = connect()
    tokens: dict[tuple[str, str, str], TokenCounts] = defaultdict(TokenCounts)
    for r in records(connector):
        r.tokens.validate()
        if r.tokens != TokenCounts():
            tokens[(r.start.date().isoformat(), r.project, r.model)] += r.tokens
    got = {k: {n: v for n, v in asdict(t).items() if v} for k, t in tokens.items()}
    assert got == fake.expected_tokens()
    assert any("cached_input" in t for t in got.values()) and any(m == "gpt-5" for _d, _p, m in got)


def test_azure_query_asks_what_the_docs_describe(fake: FakeAzureCost, connect: Connect) -> None:
    connector, _ = connect()
    got = pages(connector, days=40)
    assert [p.number for p in got] == [1, 2]  # 31 days, then 9: a Daily query spans at most 31
    assert [len(p.buckets) for p in got] == [31, 9]
    assert [start for p in got for start, _ in p.buckets] == [SINCE + timedelta(days=d) for d in range(40)]
    path, query, body = fake.requests[0]
    assert path == f"{SUB_SCOPE}/providers/Microsoft.CostManagement/query"
    assert query["api-version"] == ["2025-03-01"] and query["$top"] == ["5000"]
    assert (body["type"], body["timeframe"]) == ("ActualCost", "Custom")
    assert body["timePeriod"] == {"from": "2025-03-01T00:00:00Z", "to": "2025-03-31T23:59:59Z"}
    dataset = body["dataset"]
    assert dataset["granularity"] == "Daily"
    assert sorted(a["name"] for a in dataset["aggregation"].values()) == ["Cost", "CostUSD", "UsageQuantity"]
    assert [g["name"] for g in dataset["grouping"]] == [
        "ResourceId",
        "ServiceName",
        "MeterSubcategory",
        "Meter",
    ]
    assert dataset["filter"] == {
        "dimensions": {
            "name": "ServiceName",
            "operator": "In",
            "values": ["Cognitive Services", "Foundry Models", "Foundry Tools"],
        }
    }
    follow = [(q, b) for _p, q, b in fake.requests if "$skiptoken" in q]
    assert follow and all(
        b == fake.requests[0][2] or b["timePeriod"]["from"] == "2025-04-01T00:00:00Z" for _q, b in follow
    )
    windows = {b["timePeriod"]["from"] for _p, _q, b in fake.requests}
    assert windows == {"2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z"}
    assert len(fake.requests) > 4 and fake.tokens_issued == 1  # one token for every page


def test_azure_billing_scope_groups_by_subscription(fake: FakeAzureCost, connect: Connect) -> None:
    connector, _ = connect(scope=BILLING_SCOPE)
    pages(connector)
    grouping = [g["name"] for g in fake.requests[0][2]["dataset"]["grouping"]]
    assert grouping[0] == "SubscriptionId" and "ResourceId" not in grouping


def test_azure_filter_leaves_out_other_services(fake: FakeAzureCost, connect: Connect) -> None:
    connector, _ = connect()
    recs = records(connector)
    assert not any(r.tags["meter"] == "D4s v5" or r.project.startswith("vm-") for r in recs)
    narrow, _ = connect(services="Foundry Models")
    only = records(narrow)
    assert {r.tags["service_name"] for r in only} == {"Foundry Models"}
    assert by_day_project_model(only) == pytest.approx(
        fake.expected_costs(services=("Foundry Models",)), abs=Decimal("0.000001")
    )


def test_azure_revised_day_replaces_its_figures(fake: FakeAzureCost, connect: Connect) -> None:
    connector, _ = connect()
    before = {(r.start, r.key): r.cost for r in records(connector)}
    fake.revise("2025-03-03", factor=3)
    after = {(r.start, r.key): r.cost for r in records(connector)}
    assert before.keys() == after.keys()
    changed = {start.date() for (start, key), cost in after.items() if cost != before[(start, key)]}
    assert changed == {date(2025, 3, 3)}
    assert all(
        cents(after[k]) == cents(3 * (cost or Decimal(0))) for k, cost in before.items() if k[0].day == 3
    )


# ---- meters -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("meter", "model", "kind", "unit"),
    [
        ("gpt-4o-0806 Inp glbl Tokens", "gpt-4o-0806", "input", 1000),
        ("gpt-4o-0806 cached Inp glbl Tokens", "gpt-4o-0806", "cached_input", 1000),
        ("gpt-4o-0806 Outp glbl Tokens", "gpt-4o-0806", "output", 1000),
        ("gpt 4.1 nano cached Inp glbl Tokens", "gpt-4.1-nano", "cached_input", 1000),
        ("o3 0416 Outp DZone Tokens", "o3-0416", "output", 1000),
        ("GPT 5 Inpt Glbl 1M Tokens", "gpt-5", "input", 1_000_000),
        ("Phi-4-Input Tokens", "phi-4", "input", 1000),
        ("gpt-4o-realtime-preview Aud Inp glbl Tokens", "gpt-4o-realtime-preview", "audio_input", 1000),
        ("text-embedding-3-large Tokens", "text-embedding-3-large", "input", 1000),
        ("5.4 inp Gl 1M Tokens", None, None, None),  # no model in the name: a money line item
        ("Provisioned Managed Global Hourly", None, None, None),
        ("gpt-4o-mini ft Training Tokens", None, None, None),
        ("S1 Speech To Text", None, None, None),
    ],
)
def test_azure_meter_names_give_model_and_kind(
    meter: str, model: str | None, kind: str | None, unit: int | None
) -> None:
    found = meter_kind(meter)
    assert (found.model, found.kind, found.unit) == (model, kind, unit) if found else model is None


def test_azure_meter_quantity_is_tokens_in_its_unit() -> None:
    # 12.5 units of a 1K meter = 12,500 tokens; 0.25 units of a 1M meter = 250,000 tokens
    thousand, million = (
        meter_kind("gpt-4o-0806 cached Inp glbl Tokens"),
        meter_kind("GPT 5 Inpt Glbl 1M Tokens"),
    )
    assert thousand and million
    assert thousand.tokens(Decimal("12.5")) == TokenCounts(input=12_500, cached_input=12_500)
    assert million.tokens(Decimal("0.25")) == TokenCounts(input=250_000)


def test_azure_other_meters_stay_money_line_items(connect: Connect) -> None:
    connector, _ = connect()
    items = [
        r for r in records(connector) if r.tags["meter"] in ("5.4 inp Gl 1M Tokens", "S1 Speech To Text")
    ]
    assert items and all(r.model == "" and r.tokens == TokenCounts() and r.cost for r in items)
    assert all(Decimal(r.tags["quantity"]) > 0 and r.tags["meter"] in r.key for r in items)


# ---- auth, throttling and errors ------------------------------------------------------------------


def test_azure_429_waits_the_largest_throttle_header(fake: FakeAzureCost, connect: Connect) -> None:
    connector, waits = connect()
    fake.fail(429, at=2, headers=THROTTLED)
    assert len(pages(connector)) == 1
    assert waits == [40.0]  # entity-retry-after, the largest of 5, 12, 40 and 7


def test_azure_429_forever_is_rate_limited(fake: FakeAzureCost, connect: Connect) -> None:
    connector, waits = connect()
    fake.fail(429, times=None, headers={"x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after": "9"})
    with pytest.raises(SourceError) as caught:
        pages(connector)
    assert caught.value.kind == "rate_limited" and not caught.value.stops_source
    assert waits == [9.0, 9.0, 9.0] and "sync again later" in str(caught.value)


def test_azure_5xx_retried_with_backoff(fake: FakeAzureCost, connect: Connect) -> None:
    connector, waits = connect()
    fake.fail(503, at=3, times=2)
    assert by_day_project_model(records(connector)).keys() == fake.expected_costs().keys()
    assert waits == [0.5, 1.0]


def test_azure_token_is_fetched_once_and_refreshed_when_refused(
    fake: FakeAzureCost, connect: Connect
) -> None:
    connector, waits = connect()
    fetched = pages(connector, days=40)
    assert fake.tokens_issued == 1
    fake.expire_tokens()  # the next query answers 401 ExpiredAuthenticationToken
    again = pages(connector, days=40)
    assert fake.tokens_issued == 2 and waits == []
    assert [len(p.records) for p in again] == [len(p.records) for p in fetched]


def test_azure_token_is_renewed_before_it_expires(fake: FakeAzureCost) -> None:
    now = [0.0]
    auth = ClientCredentials(
        token_url=f"{fake.url}/{TENANT}/oauth2/v2.0/token",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        scope="https://management.azure.com/.default",
        on_error=lambda response: SourceError("auth", f"token refused: {response.status_code}"),
        clock=lambda: now[0],
    )
    query = f"{SUB_SCOPE}/providers/Microsoft.CostManagement/query?api-version=2025-03-01"
    with httpx.Client(base_url=fake.url, auth=auth) as client:
        statuses = []
        for at in (0.0, 3000.0, 3298.0, 3300.0, 3301.0):  # a 3599 s token is renewed 300 s early
            now[0] = at
            statuses.append(client.post(query, json={}).status_code)
    assert statuses == [400] * 5  # authenticated each time (the empty body is the only fault)
    assert auth.fetched == fake.tokens_issued == 2


def test_azure_token_endpoint_outage_is_retried(fake: FakeAzureCost, connect: Connect) -> None:
    connector, waits = connect()
    fake.fail(503, times=2, path="/oauth2/")
    assert len(pages(connector)) == 1 and waits == [0.5, 1.0] and fake.tokens_issued == 1


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (
            {"key": "Xq8Q~wrong.secret.value000000000"},
            ["AADSTS7000215", "client secret", "Certificates & secrets"],
        ),
        ({"client_id": "0000aaaa-1111-2222-3333-444455556666"}, ["AADSTS700016", "Application (client) ID"]),
        ({"tenant_id": "00000000-0000-0000-0000-000000000000"}, ["AADSTS90002", "Directory (tenant) ID"]),
    ],
)
def test_azure_token_refused_says_what_to_fix(
    connect: Connect, change: dict[str, str], words: list[str]
) -> None:
    connector, waits = connect(**change)
    with pytest.raises(SourceError) as caught:
        connector.check()
    message = str(caught.value)
    assert caught.value.kind == "auth" and caught.value.stops_source and waits == []
    assert 'Azure source "Contoso", token endpoint' in message and all(w in message for w in words)
    assert CLIENT_SECRET not in message and change.get("key", CLIENT_SECRET) not in message


def test_azure_missing_role_names_it_and_where_to_grant_it(fake: FakeAzureCost, connect: Connect) -> None:
    fake.readers = set()
    connector, waits = connect()
    with pytest.raises(SourceError) as caught:
        pages(connector)
    message = str(caught.value)
    assert caught.value.kind == "permission" and waits == []
    assert "403 The client" in message and "AuthorizationFailed" not in message
    assert f"needs Cost Management Reader (or Reader) on {SUB_SCOPE}" in message
    assert "Access control (IAM)" in message


def test_azure_unknown_subscription_is_not_found(connect: Connect) -> None:
    connector, _ = connect(scope="/subscriptions/11111111-2222-3333-4444-555555555555")
    with pytest.raises(SourceError) as caught:
        pages(connector)
    assert caught.value.kind == "not_found" and "check the scope option" in str(caught.value)


@pytest.mark.parametrize(
    ("missing", "words"),
    [
        ("tenant_id", "--option tenant_id="),
        ("client_id", "--option client_id="),
        ("scope", "--option scope="),
    ],
)
def test_azure_missing_option_is_a_config_error(fake: FakeAzureCost, missing: str, words: str) -> None:
    config = SourceConfig("Contoso", CLIENT_SECRET, {k: v for k, v in options(fake).items() if k != missing})
    with pytest.raises(SourceError) as caught:
        source_type("azure").open(config)
    assert caught.value.kind == "config" and words in str(caught.value)


def test_azure_malformed_cost_names_page_row_and_column(fake: FakeAzureCost, connect: Connect) -> None:
    connector, _ = connect()
    fake.malform(at=2, row=3, column="Cost", value="abc")
    with pytest.raises(SourceError) as caught:
        pages(connector)
    message = str(caught.value)
    assert (caught.value.kind, caught.value.endpoint, caught.value.page) == ("malformed", "costs", 1)
    assert "costs (page 1) (2025-03-01..2025-03-07, part 2)" in message
    assert "properties.rows[3].Cost" in message and CLIENT_SECRET not in message


def test_azure_missing_usage_date_column_is_malformed(fake: FakeAzureCost, connect: Connect) -> None:
    connector, _ = connect()
    fake.malform(at=1, column="UsageDate", value=MISSING)
    with pytest.raises(SourceError, match=r"properties\.columns: no usagedate column") as caught:
        pages(connector)
    assert caught.value.kind == "malformed"


def test_azure_row_outside_the_window_is_malformed(fake: FakeAzureCost, connect: Connect) -> None:
    connector, _ = connect()
    fake.malform(at=1, row=0, column="UsageDate", value=20250412)
    with pytest.raises(
        SourceError, match=r"rows\[0\]\.UsageDate: 2025-04-12 is outside 2025-03-01\.\.2025-03-07"
    ):
        pages(connector)


def test_azure_check_reports_the_scope(connect: Connect) -> None:
    connector, _ = connect()
    seen = connector.check()
    assert seen.startswith(
        f"Azure Cost Management reachable for {SUB_SCOPE}; Cognitive Services, Foundry Models"
    )


_CELL = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=8), st.decimals(allow_nan=True), st.floats()
)
_PAGES = st.one_of(
    st.recursive(
        _CELL,
        lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3),
    ),
    st.fixed_dictionaries(
        {
            "properties": st.fixed_dictionaries(
                {
                    "columns": st.lists(
                        st.fixed_dictionaries(
                            {
                                "name": st.sampled_from(
                                    ["Cost", "UsageDate", "Meter", "Currency", "CostUSD", "X"]
                                )
                                | st.text(max_size=5)
                            }
                        ),
                        max_size=6,
                    ),
                    "rows": st.lists(st.lists(_CELL, max_size=6), max_size=4),
                    "nextLink": st.none() | st.text(max_size=12),
                }
            )
        }
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=40)
    | st.lists(
        st.sampled_from(
            ["gpt", "4o", "Inp", "Outp", "cached", "glbl", "1M", "Tokens", "Aud", "-", "Batch", "5.4"]
        ),
        max_size=7,
    ).map(" ".join)
)
def test_azure_any_meter_name_gives_a_kind_or_none(meter: str) -> None:
    found = meter_kind(meter)
    if found is not None:
        assert found.model and found.kind in (
            "input",
            "cached_input",
            "output",
            "audio_input",
            "audio_output",
        )
        found.tokens(Decimal("1.5")).validate()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_PAGES)
def test_azure_garbage_pages_give_only_source_errors(body: Any) -> None:
    try:
        rows, _link = read_page(body, Where("Contoso", "costs", 1), date(2025, 3, 1), date(2025, 3, 31))
    except SourceError as exc:
        assert exc.kind == "malformed" and "costs (page 1)" in str(exc)
        return
    assert all(r.day is not None and date(2025, 3, 1) <= r.day <= date(2025, 3, 31) for r in rows)


# ---- through the ledger -----------------------------------------------------------------------------


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_runner(
        db_url, tmp_path, monkeypatch, SPENDLEDGER_TIMEZONE="UTC", AZURE_CLIENT_SECRET=CLIENT_SECRET
    )


def add_source(cli: Cli, fake: FakeAzureCost) -> None:
    cli("sources", "add", "azure", "--name", "Contoso", "--key-env", "AZURE_CLIENT_SECRET",
        *(a for k, v in options(fake).items() for a in ("--option", f"{k}={v}")))  # fmt: skip


def reported(cli: Cli, first: str, last: str) -> dict[tuple[str, str, str, str], Decimal]:
    result = cli(
        "report", "--from", first, "--to", last, "--by", "account,project,model", "--granularity", "day",
        "--basis", "billed", "--format", "json",
    )  # fmt: skip
    out: dict[tuple[str, str, str, str], Decimal] = defaultdict(Decimal)
    for row in json.loads(result.stdout)["rows"]:
        out[(row["period"], row["account"] or "", row["project"] or "", row["model"] or "")] += Decimal(
            row["cost"]
        )
    return {k: cents(v) for k, v in out.items() if cents(v)}


def truth(fake: FakeAzureCost) -> dict[tuple[str, str, str, str], Decimal]:
    """The fake's cost by day × account × project × model, the model named as the ledger names it."""
    costs = by_ledger_model(fake.expected_costs())
    return {(d, "Contoso", p, m): cents(v) for (d, p, m), v in costs.items() if cents(v)}


def test_azure_sync_report_equals_the_fake_then_a_revision_replaces(cli: Cli, engine: Engine) -> None:
    with FakeAzureCost(start=START, days=7, page_rows=40) as fake:
        add_source(cli, fake)
        listed = cli("sources", "list").stdout
        assert "Xq8…" in listed and CLIENT_SECRET not in listed  # shown masked
        assert "OK: Azure Cost Management reachable" in cli("sources", "test", "Contoso").stdout
        cli("sync", "--since", "2025-03-01", "--until", "2025-03-07")
        assert reported(cli, "2025-03-01", "2025-03-07") == truth(fake)
        # each renamed model keeps the id Azure billed it as (gpt-4o-0806 → gpt-4o-2024-08-06)
        kept = kept_provider_models(engine)
        assert kept == renamed(m for _d, _p, m in fake.expected_costs()) and kept
        cli("sync", "--since", "2025-03-01", "--until", "2025-03-07")  # a second sync changes nothing
        assert reported(cli, "2025-03-01", "2025-03-07") == truth(fake)
        before = truth(fake)
        fake.revise("2025-03-04", factor=3)
        cli("sync", "--since", "2025-03-01", "--until", "2025-03-07")
        after = reported(cli, "2025-03-01", "2025-03-07")
    assert after == truth(fake) != before
    assert {k for k in after if after[k] != before.get(k)} == {k for k in after if k[0] == "2025-03-04"}


def test_azure_sync_interrupted_then_run_again_is_exact(cli: Cli, engine: Engine, settings: Settings) -> None:
    waits: list[float] = []
    policy = RetryPolicy(max_attempts=2, backoff=0.01, sleep=waits.append)
    with FakeAzureCost(start=START, days=40) as fake:  # one page a window
        add_source(cli, fake)
        fake.fail(500, at=2, times=None)  # the second 31-day window's query fails, and keeps failing
        broken = sync_source(engine, settings, "Contoso", since=START, until=date(2025, 4, 9), policy=policy)
        assert broken.error and "500" in broken.error and broken.pages == 1
        kept = reported(cli, "2025-03-01", "2025-04-09")
        whole = {k: cents(v) for k, v in truth(fake).items()}
        assert kept == {k: v for k, v in whole.items() if k[0] < "2025-04-01"}  # window 1, whole
        fake.clear_faults()
        again = sync_source(engine, settings, "Contoso", since=START, until=date(2025, 4, 9), policy=policy)
        assert again.ok and again.pages == 2
        assert reported(cli, "2025-03-01", "2025-04-09") == whole
