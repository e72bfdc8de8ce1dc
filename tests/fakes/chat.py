"""A fake OpenAI and Anthropic inference API on 127.0.0.1: chat, responses, embeddings, messages.

Why: the SDK's instrumentations (and the OpenTelemetry instrumentations the OTLP tests
drive) are tested with the real `openai` and `anthropic` packages over real HTTP
(STYLE.md, "real databases, fake networks"); this server answers them, with token counts
the test chooses, so a test can assert that the ledger holds exactly what the
provider reported.

    with ChatServer() as srv:
        client = openai.OpenAI(base_url=srv.openai_url, api_key="sk-test", max_retries=0)
        claude = anthropic.Anthropic(base_url=srv.anthropic_url, api_key="sk-ant-test", max_retries=0)
        srv.usage = Usage(input=1_000, cached=200, output=500)  # what the next calls report
        srv.model = "gpt-4o-mini-2024-07-18"                    # the model answers name (None: echo)
        srv.fail(429)                                           # the next call gets a 429
        srv.requests[-1].body                                   # what the client sent, as JSON

Routes (provider-apis.md §1.7 and §2.7 for the usage shapes; matched on the path's end,
so Azure's `/openai/deployments/<name>/chat/completions?api-version=...` works too):
- `POST /v1/chat/completions`: a `chat.completion`, or with `"stream": true` SSE chunks
  then `data: [DONE]`; with `stream_options.include_usage` every chunk carries
  `"usage": null` and a last chunk has `"choices": []` and the usage, as OpenAI does.
- `POST /v1/responses`: a `response`, or SSE events `response.created` …
  `response.output_text.delta` … `response.completed` (its `response.usage` set).
- `POST /v1/embeddings`: floats, or base64 float32 (the openai client asks for base64).
- `POST /v1/messages`: an Anthropic `message`, or SSE `message_start` (input usage),
  `content_block_start/delta/stop`, `ping`, `message_delta` (output usage),
  `message_stop`.

`Usage` holds counts in the ledger's contract (cached reads and cache writes part of
`input`, reasoning part of `output`, audio_input the uncached audio); each route renders
them in its provider's shape (Anthropic's `input_tokens` excludes the cache). Knobs:
`raw_usage` (a JSON value sent verbatim as `usage`, or `OMIT`), `model`, `service_tier`,
`chunks` and `chunk_delay` (a slow, long stream), `stream_error_after` (an error event
mid-stream), `fail()` (an error status with the provider's error body, optionally with
usage in it). Bodies are the same for the same request (fixed ids), so a test can compare
what an instrumented client returns with a bare one's. Every response carries a request
id (`x-request-id` for OpenAI routes, `request-id` for Anthropic's), `req_fake_<n>`,
listed in `request_ids`.

`python tests/fakes/chat.py [--port N] [--chunks N]` serves it in its own process and
prints the base URL (bench/sdk_overhead.py uses that, to keep the server off the client's GIL).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

if __name__ == "__main__":  # run as a program: `fakes` is the package this file's folder makes
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fakes.server import FakeHTTPServer, FakeServer  # noqa: E402

OMIT: Any = object()  # `raw_usage = OMIT`: the response has no usage field at all
CREATED = 1_767_225_600  # 2026-01-01, every object's `created`
WORDS = ("The", " ledger", " balances", " to", " the", " cent", ".")


@dataclass
class Usage:
    """Token counts in the ledger's contract; each route renders its provider's shape."""

    input: int = 1_000  # every input token, cached reads and cache writes included
    cached: int = 200
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    output: int = 500  # every output token, reasoning included
    reasoning: int = 0
    audio_input: int = 0  # uncached audio
    audio_output: int = 0

    def openai_chat(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.input,
            "completion_tokens": self.output,
            "total_tokens": self.input + self.output,
            "prompt_tokens_details": {
                "cached_tokens": self.cached,
                "cache_write_tokens": self.cache_write_5m,
                "audio_tokens": self.audio_input,
            },
            "completion_tokens_details": {
                "reasoning_tokens": self.reasoning,
                "audio_tokens": self.audio_output,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def openai_responses(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input,
            "input_tokens_details": {"cached_tokens": self.cached, "cache_write_tokens": self.cache_write_5m},
            "output_tokens": self.output,
            "output_tokens_details": {"reasoning_tokens": self.reasoning},
            "total_tokens": self.input + self.output,
        }

    def openai_embeddings(self) -> dict[str, Any]:
        return {"prompt_tokens": self.input, "total_tokens": self.input}

    def anthropic(self) -> dict[str, Any]:
        """Messages API usage: `input_tokens` is the uncached part (provider-apis.md §2.7)."""
        writes = self.cache_write_5m + self.cache_write_1h
        return {
            "input_tokens": self.input - self.cached - writes,
            "cache_creation_input_tokens": writes,
            "cache_read_input_tokens": self.cached,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.cache_write_5m,
                "ephemeral_1h_input_tokens": self.cache_write_1h,
            },
            "output_tokens": self.output,
        }


@dataclass
class Request:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class _Fault:
    status: int
    times: int | None
    path: str
    usage: dict[str, Any] | None
    retry_after: int | None
    seen: int = 0


@dataclass
class _Answer:
    status: int = 200
    body: Any = None  # a JSON value, or None for a stream
    events: list[tuple[str | None, Any]] = field(default_factory=list)  # (SSE event name, data)
    headers: dict[str, str] = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the SDK clients reuse their connection
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall between header and body writes
    server: FakeHTTPServer

    def handle(self) -> None:
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):  # a client dropped its connection
            super().handle()

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        answer = self.server.fake.answer(self.path, body, dict(self.headers.items()))
        if answer.body is not None or answer.status != 200:
            data = json.dumps(answer.body).encode()
            self.send_response(answer.status)
            for name, value in {"Content-Type": "application/json", **answer.headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.send_response(200)
        for name, value in {"Content-Type": "text/event-stream", **answer.headers}.items():
            self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        fake = self.server.fake
        try:
            for i, (event, data) in enumerate(answer.events):
                if fake.chunk_delay and i:
                    time.sleep(fake.chunk_delay)
                text = data if isinstance(data, str) else json.dumps(data)
                frame = (f"event: {event}\n" if event else "") + f"data: {text}\n\n"
                encoded = frame.encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(encoded), encoded))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):  # the client closed the stream early
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class ChatServer(FakeServer):
    """The fake inference API, served on a thread; a context manager, or call `stop()`.

    `url` is the base (`http://127.0.0.1:<port>`); `openai_url` adds `/v1` (OpenAI's
    clients take the version in their base URL, Anthropic's do not: `anthropic_url`).
    """

    def __init__(self, *, usage: Usage | None = None, model: str | None = None, port: int = 0) -> None:
        self.usage = usage or Usage()
        self.model = model
        self.raw_usage: Any = None  # a JSON value sent verbatim as `usage`; OMIT drops the field
        self.service_tier: str | None = None  # None: "default" (OpenAI), "standard" (Anthropic)
        self.chunks = 3  # content deltas per stream
        self.chunk_delay = 0.0  # seconds between SSE events
        self.stream_error_after: int | None = None  # an error event after this many deltas
        self.requests: list[Request] = []
        self.request_ids: list[str] = []
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self.listen(_Handler, port=port)
        self.openai_url = f"{self.url}/v1"
        self.anthropic_url = self.url

    def fail(
        self,
        status: int,
        *,
        times: int | None = 1,
        path: str = "",
        usage: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Answer `status` with the provider's error body to the next `times` requests (None:
        all) whose path contains `path`; `usage` is put in the error body."""
        self._faults.append(_Fault(status, times, path, usage, retry_after))

    @property
    def last_request_id(self) -> str:
        return self.request_ids[-1]

    # ---- answers ----------------------------------------------------------------------------

    def answer(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> _Answer:
        with self._lock:
            self.requests.append(Request(path, body, headers))
            request_id = f"req_fake_{len(self.request_ids) + 1:04d}"
            self.request_ids.append(request_id)
            fault = next((f for f in self._faults if f.path in path and f.times != 0), None)
            if fault is not None and fault.times is not None:
                fault.times -= 1
        route = urlsplit(path).path  # Azure's deployment paths end the same way
        anthropic = route.endswith("/v1/messages")
        id_header = {"request-id" if anthropic else "x-request-id": request_id}
        if fault is not None:
            answer = self._error(fault, anthropic, request_id)
        elif route.endswith("/chat/completions"):
            answer = self._chat(body)
        elif route.endswith("/responses"):
            answer = self._responses(body)
        elif route.endswith("/embeddings"):
            answer = self._embeddings(body)
        elif anthropic:
            answer = self._messages(body)
        else:
            answer = _Answer(404, {"error": {"message": f"no route {path}", "type": "invalid_request_error"}})
        answer.headers.update(id_header)
        return answer

    def _usage(self, rendered: dict[str, Any]) -> Any:
        return rendered if self.raw_usage is None else self.raw_usage

    def _with_usage(self, obj: dict[str, Any], rendered: dict[str, Any]) -> dict[str, Any]:
        usage = self._usage(rendered)
        if usage is not OMIT:
            obj["usage"] = usage
        return obj

    def _error(self, fault: _Fault, anthropic: bool, request_id: str) -> _Answer:
        kind = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error"}
        kind_name = kind.get(fault.status, "api_error")
        message = f"fake {fault.status}"
        body: dict[str, Any]
        if anthropic:
            body = {
                "type": "error",
                "error": {"type": kind_name, "message": message},
                "request_id": request_id,
            }
        else:
            body = {"error": {"message": message, "type": kind_name, "param": None, "code": None}}
        if fault.usage is not None:  # where each SDK's `APIStatusError.body` finds it
            (body if anthropic else body["error"])["usage"] = fault.usage
        headers = {} if fault.retry_after is None else {"retry-after": str(fault.retry_after)}
        return _Answer(fault.status, body, headers=headers)

    def _text(self) -> list[str]:
        return [WORDS[i % len(WORDS)] for i in range(self.chunks)]

    # OpenAI chat completions (provider-apis.md §1.7)
    def _chat(self, body: dict[str, Any]) -> _Answer:
        model = self.model or body.get("model") or "unknown"
        tier = self.service_tier or "default"
        head = {
            "id": "chatcmpl-fake",
            "created": CREATED,
            "model": model,
            "service_tier": tier,
            "system_fingerprint": "fp_fake",
        }
        if not body.get("stream"):
            message = {"role": "assistant", "content": "".join(self._text()), "refusal": None}
            choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
            completion = {**head, "object": "chat.completion", "choices": [choice]}
            return _Answer(body=self._with_usage(completion, self.usage.openai_chat()))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        chunk_head = {**head, "object": "chat.completion.chunk"}

        def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            out = {**chunk_head, "choices": [choice]}
            if include_usage:
                out["usage"] = None
            return out

        events: list[tuple[str | None, Any]] = [(None, chunk({"role": "assistant", "content": ""}, None))]
        for i, word in enumerate(self._text()):
            if self.stream_error_after is not None and i == self.stream_error_after:
                events.append(
                    (None, {"error": {"message": "fake mid-stream failure", "type": "server_error"}})
                )
                return _Answer(events=events)
            events.append((None, chunk({"content": word}, None)))
        events.append((None, chunk({}, "stop")))
        if include_usage and self._usage(self.usage.openai_chat()) is not OMIT:  # OMIT: a server ignoring it
            events.append((None, self._with_usage({**chunk_head, "choices": []}, self.usage.openai_chat())))
        events.append((None, "[DONE]"))
        return _Answer(events=events)

    # OpenAI Responses API
    def _responses(self, body: dict[str, Any]) -> _Answer:
        model = self.model or body.get("model") or "unknown"
        text = "".join(self._text())
        message = {
            "type": "message",
            "id": "msg_fake",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
        }
        response: dict[str, Any] = {
            "id": "resp_fake",
            "object": "response",
            "created_at": CREATED,
            "status": "completed",
            "model": model,
            "output": [message],
            "service_tier": self.service_tier or "default",
            "error": None,
            "incomplete_details": None,
            "instructions": None,
            "metadata": {},
            "parallel_tool_calls": True,
            "temperature": 1.0,
            "top_p": 1.0,
            "tool_choice": "auto",
            "tools": [],
            "text": {"format": {"type": "text"}},
        }
        if not body.get("stream"):
            return _Answer(body=self._with_usage(response, self.usage.openai_responses()))
        started = {**response, "status": "in_progress", "output": [], "usage": None}
        seq = iter(range(1_000_000))

        def event(kind: str, **data: Any) -> tuple[str, dict[str, Any]]:
            return kind, {"type": kind, "sequence_number": next(seq), **data}

        empty_message = {**message, "status": "in_progress", "content": []}
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        ids = {"item_id": message["id"], "output_index": 0, "content_index": 0}
        events: list[tuple[str | None, Any]] = [
            event("response.created", response=started),
            event("response.in_progress", response=started),
            event("response.output_item.added", output_index=0, item=empty_message),
            event("response.content_part.added", part=part, **ids),
        ]
        for i, word in enumerate(self._text()):
            if self.stream_error_after is not None and i == self.stream_error_after:
                events.append(
                    event("error", code="server_error", message="fake mid-stream failure", param=None)
                )
                return _Answer(events=events)
            events.append(event("response.output_text.delta", delta=word, logprobs=[], **ids))
        events += [
            event("response.output_text.done", text=text, logprobs=[], **ids),
            event("response.content_part.done", part={**part, "text": text}, **ids),
            event("response.output_item.done", output_index=0, item=message),
            event("response.completed", response=self._with_usage(response, self.usage.openai_responses())),
        ]
        return _Answer(events=events)

    def _embeddings(self, body: dict[str, Any]) -> _Answer:
        model = self.model or body.get("model") or "unknown"
        inputs = body.get("input")
        count = len(inputs) if isinstance(inputs, list) and inputs and not isinstance(inputs[0], int) else 1
        vector = [0.25, -0.5, 0.125, 1.0]
        if body.get("encoding_format") == "base64":
            encoded: Any = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        else:
            encoded = vector
        data = [{"object": "embedding", "index": i, "embedding": encoded} for i in range(count)]
        out = {"object": "list", "data": data, "model": model}
        return _Answer(body=self._with_usage(out, self.usage.openai_embeddings()))

    # Anthropic Messages API (provider-apis.md §2.7)
    def _messages(self, body: dict[str, Any]) -> _Answer:
        model = self.model or body.get("model") or "unknown"
        tier = self.service_tier or "standard"
        message: dict[str, Any] = {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": "".join(self._text())}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
        }
        usage = self._usage({**self.usage.anthropic(), "service_tier": tier})
        if not body.get("stream"):
            if usage is not OMIT:
                message["usage"] = usage
            return _Answer(body=message)
        start_usage: Any = usage
        if isinstance(usage, dict) and "output_tokens" in usage:  # message_start: output so far
            start_usage = {**usage, "output_tokens": 1}
        start = {**message, "content": [], "stop_reason": None}
        if start_usage is not OMIT:
            start["usage"] = start_usage
        events: list[tuple[str | None, Any]] = [
            ("message_start", {"type": "message_start", "message": start}),
            ("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}),
            ("ping", {"type": "ping"}),
        ]  # fmt: skip
        for i, word in enumerate(self._text()):
            if self.stream_error_after is not None and i == self.stream_error_after:
                error = {"type": "overloaded_error", "message": "fake mid-stream failure"}
                events.append(("error", {"type": "error", "error": error}))
                return _Answer(events=events)
            delta = {"type": "text_delta", "text": word}
            events.append(
                ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
            )
        delta_usage: Any = {"output_tokens": usage.get("output_tokens")} if isinstance(usage, dict) else usage
        message_delta: dict[str, Any] = {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        }
        if delta_usage is not OMIT:
            message_delta["usage"] = delta_usage
        events += [
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_delta", message_delta),
            ("message_stop", {"type": "message_stop"}),
        ]
        return _Answer(events=events)


def main() -> None:
    """Serve until killed; print the base URL. `--port` (default: a free one), `--chunks`."""
    parser = argparse.ArgumentParser(description="The fake OpenAI/Anthropic inference API.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--chunks", type=int, default=3, help="content deltas per stream")
    args = parser.parse_args()
    server = ChatServer(port=args.port)
    server.chunks = args.chunks
    print(server.url, flush=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
