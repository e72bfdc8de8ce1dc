"""The app under uvicorn in a thread, on a free local port, for tests that need a real
HTTP server (the browser tests, the OpenTelemetry exporter, the SDK's delivery)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from spendledger.config import Settings
from spendledger.web import create_app


class LiveServer:
    """The port is bound (held, so no other process takes it) from the start, but listens
    only after `start()`: until then connections are refused, as by a server that is down."""

    def __init__(self, settings: Settings, *, name: str = "live-server") -> None:
        self.settings = settings
        self.name = name
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        config = uvicorn.Config(
            create_app(self.settings), log_config=None, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, name=self.name, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the live server did not start (see the captured log)")
            time.sleep(0.01)

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(timeout=10)
        self.sock.close()
        assert self.thread is None or not self.thread.is_alive(), "the live server did not stop within 10 s"


@contextmanager
def serving(settings: Settings, *, name: str = "live-server") -> Iterator[str]:
    """The app on `settings`' database, served until the block ends; yields its base URL."""
    server = LiveServer(settings, name=name)
    try:
        server.start()
        yield server.url
    finally:
        server.stop()
