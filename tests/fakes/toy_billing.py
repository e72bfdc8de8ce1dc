"""A toy billing API on 127.0.0.1: the provider behind test_source_registry's toy source type.

Two routes behind a bearer key: `GET /v1/me` (who the key is) and `GET /v1/costs?start=
YYYY-MM-DD&end=YYYY-MM-DD` (one cost a day in [start, end), as a decimal string, per
region). `amounts` is the fake's own truth; change it to revise a day.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fakes.server import FakeHTTPServer, FakeServer

TOY_KEY = "toy-key-Rb7Yq2Lm"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: FakeHTTPServer

    def do_GET(self) -> None:
        status, body = self.server.fake.handle(self.path, self.headers.get("Authorization"))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class FakeToyBilling(FakeServer):
    """`days` days from `start`, a cost each in `region`; a context manager, or call `stop()`."""

    url_path = "/v1"

    def __init__(self, *, start: date, days: int, region: str = "eu") -> None:
        self.region = region
        self.amounts = {start + timedelta(days=i): Decimal(f"{i + 1}.25") for i in range(days)}
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.listen(_Handler)

    def handle(self, raw_path: str, auth: str | None) -> tuple[int, Any]:
        url = urlsplit(raw_path)
        query = parse_qs(url.query)
        self.requests.append((url.path, query))
        if auth != f"Bearer {TOY_KEY}":
            return 401, {"error": {"message": "unknown key"}}
        if url.path == "/v1/me":
            return 200, {"org": "Toy Org"}
        if url.path == "/v1/costs":
            first, last = date.fromisoformat(query["start"][0]), date.fromisoformat(query["end"][0])
            days = [
                {"date": day.isoformat(), "region": self.region, "amount": str(amount)}
                for day, amount in sorted(self.amounts.items())
                if first <= day < last
            ]
            return 200, {"days": days}
        return 404, {"error": {"message": f"no route {url.path}"}}
