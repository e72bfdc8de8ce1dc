"""The OpenAI connector against the fake Admin API, over real HTTP on 127.0.0.1.

Nothing of ours is mocked: the fake serves a seeded organisation and knows its own truth
(`expected_costs()`, `expected_tokens()`), so these tests compare what the connector read
with what the organisation spent. Retries never sleep: the policy records the waits.
These tests do not touch the database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from fakes.openai_admin import ADMIN_KEY, MISSING, PROJECT_KEY, FakeOpenAIAdmin
from spendledger.records import Basis, PricingStatus, TokenCounts, UsageRecord, cents
from spendledger.sources._http import RetryPolicy
from spendledger.sources.base import Page, SourceConfig, SourceError, connector_for
from spendledger.sources.openai import OpenAIConnector, model_of_line_item

START = date(2025, 3, 1)
DAYS = 7
SINCE = datetime(2025, 3, 1, tzinfo=UTC)
UNTIL = SINCE + timedelta(days=DAYS)


@pytest.fixture
def fake() -> Iterator[FakeOpenAIAdmin]:
    # 2 buckets a page: every endpoint takes 4 pages for the week; day 3 has no usage at all
    org = {"start": START, "days": DAYS, "projects": 3, "archived": 1, "models": 6, "density": 0.8}
    with FakeOpenAIAdmin(**org, empty_days=(3,), page_buckets=2) as server:
        yield server


Connect = Callable[..., tuple[OpenAIConnector, list[float]]]


@pytest.fixture
def connect(fake: FakeOpenAIAdmin) -> Iterator[Connect]:
    """Connectors on the fake, each with a policy that records its waits instead of sleeping."""
    opened: list[OpenAIConnector] = []

    def make(key: str = ADMIN_KEY, **options: str) -> tuple[OpenAIConnector, list[float]]:
        waits: list[float] = []
        policy = RetryPolicy(max_attempts=4, backoff=0.5, sleep=waits.append)
        config = SourceConfig("Edugami", key, {"base_url": fake.url, **options})
        opened.append(OpenAIConnector(config, policy=policy))
        return opened[-1], waits

    yield make
    for connector in opened:
        connector.close()


def pages(connector: OpenAIConnector, endpoint: str) -> list[Page]:
    return list(connector.fetch(endpoint, SINCE, UNTIL))


def records(connector: OpenAIConnector, *endpoints: str) -> list[UsageRecord]:
    return [r for e in endpoints or connector.endpoints() for p in pages(connector, e) for r in p.records]


def by_day_project_model(recs: list[UsageRecord]) -> dict[tuple[str, str, str], list[UsageRecord]]:
    out: dict[tuple[str, str, str], list[UsageRecord]] = defaultdict(list)
    for r in recs:
        out[(r.start.date().isoformat(), r.project, r.model)].append(r)
    return out


# ---- paging and the figures -------------------------------------------------------------------


@pytest.mark.parametrize(("endpoint", "limit"), [("costs", "180"), ("usage/completions", "31")])
def test_openai_follows_every_page(
    fake: FakeOpenAIAdmin, connect: Connect, endpoint: str, limit: str
) -> None:
    connector, _ = connect()
    got = pages(connector, endpoint)
    assert [p.number for p in got] == [1, 2, 3, 4]
    days = [start for p in got for start, _end in p.buckets]
    assert days == [SINCE + timedelta(days=d) for d in range(DAYS)]  # empty day 3 included
    assert all(
        end - start == timedelta(days=1) and start.tzinfo == UTC for p in got for start, end in p.buckets
    )
    sent = [q for path, q in fake.requests if path == f"/v1/organization/{endpoint}"]
    assert len(sent) == 4 and "page" not in sent[0] and all("page" in q for q in sent[1:])
    assert len({q["page"][0] for q in sent[1:]}) == 3  # a new cursor each time
    assert sent[0]["limit"] == [limit] and sent[0]["bucket_width"] == ["1d"]
    assert sent[0]["start_time"] == [str(int(SINCE.timestamp()))] and sent[0]["end_time"] == [
        str(int(UNTIL.timestamp()))
    ]
    assert "project_id" in sent[0]["group_by"] and "api_key_id" in sent[0]["group_by"]


def test_openai_costs_equal_the_fake_to_the_cent(fake: FakeOpenAIAdmin, connect: Connect) -> None:
    connector, _ = connect()
    recs = records(connector, "costs")
    got = {
        k: sum((r.cost or Decimal(0) for r in rs), Decimal(0)) for k, rs in by_day_project_model(recs).items()
    }
    expected = fake.expected_costs()
    assert {k: cents(v) for k, v in got.items()} == {k: cents(v) for k, v in expected.items()}
    assert got == expected  # and exactly: amounts are decoded as Decimal, never through float
    assert any(v != cents(v) for v in expected.values())  # the seed has sub-cent decimals
    for r in recs:
        assert (r.basis, r.pricing_status, r.requests, r.tokens) == (
            Basis.BILLED,
            PricingStatus.PROVIDER,
            0,
            TokenCounts(),
        )
        assert (r.source, r.account, r.provider, r.currency) == ("Edugami", "Edugami", "openai", "USD")
        assert r.key == f"costs|{r.tags['project_id']}|{r.tags['line_item']}|{r.api_key_id}"
        assert r.end is not None and r.end - r.start == timedelta(days=1) and r.start.tzinfo == UTC


def test_openai_tokens_equal_the_fake(fake: FakeOpenAIAdmin, connect: Connect) -> None:
    connector, _ = connect()
    usage = [r for r in records(connector, *connector.endpoints()[1:]) if r.tokens != TokenCounts()]
    got = {k: sum((r.tokens for r in rs), TokenCounts()) for k, rs in by_day_project_model(usage).items()}
    assert got == {k: TokenCounts(**v) for k, v in fake.expected_tokens().items()}
    assert any(t.cached_input and t.cache_write_5m for t in got.values())
    assert any(t.audio_input and t.audio_output for t in got.values())
    for r in usage:
        r.tokens.validate()
        assert (r.basis, r.pricing_status, r.cost) == (Basis.BILLED, PricingStatus.PROVIDER, Decimal(0))
    completions = [r for r in usage if r.key.startswith("usage/completions|")]
    expected_requests = sum(c[-1] for d in range(DAYS) for _p, _m, _b, c in fake.uses(d))
    assert sum(r.requests for r in completions) == expected_requests
    assert any(r.batch for r in completions) and {r.service_tier for r in completions} == {
        "default",
        "priority",
    }


def test_openai_usage_endpoints_keep_their_units(connect: Connect) -> None:
    connector, _ = connect()
    recs = records(connector)
    assert {r.key.split("|")[0] for r in recs} == set(connector.endpoints())
    images = [r for r in recs if r.key.startswith("usage/images|")]
    assert all(r.tags["images"] > 0 and r.tags["size"] == "1024x1024" and r.requests > 0 for r in images)
    stores = [r for r in recs if r.key.startswith("usage/vector_stores|")]
    assert all(r.tags["usage_bytes"] > 0 and r.requests == 0 and r.model == "" for r in stores)
    searches = [r for r in recs if r.key.startswith("usage/file_search_calls|")]
    assert all(r.requests > 0 and r.tags["vector_store_id"].startswith("vs_") for r in searches)
    assert all(r.tags["num_requests"] > 0 for r in recs if r.key.startswith("usage/web_search_calls|"))
    assert all(r.tags["characters"] > 0 for r in recs if r.key.startswith("usage/audio_speeches|"))
    assert all(r.user == "" for r in recs)


def test_openai_revised_day_replaces_its_figures(fake: FakeOpenAIAdmin, connect: Connect) -> None:
    connector, _ = connect()
    before = {(r.start, r.key): r.cost for r in records(connector, "costs")}
    fake.revise("2025-03-02", factor=3)
    after_records = records(connector, "costs")
    after = {(r.start, r.key): r.cost for r in after_records}
    assert before.keys() == after.keys()  # the same natural keys: the new version replaces the old
    assert {start.date() for (start, key), cost in after.items() if before[(start, key)] != cost} == {
        date(2025, 3, 2)
    }
    assert all(after[k] == 3 * cost for k, cost in before.items() if k[0].date() == date(2025, 3, 2))
    got = by_day_project_model(after_records)
    assert {
        k: sum((r.cost or Decimal(0) for r in rs), Decimal(0)) for k, rs in got.items()
    } == fake.expected_costs()


# ---- names and line items -----------------------------------------------------------------------


def test_openai_archived_project_names_resolved(fake: FakeOpenAIAdmin, connect: Connect) -> None:
    connector, _ = connect()
    recs = records(connector, "costs", "usage/completions")
    archived = fake.projects[-1]
    assert archived.archived and any(r.project == archived.name for r in recs)
    assert {r.project for r in recs} == {p.name for p in fake.projects}
    listing = [q for path, q in fake.requests if path == "/v1/organization/projects"]
    assert listing and all(q["include_archived"] == ["true"] for q in listing)  # once per connector
    assert len(listing) == 1
    names = {k: n for p in fake.projects for k, n in p.keys}
    assert all(r.tags["api_key_name"] == names[r.api_key_id] for r in recs if r.api_key_id)
    assert not any(p.name in r.key for r in recs for p in fake.projects)  # names never in keys


@pytest.mark.parametrize(
    ("line_item", "model"),
    [
        ("gpt-4o-2024-08-06, input", "gpt-4o-2024-08-06"),
        ("gpt-4o-mini-2024-07-18, cached input", "gpt-4o-mini-2024-07-18"),
        ("o3, output", "o3"),
        ("ft:gpt-4o-mini-2024-07-18:acme::9xYz, input", "ft:gpt-4o-mini-2024-07-18:acme::9xYz"),
        ("whisper-1", "whisper-1"),
        ("web search tool calls", ""),
        ("vector store storage", ""),
        ("Code Interpreter sessions", ""),
        ("storage", ""),
        ("", ""),
    ],
)
def test_openai_line_item_gives_its_model(line_item: str, model: str) -> None:
    assert model_of_line_item(line_item) == model


def test_openai_tool_line_items_keep_the_raw_item(fake: FakeOpenAIAdmin, connect: Connect) -> None:
    connector, _ = connect()
    recs = records(connector, "costs")
    tools = [r for r in recs if r.model == ""]
    assert {r.tags["line_item"] for r in tools} >= {"vector store storage", "file search tool calls"}
    assert all(r.tags["line_item"] in r.key for r in tools)
    assert any(r.model == "text-embedding-3-small" for r in recs)
    assert all(r.tags["quantity_unit"] == "tokens" for r in recs if r.tags["line_item"].endswith(", input"))


def test_openai_project_ids_option_filters(fake: FakeOpenAIAdmin, connect: Connect) -> None:
    wanted = fake.projects[:2]
    connector, _ = connect(project_ids=f"{wanted[0].id}, {wanted[1].id}")
    recs = records(connector, "costs", "usage/completions")
    assert recs and {r.project for r in recs} == {p.name for p in wanted}
    sent = next(q for path, q in fake.requests if path == "/v1/organization/costs")
    assert sent["project_ids"] == [p.id for p in wanted]


def test_openai_check_reports_the_organisation(connect: Connect) -> None:
    connector, _ = connect()
    assert connector.check() == "OpenAI organisation reachable; 3 projects (1 archived)"
    assert connector_for("openai") is OpenAIConnector


# ---- retries and errors -------------------------------------------------------------------------


def test_openai_429_honours_retry_after(fake: FakeOpenAIAdmin, connect: Connect) -> None:
    connector, waits = connect()
    fake.fail(429, at=2, retry_after=7, path="/costs")
    assert len(pages(connector, "costs")) == 4
    assert waits == [7.0]


def test_openai_5xx_retried_with_backoff(fake: FakeOpenAIAdmin, connect: Connect) -> None:
    connector, waits = connect()
    fake.fail(503, times=2, path="/usage/completions")
    assert len(pages(connector, "usage/completions")) == 4
    assert waits == [0.5, 1.0]


def test_openai_5xx_forever_is_a_server_error(fake: FakeOpenAIAdmin, connect: Connect) -> None:
    connector, waits = connect()
    fake.fail(500, times=None, path="/costs")
    with pytest.raises(SourceError) as caught:
        pages(connector, "costs")
    assert caught.value.kind == "server" and not caught.value.stops_source
    assert waits == [0.5, 1.0, 2.0]  # 4 attempts
    assert 'OpenAI source "Edugami", costs (page 1)' in str(caught.value)
    assert ADMIN_KEY not in str(caught.value)


def test_openai_wrong_key_is_an_auth_error(connect: Connect) -> None:
    key = "sk-admin-wrongwrongwrongwrong0000"
    connector, waits = connect(key=key)
    with pytest.raises(SourceError) as caught:
        connector.check()
    message = str(caught.value)
    assert caught.value.kind == "auth" and caught.value.stops_source and waits == []
    assert 'source "Edugami"' in message and "admin key (sk-admin-…)" in message and "Admin keys" in message
    assert key not in message


def test_openai_project_key_is_a_permission_error(connect: Connect) -> None:
    connector, _ = connect(key=PROJECT_KEY)
    with pytest.raises(SourceError) as caught:
        pages(connector, "costs")
    assert caught.value.kind == "permission"
    assert "read access to usage and costs" in str(caught.value) and PROJECT_KEY not in str(caught.value)


def test_openai_malformed_amount_names_endpoint_page_and_field(
    fake: FakeOpenAIAdmin, connect: Connect
) -> None:
    connector, _ = connect()
    fake.malform("costs", page=2, field="amount.value", value="abc")
    fetched = connector.fetch("costs", SINCE, UNTIL)
    assert next(fetched).number == 1
    with pytest.raises(SourceError) as caught:
        next(fetched)
    message = str(caught.value)
    assert (caught.value.kind, caught.value.endpoint, caught.value.page) == ("malformed", "costs", 2)
    assert "costs (page 2)" in message and fake.malformed_paths == ["data[0].results[0].amount.value"]
    assert "data[0].results[0].amount.value" in message and ADMIN_KEY not in message


def test_openai_missing_required_field_is_malformed(fake: FakeOpenAIAdmin, connect: Connect) -> None:
    connector, _ = connect()
    fake.malform("usage/completions", page=3, field="input_tokens", value=MISSING)
    with pytest.raises(SourceError) as caught:
        pages(connector, "usage/completions")
    assert caught.value.kind == "malformed" and "usage/completions (page 3)" in str(caught.value)
    assert f"{fake.malformed_paths[0]}: Field required" in str(caught.value)


def test_openai_amount_as_a_string_is_accepted(fake: FakeOpenAIAdmin, connect: Connect) -> None:
    connector, _ = connect()
    fake.malform("costs", page=1, field="amount.value", value="0.123456789")
    first = pages(connector, "costs")[0]
    assert first.records[0].cost == Decimal("0.123456789")


def test_openai_audio_is_clamped_to_the_uncached_input(fake: FakeOpenAIAdmin, connect: Connect) -> None:
    connector, _ = connect()
    fake.malform("usage/completions", page=1, field="input_audio_tokens", value=10**12)
    tokens = pages(connector, "usage/completions")[0].records[0].tokens
    tokens.validate()
    assert tokens.audio_input == tokens.input - tokens.cached_input - tokens.cache_write_5m


def test_openai_unknown_endpoint_is_a_config_error(connect: Connect) -> None:
    connector, _ = connect()
    with pytest.raises(SourceError, match="no endpoint 'usage/teleport'") as caught:
        pages(connector, "usage/teleport")
    assert caught.value.kind == "config"


# ---- the fake itself, as an oracle ---------------------------------------------------------------


def test_openai_fake_validates_limit_and_accepts_bracketed_arrays(fake: FakeOpenAIAdmin) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    params = {"start_time": int(SINCE.timestamp()), "end_time": int(UNTIL.timestamp()), "limit": 32}
    with httpx.Client(base_url=fake.url, headers=headers) as client:
        too_many = client.get("/organization/usage/completions", params=params)
        assert too_many.status_code == 400 and too_many.json()["error"]["param"] == "limit"
        grouped = client.get(
            "/organization/costs", params={**params, "limit": 7, "group_by[]": "line_item"}
        ).json()
        flat = client.get("/organization/costs", params={**params, "limit": 7}).json()
    assert all(r["line_item"] and r["project_id"] is None for b in grouped["data"] for r in b["results"])
    assert all(len(b["results"]) <= 1 for b in flat["data"])  # no group_by: one total per bucket
    total = sum(Decimal(str(r["amount"]["value"])) for b in flat["data"] for r in b["results"])
    assert cents(total) == cents(
        sum(v for (d, _p, _m), v in fake.expected_costs().items() if d < "2025-03-03")
    )
