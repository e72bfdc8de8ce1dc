"""The OpenRouter connector against the fake management API, over real HTTP on 127.0.0.1.

Nothing of ours is mocked: the fake serves a seeded account and knows its own truth
(`expected_costs()`, `expected_tokens()`, `credits()`), so these tests compare what the
connector read, and what the ledger holds after `spendledger sync`, with what the account
spent. The connector's tests run on a fixed clock (the fake's `today` and the connector's
`clock` agree); the ledger's tests run the CLI on the real clock, the fake's default.
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
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from clirun import Cli, cli_runner
from fakes.openrouter import API_KEY, MANAGEMENT_KEY, MISSING, FakeOpenRouter
from ledger_models import by_ledger_model, kept_provider_models, renamed
from logins import text_of
from spendledger import sources_admin
from spendledger.config import Settings
from spendledger.model_names import canonical_model, canonicalise
from spendledger.records import (
    Basis,
    PricingStatus,
    TokenCounts,
    UsageRecord,
    cents,
    display_money,
    tags_problem,
)
from spendledger.secrets import mask
from spendledger.sources._http import RetryPolicy
from spendledger.sources.base import Page, SourceConfig, SourceError, connector_for
from spendledger.sources.openrouter import OpenRouterConnector
from spendledger.store.ledger import replace_buckets
from spendledger.store.sources import get_source
from spendledger.sync import sync_source

TODAY = date(2026, 6, 15)
NOW = datetime(2026, 6, 15, 8, 30, tzinfo=UTC)  # today, incomplete: never fetched
WINDOW = [TODAY - timedelta(days=30 - i) for i in range(30)]  # the last 30 completed UTC days


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@pytest.fixture
def fake() -> Iterator[FakeOpenRouter]:
    # 45 days of history up to yesterday: the 15 oldest are outside what /activity serves
    with FakeOpenRouter(today=TODAY, days=45, workspaces=2, endpoints=12) as server:
        yield server


Connect = Callable[..., tuple[OpenRouterConnector, list[float]]]


@pytest.fixture
def connect(fake: FakeOpenRouter) -> Iterator[Connect]:
    """Connectors on the fake at NOW, each with a policy that records its waits."""
    opened: list[OpenRouterConnector] = []

    def make(
        key: str = MANAGEMENT_KEY, now: datetime = NOW, **options: str
    ) -> tuple[OpenRouterConnector, list[float]]:
        waits: list[float] = []
        policy = RetryPolicy(max_attempts=4, backoff=0.5, sleep=waits.append)
        config = SourceConfig("Routed", key, {"base_url": fake.url, **options})
        opened.append(OpenRouterConnector(config, policy=policy, clock=lambda: now))
        return opened[-1], waits

    yield make
    for connector in opened:
        connector.close()


def pages(
    connector: OpenRouterConnector, since: date = TODAY - timedelta(days=90), until: date = TODAY
) -> list[Page]:
    """Every page of [since, until] (inclusive), as the sync asks: up to tomorrow's midnight."""
    return list(connector.fetch("activity", midnight(since), midnight(until) + timedelta(days=1)))


def records(connector: OpenRouterConnector, **window: date) -> list[UsageRecord]:
    return [r for p in pages(connector, **window) for r in p.records]


def by_day_workspace_model(recs: list[UsageRecord]) -> dict[tuple[str, str, str], Decimal]:
    out: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for r in recs:
        out[(r.start.date().isoformat(), r.workspace, r.model)] += r.cost or Decimal(0)
    return dict(out)


def activity_dates(fake: FakeOpenRouter) -> list[str]:
    return [q["date"][0] for path, q in fake.requests if path == "/api/v1/activity"]


# ---- the window, the pages and the figures ------------------------------------------------------


def test_openrouter_fetches_each_served_day_once_and_never_today(
    fake: FakeOpenRouter, connect: Connect
) -> None:
    connector, _ = connect()
    got = pages(connector)  # asked for 90 days up to and including today
    assert [p.number for p in got] == list(range(1, 31))
    assert [p.buckets for p in got] == [[(midnight(d), midnight(d) + timedelta(days=1))] for d in WINDOW]
    assert activity_dates(fake) == [d.isoformat() for d in WINDOW]  # nothing older, not today
    sent = [q for path, q in fake.requests if path == "/api/v1/activity"]
    assert all(q == {"date": [q["date"][0]], "group_by": ["workspace"]} for q in sent)


@pytest.mark.parametrize(
    ("since", "until", "days"),
    [
        (TODAY - timedelta(days=60), TODAY - timedelta(days=31), []),  # wholly older: kept as synced
        (TODAY - timedelta(days=33), TODAY - timedelta(days=28), WINDOW[:3]),
        (TODAY - timedelta(days=3), TODAY, WINDOW[-3:]),  # today is incomplete: not asked
        (TODAY, TODAY + timedelta(days=2), []),
    ],
)
def test_openrouter_asks_only_inside_the_window(
    fake: FakeOpenRouter, connect: Connect, since: date, until: date, days: list[date]
) -> None:
    connector, _ = connect()
    got = pages(connector, since=since, until=until)
    assert [start.date() for p in got for start, _ in p.buckets] == days
    assert activity_dates(fake) == [d.isoformat() for d in days]


def test_openrouter_costs_equal_the_fake_to_the_cent(fake: FakeOpenRouter, connect: Connect) -> None:
    connector, _ = connect()
    recs = records(connector)
    expected = fake.expected_costs()
    got = {k: v for k, v in by_day_workspace_model(recs).items() if v or k in expected}
    assert {k: cents(v) for k, v in got.items()} == {k: cents(v) for k, v in expected.items()}
    assert got == expected  # and exactly: JSON numbers are decoded as Decimal, never through float
    assert any(v != cents(v) for v in expected.values())  # the seed has sub-cent amounts
    assert {w for _d, w, _m in expected} == set(fake.workspaces)
    for r in recs:
        assert (r.basis, r.pricing_status, r.provider, r.currency) == (
            Basis.BILLED,
            PricingStatus.PROVIDER,
            "openrouter",
            "USD",
        )
        assert (r.source, r.account, r.project, r.api_key_id, r.user) == ("Routed", "Routed", "", "", "")
        assert r.key == f"activity|{r.workspace}|{r.model}|{r.tags['endpoint_id']}"
        assert r.end is not None and r.end - r.start == timedelta(days=1) and r.start.tzinfo == UTC


def test_openrouter_requests_and_tokens_equal_the_fake(fake: FakeOpenRouter, connect: Connect) -> None:
    connector, _ = connect()
    got: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for r in records(connector):
        r.tokens.validate()
        assert (r.tokens.cached_input, r.tokens.audio_input, r.tokens.cache_write_5m) == (0, 0, 0)
        sums = got[(r.start.date().isoformat(), r.workspace, r.model)]
        for i, value in enumerate((r.requests, r.tokens.input, r.tokens.output, r.tokens.reasoning)):
            sums[i] += value
    expected = {
        k: [v["requests"], v["prompt_tokens"], v["completion_tokens"], v["reasoning_tokens"]]
        for k, v in fake.expected_tokens().items()
    }
    assert dict(got) == expected
    assert any(s[3] for s in expected.values()) and any(not s[3] for s in expected.values())


def test_openrouter_model_is_the_slug_and_the_upstream_provider_a_tag(
    fake: FakeOpenRouter, connect: Connect
) -> None:
    connector, _ = connect()
    recs = records(connector)
    sonnet = [r for r in recs if r.model == "anthropic/claude-sonnet-4.5"]
    assert {r.tags["provider_name"] for r in sonnet} == {"Anthropic", "Amazon Bedrock"}
    assert {r.tags["model_permaslug"] for r in sonnet} == {"anthropic/claude-4.5-sonnet-20250929"}
    assert len({r.tags["endpoint_id"] for r in sonnet}) == 2  # one model, two endpoints: two records
    # BYOK: the upstream inference is the user's own bill; only OpenRouter's fee is the cost
    byok = [r for r in recs if "byok_usage_inference" in r.tags]
    assert byok and all(r.tags["provider_name"] == "Azure" for r in byok)
    assert all(
        r.cost == (Decimal(r.tags["byok_usage_inference"]) * Decimal("0.05")).quantize(Decimal("1e-9"))
        for r in byok
    )
    free = [r for r in recs if r.model.endswith(":free")]
    assert free and all(r.cost == 0 and r.requests > 0 for r in free)
    assert all(tags_problem(r.tags) is None for r in recs)


def test_openrouter_same_ids_twice_in_a_day_are_summed(connect: Connect) -> None:
    connector, _ = connect()
    day = WINDOW[0]
    item = {
        "date": f"{day} 00:00:00",  # a midnight timestamp is that day too
        "model": "openai/gpt-4.1",
        "model_permaslug": "openai/gpt-4.1-2025-04-14",
        "endpoint_id": "ep-1",
        "provider_name": "OpenAI",
        "usage": Decimal("0.015"),
        "byok_usage_inference": Decimal(0),
        "requests": 5,
        "prompt_tokens": 50,
        "completion_tokens": 125,
        "reasoning_tokens": 25,
    }
    page = connector.page({"data": [item, item | {"usage": Decimal("0.0025"), "requests": 1}]}, day, 1)
    (record,) = page.records
    # $0.015 + $0.0025 = $0.0175; 5 + 1 requests; tokens doubled
    assert record.cost == Decimal("0.0175") and record.requests == 6
    assert record.tokens == TokenCounts(input=100, output=250, reasoning=50)
    assert record.key == "activity||openai/gpt-4.1|ep-1" and record.workspace == ""


def test_openrouter_reasoning_is_clamped_to_the_completion(connect: Connect) -> None:
    connector, _ = connect()
    item = {"date": str(WINDOW[0]), "model": "m", "endpoint_id": "e", "usage": 1, "requests": 1,
            "prompt_tokens": 3, "completion_tokens": 10, "reasoning_tokens": 40}  # fmt: skip
    (record,) = connector.page({"data": [item]}, WINDOW[0], 1).records
    assert record.tokens == TokenCounts(input=3, output=10, reasoning=10)


def test_openrouter_revised_day_replaces_its_figures(fake: FakeOpenRouter, connect: Connect) -> None:
    connector, _ = connect()
    before = {(r.start, r.key): r.cost for r in records(connector)}
    fake.revise(WINDOW[4], 3)
    after_records = records(connector)
    after = {(r.start, r.key): r.cost for r in after_records}
    assert before.keys() == after.keys()  # the same natural keys: the new version replaces the old
    changed = {start.date() for (start, key), cost in after.items() if before[(start, key)] != cost}
    assert changed == {WINDOW[4]}
    assert all(after[k] == 3 * c for k, c in before.items() if k[0].date() == WINDOW[4] and c)
    assert {k: v for k, v in by_day_workspace_model(after_records).items() if v} == {
        k: v for k, v in fake.expected_costs().items() if v
    }


def test_openrouter_check_shows_the_accounts_own_credits(fake: FakeOpenRouter, connect: Connect) -> None:
    connector, _ = connect()
    bought, spent = fake.credits()
    # the whole history and what came before it, not only the 30 days the ledger can hold
    assert spent > fake.expected_total() + fake.spent_before
    seen = connector.check()
    assert seen == (
        f"OpenRouter account reachable with a management key; {display_money(spent, 'USD')} used of "
        f"$25,000.00 bought, {display_money(bought - spent, 'USD')} left (OpenRouter's all-time credits)"
    )
    assert connector_for("openrouter") is OpenRouterConnector


# ---- errors and throttling ------------------------------------------------------------------------


def test_openrouter_invalid_key_is_an_auth_error(connect: Connect) -> None:
    key = "sk-or-v1-wrongwrongwrongwrong0000"
    connector, waits = connect(key=key)
    with pytest.raises(SourceError) as caught:
        connector.check()
    message = str(caught.value)
    assert caught.value.kind == "auth" and caught.value.stops_source and waits == []
    assert message.startswith(
        'OpenRouter source "Routed", credits: 401 User not found.: the key is not valid'
    )
    assert "create a management key in OpenRouter's Settings → Management keys" in message
    assert key not in message


def test_openrouter_ordinary_api_key_is_told_to_use_a_management_key(connect: Connect) -> None:
    connector, _ = connect(key=API_KEY)
    with pytest.raises(SourceError) as caught:
        pages(connector)
    message = str(caught.value)
    assert (caught.value.kind, caught.value.endpoint, caught.value.page) == ("permission", "activity", 1)
    assert "403 Only management keys can perform this operation" in message
    assert "not a management key; create a management key in OpenRouter's Settings → " in message
    assert "Settings → Provisioning/Management keys and set it as this source's key" in message
    assert API_KEY not in message


def test_openrouter_429_honours_retry_after(fake: FakeOpenRouter, connect: Connect) -> None:
    connector, waits = connect()
    fake.fail(429, at=3, retry_after=7, path="/activity")
    assert len(pages(connector)) == 30
    assert waits == [7.0]
    assert activity_dates(fake).count(WINDOW[2].isoformat()) == 2  # the throttled day, asked again


def test_openrouter_throttled_all_along_still_reads_everything(
    fake: FakeOpenRouter, connect: Connect
) -> None:
    connector, waits = connect()
    fake.throttle(every=4, retry_after=2)
    recs = records(connector)
    assert waits == [2.0] * 9  # requests 4, 8, ..., 36 were refused: 30 days took 39 requests
    assert {k: v for k, v in by_day_workspace_model(recs).items() if v} == {
        k: v for k, v in fake.expected_costs().items() if v
    }


def test_openrouter_rate_limited_forever_says_so(fake: FakeOpenRouter, connect: Connect) -> None:
    connector, waits = connect()
    fake.fail(429, times=None, path="/activity")
    with pytest.raises(SourceError) as caught:
        pages(connector)
    assert caught.value.kind == "rate_limited" and not caught.value.stops_source
    assert waits == [0.5, 1.0, 2.0]  # no Retry-After: backoff, 4 attempts
    assert "the provider keeps rate-limiting; sync again later" in str(caught.value)


def test_openrouter_malformed_usage_names_endpoint_page_day_and_field(
    fake: FakeOpenRouter, connect: Connect
) -> None:
    connector, _ = connect()
    fake.malform(WINDOW[1], field="usage", value="abc", index=2)
    fetched = connector.fetch("activity", midnight(WINDOW[0]), midnight(TODAY))
    assert next(fetched).number == 1
    with pytest.raises(SourceError) as caught:
        next(fetched)
    message = str(caught.value)
    assert (caught.value.kind, caught.value.endpoint, caught.value.page) == ("malformed", "activity", 2)
    assert f"activity (page 2) for {WINDOW[1]}: unexpected data at data[2].usage" in message
    assert "'abc'" in message and MANAGEMENT_KEY not in message


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("endpoint_id", MISSING, "data[0].endpoint_id: Field required"),
        ("prompt_tokens", -3, "data[0].prompt_tokens: Input should be greater than or equal to 0"),
        ("usage", "NaN", "data[0].usage"),
        ("date", str(WINDOW[0]), f"data[0].date: {WINDOW[0]} is not that day"),  # a record outside its bucket
    ],
)
def test_openrouter_malformed_items_are_refused(
    fake: FakeOpenRouter, connect: Connect, field: str, value: object, problem: str
) -> None:
    connector, _ = connect()
    fake.malform(WINDOW[3], field=field, value=value)
    with pytest.raises(SourceError) as caught:
        pages(connector)
    assert caught.value.kind == "malformed" and caught.value.page == 4
    assert problem in str(caught.value)


# garbage: any JSON, and JSON shaped almost like an answer
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=30),
    st.decimals(allow_nan=True, allow_infinity=True), st.floats(allow_nan=True, allow_infinity=True),
)  # fmt: skip
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
)
_FIELDS = ("date", "model", "model_permaslug", "endpoint_id", "provider_name", "usage",
           "byok_usage_inference", "requests", "prompt_tokens", "completion_tokens", "reasoning_tokens",
           "workspace_id")  # fmt: skip
_DAY_TEXT = st.sampled_from(
    [str(WINDOW[0]), f"{WINDOW[0]} 00:00:00", f"{WINDOW[0]}T00:00:00Z", str(WINDOW[1])]
)
_VALUE = st.one_of(_SCALARS, _DAY_TEXT, st.integers(0, 10**16), st.text(min_size=60, max_size=300))
_ITEM = st.dictionaries(st.sampled_from(_FIELDS), _VALUE, max_size=len(_FIELDS))


# mostly sound values, sometimes not: a whole item then validates often enough
_COUNT = st.one_of(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(-2, 10**16), _SCALARS)
_MONEY = st.one_of(
    st.decimals(-10, 10, places=9),
    st.decimals(),
    st.integers(-(10**10), 10**10),
    st.floats(),
    st.text(max_size=9),
)
_TEXT = st.one_of(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40), st.text(max_size=260))
_NEAR = st.fixed_dictionaries(  # nearly an item: the path past validation gets exercised too
    {"date": _DAY_TEXT, "model": _TEXT, "endpoint_id": _TEXT, "usage": _MONEY,
     "requests": _COUNT, "prompt_tokens": _COUNT, "completion_tokens": _COUNT},
    optional={"reasoning_tokens": _COUNT, "byok_usage_inference": _MONEY, "workspace_id": _TEXT,
              "provider_name": _TEXT, "model_permaslug": _TEXT},
)  # fmt: skip
_PAGES = st.one_of(
    _JSON,
    st.fixed_dictionaries({"data": st.lists(st.one_of(_ITEM, _NEAR), max_size=4)}),
    st.fixed_dictionaries({"data": st.lists(_NEAR, min_size=1, max_size=3)}),
)


def test_openrouter_garbage_pages_give_a_source_error_or_sound_records(connect: Connect) -> None:
    connector, _ = connect()
    passed: list[int] = []

    @settings(max_examples=250, deadline=None)
    @given(body=_PAGES)
    def check(body: Any) -> None:
        try:
            page = connector.page(body, WINDOW[0], 1)
        except SourceError as exc:
            assert exc.kind == "malformed" and exc.page == 1
            return
        passed.append(len(page.records))
        for r in page.records:  # whatever passes can be stored
            r.tokens.validate()
            assert r.cost is not None and r.cost.is_finite() and abs(r.cost) <= 10**9
            assert r.start.date() == WINDOW[0] and len(r.key) <= 400 and len(r.model) <= 200
            assert tags_problem(r.tags) is None

    check()
    assert any(passed), "no garbage page ever validated: the success path went untested"


# ---- the fake itself, as an oracle --------------------------------------------------------------


def test_openrouter_fake_serves_the_window_and_groups_as_asked(fake: FakeOpenRouter) -> None:
    headers = {"Authorization": f"Bearer {MANAGEMENT_KEY}"}
    with httpx.Client(base_url=fake.url, headers=headers) as client:
        for day in (TODAY, WINDOW[0] - timedelta(days=1), "2026-6-1"):
            refused = client.get("/activity", params={"date": str(day)})
            assert refused.status_code == 400 and "Invalid date" in refused.json()["error"]["message"]
        assert client.get("/activity", params={"date": str(WINDOW[0]), "limit": 5}).status_code == 400
        assert client.get("/activity", params={"group_by": "model"}).status_code == 400
        flat = client.get("/activity", params={"date": str(WINDOW[0])}).json()["data"]
        split = client.get("/activity", params={"date": str(WINDOW[0]), "group_by": "workspace"}).json()[
            "data"
        ]
        one = fake.workspaces[1]
        scoped = client.get("/activity", params={"date": str(WINDOW[0]), "workspace_id": one}).json()["data"]
        everything = client.get("/activity").json()["data"]
    assert flat and all("workspace_id" not in it for it in flat)
    assert len({(it["model"], it["endpoint_id"]) for it in flat}) == len(flat) < len(split)
    total = sum(Decimal(str(it["usage"])) for it in flat)
    assert cents(total) == cents(sum(Decimal(str(it["usage"])) for it in split))
    assert cents(total) == cents(
        sum(v for (d, _w, _m), v in fake.expected_costs().items() if d == str(WINDOW[0]))
    )
    assert scoped and len(scoped) < len(split)
    assert {it["date"] for it in everything} == {str(d) for d in WINDOW}  # no date: the whole window


# ---- through the ledger: `spendledger sources add|test`, `sync`, `report` -------------------------


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    env = {"OPENROUTER_MANAGEMENT_KEY": MANAGEMENT_KEY, "OPENROUTER_API_KEY": API_KEY}
    return cli_runner(db_url, tmp_path, monkeypatch, SPENDLEDGER_TIMEZONE="UTC", **env)


@pytest.fixture
def live() -> Iterator[FakeOpenRouter]:
    """45 days of an account up to yesterday, on the real clock (as the CLI's connector runs)."""
    with FakeOpenRouter(days=45, workspaces=3, endpoints=10) as server:
        yield server


def ledger(cli: Cli, fake: FakeOpenRouter) -> dict[tuple[str, str, str], Decimal]:
    """The billed ledger by day × workspace × model, through `spendledger report --format json`."""
    first, last = fake.history()[0], fake.today
    result = cli(
        "report", "--from", str(first), "--to", str(last), "--by", "workspace,model", "--granularity", "day",
        "--basis", "billed", "--format", "json",
    )  # fmt: skip
    out: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for row in json.loads(result.stdout)["rows"]:
        out[(row["period"], row["workspace"] or "", row["model"] or "")] += Decimal(row["cost"])
    return {k: cents(v) for k, v in out.items() if v}


def providers(fake: FakeOpenRouter) -> dict[tuple[str, str, str], Decimal]:
    """The fake's cost by day × workspace × model, the model named as the ledger names it."""
    return {k: cents(v) for k, v in by_ledger_model(fake.expected_costs()).items() if v}


def add(cli: Cli, fake: FakeOpenRouter, env: str = "OPENROUTER_MANAGEMENT_KEY") -> Any:
    return cli("sources", "add", "openrouter", "--name", "Routed", "--key-env", env,
               "--option", f"base_url={fake.url}")  # fmt: skip


def test_sync_openrouter_totals_equal_the_providers_to_the_cent(
    cli: Cli, live: FakeOpenRouter, engine: Engine
) -> None:
    assert "openrouter" in cli("sources", "types").stdout
    assert "Added openrouter source 'Routed'" in add(cli, live).stdout
    tested = cli("sources", "test", "Routed").stdout
    assert "OK: OpenRouter account reachable with a management key" in " ".join(tested.split())
    first = cli("sync")  # the first sync reaches back 90 days: only the 30 served are asked
    assert "Routed: 30 pages" in first.stdout
    expected = providers(live)
    assert ledger(cli, live) == expected and len({d for d, _w, _m in expected}) == 30
    # each renamed model keeps the id OpenRouter billed it as (openai/gpt-4.1 → gpt-4.1)
    kept = kept_provider_models(engine)
    assert kept == renamed(m for _d, _w, m in live.expected_costs()) and kept
    cli("sync")  # a second run changes nothing
    assert ledger(cli, live) == expected
    live.revise(live.served()[-2], 3)  # a revised day replaces the old figures, never adds to them
    cli("sync")
    assert ledger(cli, live) == providers(live) != expected
    # the report's tokens and requests by model are the provider's too, on the same rows
    report = cli("report", "--from", str(live.history()[0]), "--to", str(live.today), "--by", "model",
                 "--basis", "billed", "--format", "json")  # fmt: skip
    tokens: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for (_d, _w, model), v in live.expected_tokens().items():
        for i, name in enumerate(("requests", "prompt_tokens", "reasoning_tokens")):
            tokens[canonical_model(model)][i] += v[name]
    rows = json.loads(report.stdout)["rows"]
    assert {r["model"]: [r["requests"], r["input_tokens"], r["reasoning_tokens"]] for r in rows} == tokens
    with engine.connect() as conn:  # the provider's own running total, as the last sync read it
        note = get_source(conn, "Routed").provider_note
    bought, spent = live.credits()
    assert note is not None and note.text.startswith(
        f"{display_money(spent, 'USD')} used of $25,000.00 bought"
    )
    assert bought == Decimal(25000)


def test_sync_openrouter_interrupted_then_rerun_is_exact(cli: Cli, live: FakeOpenRouter) -> None:
    add(cli, live)
    ninth = live.served()[8]
    live.malform(ninth, field="usage", value="abc")  # the sync stops on the 9th day's page
    failed = cli("sync", ok=False)
    assert failed.exit_code == 1 and f"activity (page 9) for {ninth}" in " ".join(failed.stderr.split())
    kept, first_eight = ledger(cli, live), {str(d) for d in live.served()[:8]}
    assert {d for d, _w, _m in kept} == first_eight  # the pages it completed are kept, whole
    assert kept == {k: v for k, v in providers(live).items() if k[0] in first_eight}
    live.clear_faults()
    cli("sync")  # run again: it starts over from the same window, and ends exact
    assert ledger(cli, live) == providers(live)


def test_sync_openrouter_keeps_days_older_than_the_window(
    cli: Cli, live: FakeOpenRouter, engine: Engine, settings: Settings
) -> None:
    add(cli, live)
    # 15 days ago, the 15 oldest days of the history were still served: a sync then stored them,
    # each record under the ledger's model name as sync._store_page does
    earlier = datetime.now(UTC) - timedelta(days=15)
    live.today = earlier.date()
    config = SourceConfig("Routed", MANAGEMENT_KEY, {"base_url": live.url})
    connector = OpenRouterConnector(config, clock=lambda: earlier)
    with engine.begin() as conn:
        for page in connector.fetch("activity", midnight(live.history()[0]), midnight(live.today)):
            for record in page.records:
                canonicalise(record)
            replace_buckets(conn, source="Routed", endpoint="activity", buckets=page.buckets,
                            records=page.records, tz=settings.tz)  # fmt: skip
    connector.close()
    then = ledger(cli, live)
    live.today = datetime.now(UTC).date()  # today: those days are out of the window
    older = {str(d) for d in live.history() if d < live.window()[0]}
    assert older and older <= {d for d, _w, _m in then}
    cli("sync", "--since", str(live.history()[0]))  # asks from the start of the history
    now = ledger(cli, live)
    assert {k: v for k, v in now.items() if k[0] in older} == {k: v for k, v in then.items() if k[0] in older}
    assert {k: v for k, v in now.items() if k[0] not in older} == providers(live)
    assert {d for d, _w, _m in now} == {str(d) for d in live.history()}  # every day of it, once


def test_sync_openrouter_ordinary_key_fails_naming_the_management_key(cli: Cli, live: FakeOpenRouter) -> None:
    add(cli, live, env="OPENROUTER_API_KEY")
    tested = cli("sources", "test", "Routed", ok=False)
    synced = cli("sync", ok=False)
    for result in (tested, synced):
        text = " ".join(result.stderr.split())
        assert result.exit_code == 1 and "403" in text and "Provisioning/Management keys" in text
        assert API_KEY not in result.output
    assert mask(API_KEY) in cli("sources", "list").stdout


def test_sources_page_shows_the_providers_own_total(
    admin_client: TestClient, engine: Engine, settings: Settings, live: FakeOpenRouter
) -> None:
    sources_admin.add(engine, settings, provider="openrouter", name="Routed", key=MANAGEMENT_KEY,
                      options={"base_url": live.url})  # fmt: skip
    assert "Provider's own total" not in text_of(admin_client.get("/sources").text)
    assert sync_source(engine, settings, "Routed").ok
    _bought, spent = live.credits()
    page = text_of(admin_client.get("/sources").text)
    assert f"Provider's own total {display_money(spent, 'USD')} used of $25,000.00 bought" in page
    assert "OpenRouter" in page and MANAGEMENT_KEY not in admin_client.get("/sources").text
    sources_admin.remove(engine, "Routed", purge=True)  # the note goes with its source
    sources_admin.add(engine, settings, provider="openrouter", name="Routed", key=MANAGEMENT_KEY, options={})
    with engine.connect() as conn:
        assert get_source(conn, "Routed").provider_note is None
