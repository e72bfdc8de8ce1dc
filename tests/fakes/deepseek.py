"""A fake DeepSeek account: `GET /user/balance`, served over real HTTP on 127.0.0.1.

Written from DeepSeek's API reference ("Get User Balance", error codes): a bearer API key;
`{"is_available", "balance_infos": [{"currency", "total_balance", "granted_balance",
"topped_up_balance"}]}` with amounts as decimal strings; errors in the OpenAI-style body
`{"error": {"message", "type", "param", "code"}}` (401 Authentication Fails, 429 Rate Limit
Reached). The fake checks what it is asked: the method and path, the bearer key, and no
query string (the endpoint takes none).

The account is scripted by the test: `spend(currency, amount, day)` draws granted credit
first, then the paid balance; `top_up` adds to the paid balance; `grant` to the granted.
The fake knows its own truth: `expected_spend()` (what was spent, by day and currency)
and `balances()` (what it would answer now). `fail()` and `malform()` script faults.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from datetime import date
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from fakes.server import FakeHTTPServer, FakeServer

API_KEY = "sk-deepseek-fake-0123456789abcdef"
MISSING = object()


def _error(status: int, message: str, type_: str, code: str | None = None) -> tuple[int, Any]:
    return status, {"error": {"message": message, "type": type_, "param": None, "code": code}}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeHTTPServer

    def do_GET(self) -> None:  # noqa: N802
        status, body, headers = self.server.fake.handle("GET", self.path, self.headers.get("Authorization"))
        self._answer(status, body, headers)

    def do_POST(self) -> None:  # noqa: N802
        status, body, headers = self.server.fake.handle("POST", self.path, self.headers.get("Authorization"))
        self._answer(status, body, headers)

    def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class FakeDeepSeek(FakeServer):
    """One DeepSeek account, served; a context manager, or call `stop()`.

    `opening` is {currency: (granted, topped_up)} as decimal strings. `requests` logs
    (method, path, query) of every request."""

    def __init__(self, opening: dict[str, tuple[str, str]] | None = None, *, key: str = API_KEY) -> None:
        opening = opening if opening is not None else {"CNY": ("10.00", "100.00"), "USD": ("0.00", "20.00")}
        self.key = key
        self.granted = {c: Decimal(g) for c, (g, _) in opening.items()}
        self.topped_up = {c: Decimal(t) for c, (_, t) in opening.items()}
        self.spent: dict[tuple[str, str], Decimal] = defaultdict(Decimal)  # (day, currency)
        self.top_ups: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        self.available = True
        self.requests: list[tuple[str, str, str]] = []
        self._faults: list[dict[str, Any]] = []
        self._malformed: tuple[str, object] | None = None
        self._lock = threading.Lock()
        self.listen(_Handler)

    # ---- the account ------------------------------------------------------------------------

    def spend(self, currency: str, amount: str, day: date) -> None:
        """Calls costing `amount` on `day`: granted credit is drawn first, then the paid balance."""
        cost = Decimal(amount)
        from_granted = min(cost, self.granted[currency])
        self.granted[currency] -= from_granted
        self.topped_up[currency] -= cost - from_granted
        self.spent[(day.isoformat(), currency)] += cost

    def top_up(self, currency: str, amount: str, day: date) -> None:
        self.topped_up[currency] += Decimal(amount)
        self.top_ups[(day.isoformat(), currency)] += Decimal(amount)

    def grant(self, currency: str, amount: str) -> None:
        self.granted[currency] += Decimal(amount)

    def balances(self) -> dict[str, Decimal]:
        return {c: self.granted[c] + self.topped_up[c] for c in self.granted}

    def expected_spend(self) -> dict[tuple[str, str], Decimal]:
        return {k: v for k, v in self.spent.items() if v}

    # ---- faults -----------------------------------------------------------------------------

    def fail(self, status: int, *, times: int = 1, retry_after: int | None = None) -> None:
        """Answer `status` to the next `times` requests (429 with `retry_after` as Retry-After)."""
        self._faults.append({"status": status, "times": times, "after": retry_after})

    def malform(self, field: str, value: object = "abc") -> None:
        """In the next answer, set `field` of the first balance (or of the body, when it names
        one of its keys) to `value`, or delete it with MISSING."""
        self._malformed = (field, value)

    # ---- HTTP -------------------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, auth: str | None) -> tuple[int, bytes, dict[str, str]]:
        url = urlsplit(raw_path)
        headers: dict[str, str] = {}
        with self._lock:
            self.requests.append((method, url.path, url.query))
            fault = self._faults[0] if self._faults else None
            if fault is not None:
                fault["times"] -= 1
                if fault["times"] <= 0:
                    self._faults.pop(0)
        if fault is not None:
            if fault["after"] is not None:
                headers["Retry-After"] = str(fault["after"])
            status, body = (
                _error(429, "Rate Limit Reached", "rate_limit_error", "rate_limit_exceeded")
                if fault["status"] == 429
                else _error(fault["status"], "Server Error", "server_error")
            )
        elif not (auth or "").startswith("Bearer ") or auth != f"Bearer {self.key}":
            given = (auth or "").removeprefix("Bearer ")
            status, body = _error(
                401,
                f"Authentication Fails, Your api key: ****{given[-4:]} is invalid",
                "authentication_error",
                "invalid_request_error",
            )
        elif method != "GET" or url.path != "/user/balance":
            status, body = _error(404, f"Not Found: {method} {url.path}", "invalid_request_error")
        elif url.query:
            status, body = _error(422, f"unexpected parameters: {url.query}", "invalid_request_error")
        else:
            status, body = 200, self._balance()
        return status, json.dumps(body).encode(), headers

    def _balance(self) -> dict[str, Any]:
        infos = [
            {
                "currency": c,
                "total_balance": str(self.granted[c] + self.topped_up[c]),
                "granted_balance": str(self.granted[c]),
                "topped_up_balance": str(self.topped_up[c]),
            }
            for c in sorted(self.granted)
        ]
        body: dict[str, Any] = {"is_available": self.available, "balance_infos": infos}
        if self._malformed is not None:
            field, value = self._malformed
            self._malformed = None
            target = body if field in body else infos[0]
            if value is MISSING:
                target.pop(field, None)
            else:
                target[field] = value
        return body
