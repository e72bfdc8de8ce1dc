"""The OpenAI instrumentation, with the real `openai` package against the fake chat server.

Calls go through an instrumented client (and, where the point is that the caller sees
nothing different, through a bare one as well); the SDK writes them into a real SQLite
ledger (`database_url=`), read back here: tokens as the fake reported them, the cost
the ledger priced, attribution, status, latency and request id.

Catalogue prices (genai-prices 0.2.3, read with `Pricer().rates_for(...)`), per million:
gpt-4o-mini $0.15 input, $0.075 cached input, $0.60 output; o4-mini $1.10, $0.275,
$4.40; text-embedding-3-small $0.02 input.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest

import spendledger
from fakes.chat import ChatServer, Usage
from sdk_ledger import Ledger, openai_client, sdk_ledger
from spendledger.sdk import _usage
from spendledger.sdk._context import Attribution
from spendledger.sdk._events import TOKEN_FIELDS, make_event

MINI = "gpt-4o-mini-2024-07-18"  # what the fake answers: the model as returned is priced
MESSAGES: list[Any] = [{"role": "user", "content": "Summarise the ledger."}]
# 800 uncached × $0.15/M + 200 cached × $0.075/M + 500 output × $0.60/M
# = $0.00012 + $0.000015 + $0.0003
MINI_COST = Decimal("0.000435")
TOKENS = {"input_tokens": 1000, "cached_input_tokens": 200, "output_tokens": 500, "reasoning_tokens": 0}


@pytest.fixture
def ledger(tmp_path: Path, sqlite_template: Path) -> Iterator[Ledger]:
    with sdk_ledger(tmp_path, sqlite_template) as ledger:
        yield ledger


@pytest.fixture
def srv() -> Iterator[ChatServer]:
    with ChatServer(model=MINI, usage=Usage(input=1000, cached=200, output=500)) as srv:
        yield srv


@pytest.fixture
def plain(srv: ChatServer) -> Iterator[openai.OpenAI]:
    with openai_client(srv) as client:
        yield client


@pytest.fixture
def client(srv: ChatServer) -> Iterator[openai.OpenAI]:
    with openai_client(srv) as client:
        yield spendledger.instrument(client, project="support-bot")


def tokens_of(row: dict[str, Any]) -> dict[str, int]:
    return {name: row[name] for name in TOKENS}


def dumps(items: Any) -> list[dict[str, Any]]:
    return [item.model_dump() for item in items]


def test_openai_chat_records_tokens_cost_and_attribution(
    srv: ChatServer, ledger: Ledger, client: openai.OpenAI
) -> None:
    with spendledger.context(user="u_17", feature="summarise", tags={"env": "test"}):
        completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    assert completion.usage is not None and completion.usage.prompt_tokens == 1000
    row = ledger.one()
    assert (row["provider"], row["model"], row["basis"]) == ("openai", MINI, "metered")
    assert tokens_of(row) == TOKENS
    assert (row["cost"], row["pricing_status"]) == (MINI_COST, "priced")
    assert (row["project"], row["user"], row["feature"], row["tags"]) == (
        "support-bot",
        "u_17",
        "summarise",
        {"env": "test"},
    )
    assert (row["status"], row["request_id"], row["service_tier"]) == ("ok", srv.last_request_id, "default")
    assert row["batch"] is False and 0 <= row["latency_ms"] < 10_000


def test_openai_chat_stream_hides_the_usage_chunk_it_asked_for(
    srv: ChatServer, ledger: Ledger, plain: openai.OpenAI, client: openai.OpenAI
) -> None:
    bare = dumps(plain.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
    seen = dumps(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))

    assert seen == bare and all(chunk["choices"] for chunk in seen)
    assert "stream_options" not in srv.requests[0].body
    assert srv.requests[1].body["stream_options"] == {"include_usage": True}
    # the caller's other stream options are kept
    client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_obfuscation": False}
    ).close()
    assert srv.requests[2].body["stream_options"] == {"include_obfuscation": False, "include_usage": True}
    first = ledger.rows()[0]
    assert tokens_of(first) == TOKENS and first["cost"] == MINI_COST
    assert (first["status"], first["model"], first["request_id"]) == ("ok", MINI, srv.request_ids[1])


def test_openai_chat_stream_keeps_the_usage_chunk_the_caller_asked_for(
    ledger: Ledger, plain: openai.OpenAI, client: openai.OpenAI
) -> None:
    ask: Any = {"include_usage": True}
    bare = dumps(
        plain.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options=ask)
    )
    seen = dumps(
        client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options=ask
        )
    )

    assert seen == bare
    assert seen[-1]["choices"] == [] and seen[-1]["usage"]["prompt_tokens"] == 1000
    assert tokens_of(ledger.one()) == TOKENS


def test_openai_stream_attribution_is_taken_when_the_call_is_made(
    ledger: Ledger, client: openai.OpenAI
) -> None:
    with spendledger.context(user="u_inside"):
        stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    with spendledger.context(user="u_outside"):
        chunks = list(stream)

    assert chunks
    assert ledger.one()["user"] == "u_inside"


def test_openai_async_calls_and_streams_are_recorded(srv: ChatServer, ledger: Ledger) -> None:
    async def calls() -> list[dict[str, Any]]:
        async with openai.AsyncOpenAI(base_url=srv.openai_url, api_key="sk-test", max_retries=0) as bare:
            client = spendledger.instrument(bare, feature="async")
            await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
            stream = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
            chunks = [chunk.model_dump() async for chunk in stream]
            async with await client.chat.completions.create(
                model="gpt-4o-mini", messages=MESSAGES, stream=True
            ) as stream:
                async for _ in stream:
                    pass
            return chunks

    chunks = asyncio.run(calls())

    assert len(chunks) == 5 and all(chunk["choices"] for chunk in chunks)
    rows = ledger.rows()
    assert [(r["status"], r["feature"], r["cost"]) for r in rows] == [("ok", "async", MINI_COST)] * 3
    assert all(tokens_of(r) == TOKENS for r in rows)
    assert [r["request_id"] for r in rows] == srv.request_ids


def test_openai_responses_api_counts_cached_and_reasoning_tokens(
    srv: ChatServer, ledger: Ledger, plain: openai.OpenAI, client: openai.OpenAI
) -> None:
    srv.model = "o4-mini-2025-04-16"
    srv.usage = Usage(input=2000, cached=500, output=800, reasoning=300)
    bare_events = dumps(plain.responses.create(model="o4-mini", input="Summarise the ledger.", stream=True))

    response = client.responses.create(model="o4-mini", input="Summarise the ledger.")
    events = dumps(client.responses.create(model="o4-mini", input="Summarise the ledger.", stream=True))
    with client.responses.stream(model="o4-mini", input="Summarise the ledger.") as stream:
        final = stream.get_final_response()

    async def async_stream() -> None:
        async with openai.AsyncOpenAI(base_url=srv.openai_url, api_key="sk-test", max_retries=0) as bare:
            stream = await spendledger.instrument(bare).responses.create(
                model="o4-mini", input="Hi", stream=True
            )
            async for _ in stream:
                pass

    asyncio.run(async_stream())

    assert response.usage is not None and final.usage is not None
    assert events == bare_events and events[-1]["type"] == "response.completed"
    rows = ledger.rows()
    assert len(rows) == 4
    # 1 500 uncached × $1.10/M + 500 cached × $0.275/M + 800 output × $4.40/M
    # = $0.00165 + $0.0001375 + $0.00352
    expected = {
        "input_tokens": 2000,
        "cached_input_tokens": 500,
        "output_tokens": 800,
        "reasoning_tokens": 300,
    }
    for row in rows:
        assert tokens_of(row) == expected
        assert (row["model"], row["cost"], row["status"]) == (
            "o4-mini-2025-04-16",
            Decimal("0.0053075"),
            "ok",
        )
        assert row["service_tier"] == "default"
    assert [r["request_id"] for r in rows] == srv.request_ids[1:]


def test_openai_embeddings_count_input_tokens(srv: ChatServer, ledger: Ledger, client: openai.OpenAI) -> None:
    srv.model = None  # the fake echoes the model asked for
    embedding = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])

    assert len(embedding.data) == 2
    row = ledger.one()
    assert (row["model"], row["input_tokens"], row["output_tokens"]) == ("text-embedding-3-small", 1000, 0)
    assert row["cost"] == Decimal("0.00002")  # 1 000 input × $0.02/M


def test_openai_audio_and_reasoning_subsets_never_overlap(
    srv: ChatServer, ledger: Ledger, client: openai.OpenAI
) -> None:
    srv.model = "gpt-4o-mini-audio-preview"
    srv.raw_usage = {
        "prompt_tokens": 1000,
        "completion_tokens": 500,
        "total_tokens": 1500,
        # OpenAI does not say how much audio was cached: 900 audio tokens, 200 cached tokens
        "prompt_tokens_details": {"cached_tokens": 200, "audio_tokens": 900},
        "completion_tokens_details": {"reasoning_tokens": 100, "audio_tokens": 450},
    }
    client.chat.completions.create(model="gpt-4o-mini-audio-preview", messages=MESSAGES)

    row = ledger.one()
    # audio_input counts uncached audio only: at most 1 000 - 200 cached; reasoning and
    # audio output share the 500 output tokens
    assert (row["input_tokens"], row["cached_input_tokens"], row["audio_input_tokens"]) == (1000, 200, 800)
    assert (row["output_tokens"], row["reasoning_tokens"], row["audio_output_tokens"]) == (500, 100, 400)
    assert row["pricing_status"] == "priced"


def test_openai_error_is_reraised_unchanged_and_recorded(
    srv: ChatServer, ledger: Ledger, plain: openai.OpenAI, client: openai.OpenAI
) -> None:
    srv.fail(429)
    with pytest.raises(openai.RateLimitError) as bare:
        plain.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    srv.fail(429)
    with pytest.raises(openai.RateLimitError) as seen:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    srv.fail(400, usage={"prompt_tokens": 40, "completion_tokens": 0, "total_tokens": 40})
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)

    assert type(seen.value) is type(bare.value)
    assert (str(seen.value), seen.value.body, seen.value.status_code) == (
        str(bare.value),
        bare.value.body,
        429,
    )
    throttled, refused = ledger.rows()
    assert (throttled["status"], throttled["model"], throttled["input_tokens"]) == ("error", "gpt-4o-mini", 0)
    assert throttled["request_id"] == srv.request_ids[1] and throttled["cost"] == 0
    assert (refused["status"], refused["input_tokens"], refused["request_id"]) == (
        "error",
        40,
        srv.request_ids[2],
    )


def test_openai_stream_closed_early_is_recorded_cancelled(
    srv: ChatServer, ledger: Ledger, client: openai.OpenAI
) -> None:
    srv.chunks, srv.chunk_delay = 400, 0.005  # a long, slow answer: ~2 s if read to the end
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    assert [next(stream).choices[0].delta.content for _ in range(2)] == ["", "The"]
    stream.close()
    with client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True) as stream:
        next(stream)  # the block is left early
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    next(stream)
    del stream  # dropped: the proxy's finaliser records it
    gc.collect()

    rows = ledger.rows()
    assert [(r["status"], r["model"], r["input_tokens"], r["cost"]) for r in rows] == [
        ("cancelled", MINI, 0, 0)
    ] * 3  # chat streams report usage in their last chunk only
    assert [r["request_id"] for r in rows] == srv.request_ids
    assert all(r["latency_ms"] < 1_500 for r in rows)


def test_openai_helpers_and_raw_responses_are_recorded_once(
    srv: ChatServer, ledger: Ledger, plain: openai.OpenAI, client: openai.OpenAI
) -> None:
    with plain.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES) as stream:
        bare_final = stream.get_final_completion()
    bare_raw = list(
        plain.chat.completions.with_raw_response.create(model="x", messages=MESSAGES, stream=True).parse()
    )

    with client.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES) as stream:
        final = stream.get_final_completion()
    parsed = client.chat.completions.parse(model="gpt-4o-mini", messages=MESSAGES)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    raw_chunks = list(
        client.chat.completions.with_raw_response.create(model="x", messages=MESSAGES, stream=True).parse()
    )
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=MESSAGES
    ) as body:
        body.read()  # the caller reads the bytes: passed through, not recorded

    assert final.model_dump() == bare_final.model_dump()
    assert dumps(raw_chunks) == dumps(bare_raw)
    assert parsed.usage is not None and raw.parse().usage == parsed.usage
    assert raw.headers["x-request-id"] == srv.request_ids[4]
    rows = ledger.rows()
    assert [r["request_id"] for r in rows] == srv.request_ids[2:6]
    assert all(tokens_of(r) == TOKENS and r["status"] == "ok" for r in rows)


def test_instrument_twice_records_each_call_once(ledger: Ledger, client: openai.OpenAI) -> None:
    assert spendledger.instrument(client, project="search-assist") is client
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
    # a copy (with_options) is a new client: instrumented as well, with the same defaults
    copy = client.with_options(timeout=30)
    assert copy is not client
    copy.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    assert [r["project"] for r in ledger.rows()] == ["search-assist"] * 3  # the last defaults win


def test_instrument_leaves_anything_else_untouched(caplog: pytest.LogCaptureFixture) -> None:
    class FakeClient:
        def create(self) -> str:
            return "untouched"

    thing = FakeClient()
    with caplog.at_level(logging.WARNING, logger="spendledger"):
        assert spendledger.instrument(thing) is thing
    assert thing.create() == "untouched" and "create" not in vars(thing)
    assert "is not an OpenAI or Anthropic client" in caplog.text


def test_instrument_imports_no_sdk_the_client_does_not_come_from() -> None:
    code = (
        "import sys, anthropic, spendledger;"
        "spendledger.configure(enabled=False);"
        "spendledger.instrument(anthropic.Anthropic(api_key='sk-ant-test'));"
        "print('openai' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"


def test_azure_clients_are_recorded_as_azure(srv: ChatServer, ledger: Ledger) -> None:
    def azure(api_version: str) -> openai.AzureOpenAI:
        bare = openai.AzureOpenAI(
            azure_endpoint=srv.url, api_version=api_version, api_key="az-test", max_retries=0
        )
        return spendledger.instrument(bare)

    current = azure("2024-10-21")
    current.chat.completions.create(model="my-mini-deployment", messages=MESSAGES)
    list(current.chat.completions.create(model="my-mini-deployment", messages=MESSAGES, stream=True))
    # an api-version older than 2024-09-01 refuses stream_options: not asked, no usage
    list(
        azure("2024-06-01").chat.completions.create(
            model="my-mini-deployment", messages=MESSAGES, stream=True
        )
    )

    assert srv.requests[0].path.startswith("/openai/deployments/my-mini-deployment/chat/completions")
    assert srv.requests[1].body["stream_options"] == {"include_usage": True}
    assert "stream_options" not in srv.requests[2].body
    rows = ledger.rows()
    assert [(r["provider"], r["model"], r["status"]) for r in rows] == [("azure", MINI, "ok")] * 3
    assert [r["cost"] for r in rows] == [MINI_COST, MINI_COST, 0]  # azure/gpt-4o-mini: OpenAI's prices
    assert rows[2]["input_tokens"] == 0


@pytest.mark.parametrize(
    ("attribution", "usage", "model", "request_id", "tier"),
    [
        ({}, None, None, None, None),
        (
            {"project": "p", "user": "u", "feature": "f", "tags": {"env": "x"}},
            "chat",
            MINI,
            "req_1",
            "default",
        ),
        ({"user": "u"}, "responses", "", 17, ""),  # an empty model: the requested one; odd ids dropped
        ({"tags": {"a": 1}}, "embeddings", "text-embedding-3-small", "req_2", None),
        ({}, "anthropic", "claude-haiku-4-5-20251001", "req_3", "standard"),
    ],
)
def test_instrumentation_events_are_what_make_event_makes(
    attribution: dict[str, Any], usage: str | None, model: Any, request_id: Any, tier: Any
) -> None:
    """A call's event is make_event's, with the response's model (else the requested one)
    and only a request id and a service tier that are non-empty strings."""
    raw = Usage(input=3000, cached=1000, cache_write_5m=500, cache_write_1h=200, output=400, reasoning=150)
    tokens = {
        None: None,
        "chat": _usage.openai_chat(raw.openai_chat()),
        "responses": _usage.openai_responses(raw.openai_responses()),
        "embeddings": _usage.openai_embeddings(raw.openai_embeddings()),
        "anthropic": _usage.anthropic(raw.anthropic()),
    }[usage]
    endpoint = _usage.Endpoint(
        "openai", "x-request-id", Exception, _usage.openai_chat, _usage.record_response
    )
    with spendledger.context(**attribution):
        call = _usage.Call(endpoint, "gpt-4o-mini", Attribution(feature="default-feature"))
    event = call.event("ok", tokens, model, request_id, tier)

    assert set(tokens or ()) <= set(TOKEN_FIELDS)
    assert event == make_event(
        provider="openai",
        model=model or "gpt-4o-mini",
        tokens=tokens,
        started_at=call.at,
        latency_ms=event["latency_ms"],
        status="ok",
        request_id=request_id if isinstance(request_id, str) and request_id else None,
        service_tier=tier or None,
        attribution=call.who,
        event_id=event["id"],
    )
