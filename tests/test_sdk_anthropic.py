"""The Anthropic instrumentation, with the real `anthropic` package against the fake server.

Anthropic counts the prompt cache apart from `input_tokens`; the ledger counts it inside
(records.py). The fake reports, in Anthropic's shape, 1 300 uncached input tokens, 1 000
cache reads, 700 cache writes (500 with the 5-minute TTL, 200 with the 1-hour one) and
400 output tokens: the ledger must hold 3 000 input tokens of which 1 000 cached reads,
500 + 200 writes, and 400 output.

Catalogue prices of claude-haiku-4-5 (genai-prices 0.2.3, read with
`Pricer().rates_for(...)`), per million: $1 input, $0.10 cache read, $1.25 5-minute
cache write, $2 1-hour cache write, $5 output.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import anthropic
import pytest

import spendledger
from fakes.chat import ChatServer, Usage
from sdk_ledger import Ledger, anthropic_client, sdk_ledger

HAIKU = "claude-haiku-4-5-20251001"
LEDGER_HAIKU = "claude-haiku-4-5"  # the ledger's name of it (model_names.py); the id is a tag
MESSAGES: list[Any] = [{"role": "user", "content": "Summarise the ledger."}]
TOKENS = {
    "input_tokens": 3000,
    "cached_input_tokens": 1000,
    "cache_write_5m_tokens": 500,
    "cache_write_1h_tokens": 200,
    "output_tokens": 400,
}
# 1 300 uncached × $1/M + 1 000 reads × $0.10/M + 500 5-min writes × $1.25/M
# + 200 1-h writes × $2/M + 400 output × $5/M
# = $0.0013 + $0.0001 + $0.000625 + $0.0004 + $0.002
HAIKU_COST = Decimal("0.004425")


@pytest.fixture
def ledger(tmp_path: Path, sqlite_template: Path) -> Iterator[Ledger]:
    with sdk_ledger(tmp_path, sqlite_template) as ledger:
        yield ledger


@pytest.fixture
def srv() -> Iterator[ChatServer]:
    usage = Usage(input=3000, cached=1000, cache_write_5m=500, cache_write_1h=200, output=400)
    with ChatServer(model=HAIKU, usage=usage) as srv:
        yield srv


@pytest.fixture
def plain(srv: ChatServer) -> Iterator[anthropic.Anthropic]:
    with anthropic_client(srv) as client:
        yield client


@pytest.fixture
def client(srv: ChatServer) -> Iterator[anthropic.Anthropic]:
    with anthropic_client(srv) as client:
        yield spendledger.instrument(client, project="support-bot")


def tokens_of(row: dict[str, Any]) -> dict[str, int]:
    return {name: row[name] for name in TOKENS}


def ask(client: Any, **more: Any) -> Any:
    return client.messages.create(model="claude-haiku-4-5", max_tokens=256, messages=MESSAGES, **more)


def test_anthropic_message_converts_the_disjoint_cache_counts(
    srv: ChatServer, ledger: Ledger, client: anthropic.Anthropic
) -> None:
    with spendledger.context(user="u_17", feature="summarise"):
        message = ask(client)

    assert message.usage.input_tokens == 1300  # Anthropic's count: the uncached part
    row = ledger.one()
    assert (row["provider"], row["model"], row["status"]) == ("anthropic", LEDGER_HAIKU, "ok")
    assert row["tags"]["provider_model"] == HAIKU
    assert tokens_of(row) == TOKENS
    assert (row["cost"], row["pricing_status"]) == (HAIKU_COST, "priced")
    assert (row["project"], row["user"], row["feature"]) == ("support-bot", "u_17", "summarise")
    assert (row["request_id"], row["service_tier"]) == (srv.last_request_id, "standard")
    assert 0 <= row["latency_ms"] < 10_000


def test_anthropic_cache_writes_without_a_ttl_split_are_5_minute_writes(
    srv: ChatServer, ledger: Ledger, client: anthropic.Anthropic
) -> None:
    srv.raw_usage = {
        "input_tokens": 1300,
        "cache_read_input_tokens": 1000,
        "cache_creation_input_tokens": 700,  # no `cache_creation` object: older API versions
        "output_tokens": 400,
    }
    ask(client)

    row = ledger.one()
    assert (row["input_tokens"], row["cache_write_5m_tokens"], row["cache_write_1h_tokens"]) == (3000, 700, 0)
    # as above, with the 200 1-h writes at the 5-minute rate: 700 × $1.25/M = $0.000875
    assert row["cost"] == Decimal("0.004275")


def test_anthropic_thinking_tokens_are_reasoning_within_output(
    srv: ChatServer, ledger: Ledger, client: anthropic.Anthropic
) -> None:
    srv.raw_usage = {**srv.usage.anthropic(), "output_tokens_details": {"thinking_tokens": 150}}
    ask(client)

    row = ledger.one()
    assert (row["output_tokens"], row["reasoning_tokens"]) == (400, 150)
    assert row["cost"] == HAIKU_COST  # thinking is billed as output: the same cost


def test_anthropic_streams_show_the_caller_the_bare_events(
    srv: ChatServer, ledger: Ledger, plain: anthropic.Anthropic, client: anthropic.Anthropic
) -> None:
    bare = [event.model_dump() for event in ask(plain, stream=True)]
    with plain.messages.stream(model="claude-haiku-4-5", max_tokens=256, messages=MESSAGES) as stream:
        bare_text = list(stream.text_stream)

    events = [event.model_dump() for event in ask(client, stream=True)]
    with client.messages.stream(model="claude-haiku-4-5", max_tokens=256, messages=MESSAGES) as stream:
        text = list(stream.text_stream)
        assert stream.request_id == srv.last_request_id  # the SDK's own properties still work
    with client.messages.stream(model="claude-haiku-4-5", max_tokens=256, messages=MESSAGES) as stream:
        final = stream.get_final_message()

    assert events == bare and text == bare_text == ["The", " ledger", " balances"]
    assert final.usage.output_tokens == 400
    rows = ledger.rows()
    assert [(r["status"], r["model"], r["cost"]) for r in rows] == [("ok", LEDGER_HAIKU, HAIKU_COST)] * 3
    assert all(tokens_of(r) == TOKENS for r in rows)
    assert [r["request_id"] for r in rows] == srv.request_ids[2:]


def test_anthropic_async_messages_and_streams_are_recorded(srv: ChatServer, ledger: Ledger) -> None:
    async def calls() -> list[str]:
        async with anthropic.AsyncAnthropic(
            base_url=srv.anthropic_url, api_key="sk-ant-test", max_retries=0
        ) as bare:
            client = spendledger.instrument(bare, feature="async")
            await ask(client)
            async for _ in await ask(client, stream=True):
                pass
            async with client.messages.stream(
                model="claude-haiku-4-5", max_tokens=256, messages=MESSAGES
            ) as s:
                text = [t async for t in s.text_stream]
            async with client.messages.stream(
                model="claude-haiku-4-5", max_tokens=256, messages=MESSAGES
            ) as s:
                await s.get_final_message()
            raw = await client.messages.with_raw_response.create(
                model="claude-haiku-4-5", max_tokens=256, messages=MESSAGES
            )
            await raw.parse()
            return text

    assert asyncio.run(calls()) == ["The", " ledger", " balances"]
    rows = ledger.rows()
    assert [(r["status"], r["feature"], r["cost"]) for r in rows] == [("ok", "async", HAIKU_COST)] * 5
    assert all(tokens_of(r) == TOKENS for r in rows)
    assert [r["request_id"] for r in rows] == srv.request_ids


def test_anthropic_error_is_reraised_unchanged_and_recorded(
    srv: ChatServer, ledger: Ledger, plain: anthropic.Anthropic, client: anthropic.Anthropic
) -> None:
    srv.fail(429)
    with pytest.raises(anthropic.RateLimitError) as bare:
        ask(plain)
    srv.fail(429)
    with pytest.raises(anthropic.RateLimitError) as seen:
        ask(client)
    srv.fail(400)
    helper = client.messages.stream(model="claude-haiku-4-5", max_tokens=256, messages=MESSAGES)
    with pytest.raises(anthropic.BadRequestError), helper:  # the helper sends on entering
        pass

    assert type(seen.value) is type(bare.value)
    assert (seen.value.status_code, seen.value.body["error"]) == (429, bare.value.body["error"])
    rows = ledger.rows()
    assert [(r["status"], r["model"], r["input_tokens"], r["cost"]) for r in rows] == [
        ("error", "claude-haiku-4-5", 0, 0)
    ] * 2
    assert [r["request_id"] for r in rows] == srv.request_ids[1:]


def test_anthropic_stream_closed_early_keeps_the_usage_seen(
    srv: ChatServer, ledger: Ledger, client: anthropic.Anthropic
) -> None:
    srv.chunks, srv.chunk_delay = 400, 0.005  # a long, slow answer
    stream = ask(client, stream=True)
    assert [next(stream).type for _ in range(3)] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
    ]
    stream.close()
    with client.messages.stream(model="claude-haiku-4-5", max_tokens=256, messages=MESSAGES) as helper:
        next(iter(helper.text_stream))
    stream = ask(client, stream=True)
    next(stream)
    del stream
    gc.collect()

    rows = ledger.rows()
    assert [r["status"] for r in rows] == ["cancelled"] * 3
    for row in rows:  # message_start told the input side; the output so far was 1 token
        assert (row["input_tokens"], row["cached_input_tokens"], row["output_tokens"]) == (3000, 1000, 1)
    assert [r["request_id"] for r in rows] == srv.request_ids
