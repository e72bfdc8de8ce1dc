"""A fake OpenRouter management API on 127.0.0.1: `/api/v1/activity` and `/api/v1/credits`.

Why: the OpenRouter connector runs over real HTTP against it, and the fake is the oracle:
it holds an account's history (days × workspaces × endpoints, seeded) and knows what the
ledger must hold (`expected_costs()`, `expected_tokens()`, `expected_total()`) and its own
all-time credits (`credits()`).

It follows the documented API (provider-apis-2026.md §1.5, the API reference's
get-user-activity and get-credits): Bearer auth where only the management key may read
(401 for an unknown key, 403 for an ordinary inference key), `{"error": {"code",
"message"}}` bodies, `/activity` answering `{"data": [...]}` for the last 30 completed UTC
days only (a `date` outside them, today included, is a 400, as the real API refuses it),
one item per date × model × endpoint summed across workspaces unless `group_by=workspace`
splits them and adds `workspace_id`; `workspace_id` filters; an unknown parameter is a 400.
Money goes out as JSON numbers. Knobs: `fail()`, `throttle()` (429 with Retry-After),
`revise()` (a day's figures change, as late billing does), `malform()` (a field of a day's
answer broken). `requests` logs every request as (path, query).
"""

from __future__ import annotations

import functools
import json
import random
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fakes.server import FakeHTTPServer, FakeServer

MANAGEMENT_KEY = "sk-or-v1-mgmt-fake-2b7e41a8c5d06a3f0c9d"
API_KEY = "sk-or-v1-fake-inference-1f2e3d4c5b6a7980"  # valid, but an ordinary key: 403 on management APIs
WINDOW_DAYS = 30
MISSING = object()  # `malform(..., value=MISSING)` deletes the field
_NS = uuid.UUID("6f1d3c52-8a0e-4c1b-9a57-0d2f3e4b5a69")
_PARAMS = {"date", "api_key_hash", "user_id", "group_by", "workspace_id"}  # the documented ones


@dataclass(frozen=True)
class Endpoint:
    """A model served by one upstream provider: what /activity groups by."""

    model: str
    permaslug: str
    provider: str
    reasoning: bool = False  # has reasoning tokens
    byok: bool = False  # bought on the user's own provider key: OpenRouter bills a fee only
    free: bool = False

    @property
    def id(self) -> str:
        return _endpoint_id(self.permaslug, self.provider)


CATALOGUE = (
    Endpoint("anthropic/claude-sonnet-4.5", "anthropic/claude-4.5-sonnet-20250929", "Anthropic", True),
    Endpoint("anthropic/claude-sonnet-4.5", "anthropic/claude-4.5-sonnet-20250929", "Amazon Bedrock", True),
    Endpoint("openai/gpt-4.1", "openai/gpt-4.1-2025-04-14", "OpenAI"),
    Endpoint("openai/gpt-4.1", "openai/gpt-4.1-2025-04-14", "Azure", byok=True),
    Endpoint("google/gemini-2.5-flash", "google/gemini-2.5-flash", "Google AI Studio", True),
    Endpoint("google/gemini-2.5-flash", "google/gemini-2.5-flash", "Google Vertex", True),
    Endpoint("openai/o4-mini", "openai/o4-mini-2025-04-16", "OpenAI", True),
    Endpoint("deepseek/deepseek-chat-v3.1", "deepseek/deepseek-chat-v3.1", "DeepInfra"),
    Endpoint("meta-llama/llama-3.3-70b-instruct", "meta-llama/llama-3.3-70b-instruct", "Groq"),
    Endpoint("x-ai/grok-4", "x-ai/grok-4-07-09", "xAI", True),
    Endpoint(
        "mistralai/mistral-small-3.2-24b-instruct", "mistralai/mistral-small-3.2-24b-instruct-2506", "Mistral"
    ),
    Endpoint("meta-llama/llama-3.3-8b-instruct:free", "meta-llama/llama-3.3-8b-instruct", "Meta", free=True),
)
_PROVIDERS = ("Together", "Fireworks", "Novita", "Chutes", "Parasail", "Lambda")


def catalogue(n: int) -> list[Endpoint]:
    """The first `n` endpoints: the real-looking ones, then made-up models of made-up vendors."""
    extra = [
        Endpoint(
            f"vendor-{i // 3}/model-{i}", f"vendor-{i // 3}/model-{i}-2026", _PROVIDERS[i % len(_PROVIDERS)]
        )
        for i in range(max(0, n - len(CATALOGUE)))
    ]
    return [*CATALOGUE, *extra][:n]


@functools.cache
def _endpoint_id(permaslug: str, provider: str) -> str:
    return str(uuid.uuid5(_NS, f"{permaslug}@{provider}"))


def _error(status: int, message: str) -> tuple[int, Any]:
    return status, {"error": {"code": status, "message": message}}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: FakeHTTPServer

    def do_GET(self) -> None:
        status, body, headers = self.server.fake.handle(self.path, self.headers.get("Authorization"))
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class FakeOpenRouter(FakeServer):
    """An OpenRouter account's history, served; a context manager, or call `stop()`.

    The history runs `days` days from `start` (default: the `days` days before `today`);
    `today` (default: the real UTC date; settable) bounds what /activity serves: the 30 days
    before it. `workspaces` × `endpoints` (of `catalogue()`), each used on a day with
    probability `density`, seeded by `seed`; `spent_before` is what the account spent before
    the history began, `bought` the credits it ever bought.
    """

    url_path = "/api/v1"

    def __init__(
        self,
        *,
        start: date | None = None,
        days: int = 45,
        today: date | None = None,
        workspaces: int = 2,
        endpoints: int = 8,
        density: float = 0.75,
        seed: int = 11,
        spent_before: Decimal = Decimal("123.456789"),
        bought: Decimal = Decimal("25000"),
        management_key: str = MANAGEMENT_KEY,
        api_key: str = API_KEY,
    ) -> None:
        self.today = today or datetime.now(UTC).date()
        self.start = start or self.today - timedelta(days=days)
        self.days, self.density, self.seed = days, density, seed
        self.workspaces = [str(uuid.uuid5(_NS, f"workspace-{seed}-{w}")) for w in range(workspaces)]
        self.endpoints = catalogue(endpoints)
        self.spent_before, self.bought = spent_before, bought
        self.management_key, self.api_key = management_key, api_key
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.revisions: dict[date, Decimal] = {}
        self._faults: list[dict[str, Any]] = []
        self._throttle: tuple[int, int] | None = None
        self._malformed: dict[date, tuple[str, object, int]] = {}
        self._lock = threading.Lock()
        # each day's spend before revisions, for the all-time total /credits answers
        self._spent = {
            day: sum((it["usage"] for it in self.items(day)), Decimal(0)) for day in self.history()
        }
        self.listen(_Handler)

    # ---- the account's truth ------------------------------------------------------------------

    def history(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]

    def window(self) -> tuple[date, date]:
        """[first, end) of the days /activity serves: the last 30 completed UTC days."""
        return self.today - timedelta(days=WINDOW_DAYS), self.today

    def served(self) -> list[date]:
        """The days of the history /activity serves (what a full sync brings into the ledger)."""
        first, end = self.window()
        return [d for d in self.history() if first <= d < end]

    def items(self, day: date) -> list[dict[str, Any]]:
        """The day's activity at the finest grain (workspace × endpoint), money as Decimal."""
        if not self.start <= day < self.start + timedelta(days=self.days):
            return []
        draw = random.Random(f"{self.seed}:{day.isoformat()}").random

        def between(low: int, high: int) -> int:  # randint's figures, at a fraction of its cost
            return low + int(draw() * (high - low + 1))

        factor, zero = self.revisions.get(day, Decimal(1)), Decimal(0)
        out = []
        for workspace in self.workspaces:
            for ep in self.endpoints:
                if draw() >= self.density:
                    continue
                requests = between(1, 400)
                completion = requests * between(20, 900)
                cost = Decimal(between(1, 4_000_000_000)).scaleb(-9)  # up to $4, to the nano-dollar
                usage, byok = (zero, zero) if ep.free else (cost, zero)
                if ep.byok:  # the upstream bill is the user's; OpenRouter charges its 5 % fee
                    usage, byok = (cost * Decimal("0.05")).quantize(Decimal("1e-9")), cost
                out.append(
                    {
                        "date": day.isoformat(),
                        "model": ep.model,
                        "model_permaslug": ep.permaslug,
                        "endpoint_id": ep.id,
                        "provider_name": ep.provider,
                        "usage": usage * factor,
                        "byok_usage_inference": byok * factor,
                        "requests": requests,
                        "prompt_tokens": requests * between(100, 6000),
                        "completion_tokens": completion,
                        "reasoning_tokens": between(0, completion // 2) if ep.reasoning else 0,
                        "workspace_id": workspace,
                    }
                )
        return out

    def expected_costs(self) -> dict[tuple[str, str, str], Decimal]:
        """USD by (day, workspace, model) over the served days: what the ledger must hold."""
        out: dict[tuple[str, str, str], Decimal] = {}
        for day in self.served():
            for it in self.items(day):
                key = (it["date"], it["workspace_id"], it["model"])
                out[key] = out.get(key, Decimal(0)) + it["usage"]
        return out

    def expected_tokens(self) -> dict[tuple[str, str, str], dict[str, int]]:
        """Requests and tokens by (day, workspace, model) over the served days."""
        out: dict[tuple[str, str, str], dict[str, int]] = {}
        names = ("requests", "prompt_tokens", "completion_tokens", "reasoning_tokens")
        for day in self.served():
            for it in self.items(day):
                sums = out.setdefault((it["date"], it["workspace_id"], it["model"]), dict.fromkeys(names, 0))
                for name in names:
                    sums[name] += it[name]
        return out

    def expected_total(self) -> Decimal:
        return sum(self.expected_costs().values(), Decimal(0))

    def credits(self) -> tuple[Decimal, Decimal]:
        """(total_credits, total_usage): every credit bought and spent, the whole history included."""
        one = Decimal(1)
        spent = sum((v * self.revisions.get(day, one) for day, v in self._spent.items()), self.spent_before)
        return self.bought, spent

    # ---- knobs --------------------------------------------------------------------------------

    def revise(self, day: date, factor: int | str | Decimal) -> None:
        """Multiply the money of `day` by `factor` (a late revision of that day's billing)."""
        self.revisions[day] = Decimal(factor)

    def fail(
        self,
        status: int,
        *,
        at: int = 1,
        times: int | None = 1,
        retry_after: int | None = None,
        path: str = "",
    ) -> None:
        """Answer `status` to the `at`-th next request whose path contains `path`, and to the
        `times - 1` after it (None: forever); `retry_after` adds the Retry-After header."""
        self._faults.append(
            {"status": status, "at": at, "times": times, "after": retry_after, "path": path, "seen": 0}
        )

    def clear_faults(self) -> None:
        """Answer normally again: no faults, no throttling, nothing malformed."""
        self._faults.clear()
        self._throttle = None
        self._malformed.clear()

    def throttle(self, *, every: int, retry_after: int) -> None:
        """Refuse every `every`-th request with 429 and Retry-After (OpenRouter's rate limit)."""
        self._throttle = (every, retry_after)

    def malform(self, day: date, *, field: str = "usage", value: object = "abc", index: int = 0) -> None:
        """In the answer for `day`, set item `index`'s `field` to `value` (MISSING: delete it)."""
        self._malformed[day] = (field, value, index)

    # ---- HTTP ---------------------------------------------------------------------------------

    def handle(self, raw_path: str, auth: str | None) -> tuple[int, bytes, dict[str, str]]:
        url = urlsplit(raw_path)
        query = parse_qs(url.query, keep_blank_values=True)
        headers: dict[str, str] = {}
        with self._lock:
            self.requests.append((url.path, query))
            fault = next((f for f in self._faults if self._trips(f, url.path)), None)
            throttled = self._throttle is not None and len(self.requests) % self._throttle[0] == 0
        key = (auth or "").removeprefix("Bearer ")
        if fault is not None:
            if fault["after"] is not None:
                headers["Retry-After"] = str(fault["after"])
            status, body = _error(fault["status"], "fake fault")
        elif throttled and self._throttle is not None:
            headers["Retry-After"] = str(self._throttle[1])
            status, body = _error(429, "Rate limit exceeded: too many requests")
        elif not key:
            status, body = _error(401, "No auth credentials found")
        elif key == self.api_key:
            status, body = _error(403, "Only management keys can perform this operation")
        elif key != self.management_key:
            status, body = _error(401, "User not found.")
        elif url.path == "/api/v1/activity":
            status, body = self._activity(query)
        elif url.path == "/api/v1/credits":
            bought, spent = self.credits()
            status, body = 200, {"data": {"total_credits": float(bought), "total_usage": float(spent)}}
        else:
            status, body = _error(404, f"Not Found: {url.path}")
        return status, json.dumps(body).encode(), headers

    def _trips(self, fault: dict[str, Any], path: str) -> bool:
        if fault["path"] not in path:
            return False
        fault["seen"] += 1
        until = None if fault["times"] is None else fault["at"] + fault["times"]
        return bool(fault["at"] <= fault["seen"] and (until is None or fault["seen"] < until))

    def _activity(self, q: dict[str, list[str]]) -> tuple[int, Any]:
        if unknown := set(q) - _PARAMS:
            return _error(400, f"Unknown query parameter(s): {', '.join(sorted(unknown))}")
        group_by, only = _one(q, "group_by"), _one(q, "workspace_id")
        if group_by not in (None, "workspace"):
            return _error(400, "Invalid group_by: must be 'workspace'")
        first, end = self.window()
        days = [first + timedelta(days=i) for i in range(WINDOW_DAYS)]
        if (asked := _one(q, "date")) is not None:
            try:
                day = date.fromisoformat(asked)
            except ValueError:
                return _error(400, "Invalid date format or date range: use YYYY-MM-DD")
            if len(asked) != 10 or not first <= day < end:
                return _error(400, "Invalid date format or date range: the last 30 completed UTC days only")
            days = [day]
        data = []
        for day in days:
            items = [it for it in self.items(day) if only is None or it["workspace_id"] == only]
            rows = items if group_by == "workspace" else _across_workspaces(items)
            rows = [{k: float(v) if isinstance(v, Decimal) else v for k, v in r.items()} for r in rows]
            if day in self._malformed and rows:
                field, value, index = self._malformed[day]
                if value is MISSING:
                    rows[index].pop(field, None)
                else:
                    rows[index][field] = value
            data.extend(rows)
        return 200, {"data": data}


def _across_workspaces(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items summed by (date, model, endpoint), without workspace_id: the default grouping."""
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    for it in items:
        key = (it["date"], it["model"], it["endpoint_id"])
        row = {k: v for k, v in it.items() if k != "workspace_id"}
        if key in merged:
            for name, value in row.items():
                if isinstance(value, int | Decimal) and not isinstance(value, bool):
                    merged[key][name] += value
        else:
            merged[key] = row
    return list(merged.values())


def _one(q: dict[str, list[str]], name: str) -> str | None:
    values = q.get(name, [])
    return values[-1] if values else None
