"""A fake spendledger ingest API on 127.0.0.1 for the SDK's failure tests: it records every
batch and answers what the test scripts (a status, HTML, a Retry-After, a stall...), then
like the real server. The real server is used where the ledger's behaviour matters
(tests/test_sdk_delivery.py); this one is for answers the real server would not give.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from fakes.server import FakeServer

Reply = tuple[int, dict[str, str], bytes]
Script = Callable[[list[dict[str, Any]]], Reply]


def accepted(events: list[dict[str, Any]]) -> Reply:
    """The real server's answer to a batch it stored whole."""
    body = {"accepted": len(events), "duplicates": 0, "rejected_count": 0, "rejected": []}
    return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


def status(code: int, body: bytes = b'{"detail": "scripted"}', **headers: str) -> Script:
    """A scripted answer: `code` with `body` and headers (Retry_After → Retry-After)."""
    sent = {"Content-Type": "application/json", **{k.replace("_", "-"): v for k, v in headers.items()}}
    return lambda _events: (code, sent, body)


@dataclass
class FakeLedger(FakeServer):
    script: deque[Script] = field(default_factory=deque)  # answers for the next requests, in order
    batches: list[list[dict[str, Any]]] = field(default_factory=list)  # the stored ones
    authorizations: list[str | None] = field(default_factory=list)  # one per request
    paths: list[str] = field(default_factory=list)
    received: int = 0  # requests read, answered or not
    gate: threading.Event | None = None  # when set, requests wait for it before answering
    drop_connections: bool = False  # close each connection after answering, without saying so

    @property
    def events(self) -> list[dict[str, Any]]:
        return [e for batch in self.batches for e in batch]

    def ids(self) -> list[str]:
        return [e["id"] for e in self.events]

    def then(self, *answers: Script) -> FakeLedger:
        self.script.extend(answers)
        return self

    def stop(self) -> None:
        if self.gate is not None:  # let waiting requests answer, so the server can stop
            self.gate.set()
        super().stop()


@contextmanager
def fake_ledger() -> Iterator[FakeLedger]:
    ledger = FakeLedger()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like uvicorn

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            events = json.loads(body)["events"]
            ledger.received += 1
            if ledger.gate is not None:
                ledger.gate.wait(10)
            with lock:
                answer = ledger.script.popleft() if ledger.script else accepted
                ledger.authorizations.append(self.headers.get("Authorization"))
                ledger.paths.append(self.path)
                if answer is accepted:  # scripted answers store nothing
                    ledger.batches.append(events)
            code, headers, data = answer(events)
            self.send_response(code)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            if ledger.drop_connections:
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    ledger.listen(Handler)
    with ledger:
        yield ledger
