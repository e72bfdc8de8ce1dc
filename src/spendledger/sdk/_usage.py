"""What one call used, and its one event: usage objects → token fields → an event.

Token counts follow the ledger's contract (records.py): cached reads and cache writes
are part of `input_tokens`, reasoning is part of `output_tokens`, `audio_input_tokens`
is the uncached audio. OpenAI already counts that way; Anthropic's Messages API counts
the cache apart from `input_tokens` and goes through `TokenCounts.from_disjoint`.

A usage object is read with `getattr` (the SDKs' pydantic models; a dict, as an error
body carries it, is wrapped to be read the same way), and every count is made a
non-negative int, 0 when it is missing or not a number: an instrumentation reads
whatever the SDK handed back and must never raise. Subsets are clamped to their whole,
so an event always passes the ingest API's checks.

A `Call` holds one call's attribution and clock from its start and is finished exactly
once, into one event (`_events.make_event`) handed to `_sender.emit` (which only
enqueues). Nothing here raises:
a failure is logged once per kind (`warn_once`) and the call goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from time import perf_counter
from typing import TYPE_CHECKING, Any

from spendledger.records import TokenCounts
from spendledger.sdk import _sender
from spendledger.sdk._context import EMPTY, Attribution, current
from spendledger.sdk._events import Event, attribute, make_event

if TYPE_CHECKING:
    from spendledger.sdk._instrument import Observer

log = logging.getLogger("spendledger.sdk")

Tokens = dict[str, int]

_warned: set[str] = set()


def warn_once(what: str) -> None:
    """Log a failure of the instrumentation (never the caller's) once per kind."""
    try:
        if what not in _warned:
            _warned.add(what)
            log.warning("spendledger: %s; the call went on, unrecorded or partly", what, exc_info=True)
    except Exception:  # noqa: S110 - at interpreter exit even logging may fail
        pass


@dataclass(frozen=True, slots=True)
class Endpoint:
    """How the calls of one API method are read."""

    provider: str
    id_header: str  # the response header holding the provider's request id
    api_error: type[BaseException]  # the SDK's base error for a failed request
    tokens: Callable[[Any], Tokens]  # a usage object (or dict) → token fields
    record: Callable[[Call, Any], None]  # a whole response → `call.finish(...)`
    observer: type[Observer] | None = None  # reads a stream's items
    prepare: Callable[[dict[str, Any]], bool] | None = None  # adjusts a stream request; True: hide usage


class Call:
    """One call being recorded: attribution and clock from its start, finished once."""

    __slots__ = ("endpoint", "model", "who", "at", "t0", "done")

    def __init__(self, endpoint: Endpoint, model: Any, defaults: Attribution) -> None:
        self.endpoint = endpoint
        self.model = model if isinstance(model, str) else ""  # as requested; the response's wins
        # attribute(defaults), without building a new Attribution when no context() is open
        self.who = defaults if current() is EMPTY else attribute(defaults)
        self.at = datetime.now(UTC)
        self.t0 = perf_counter()
        self.done = False

    def restart(self) -> None:
        """Start the clock again: the request of a stream manager is sent when it is entered."""
        self.at = datetime.now(UTC)
        self.t0 = perf_counter()

    def finish(
        self,
        status: str,
        tokens: Tokens | None = None,
        model: Any = None,
        request_id: Any = None,
        service_tier: Any = None,
    ) -> None:
        if self.done:
            return
        self.done = True
        try:
            _sender.emit(self.event(status, tokens, model, request_id, service_tier))
        except Exception:
            warn_once("recording a call failed")

    def event(
        self, status: str, tokens: Tokens | None, model: Any, request_id: Any, service_tier: Any
    ) -> Event:
        """This call's event: the model the response names (else the requested one), and
        only a request id and a service tier that are strings."""
        return make_event(
            provider=self.endpoint.provider,
            model=model if model and isinstance(model, str) else self.model,
            tokens=tokens,
            started_at=self.at,
            latency_ms=int((perf_counter() - self.t0) * 1000),
            status=status,
            request_id=request_id if request_id and isinstance(request_id, str) else None,
            service_tier=service_tier if service_tier and isinstance(service_tier, str) else None,
            attribution=self.who,
        )

    def complete(self, response: Any) -> None:
        """Record a whole response."""
        try:
            self.endpoint.record(self, response)
        except Exception:
            warn_once(f"reading a {self.endpoint.provider} response failed")
            self.finish("ok")

    def fail(self, exc: BaseException) -> None:
        """Record the exception the call raised: an API error, or a cancellation."""
        try:
            if not isinstance(exc, Exception):  # KeyboardInterrupt, asyncio's CancelledError
                self.finish("cancelled")
            elif isinstance(exc, self.endpoint.api_error):
                body = getattr(exc, "body", None)
                usage = body.get("usage") if isinstance(body, dict) else None
                tokens = self.endpoint.tokens(usage) if usage is not None else None
                self.finish("error", tokens, request_id=getattr(exc, "request_id", None))
            else:  # raised before any request (a bad argument): no call to record
                self.done = True
        except Exception:
            warn_once("recording a failed call failed")


def record_response(call: Call, response: Any) -> None:
    """A response with `usage`, `model`, `service_tier` and `_request_id` (OpenAI's shape)."""
    usage = getattr(response, "usage", None)
    call.finish(
        "ok",
        None if usage is None else call.endpoint.tokens(usage),
        getattr(response, "model", None),
        getattr(response, "_request_id", None),
        getattr(response, "service_tier", None),
    )


class _Keys:
    """A dict read like an object (a usage found in an error body, or left raw by the SDK)."""

    __slots__ = ("_data",)

    def __init__(self, data: dict[Any, Any]) -> None:
        self._data = data

    def __getattr__(self, name: str) -> Any:
        value = self._data.get(name)
        return _Keys(value) if type(value) is dict else value


def _obj(value: Any) -> Any:
    """`value`, read with getattr: a dict is wrapped (the common case, a model, is not)."""
    return _Keys(value) if type(value) is dict else value


def _count(value: Any) -> int:
    """A token count as a non-negative int; 0 for None, bools and anything not a number."""
    if type(value) is int:
        return value if value > 0 else 0
    if isinstance(value, bool) or value is None:
        return 0
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return 0
    return number if number > 0 else 0


# The readers below inline `_count` for the common case, an int as the SDK parsed it: a
# call per count costs ~1 µs on the per-call path once the SDK's own work has evicted
# this code from the CPU caches (bench/sdk_overhead.py). Anything else goes to `_count`.


def openai_chat(usage: Any) -> Tokens:
    """Chat Completions' `CompletionUsage` (provider-apis.md §1.7): prompt_tokens include
    cached and written tokens, completion_tokens include reasoning."""
    if type(usage) is dict:
        usage = _Keys(usage)
    prompt = getattr(usage, "prompt_tokens_details", None)
    completion = getattr(usage, "completion_tokens_details", None)
    if type(prompt) is dict:
        prompt = _Keys(prompt)
    if type(completion) is dict:
        completion = _Keys(completion)
    v = getattr(usage, "prompt_tokens", None)
    whole_in = v if type(v) is int and v >= 0 else _count(v)
    v = getattr(usage, "completion_tokens", None)
    whole_out = v if type(v) is int and v >= 0 else _count(v)
    v = getattr(prompt, "cached_tokens", None)
    cached = min(v if type(v) is int and v >= 0 else _count(v), whole_in)
    v = getattr(prompt, "cache_write_tokens", None)
    write = min(v if type(v) is int and v >= 0 else _count(v), whole_in - cached)
    v = getattr(prompt, "audio_tokens", None)  # uncached audio: OpenAI does not say how much
    audio_in = min(v if type(v) is int and v >= 0 else _count(v), whole_in - cached - write)  # was cached
    v = getattr(completion, "reasoning_tokens", None)
    reasoning = min(v if type(v) is int and v >= 0 else _count(v), whole_out)
    v = getattr(completion, "audio_tokens", None)
    audio_out = min(v if type(v) is int and v >= 0 else _count(v), whole_out - reasoning)
    return {
        "input_tokens": whole_in,
        "cached_input_tokens": cached,
        # the billing connector files OpenAI's cache writes (30 min / 12 h) as the short kind too
        "cache_write_5m_tokens": write,
        "audio_input_tokens": audio_in,
        "output_tokens": whole_out,
        "reasoning_tokens": reasoning,
        "audio_output_tokens": audio_out,
    }


def openai_responses(usage: Any) -> Tokens:
    """The Responses API's `ResponseUsage`: the same inclusion rules as chat."""
    if type(usage) is dict:
        usage = _Keys(usage)
    details_in = _obj(getattr(usage, "input_tokens_details", None))
    details_out = _obj(getattr(usage, "output_tokens_details", None))
    v = getattr(usage, "input_tokens", None)
    whole_in = v if type(v) is int and v >= 0 else _count(v)
    v = getattr(usage, "output_tokens", None)
    whole_out = v if type(v) is int and v >= 0 else _count(v)
    v = getattr(details_in, "cached_tokens", None)
    cached = min(v if type(v) is int and v >= 0 else _count(v), whole_in)
    v = getattr(details_in, "cache_write_tokens", None)
    write = min(v if type(v) is int and v >= 0 else _count(v), whole_in - cached)
    v = getattr(details_out, "reasoning_tokens", None)
    return {
        "input_tokens": whole_in,
        "cached_input_tokens": cached,
        "cache_write_5m_tokens": write,
        "output_tokens": whole_out,
        "reasoning_tokens": min(v if type(v) is int and v >= 0 else _count(v), whole_out),
    }


def openai_embeddings(usage: Any) -> Tokens:
    return {"input_tokens": _count(getattr(_obj(usage), "prompt_tokens", None))}


def anthropic(usage: Any, delta: Any = None) -> Tokens:
    """Messages API usage (provider-apis.md §2.7), optionally updated by a stream's
    `message_delta` usage (its counts are cumulative: a count it carries wins).

    `input_tokens` excludes cache reads and writes; `cache_creation` splits the writes by
    TTL when the API gives it, else they are 5-minute writes (the API's default TTL).
    """
    usage, delta = _obj(usage), _obj(delta)

    def field(name: str) -> int:
        value = getattr(delta, name, None)
        return _count(value if value is not None else getattr(usage, name, None))

    written = field("cache_creation_input_tokens")
    split = _obj(getattr(usage, "cache_creation", None))
    hour = 0
    if split is not None:
        five = _count(getattr(split, "ephemeral_5m_input_tokens", None))
        hour = _count(getattr(split, "ephemeral_1h_input_tokens", None))
        written = written or five + hour  # the total wins; the split says how much was 1 h
        hour = min(hour, written)
    counts = TokenCounts.from_disjoint(
        uncached_input=field("input_tokens"),
        cache_read=field("cache_read_input_tokens"),
        cache_write_5m=written - hour,
        cache_write_1h=hour,
        output=field("output_tokens"),
    )
    details = _obj(
        getattr(delta, "output_tokens_details", None) or getattr(usage, "output_tokens_details", None)
    )
    return {
        "input_tokens": counts.input,
        "cached_input_tokens": counts.cached_input,
        "cache_write_5m_tokens": counts.cache_write_5m,
        "cache_write_1h_tokens": counts.cache_write_1h,
        "output_tokens": counts.output,
        # thinking is billed as output, and part of output_tokens
        "reasoning_tokens": min(_count(getattr(details, "thinking_tokens", None)), counts.output),
    }
