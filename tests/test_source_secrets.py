"""A source's key never reaches an error message, even when a proxy echoes the request back.

The shared HTTP path (`sources/_http.py`) redacts the secret each connector hands it in its
`Hints`; this walks every HTTP source type against a server that answers each request with
an error whose text is the request's own headers (the key among them).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from fakes.server import FakeServer
from spendledger.sources._http import RetryPolicy
from spendledger.sources.base import SourceConfig, SourceError, source_type

KEY = "sk-admin-Secret0123456789abcdef"
OPTIONS = {"github-copilot": {"org": "acme"}}


class _Echo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        headers = "; ".join(f"{name}: {value}" for name, value in self.headers.items())
        body = json.dumps({"error": {"message": f"denied, you sent {headers}"}}).encode()
        self.send_response(int(self.server.fake.status))  # type: ignore[attr-defined]
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


class EchoServer(FakeServer):
    def __init__(self) -> None:
        self.status = 403
        self.listen(_Echo)


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    with EchoServer() as server:
        yield server


@pytest.mark.parametrize("status", [401, 403, 404, 400])
@pytest.mark.parametrize("type_name", ["openai", "anthropic", "github-copilot", "openrouter", "deepseek"])
def test_an_echoed_key_is_redacted_from_the_error(echo: EchoServer, type_name: str, status: int) -> None:
    echo.status = status
    options = {"base_url": echo.url, **OPTIONS.get(type_name, {})}
    config = SourceConfig("echo", KEY, options)
    connector = source_type(type_name).open(config, policy=RetryPolicy(max_attempts=1))
    try:
        with pytest.raises(SourceError) as caught:
            connector.check()
    finally:
        connector.close()
    message = str(caught.value)
    assert "denied, you sent" in message  # the server's text is shown...
    assert KEY not in message and KEY[-12:] not in message  # ...without the key
    assert "[key]" in message
