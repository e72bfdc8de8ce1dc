"""The lifecycle every fake server shares: real HTTP on 127.0.0.1, a free port, a thread.

A fake subclasses `FakeServer`, keeps its data and knobs as attributes, and calls
`listen(handler)` at the end of `__init__`; its handler reaches it as `self.server.fake`.
It is a context manager, or the test calls `stop()`. `url` is the base URL plus the
fake's `url_path` (e.g. `/v1`, where the real API's clients expect the version).
"""

from __future__ import annotations

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class FakeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a client's open keep-alive connection never holds up stop()
    fake: Any  # the FakeServer serving: handlers read their data and knobs from it


class FakeServer:
    url_path = ""  # appended to the base URL in `url`
    scheme = "http"

    _server: FakeHTTPServer
    _thread: threading.Thread

    def listen(
        self,
        handler: type[BaseHTTPRequestHandler],
        *,
        port: int = 0,
        tls: ssl.SSLContext | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        """Start serving `handler` on `host` (a loopback address; `port` 0: a free one) on a thread."""
        self._server = FakeHTTPServer((host, port), handler)
        self._server.fake = self
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        # a short poll: `stop()` waits up to one interval for the serving loop to notice
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self._server.server_address[0]}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base_url}{self.url_path}"

    def wait(self) -> None:
        """Serve until the process is killed (a fake run as a program)."""
        self._thread.join()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
