"""A fake self-hosted inference server: Ollama's OpenAI-compatible API on a loopback address.

Why: the tracker tells a self-hosted server by its client's base URL (a loopback host at
the server's default port, 11434 for Ollama), so this fake listens where Ollama does, on
port 11434, at a random 127.0.0.N (Linux routes all of 127.0.0.0/8 to the loopback), so
that it never meets a real Ollama on 127.0.0.1 nor another test's fake; `port=0` gives a
free port instead, for the configured-address tests.

    with LocalLLMServer(usage=(1_200, 300)) as srv:
        client = openai.OpenAI(base_url=srv.url, api_key="ollama", max_retries=0)

Routes, as Ollama's OpenAI compatibility documents them (docs/openai.md):
- `POST /v1/chat/completions`: a `chat.completion` with `system_fingerprint: fp_ollama`
  and usage as prompt/completion/total tokens only (no cache or reasoning details); with
  `"stream": true` SSE chunks then `data: [DONE]`, and with `stream_options.include_usage`
  a last chunk with `"choices": []` and the usage.
The API key is required by the openai client but ignored by Ollama: the fake checks that
one was sent (`Authorization: Bearer ...`) and answers 401 otherwise, and 404 with
Ollama's body for a model it was not given (`models`).
"""

from __future__ import annotations

import contextlib
import json
import random
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from fakes.server import FakeHTTPServer, FakeServer

OLLAMA_PORT = 11434
CREATED = 1_767_225_600  # 2026-01-01


@dataclass
class Seen:
    path: str
    body: dict[str, Any]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeHTTPServer

    def do_POST(self) -> None:  # noqa: N802
        fake: LocalLLMServer = self.server.fake
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = json.loads(raw) if raw else {}
        fake.requests.append(Seen(self.path, body))
        if self.path.rstrip("/") != "/v1/chat/completions":
            return self._json(404, "404 page not found")
        if not self.headers.get("Authorization", "").startswith("Bearer "):
            return self._json(401, {"error": {"message": "missing API key", "type": "invalid_request_error"}})
        model = body.get("model")
        if model not in fake.models:
            error = {"message": f'model "{model}" not found, try pulling it first', "type": "api_error"}
            return self._json(404, {"error": error})
        if body.get("stream"):
            return self._stream(fake, model, body)
        message = {"role": "assistant", "content": fake.reply}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        return self._json(
            200, {**fake.head(model, "chat.completion"), "choices": [choice], "usage": fake.usage_json()}
        )

    def _stream(self, fake: LocalLLMServer, model: str, body: dict[str, Any]) -> None:
        head = fake.head(model, "chat.completion.chunk")
        chunks: list[dict[str, Any]] = [
            {
                **head,
                "choices": [
                    {"index": 0, "delta": {"role": "assistant", "content": word}, "finish_reason": None}
                ],
            }
            for word in fake.reply.split(" ")
        ]
        chunks.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        options = body.get("stream_options") or {}
        if options.get("include_usage"):
            chunks.append({**head, "choices": [], "usage": fake.usage_json()})
        frames = [f"data: {json.dumps(c)}\n\n" for c in chunks] + ["data: [DONE]\n\n"]
        data = "".join(frames).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle(self) -> None:
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            super().handle()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class LocalLLMServer(FakeServer):
    url_path = "/v1"

    def __init__(
        self,
        *,
        usage: tuple[int, int] = (1_000, 500),
        models: tuple[str, ...] = ("llama3.2:3b",),
        port: int = OLLAMA_PORT,
    ) -> None:
        self.prompt_tokens, self.completion_tokens = usage
        self.models = models
        self.reply = "The ledger balances to the cent."
        self.requests: list[Seen] = []
        if port == 0:
            self.listen(_Handler)
            return
        tried: list[str] = []
        for _ in range(20):  # a random loopback address free at `port`
            host = f"127.0.{random.randint(1, 254)}.{random.randint(2, 254)}"
            try:
                self.listen(_Handler, host=host, port=port)
                return
            except OSError:
                tried.append(host)
        raise OSError(f"no loopback address free at port {port} (tried {', '.join(tried)})")

    def head(self, model: str, kind: str) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": kind,
            "created": CREATED,
            "model": model,
            "system_fingerprint": "fp_ollama",
        }

    def usage_json(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }
