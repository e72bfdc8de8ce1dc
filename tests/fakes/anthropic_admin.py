"""A fake Anthropic Admin API on 127.0.0.1: real HTTP over a seeded data set (anthropic_data.py).

It imitates provider-apis.md §2 where a connector can trip: `group_by[]` params (plain
`group_by` accepted too), RFC 3339 bucket times, bucket limits per width, opaque
`has_more`/`next_page` cursors, cost `amount` as a decimal string of cents with fractional
digits, null dimensions unless grouped by, the default workspace as `workspace_id: null`,
`after_id` list paging, the `anthropic-version` header and the `{"type": "error", ...}`
envelope. Tests inject faults (`fail`, `malform`, `revise`) and compare the connector's
records with `expected_costs()` / `expected_tokens()`.
"""

from __future__ import annotations

import base64
import json
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from fakes.anthropic_data import (
    API_KEYS,
    ARCHIVED,
    COST_DIMS,
    MEASURES,
    USAGE_DIMS,
    WORKSPACES,
    AnthropicDataSet,
    Row,
)
from fakes.server import FakeHTTPServer, FakeServer
from spendledger.records import TokenCounts

ADMIN_KEY = "sk-ant-admin01-fake-Zq3xWv9T"
MEMBER_KEY = "sk-ant-admin01-member-Hb8kLp2R"  # a key flagged non-admin: 403
WIDTHS = {  # bucket width → (length, default limit, max limit)
    "1d": (timedelta(days=1), 7, 31),
    "1h": (timedelta(hours=1), 24, 168),
    "1m": (timedelta(minutes=1), 60, 1440),
}
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error"}
ERROR_TYPES |= {404: "not_found_error", 429: "rate_limit_error", 500: "api_error", 529: "overloaded_error"}
Params = Mapping[str, list[str]]
Answer = tuple[int, dict[str, Any], dict[str, str]]  # status, body, extra headers


class _BadRequest(Exception):
    pass


def _stamp(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%SZ}"


def _cursor(offset: int, number: int) -> str:
    return "page_" + base64.urlsafe_b64encode(json.dumps([offset, number]).encode()).decode()


def _uncursor(params: Params) -> tuple[int, int]:
    """(offset, page number) from the `page` cursor; the first page has none."""
    if "page" not in params:
        return 0, 1
    try:
        offset, number = json.loads(base64.urlsafe_b64decode(params["page"][-1].removeprefix("page_")))
        return int(offset), int(number)
    except ValueError:
        raise _BadRequest("page: invalid cursor") from None


def _int(params: Params, name: str, default: int, top: int) -> int:
    raw = params.get(name, [str(default)])[-1]
    if not raw.isdigit() or not 1 <= int(raw) <= top:
        raise _BadRequest(f"{name}: Input should be an integer from 1 to {top}, got {raw!r}")
    return int(raw)


def _group(rows: list[Row], dims: tuple[str, ...], grouped: set[str], measures: tuple[str, ...]) -> list[Row]:
    """Sum `measures` over rows; dimensions not grouped by come back null, as the API sends them."""
    totals: dict[tuple[Any, ...], Row] = {}
    for row in rows:
        key = tuple(row[d] if d in grouped else None for d in dims)
        acc = totals.setdefault(key, dict(zip(dims, key, strict=True)) | dict.fromkeys(measures, 0))
        for m in measures:
            acc[m] += row[m]
    return [totals[k] for k in sorted(totals, key=lambda k: tuple(str(v or "") for v in k))]


class FakeAnthropicAdmin(FakeServer):
    """The fake server; it starts on construction and stops on `stop()` or leaving a `with` block.

    `max_rows_per_page` caps Claude Code and list pages below the requested `limit` (as a
    server may), so small data sets still page.
    """

    def __init__(
        self,
        *,
        seed: int = 7,
        start: date = date(2025, 1, 1),
        days: int = 35,
        admin_key: str = ADMIN_KEY,
        non_admin_keys: tuple[str, ...] = (MEMBER_KEY,),
        max_rows_per_page: int | None = None,
    ) -> None:
        self.data = AnthropicDataSet(seed=seed, start=start, days=days)
        self.now = datetime.combine(start + timedelta(days), time(), UTC)  # report buckets end here
        self.keys, self.non_admin_keys = {admin_key, *non_admin_keys}, set(non_admin_keys)
        self.max_rows = max_rows_per_page or 1000
        self.log: list[tuple[str, dict[str, list[str]]]] = []  # (path, query) of every request
        self._lock = threading.Lock()
        self._faults: list[tuple[int, int | None, int, str | None]] = []  # first, last, status, retry-after
        self._malformed: set[tuple[str, int]] = set()
        self.listen(_Handler)

    # ---- what tests set and read ------------------------------------------------------

    def fail(self, nth: int, status: int, *, retry_after: str | None = None, times: int | None = 1) -> None:
        """Requests nth (1 = the next) to nth + times - 1 answer `status`; `times=None`: all from nth."""
        with self._lock:
            first = len(self.log) + nth
            self._faults.append((first, None if times is None else first + times - 1, status, retry_after))

    def malform(self, endpoint: str, page: int) -> None:
        """Corrupt page `page` of `endpoint`: "cost_report", "usage_report/messages", ..., "api_keys"."""
        self._malformed.add((endpoint, page))

    def revise(self, day: date | str, *, scale: Decimal | int | str = 2, model: str | None = None) -> None:
        """Change a served day between runs, as late provider data does (`scale=0` empties it)."""
        with self._lock:
            self.data.revise(date.fromisoformat(str(day)), Decimal(scale), model)

    def expected_costs(self) -> dict[tuple[str, str, str], Decimal]:
        """Dollars by (day ISO, workspace name, model or "" for tools), to the cent and beyond."""
        return self.data.expected_costs()

    def expected_tokens(self) -> dict[tuple[str, str, str], TokenCounts]:
        """Tokens by (day ISO, workspace name, model), input including cache reads and writes."""
        return self.data.expected_tokens()

    def requests_to(self, name: str) -> list[dict[str, list[str]]]:
        """The query of every request to /v1/organizations/<name>, in order."""
        return [query for path, query in self.log if path == f"/v1/organizations/{name}"]

    # ---- HTTP -------------------------------------------------------------------------

    def serve(self, target: str, headers: Mapping[str, str]) -> Answer:
        path, _, raw_query = target.partition("?")
        query = parse_qs(raw_query, keep_blank_values=True)
        with self._lock:
            self.log.append((path, query))
            n = len(self.log)
            fault = next((f for f in self._faults if f[0] <= n and (f[1] is None or n <= f[1])), None)
        if fault:
            return self._error(fault[2], "injected fault", {"retry-after": fault[3]} if fault[3] else None)
        if headers.get("x-api-key") not in self.keys:
            return self._error(401, "invalid x-api-key")
        if headers["x-api-key"] in self.non_admin_keys:
            return self._error(403, "This API key does not have permission to use the Admin API")
        if not headers.get("anthropic-version"):
            return self._error(400, "anthropic-version: header is required")
        name = path.removeprefix("/v1/organizations/")
        routes: dict[str, Callable[[Params], tuple[Row, int]]] = {
            "cost_report": self._costs,
            "usage_report/messages": self._messages,
            "usage_report/claude_code": self._claude_code,
            "workspaces": self._workspaces,
            "api_keys": self._api_keys,
        }
        if name not in routes:
            return self._error(404, f"Not found: {path}")
        params: dict[str, list[str]] = defaultdict(list)
        for key, values in query.items():  # group_by[]=x and group_by=x alike
            params[key.removesuffix("[]")] += values
        try:
            with self._lock:
                body, page = routes[name](dict(params))
        except _BadRequest as exc:
            return self._error(400, str(exc))
        if (name, page) in self._malformed:
            self._corrupt(body)
        return 200, body, {}

    @staticmethod
    def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Answer:
        error = {"type": ERROR_TYPES.get(status, "api_error"), "message": message}
        return status, {"type": "error", "error": error, "request_id": "req_011CFake"}, headers or {}

    @staticmethod
    def _corrupt(body: Row) -> None:
        """Break the first record: an amount or a count that is not a number, a nameless actor or item."""
        for item in body["data"]:
            if "actor" in item:
                item["actor"] = {"type": "user_actor"}
                return
            if "name" in item:
                item["name"] = None
                return
            for result in item.get("results", []):
                result["amount" if "amount" in result else "output_tokens"] = "twelve"
                return
        body["has_more"] = "perhaps"

    def _report(
        self,
        params: Params,
        widths: tuple[str, ...],
        answer: Callable[[date, set[str]], list[Row]],
    ) -> tuple[Row, int]:
        """Buckets of the requested width, `limit` of them per page; a day's data sits in its first."""
        width_name = params.get("bucket_width", ["1d"])[-1]
        if width_name not in widths:
            raise _BadRequest(f"bucket_width: must be one of {', '.join(widths)}")
        width, default, top = WIDTHS[width_name]
        limit = _int(params, "limit", default, top)
        try:
            start = datetime.fromisoformat(params["starting_at"][-1])
            end = datetime.fromisoformat(params["ending_at"][-1]) if "ending_at" in params else self.now
        except (KeyError, ValueError):
            raise _BadRequest("starting_at (required) and ending_at must be RFC 3339 times") from None
        if start.tzinfo is None or end.tzinfo is None:
            raise _BadRequest("starting_at and ending_at need a time zone offset, e.g. Z")
        seconds = width.total_seconds()
        t = datetime.fromtimestamp(start.timestamp() // seconds * seconds, UTC)  # snapped to the width
        spans = []
        while t < min(end, self.now):
            spans.append((t, t + width))
            t += width
        offset, number = _uncursor(params)
        by = set(params.get("group_by", []))
        data = [
            {
                "starting_at": _stamp(b),
                "ending_at": _stamp(e),
                "results": answer(b.date(), by) if b.time() == time() else [],
            }
            for b, e in spans[offset : offset + limit]
        ]
        more = offset + limit < len(spans)
        return {
            "data": data,
            "has_more": more,
            "next_page": _cursor(offset + limit, number + 1) if more else None,
        }, number

    def _costs(self, params: Params) -> tuple[Row, int]:
        if set(params.get("group_by", [])) - {"workspace_id", "description"}:
            raise _BadRequest("group_by: only workspace_id and description")

        def answer(day: date, by: set[str]) -> list[Row]:
            grouped = ({"workspace_id"} & by) | (set(COST_DIMS[1:]) if "description" in by else set())
            rows = _group(self.data.cost_rows(day), COST_DIMS, grouped, ("amount",))
            return [
                r | {"amount": f"{r['amount'].normalize():f}", "currency": "USD", "inference_geo": None}
                for r in rows
            ]

        return self._report(params, ("1d",), answer)

    def _messages(self, params: Params) -> tuple[Row, int]:
        filters = {
            d: set(params[f"{d}s"]) for d in ("workspace_id", "api_key_id", "model") if f"{d}s" in params
        }

        if unknown := set(params.get("group_by", [])) - set(USAGE_DIMS):
            raise _BadRequest(f"group_by: unknown {sorted(unknown)}")

        def answer(day: date, by: set[str]) -> list[Row]:
            rows = [r for r in self.data.usage[day] if all(r[d] in ok for d, ok in filters.items())]
            return [
                {d: g[d] for d in USAGE_DIMS}
                | {
                    "uncached_input_tokens": g["uncached"],
                    "cache_read_input_tokens": g["cache_read"],
                    "cache_creation": {
                        "ephemeral_5m_input_tokens": g["cache_5m"],
                        "ephemeral_1h_input_tokens": g["cache_1h"],
                    },
                    "output_tokens": g["output"],
                    "server_tool_use": {"web_search_requests": g["web_search"]},
                }
                for g in _group(rows, USAGE_DIMS, by, MEASURES)
            ]

        return self._report(params, tuple(WIDTHS), answer)

    def _claude_code(self, params: Params) -> tuple[Row, int]:
        raw = params.get("starting_at", [""])[-1]
        try:
            day = date.fromisoformat(raw) if len(raw) == 10 else None
        except ValueError:
            day = None
        if day is None:
            raise _BadRequest("starting_at: a UTC date as YYYY-MM-DD is required")
        limit = min(_int(params, "limit", 20, 1000), self.max_rows)
        offset, number = _uncursor(params)
        records = self.data.claude_code_records(day)
        more = offset + limit < len(records)
        next_page = _cursor(offset + limit, number + 1) if more else None
        return {"data": records[offset : offset + limit], "has_more": more, "next_page": next_page}, number

    def _listing(self, params: Params, items: list[Row]) -> tuple[Row, int]:
        limit = min(_int(params, "limit", 20, 1000), self.max_rows)
        ids = [item["id"] for item in items]
        after = params.get("after_id", [None])[-1]
        if after is not None and after not in ids:
            raise _BadRequest("after_id: unknown id")
        offset = ids.index(after) + 1 if after else 0
        page = items[offset : offset + limit]
        ends = {"first_id": page[0]["id"] if page else None, "last_id": page[-1]["id"] if page else None}
        return {"data": page, "has_more": offset + limit < len(items)} | ends, 1 + offset // limit

    def _workspaces(self, params: Params) -> tuple[Row, int]:
        archived = params.get("include_archived", ["false"])[-1] == "true"
        items = [
            {
                "id": ws,
                "type": "workspace",
                "name": name,
                "created_at": "2024-10-30T23:58:27.427722Z",
                "archived_at": "2025-01-12T09:00:00Z" if ws in ARCHIVED else None,
                "display_color": "#6C5BB9",
            }
            for ws, name in WORKSPACES.items()
            if archived or ws not in ARCHIVED
        ]
        return self._listing(params, items)

    def _api_keys(self, params: Params) -> tuple[Row, int]:
        items = [
            {
                "id": key_id,
                "type": "api_key",
                "name": name,
                "created_at": "2024-11-02T10:00:00Z",
                "created_by": {"id": "user_01Fake", "type": "user"},
                "partial_key_hint": "sk-ant-api03-R2D...igAA",
                "status": "archived" if ws in ARCHIVED else "active",
                "workspace_id": ws,
                "expires_at": None,
            }
            for key_id, (name, ws, _) in API_KEYS.items()
        ]
        for name in ("status", "workspace_id"):
            if name in params:
                items = [item for item in items if item[name] == params[name][-1]]
        return self._listing(params, items)


class _Handler(BaseHTTPRequestHandler):
    server: FakeHTTPServer
    protocol_version = "HTTP/1.1"  # keep-alive, as the real API: the connector's client reuses one connection
    disable_nagle_algorithm = True  # headers and body go out in two writes; don't wait for an ACK between

    def do_GET(self) -> None:
        fake: FakeAnthropicAdmin = self.server.fake
        status, body, headers = fake.serve(self.path, {k.lower(): v for k, v in self.headers.items()})
        payload = json.dumps(body).encode()
        self.send_response(status)
        for name, value in {
            "content-type": "application/json",
            "request-id": "req_011CFake",
            **headers,
        }.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
        pass
