"""The Anthropic connector, end to end against the fake Admin API over real HTTP.

The fake serves a seeded organisation and knows its own truth, so the tests compare the
connector's records with it to the cent: money per day × workspace × model from the cost
report, tokens (after the disjoint → contract conversion) from the usage report, and
Claude Code records that add neither. Retries never sleep: the policy records its waits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from fakes.anthropic_admin import ADMIN_KEY, MEMBER_KEY, FakeAnthropicAdmin
from fakes.anthropic_data import API_KEYS, QUIET_DAY, WORKSPACES
from spendledger.records import Basis, PricingStatus, TokenCounts, UsageRecord
from spendledger.sources._http import RetryPolicy
from spendledger.sources.anthropic import AnthropicConnector
from spendledger.sources.base import Page, SourceConfig, SourceError

START = datetime(2025, 1, 1, tzinfo=UTC)
DAYS = 35  # the fake's default: more than the 31 daily buckets of one page
END = START + timedelta(days=DAYS)
QUIET = (START + timedelta(days=QUIET_DAY), START + timedelta(days=QUIET_DAY + 1))


@pytest.fixture
def fake() -> Iterator[FakeAnthropicAdmin]:
    with FakeAnthropicAdmin() as server:
        yield server


@pytest.fixture
def waits() -> list[float]:
    return []


def connect(
    fake: FakeAnthropicAdmin, waits: list[float], *, key: str = ADMIN_KEY, **options: str
) -> AnthropicConnector:
    config = SourceConfig(name="Acme", key=key, options={"base_url": fake.url, **options})
    return AnthropicConnector(config, policy=RetryPolicy(sleep=waits.append))


@pytest.fixture
def connector(fake: FakeAnthropicAdmin, waits: list[float]) -> Iterator[AnthropicConnector]:
    with closing(connect(fake, waits)) as conn:
        yield conn


def fetch(connector: AnthropicConnector, *endpoints: str) -> list[Page]:
    return [page for endpoint in endpoints for page in connector.fetch(endpoint, START, END)]


def records(pages: Iterable[Page]) -> list[UsageRecord]:
    return [record for page in pages for record in page.records]


def where(record: UsageRecord) -> tuple[str, str, str]:
    return (record.start.date().isoformat(), record.workspace, record.model)


def costs_by(items: Iterable[UsageRecord]) -> dict[tuple[str, str, str], Decimal]:
    totals: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for record in items:
        assert isinstance(record.cost, Decimal)
        totals[where(record)] += record.cost
    return {k: v for k, v in totals.items() if v}


def tokens_by(items: Iterable[UsageRecord]) -> dict[tuple[str, str, str], TokenCounts]:
    totals: dict[tuple[str, str, str], TokenCounts] = defaultdict(TokenCounts)
    for record in items:
        totals[where(record)] += record.tokens
    return {k: v for k, v in totals.items() if v != TokenCounts()}


def failure(connector: AnthropicConnector, endpoint: str = "cost_report") -> SourceError:
    with pytest.raises(SourceError) as caught:
        fetch(connector, endpoint)
    assert ADMIN_KEY not in str(caught.value) and MEMBER_KEY not in str(caught.value)
    return caught.value


def test_anthropic_check_says_reachable_with_the_live_workspaces(connector: AnthropicConnector) -> None:
    assert connector.check() == "Anthropic organisation reachable; 2 workspaces"


@pytest.mark.parametrize("endpoint", ["cost_report", "usage/messages"])
def test_anthropic_follows_next_page_to_the_end(
    connector: AnthropicConnector, fake: FakeAnthropicAdmin, endpoint: str
) -> None:
    pages = fetch(connector, endpoint)

    assert [p.number for p in pages] == [1, 2]  # 35 daily buckets at 31 a page
    buckets = [span for page in pages for span in page.buckets]
    assert buckets == [(START + timedelta(days=i), START + timedelta(days=i + 1)) for i in range(DAYS)]
    assert all(start.tzinfo == UTC and end.tzinfo == UTC for start, end in buckets)
    first, second = fake.requests_to(endpoint.replace("usage/", "usage_report/"))
    assert first["starting_at"] == ["2025-01-01T00:00:00Z"] and first["ending_at"] == ["2025-02-05T00:00:00Z"]
    assert first["bucket_width"] == ["1d"] and first["limit"] == ["31"] and "page" not in first
    assert "workspace_id" in first["group_by[]"] and second["page"][0].startswith("page_")


def test_anthropic_costs_equal_the_fake_to_the_cent(
    connector: AnthropicConnector, fake: FakeAnthropicAdmin
) -> None:
    costs = records(fetch(connector, "cost_report"))

    assert costs_by(costs) == fake.expected_costs()
    assert sum(fake.expected_costs().values()) > 0
    for record in costs:
        assert (record.basis, record.pricing_status) == (Basis.BILLED, PricingStatus.PROVIDER)
        assert (record.requests, record.tokens, record.currency) == (0, TokenCounts(), "USD")
        assert record.key.startswith("cost_report|") and "description" in record.tags


def test_anthropic_cost_amounts_are_cents_turned_into_exact_dollars(connector: AnthropicConnector) -> None:
    costs = records(fetch(connector, "cost_report"))

    fractions = [r.cost for r in costs if r.cost is not None and r.cost != r.cost.quantize(Decimal("0.01"))]
    assert fractions, "the fake sends fractional cents, as Anthropic does"
    code = [r for r in costs if r.tags.get("cost_type") == "code_execution"]
    assert code and all(r.model == "" for r in code)


def test_anthropic_tokens_equal_after_the_disjoint_conversion(
    connector: AnthropicConnector, fake: FakeAnthropicAdmin
) -> None:
    usage = records(fetch(connector, "usage/messages"))

    assert tokens_by(usage) == fake.expected_tokens()
    for record in usage:
        record.tokens.validate()  # input counts cache reads and writes: the ledger's contract
        assert (record.cost, record.requests, record.pricing_status) == (
            Decimal(0),
            0,
            PricingStatus.PROVIDER,
        )
    assert any(r.service_tier == "priority" for r in usage), "Priority Tier shows in usage, never in costs"
    assert any(r.batch for r in usage) and any(r.tags.get("web_search_requests") for r in usage)


def test_anthropic_default_and_archived_workspaces_are_named(connector: AnthropicConnector) -> None:
    found = records(fetch(connector, "cost_report", "usage/messages"))

    default = [r for r in found if r.tags["workspace_id"] is None]
    assert default and {r.workspace for r in default} == {"Default workspace"}
    assert all(r.key.split("|")[1 if r.key.startswith("cost") else 2] == "default" for r in default)
    assert {r.workspace for r in found} == {"Default workspace", "Production", "Research", "Legacy"}


def test_anthropic_names_go_in_fields_never_in_keys(
    connector: AnthropicConnector, fake: FakeAnthropicAdmin
) -> None:
    usage = records(fetch(connector, "cost_report", "usage/messages"))

    names = [*WORKSPACES.values(), *(name for name, _, _ in API_KEYS.values())]
    assert not [r.key for r in usage if set(r.key.split("|")) & set(names)]
    backend = [r for r in usage if r.api_key_id == "apikey_01Backend"]
    assert backend and {r.tags["api_key_name"] for r in backend} == {"prod-backend"}
    workbench = [r for r in usage if r.key.startswith("usage/") and not r.api_key_id]
    assert workbench and {r.workspace for r in workbench} == {"Research"}
    assert len(fake.requests_to("workspaces")) == 1 and len(fake.requests_to("api_keys")) == 1  # cached


@pytest.mark.parametrize("endpoint", ["cost_report", "usage/messages", "usage/claude_code"])
def test_anthropic_keys_are_unique_within_each_bucket(connector: AnthropicConnector, endpoint: str) -> None:
    found = records(fetch(connector, endpoint))

    keys = [(r.start, r.key) for r in found]
    assert found and len(keys) == len(set(keys))
    assert all(r.key.startswith(f"{endpoint}|") and r.source == "Acme" and r.account == "Acme" for r in found)


@pytest.mark.parametrize("endpoint", ["cost_report", "usage/messages", "usage/claude_code"])
def test_anthropic_empty_buckets_are_listed(connector: AnthropicConnector, endpoint: str) -> None:
    pages = fetch(connector, endpoint)

    assert QUIET in [span for page in pages for span in page.buckets]
    assert not [r for r in records(pages) if r.start == QUIET[0]]


def test_anthropic_revised_day_comes_back_with_its_new_figures(
    connector: AnthropicConnector, fake: FakeAnthropicAdmin
) -> None:
    before = costs_by(records(fetch(connector, "cost_report")))
    fake.revise("2025-01-10", scale=3)
    fake.revise("2025-01-11", scale=0)
    pages = fetch(connector, "cost_report")

    after = costs_by(records(pages))
    assert after == fake.expected_costs() and after != before
    emptied = (datetime(2025, 1, 11, tzinfo=UTC), datetime(2025, 1, 12, tzinfo=UTC))
    assert emptied in [span for page in pages for span in page.buckets]
    assert not [key for key in after if key[0] == "2025-01-11"]


def test_anthropic_rate_limit_honours_retry_after(
    connector: AnthropicConnector, fake: FakeAnthropicAdmin, waits: list[float]
) -> None:
    fake.fail(1, 429, retry_after="7")

    assert costs_by(records(fetch(connector, "cost_report"))) == fake.expected_costs()
    assert waits == [7.0]


def test_anthropic_server_errors_are_retried_then_succeed(
    connector: AnthropicConnector, fake: FakeAnthropicAdmin, waits: list[float]
) -> None:
    fake.fail(1, 529, times=2)

    assert tokens_by(records(fetch(connector, "usage/messages"))) == fake.expected_tokens()
    assert waits == [1.0, 2.0]


def test_anthropic_server_errors_forever_give_up_as_server(fake: FakeAnthropicAdmin) -> None:
    fake.fail(1, 500, times=None)
    waits: list[float] = []
    config = SourceConfig(name="Acme", key=ADMIN_KEY, options={"base_url": fake.url})
    with closing(AnthropicConnector(config, policy=RetryPolicy(max_attempts=3, sleep=waits.append))) as conn:
        error = failure(conn)

    assert error.kind == "server" and not error.stops_source
    assert 'source "Acme"' in str(error) and "500" in str(error) and "after 3 attempts" in str(error)
    assert len(waits) == 2


def test_anthropic_wrong_key_is_an_auth_error_asking_for_an_admin_key(
    fake: FakeAnthropicAdmin, waits: list[float]
) -> None:
    with closing(connect(fake, waits, key="sk-ant-api03-notadmin-9f8e7d")) as conn:
        error = failure(conn)
        with pytest.raises(SourceError) as checked:
            conn.check()

    assert error.kind == checked.value.kind == "auth" and error.stops_source
    message = str(error)
    assert 'Anthropic source "Acme"' in message and "Admin API key (sk-ant-admin" in message
    assert "sk-ant-api03-notadmin-9f8e7d" not in message + str(checked.value) and waits == []


def test_anthropic_non_admin_key_is_a_permission_error(fake: FakeAnthropicAdmin, waits: list[float]) -> None:
    with closing(connect(fake, waits, key=MEMBER_KEY)) as conn:
        error = failure(conn, "usage/messages")

    assert error.kind == "permission" and error.stops_source and "Admin API key" in str(error)


def test_anthropic_base_url_with_v1_is_not_found_with_advice(
    fake: FakeAnthropicAdmin, waits: list[float]
) -> None:
    config = SourceConfig(name="Acme", key=ADMIN_KEY, options={"base_url": f"{fake.url}/v1"})
    with closing(AnthropicConnector(config, policy=RetryPolicy(sleep=waits.append))) as conn:
        error = failure(conn)

    assert error.kind == "not_found" and "without /v1" in str(error)


@pytest.mark.parametrize(
    ("served", "endpoint", "page", "field"),
    [
        ("cost_report", "cost_report", 2, ".results.0.amount"),
        ("usage_report/messages", "usage/messages", 2, ".results.0.output_tokens"),
        ("workspaces", "cost_report", 1, "data.0.name"),
    ],
)
def test_anthropic_malformed_page_names_endpoint_page_and_field(
    connector: AnthropicConnector, fake: FakeAnthropicAdmin, served: str, endpoint: str, page: int, field: str
) -> None:
    fake.malform(served, page)
    completed: list[Page] = []
    with pytest.raises(SourceError) as caught:
        completed.extend(connector.fetch(endpoint, START, END))

    error = caught.value
    assert error.kind == "malformed" and error.stops_source and error.page == page
    name = endpoint if served != "workspaces" else "workspaces"
    assert error.endpoint == name and f"{name} (page {page})" in str(error) and field in str(error)
    assert len(completed) == (page - 1 if name == endpoint else 0)  # the pages before it were whole


def test_anthropic_malformed_claude_code_actor_names_the_page(waits: list[float]) -> None:
    with FakeAnthropicAdmin(max_rows_per_page=2) as fake, closing(connect(fake, waits)) as conn:
        fake.malform("usage_report/claude_code", 2)
        error = failure(conn, "usage/claude_code")

    assert error.kind == "malformed" and error.page == 2 and "usage/claude_code (page 2)" in str(error)
    assert "data.0.actor" in str(error) and "email_address" in str(error)


def test_anthropic_claude_code_never_counts_money_or_tokens_twice(
    connector: AnthropicConnector, fake: FakeAnthropicAdmin
) -> None:
    pages = fetch(connector, "cost_report", "usage/messages", "usage/claude_code")
    found = records(pages)

    assert costs_by(found) == fake.expected_costs()
    assert tokens_by(found) == fake.expected_tokens()
    code = [r for r in found if r.key.startswith("usage/claude_code|")]
    assert {r.user for r in code} == {
        "grace@example.com",
        "ci-pipeline",
        "ada@example.com",
        "linus@example.com",
    }
    assert all(
        (r.cost, r.tokens, r.requests, r.feature) == (Decimal(0), TokenCounts(), 0, "claude-code")
        for r in code
    )
    # Grace's Claude Code is her key's API usage: counting it again would double it
    grace: dict[tuple[str, str], int] = defaultdict(int)
    for r in code:
        if r.user == "grace@example.com" and r.model:
            grace[(r.start.date().isoformat(), r.model)] += sum(
                r.tags[f"{kind}_tokens"] for kind in ("input", "output", "cache_read", "cache_creation")
            )
    own: dict[tuple[str, str], int] = defaultdict(int)
    for r in found:
        if r.api_key_id == "apikey_01GraceCC":
            own[(r.start.date().isoformat(), r.model)] += r.tokens.input + r.tokens.output
    assert grace and grace == own
    estimates = [Decimal(r.tags["estimated_cost"]) for r in code if "estimated_cost" in r.tags]
    assert estimates and sum(estimates) > 0


def test_anthropic_claude_code_follows_pages_within_a_day(waits: list[float]) -> None:
    with FakeAnthropicAdmin(max_rows_per_page=1) as fake, closing(connect(fake, waits)) as conn:
        pages = list(conn.fetch("usage/claude_code", START, START + timedelta(days=2)))
        actor_days = len(fake.data.claude_code[date(2025, 1, 1)]) + len(
            fake.data.claude_code[date(2025, 1, 2)]
        )

    assert [p.number for p in pages] == list(range(1, actor_days + 1))
    buckets = [span for page in pages for span in page.buckets]
    assert buckets == [
        (START, START + timedelta(days=1)),
        (START + timedelta(days=1), START + timedelta(days=2)),
    ]
    assert len([r for r in records(pages) if r.model == ""]) == actor_days  # one activity record each


def test_anthropic_workspace_filter_limits_both_reports(fake: FakeAnthropicAdmin, waits: list[float]) -> None:
    with closing(connect(fake, waits, workspace_ids="wrkspc_01Prod", account="acme-org")) as conn:
        found = records(fetch(conn, "cost_report", "usage/messages"))

    assert {r.workspace for r in found} == {"Production"} and {r.account for r in found} == {"acme-org"}
    assert costs_by(found) == {k: v for k, v in fake.expected_costs().items() if k[1] == "Production"}
    assert fake.requests_to("usage_report/messages")[0]["workspace_ids[]"] == ["wrkspc_01Prod"]


def test_anthropic_key_never_appears_in_errors(fake: FakeAnthropicAdmin, waits: list[float]) -> None:
    messages = []
    for key, status in [
        ("sk-ant-api03-secret-1", 401),
        (MEMBER_KEY, 403),
        (ADMIN_KEY, 429),
        (ADMIN_KEY, 503),
    ]:
        if status >= 429:
            fake.fail(1, status, times=RetryPolicy().max_attempts, retry_after="1")
        with closing(connect(fake, waits, key=key)) as conn, pytest.raises(SourceError) as caught:
            conn.check()
        messages.append((key, str(caught.value)))
        assert f": {status} " in str(caught.value)

    assert not [message for key, message in messages if key in message or ADMIN_KEY in message]


def test_anthropic_fake_validates_limits_per_bucket_width(fake: FakeAnthropicAdmin) -> None:
    headers = {"x-api-key": ADMIN_KEY, "anthropic-version": "2023-06-01"}
    with httpx.Client(base_url=fake.url, headers=headers) as client:

        def get(path: str, **params: str) -> httpx.Response:
            query = {"starting_at": "2025-01-01T00:00:00Z", **params}
            return client.get(f"/v1/organizations/{path}", params=query)

        too_many = get("usage_report/messages", limit="32")
        hourly = get("usage_report/messages", bucket_width="1h", limit="168", group_by="model")
        assert get("usage_report/messages", bucket_width="1m", limit="1441").status_code == 400
        assert get("cost_report", bucket_width="1h").status_code == 400

    assert too_many.status_code == 400 and too_many.json()["error"]["type"] == "invalid_request_error"
    assert hourly.status_code == 200 and len(hourly.json()["data"]) == 168
    results = hourly.json()["data"][0]["results"]
    assert results and all(r["model"] and r["workspace_id"] is None for r in results)  # plain group_by works


def test_anthropic_unknown_endpoint_is_a_config_error(connector: AnthropicConnector) -> None:
    with pytest.raises(SourceError) as caught:
        connector.fetch("usage/completions", START, END)

    assert caught.value.kind == "config" and "cost_report" in str(caught.value)
