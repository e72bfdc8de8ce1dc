"""Failures inside the instrumentations never reach the caller.

Each step of the wrapper is made to fail in turn (taking the attribution, preparing a
stream request, reading a response, reading a stream item, making the event, emitting
it), responses come back without usage or with usage of the wrong types, the SDK is
misconfigured, and streams fail mid-way: the same calls through a bare client and an
instrumented one must give the caller the same results and the same exceptions. What
could still be recorded is checked in the ledger. (The sender's own failures are
tests/test_sdk_core.py's.)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

import spendledger
from fakes.chat import OMIT, ChatServer, Usage
from sdk_ledger import Ledger, anthropic_client, forget_sdk_environment, openai_client, sdk_ledger
from spendledger.sdk import _anthropic, _openai, _sender, _usage

MESSAGES: list[Any] = [{"role": "user", "content": "Summarise the ledger."}]


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No configuration from the environment; every failure warned about afresh."""
    forget_sdk_environment(monkeypatch)
    monkeypatch.setattr(_usage, "_warned", set())
    yield
    _sender.reset(timeout=0.5)


@pytest.fixture
def ledger(tmp_path: Path, sqlite_template: Path) -> Iterator[Ledger]:
    with sdk_ledger(tmp_path, sqlite_template) as ledger:
        yield ledger


@pytest.fixture
def srv() -> Iterator[ChatServer]:
    with ChatServer(model="gpt-4o-mini-2024-07-18", usage=Usage(input=1000, cached=200, output=500)) as srv:
        yield srv


def outcome(call: Callable[[], Any]) -> Any:
    """What the caller gets: the value as plain data, or the exception's type and text
    (the request id an Anthropic error body repeats left out: it differs per request)."""
    try:
        value = call()
    except Exception as exc:  # noqa: BLE001 - the exception is the outcome
        return type(exc), re.sub(r"req_fake_\d+", "req", str(exc))
    if isinstance(value, list):
        return [item.model_dump() if hasattr(item, "model_dump") else item for item in value]
    return value.model_dump()


def openai_calls(client: openai.OpenAI, srv: ChatServer, *names: str) -> list[Any]:
    """The caller's outcomes of the named calls (all of OPENAI_CALLS by default)."""

    def failing() -> Any:
        srv.fail(429)
        return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    def helper() -> Any:
        with client.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES) as stream:
            return stream.get_final_completion()

    calls: dict[str, Callable[[], Any]] = {
        "create": lambda: client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES),
        "stream": lambda: list(
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
        ),
        "helper": helper,
        "responses": lambda: client.responses.create(model="gpt-4o-mini", input="Hi"),
        "responses stream": lambda: list(
            client.responses.create(model="gpt-4o-mini", input="Hi", stream=True)
        ),
        "error": failing,
    }
    return [outcome(calls[name]) for name in names or calls]


def anthropic_calls(client: anthropic.Anthropic, srv: ChatServer, *names: str) -> list[Any]:
    """The caller's outcomes of the named calls (all by default)."""

    def failing() -> Any:
        srv.fail(529)
        return client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=MESSAGES)

    def helper() -> Any:
        with client.messages.stream(model="claude-haiku-4-5", max_tokens=64, messages=MESSAGES) as stream:
            return list(stream.text_stream)

    def stream() -> Any:
        return list(
            client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=MESSAGES, stream=True)
        )

    calls: dict[str, Callable[[], Any]] = {
        "create": lambda: client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=MESSAGES),
        "stream": stream,
        "helper": helper,
        "error": failing,
    }
    return [outcome(calls[name]) for name in names or calls]


def boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("injected failure")


def with_a_failing_step(
    srv: ChatServer,
    make_client: Callable[[ChatServer], Any],
    calls: Callable[[Any, ChatServer], list[Any]],
    target: tuple[Any, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> tuple[list[Any], list[Any]]:
    """The outcomes of `calls` through a bare client, then through an instrumented one
    with `target` replaced by `boom` (warnings captured): (expected, seen)."""
    with make_client(srv) as bare:
        expected = calls(bare, srv)
    monkeypatch.setattr(*target, boom)
    with make_client(srv) as client, caplog.at_level(logging.WARNING, logger="spendledger"):
        seen = calls(spendledger.instrument(client), srv)
    return expected, seen


def both_providers(srv: ChatServer, *names: str, instrumented: bool) -> list[Any]:
    """The outcomes of the named OpenAI calls, then of the named Anthropic ones (all by
    default), through bare clients or instrumented ones."""
    wrap: Callable[[Any], Any] = spendledger.instrument if instrumented else (lambda client: client)
    with openai_client(srv) as client, anthropic_client(srv) as claude:
        outcomes = openai_calls(wrap(client), srv, *names)
        return outcomes + anthropic_calls(wrap(claude), srv, *names)


# (what fails, the attribute replaced by `boom`, how many calls are still recorded)
OPENAI_STEPS = [
    ("taking the attribution", (_usage, "current"), 0),
    ("preparing a stream request", (_openai, "include_usage"), 6),
    ("reading a response", (_usage, "openai_chat"), 6),
    ("reading a stream item", (_openai.ChatObserver, "see"), 6),
    ("reading a responses event", (_openai.ResponsesObserver, "see"), 6),
    ("making the event", (_usage.Call, "event"), 0),
    ("emitting the event", (_sender, "emit"), 0),
]


@pytest.mark.parametrize(("step", "target", "recorded"), OPENAI_STEPS, ids=[s[0] for s in OPENAI_STEPS])
def test_openai_failing_step_never_reaches_the_caller(
    srv: ChatServer,
    ledger: Ledger,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    step: str,
    target: tuple[Any, str],
    recorded: int,
) -> None:
    expected, seen = with_a_failing_step(srv, openai_client, openai_calls, target, monkeypatch, caplog)

    assert seen == expected
    assert expected[-1][0] is openai.RateLimitError
    assert "injected failure" in caplog.text  # logged, with its traceback, once per kind
    assert len(ledger.rows()) == recorded


ANTHROPIC_STEPS = [
    ("taking the attribution", (_usage, "current"), 0),
    ("reading a message", (_usage, "anthropic"), 4),
    ("reading a stream event", (_anthropic.MessagesObserver, "see"), 4),
    ("emitting the event", (_sender, "emit"), 0),
]


@pytest.mark.parametrize(("step", "target", "recorded"), ANTHROPIC_STEPS, ids=[s[0] for s in ANTHROPIC_STEPS])
def test_anthropic_failing_step_never_reaches_the_caller(
    srv: ChatServer,
    ledger: Ledger,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    step: str,
    target: tuple[Any, str],
    recorded: int,
) -> None:
    srv.model = "claude-haiku-4-5-20251001"
    expected, seen = with_a_failing_step(srv, anthropic_client, anthropic_calls, target, monkeypatch, caplog)

    assert seen == expected
    assert expected[-1][0] is anthropic.OverloadedError  # 529
    assert "injected failure" in caplog.text
    assert len(ledger.rows()) == recorded


def test_response_without_usage_is_recorded_without_tokens(srv: ChatServer, ledger: Ledger) -> None:
    srv.raw_usage = OMIT
    expected = both_providers(srv, instrumented=False)
    seen = both_providers(srv, instrumented=True)

    assert seen == expected
    rows = ledger.rows()
    assert [r["status"] for r in rows] == ["ok"] * 5 + ["error"] + ["ok"] * 3 + ["error"]
    assert all(r["input_tokens"] == r["output_tokens"] == r["cost"] == 0 for r in rows)
    assert [r["request_id"] for r in rows] == srv.request_ids[10:]  # after the bare calls


def test_usage_of_the_wrong_types_is_read_as_far_as_it_goes(srv: ChatServer, ledger: Ledger) -> None:
    srv.raw_usage = {
        "prompt_tokens": "1200",  # a numeric string
        "completion_tokens": None,
        "prompt_tokens_details": "nonsense",
        "completion_tokens_details": {"reasoning_tokens": -3, "audio_tokens": 1e30},
    }
    with openai_client(srv) as bare:
        expected = bare.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).usage
    with openai_client(srv) as client:
        seen = (
            spendledger.instrument(client)
            .chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
            .usage
        )
    srv.raw_usage = {
        "input_tokens": "10",
        "cache_read_input_tokens": 5.7,
        "cache_creation": {"ephemeral_5m_input_tokens": None, "ephemeral_1h_input_tokens": "many"},
        "output_tokens": [],
    }
    with anthropic_client(srv) as claude:
        message = spendledger.instrument(claude).messages.create(
            model="claude-haiku-4-5", max_tokens=64, messages=MESSAGES
        )

    assert seen is not None and expected is not None
    assert (seen.prompt_tokens, seen.completion_tokens) == (
        expected.prompt_tokens,
        expected.completion_tokens,
    )
    assert message.usage.input_tokens == "10"  # the SDK hands back what came
    chat, claude_row = ledger.rows()
    assert (chat["input_tokens"], chat["cached_input_tokens"], chat["output_tokens"]) == (1200, 0, 0)
    assert (chat["reasoning_tokens"], chat["audio_output_tokens"]) == (0, 0)
    assert (claude_row["input_tokens"], claude_row["cached_input_tokens"], claude_row["output_tokens"]) == (
        15,
        5,
        0,
    )


def test_broken_sdk_configuration_never_reaches_the_caller(srv: ChatServer, tmp_path: Path) -> None:
    with openai_client(srv) as bare:
        expected = openai_calls(bare, srv)
    spendledger.configure(url="not a url", spill_dir=tmp_path / "spill")
    with openai_client(srv) as client:
        seen = openai_calls(spendledger.instrument(client), srv)
    spendledger.configure(
        database_url=f"sqlite:///{tmp_path}/no/such/folder/ledger.db", spill_dir=tmp_path / "s2"
    )
    with openai_client(srv) as client:
        seen_db = openai_calls(spendledger.instrument(client), srv)
        assert spendledger.flush(5) is False  # the sink fails: the events wait in the spill folder

    assert seen == seen_db == expected
    stats = spendledger.stats()
    assert (stats.sent, stats.spilled) == (0, 6) and stats.last_error is not None


def test_stream_failing_mid_way_raises_what_the_bare_client_raises(srv: ChatServer, ledger: Ledger) -> None:
    srv.stream_error_after = 1  # an error event after the first delta
    expected = both_providers(srv, "stream", "helper", instrumented=False)
    seen = both_providers(srv, "stream", "helper", instrumented=True)

    assert seen == expected
    assert [e[0] for e in expected] == [openai.APIError] * 2 + [anthropic.APIStatusError] * 2
    rows = ledger.rows()
    assert [r["status"] for r in rows] == ["error"] * 4
    # Anthropic's message_start told the input side (1 000, 200 of them cached) before the error
    seen_tokens = [(r["input_tokens"], r["cached_input_tokens"], r["output_tokens"]) for r in rows]
    assert seen_tokens == [(0, 0, 0)] * 2 + [(1000, 200, 1)] * 2


def test_calls_passed_through_are_made_once(srv: ChatServer, ledger: Ledger) -> None:
    srv.fail(429)
    with openai_client(srv) as bare, pytest.raises(openai.RateLimitError):
        client = spendledger.instrument(bare)
        with client.chat.completions.with_streaming_response.create(model="gpt-4o-mini", messages=MESSAGES):
            pass

    assert len(srv.requests) == 1  # one request, the error re-raised as it came
    assert ledger.rows() == []  # `.with_streaming_response` calls are not recorded
