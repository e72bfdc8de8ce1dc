"""A fake OpenAI Admin API on 127.0.0.1: costs, usage, projects and API keys from a seed.

Why: connector tests run over real HTTP (STYLE.md, "real databases, fake networks"), and
the fake is also the oracle: `expected_costs()` and `expected_tokens()` give its own truth,
so a test compares what the connector read with what the organisation spent, to the cent.

It follows provider-apis.md §1: `page`/`bucket` envelope, 1d buckets, `limit` counted in
buckets and validated (costs ≤ 180, usage ≤ 31), opaque `next_page` cursors, repeated or
`[]`-suffixed array params, group_by aggregation with null dims, `after`/`last_id` lists,
Bearer auth (401 wrong key, 403 non-admin key) and the `{"error": {...}}` body.

Speed: each day is generated from the seed when asked for (nothing is kept), costs are
derived from that day's usage (tokens × a per-model rate, batch at half price, so the two
endpoints agree), and the fully grouped queries a connector sends are encoded with string
templates rather than dicts and `json.dumps`: a 365-day × 40-project × 15-model year
(~730k cost rows) pages out in a few seconds.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ADMIN_KEY = "sk-admin-fake-6a3f0c9d2b7e41a8c5d0"
PROJECT_KEY = "sk-proj-fake-1f2e3d4c5b6a79800e1f"  # a valid key, but not an admin one: 403
MISSING = object()  # `malform(..., value=MISSING)` deletes the field
DAY = 86_400

# name, $ per 1M tokens: input, cached input (None: no caching), output, audio in, audio out
_MODELS: tuple[tuple[str, str, str | None, str, str | None, str | None], ...] = (
    ("gpt-4o-2024-08-06", "2.50", "1.25", "10.00", None, None),
    ("gpt-4o-mini-2024-07-18", "0.15", "0.075", "0.60", None, None),
    ("gpt-4.1-2025-04-14", "2.00", "0.50", "8.00", None, None),
    ("o3-2025-04-16", "2.00", "0.50", "8.00", None, None),
    ("gpt-4o-audio-preview-2024-12-17", "2.50", None, "10.00", "40.00", "80.00"),
    ("gpt-4.1-mini-2025-04-14", "0.40", "0.10", "1.60", None, None),
    ("o4-mini-2025-04-16", "1.10", "0.275", "4.40", None, None),
    ("gpt-realtime-2025-08-28", "4.00", "0.40", "16.00", "32.00", "64.00"),
    ("gpt-5-2025-08-07", "1.25", "0.125", "10.00", None, None),
    ("gpt-5-mini-2025-08-07", "0.25", "0.025", "2.00", None, None),
    ("gpt-4.1-nano-2025-04-14", "0.10", "0.025", "0.40", None, None),
    ("o3-mini-2025-01-31", "1.10", "0.55", "4.40", None, None),
    ("gpt-5-nano-2025-08-07", "0.05", "0.005", "0.40", None, None),
    ("gpt-4-turbo-2024-04-09", "10.00", None, "30.00", None, None),
    ("gpt-3.5-turbo-0125", "0.50", None, "1.50", None, None),
)
_RATES = [tuple(Decimal(r) / 1_000_000 if r else None for r in spec[1:]) for spec in _MODELS]  # $ per token
_KINDS = ("input", "cached input", "output", "audio input", "audio output")
_LINES = [tuple(f"{spec[0]}, {kind}" for kind in _KINDS) for spec in _MODELS]  # costs line items
# usage endpoint (after "usage/") → the metric costs are priced on, its daily max, model (None: the
# endpoint has none, nor num_model_requests), costs line item, $ per unit, quantity_unit
_EXTRAS: dict[str, tuple[str, int, str | None, str, str, str | None]] = {
    "embeddings": (
        "input_tokens",
        900_000,
        "text-embedding-3-small",
        "{model}, input",
        "0.00000002",
        "tokens",
    ),
    "moderations": ("input_tokens", 90_000, "omni-moderation-2024-09-26", "", "0", None),
    "images": ("images", 60, "gpt-image-1", "{model}, image generation", "0.042", "images"),
    "audio_speeches": ("characters", 200_000, "tts-1", "{model}, characters", "0.000015", "characters"),
    "audio_transcriptions": (
        "seconds",
        20_000,
        "whisper-1",
        "{model}, seconds",
        "0.0001",
        "duration_seconds",
    ),
    "vector_stores": ("usage_bytes", 5 * 10**9, None, "vector store storage", "0.000000000004", None),
    "code_interpreter_sessions": ("num_sessions", 40, None, "code interpreter sessions", "0.03", None),
    "web_search_calls": ("num_requests", 300, "gpt-4o-2024-08-06", "web search tool calls", "0.01", None),
    "file_search_calls": ("num_requests", 500, None, "file search tool calls", "0.0025", None),
}
_UNITS = {line.format(model=model): json.dumps(unit) for _m, _t, model, line, _p, unit in _EXTRAS.values()}
_OBJECTS = {"web_search_calls": "web_searches", "file_search_calls": "file_searches"}  # not the path's name
_FIXED_DIMS = {
    "images": {"size": "1024x1024", "source": "image.generation"},
    "web_search_calls": {"context_level": "low"},
}
_NO_KEYS = ("vector_stores", "code_interpreter_sessions")  # grouped by project only
_COMPLETION_DIMS = ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier")
_COMPLETION_METRICS = (  # noqa: SIM905 (three lines, not seventeen)
    "input_tokens output_tokens input_cached_tokens input_cache_write_tokens input_uncached_tokens "
    "input_text_tokens output_text_tokens input_cached_text_tokens input_audio_tokens "
    "input_cached_audio_tokens output_audio_tokens input_image_tokens input_cached_image_tokens "
    "output_image_tokens num_model_requests"
).split()
# The ledger's token fields, from the API's (input counts cached reads and writes; audio is uncached)
_LEDGER_TOKENS = {
    "input": "input_tokens",
    "cached_input": "input_cached_tokens",
    "cache_write_5m": "input_cache_write_tokens",
    "audio_input": "input_audio_tokens",
    "output": "output_tokens",
    "audio_output": "output_audio_tokens",
}
_FORBIDDEN = (
    "You have insufficient permissions for this operation. Missing scopes: api.usage.read. "
    "Check that you have the correct role in your organization."
)
_PROJECT_NAMES = (
    "Support bot|Search|Checkout assistant|Data pipeline|Docs Q&A|Mobile app|Growth|Internal tools"
)
# The templates of the fully grouped rows (the connector's queries): ~10x faster than json.dumps.
_COMPLETION_ROW = (
    '{"object":"organization.usage.completions.result",'
    + "".join(f'"{name}":%d,' for name in _COMPLETION_METRICS)
    + '"project_id":"%s","user_id":null,"api_key_id":%s,"model":"%s","batch":%s,"service_tier":"%s"}'
)
_COST_ROW = (
    '{"object":"organization.costs.result","amount":{"value":%s,"currency":"usd"},"line_item":"%s",'
    '"project_id":"%s","api_key_id":%s,"quantity":%d,"quantity_unit":%s}'
)
Rows = list[tuple[dict[str, Any], dict[str, Any]]]  # (dimensions, summable metrics)


@dataclass(frozen=True)
class FakeProject:
    id: str
    name: str
    archived: bool
    keys: tuple[tuple[str, str], ...]  # (api key id, name)

    def key(self, index: int) -> str | None:
        return self.keys[index % len(self.keys)][0] if self.keys else None


def _completion_values(counts: tuple[int, ...]) -> tuple[int, ...]:
    """A completions row's `_COMPLETION_METRICS`: input counts cached and writes in, audio is uncached."""
    text, cached, write, audio, a_cached, out, out_audio, req = counts
    whole, output = text + cached + write + audio + a_cached, out + out_audio
    return (
        whole,
        output,
        cached + a_cached,
        write,
        text + audio,
        text,
        out,
        cached,
        audio,
        a_cached,
        out_audio,
        0,
        0,
        0,
        req,
    )


def _json(value: str | None) -> str:
    return "null" if value is None else f'"{value}"'


def _error(status: int, message: str, type_: str = "invalid_request_error", **more: str) -> tuple[int, Any]:
    """OpenAI's error body: `Error` requires type, message, param and code (null when unknown)."""
    return status, {"error": {"message": message, "type": type_, "param": None, "code": None, **more}}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeOpenAIAdmin


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the connector's client reuses its connection
    disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms delayed-ACK stall
    server: _Server

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


class FakeOpenAIAdmin:
    """The fake organisation and its server; a context manager, or call `stop()`.

    Knobs: `fail()` (429/5xx on the nth matching request), `malform()` (a bad field on
    page k of an endpoint), `revise()` (change a day's figures between runs) and
    `page_buckets` (fewer buckets per page than `limit`, to force paging). `requests`
    logs every request as (path, query); `malformed_paths` the fields `malform` broke.
    """

    def __init__(
        self,
        *,
        start: date = date(2025, 3, 1),
        days: int = 7,
        projects: int = 3,
        archived: int = 1,
        models: int = 4,
        keys_per_project: int = 2,
        density: float = 0.4,
        seed: int = 1,
        empty_days: tuple[int, ...] = (),
        page_buckets: int | None = None,
        admin_key: str = ADMIN_KEY,
        project_key: str = PROJECT_KEY,
    ) -> None:
        self.start, self.days, self.seed, self.density = start, days, seed, density
        self.n_models, self.empty_days, self.page_buckets = (
            min(models, len(_MODELS)),
            empty_days,
            page_buckets,
        )
        self.admin_key, self.project_key = admin_key, project_key
        names = _PROJECT_NAMES.split("|")
        self.projects = [
            FakeProject(
                id="proj_" + hashlib.sha256(f"{seed}:{p}".encode()).hexdigest()[:20],
                name=names[p % len(names)] + (f" {p // len(names) + 1}" if p >= len(names) else ""),
                archived=p >= projects - archived,  # the last ones: archived, with history
                keys=tuple(
                    (f"key_{p:03d}{k:02d}{seed:011d}", f"key {k + 1} of {p + 1}")
                    for k in range(keys_per_project)
                ),
            )
            for p in range(projects)
        ]
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.malformed_paths: list[str] = []
        self._faults: list[dict[str, Any]] = []
        self._malformed: dict[tuple[str, int], tuple[str, object]] = {}
        self._revisions: dict[tuple[int, int | None], Decimal] = {}
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> FakeOpenAIAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- knobs ----------------------------------------------------------------------------

    def fail(
        self,
        status: int,
        *,
        at: int = 1,
        times: int | None = 1,
        retry_after: int | None = None,
        path: str = "",
    ):
        """Answer `status` to the `at`-th next request whose path contains `path`, and to the
        `times - 1` after it (None: forever); `retry_after` adds the Retry-After header."""
        self._faults.append(
            {"status": status, "at": at, "times": times, "after": retry_after, "path": path, "seen": 0}
        )

    def malform(
        self, endpoint: str, *, page: int = 1, field: str = "amount.value", value: object = "abc"
    ) -> None:
        """On page `page` of `endpoint`, set `field` (dotted, in the first result of the first
        non-empty bucket) to `value`, or delete it with `value=MISSING`."""
        self._malformed[(endpoint, page)] = (field, value)

    def revise(self, day: date | str, *, factor: Decimal | str | int = 2, project: str | None = None) -> None:
        """Multiply one day's counts, and so its costs, by `factor`: one project (name or id) or all."""
        offset = ((date.fromisoformat(day) if isinstance(day, str) else day) - self.start).days
        index = next((i for i, p in enumerate(self.projects) if project in (p.id, p.name)), None)
        if project is not None and index is None:
            raise ValueError(f"no project {project!r}")
        self._revisions[(offset, index)] = Decimal(factor)

    # ---- truth ----------------------------------------------------------------------------

    def expected_costs(self) -> dict[tuple[str, str, str], Decimal]:
        """{(day ISO, project name, model or "" for tools and storage): dollars}, exact."""
        out: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
        for offset in range(self.days):
            day = (self.start + timedelta(offset)).isoformat()
            for p, _line, _key, model, amount, _qty in self._cost_rows(offset):
                out[(day, self.projects[p].name, model)] += amount
        return dict(out)

    def expected_tokens(self) -> dict[tuple[str, str, str], dict[str, int]]:
        """{(day ISO, project name, model): TokenCounts fields}, in the ledger's semantics."""
        out: dict[tuple[str, str, str], dict[str, int]] = {}
        for offset in range(self.days):
            day = (self.start + timedelta(offset)).isoformat()
            for p, m, _batch, counts in self._uses(offset):
                api = dict(zip(_COMPLETION_METRICS, _completion_values(counts), strict=True))
                total = out.setdefault((day, self.projects[p].name, _MODELS[m][0]), defaultdict(int))
                for field, api_field in _LEDGER_TOKENS.items():
                    total[field] += api[api_field]
            for name in ("embeddings", "moderations"):
                for p, metrics in self._extras(offset, name):
                    key = (day, self.projects[p].name, str(_EXTRAS[name][2]))
                    out.setdefault(key, defaultdict(int))["input"] += metrics["input_tokens"]
        return {k: dict(v) for k, v in out.items()}

    # ---- the seeded organisation ------------------------------------------------------------

    def _factor(self, offset: int, p: int) -> Decimal | None:
        return self._revisions.get((offset, p)) or self._revisions.get((offset, None))

    def _live(self, offset: int) -> bool:
        return 0 <= offset < self.days and offset not in self.empty_days

    def _uses(self, offset: int) -> list[tuple[int, int, bool, tuple[int, ...]]]:
        """One day of completions: (project, model, batch, (uncached text, cached text, cache
        writes, uncached audio, cached audio, text out, audio out, requests))."""
        rows: list[tuple[int, int, bool, tuple[int, ...]]] = []
        rnd = random.Random(f"{self.seed}:{offset}").random
        for p in range(len(self.projects) if self._live(offset) else 0):
            factor = self._factor(offset, p)
            for m in range(self.n_models):
                if rnd() >= self.density:
                    continue
                caches, speaks = _MODELS[m][2] is not None, _MODELS[m][4] is not None
                for batch in (False, True) if m % 4 == 1 else (False,):
                    req = 1 + int(rnd() * 400)
                    text, out = req * (100 + int(rnd() * 2900)), req * (20 + int(rnd() * 800))
                    cached = int(text * rnd() * 0.6) if caches else 0
                    write = text // 20 if caches and m % 3 == 0 else 0
                    audio = req * (50 + int(rnd() * 450)) if speaks else 0
                    a_cached, out_audio = audio // 5 if caches else 0, out // 3 if speaks else 0
                    counts = (text, cached, write, audio, a_cached, out, out_audio, req)
                    rows.append((p, m, batch, tuple(int(c * factor) for c in counts) if factor else counts))
        return rows

    def _extras(self, offset: int, name: str) -> list[tuple[int, dict[str, int]]]:
        """One day of a non-completions usage endpoint: (project, metrics), for about half the projects."""
        metric, top, model, *_ = _EXTRAS[name]
        rows = []
        rnd = random.Random(f"{self.seed}:{offset}:{name}").random
        for p in range(len(self.projects) if self._live(offset) else 0):
            if rnd() < 0.5:
                metrics = {metric: 1 + int(rnd() * top)}
                if model is not None:
                    metrics["num_model_requests"] = 1 + int(rnd() * 300)
                factor = self._factor(offset, p)
                rows.append((p, {k: int(v * factor) for k, v in metrics.items()} if factor else metrics))
        return rows

    def _cost_rows(self, offset: int) -> list[tuple[int, str, str | None, str, Decimal, int]]:
        """One day of costs, from its usage: (project, line item, api key id, model or "", $, quantity)."""
        items: dict[tuple[int, str], list[Any]] = {}
        for p, m, batch, (text, cached, write, audio, a_cached, out, out_audio, _) in self._uses(offset):
            quantities = (text + write, cached + a_cached, out, audio, out_audio)  # in _KINDS' order
            for line, qty, rate in zip(_LINES[m], quantities, _RATES[m], strict=True):
                if qty and rate:
                    amount = qty * rate / 2 if batch else qty * rate  # batch: half price
                    item = items.get((p, line))
                    if item is None:
                        items[(p, line)] = [self.projects[p].key(m), _MODELS[m][0], amount, qty]
                    else:
                        item[2] += amount
                        item[3] += qty
        for name, (metric, _top, model, line, price, _unit) in _EXTRAS.items():
            for p, metrics in self._extras(offset, name) if line else ():
                key = None if name in _NO_KEYS else self.projects[p].key(0)
                qty, item_model = metrics[metric], model if "{model}" in line else ""
                items[(p, line.format(model=model))] = [key, item_model or "", qty * Decimal(price), qty]
        return [(p, line, key, model, amount, qty) for (p, line), (key, model, amount, qty) in items.items()]

    def _rows(self, endpoint: str, offset: int) -> Rows:
        """One day of `endpoint` at its finest grain, as (dimensions, metrics): the general path."""
        if endpoint == "costs":
            return [
                (
                    {"project_id": self.projects[p].id, "line_item": line, "api_key_id": key},
                    {"amount": a, "quantity": q},
                )
                for p, line, key, _model, a, q in self._cost_rows(offset)
            ]
        if endpoint == "usage/completions":
            return [
                (dict(zip(_COMPLETION_DIMS, self._completion_dims(p, m, batch), strict=True)),
                 dict(zip(_COMPLETION_METRICS, _completion_values(counts), strict=True)))
                for p, m, batch, counts in self._uses(offset)
            ]  # fmt: skip
        name, rows = endpoint.removeprefix("usage/"), []
        for p, metrics in self._extras(offset, name):
            project = self.projects[p]
            dims: dict[str, Any] = {"project_id": project.id}
            if name not in _NO_KEYS:
                dims |= {"user_id": None, "api_key_id": project.key(0)}
            if _EXTRAS[name][2]:
                dims["model"] = _EXTRAS[name][2]
            dims |= _FIXED_DIMS.get(name, {})
            if name == "file_search_calls":
                dims["vector_store_id"] = f"vs_{project.id[5:17]}"
            rows.append((dims, metrics))
        return rows

    def _completion_dims(self, p: int, m: int, batch: bool) -> tuple[Any, ...]:
        tier = "priority" if (p + m) % 7 == 3 and not batch else "default"
        return (self.projects[p].id, None, self.projects[p].key(m), _MODELS[m][0], batch, tier)

    def _fast(self, endpoint: str, offset: int, wanted: set[str]) -> list[str]:
        """One day of costs or completions, fully grouped, straight to JSON text."""
        ids = [p.id for p in self.projects]
        if endpoint == "costs":
            return [
                _COST_ROW % (a, line, ids[p], _json(key), q, _UNITS.get(line, '"tokens"'))
                for p, line, key, _model, a, q in self._cost_rows(offset)
                if not wanted or ids[p] in wanted
            ]
        out = []
        for p, m, batch, counts in self._uses(offset):
            if not wanted or ids[p] in wanted:
                project, _, key, model, _, tier = self._completion_dims(p, m, batch)
                flag = "true" if batch else "false"
                out.append(
                    _COMPLETION_ROW % (*_completion_values(counts), project, _json(key), model, flag, tier)
                )
        return out

    # ---- HTTP -------------------------------------------------------------------------------

    def handle(self, raw_path: str, auth: str | None) -> tuple[int, bytes, dict[str, str]]:
        """Answer one GET: faults first, then auth, then the route."""
        url = urlsplit(raw_path)
        query = parse_qs(url.query, keep_blank_values=True)
        headers: dict[str, str] = {}
        with self._lock:
            self.requests.append((url.path, query))
            fault = next((f for f in self._faults if self._trips(f, url.path)), None)
        key = (auth or "").removeprefix("Bearer ")
        if fault is not None:
            if fault["after"] is not None:
                headers["Retry-After"] = str(fault["after"])
            status, body = _error(
                fault["status"], "fake fault", "requests" if fault["status"] == 429 else "server_error"
            )
        elif not key:
            status, body = _error(401, "You didn't provide an API key.")
        elif key == self.project_key:
            status, body = _error(403, _FORBIDDEN)
        elif key != self.admin_key:  # the real API echoes a redacted key
            status, body = _error(
                401, f"Incorrect API key provided: {key[:3]}*****{key[-4:]}.", code="invalid_api_key"
            )
        else:
            status, body = self._route(url.path.removeprefix("/v1/organization/"), query)
        return status, body if isinstance(body, bytes) else json.dumps(body).encode(), headers

    def _trips(self, fault: dict[str, Any], path: str) -> bool:
        if fault["path"] not in path:
            return False
        fault["seen"] += 1
        return bool(
            fault["at"] <= fault["seen"]
            and (fault["times"] is None or fault["seen"] < fault["at"] + fault["times"])
        )

    def _route(self, path: str, q: dict[str, list[str]]) -> tuple[int, Any]:
        try:
            if path in ("costs", "usage/completions") or path.removeprefix("usage/") in _EXTRAS:
                return self._buckets(path, q)
            if path == "projects":
                listed = [p for p in self.projects if _one(q, "include_archived") == "true" or not p.archived]
                return _listing([_project_json(p) for p in listed], q)
            parts = path.split("/")
            if len(parts) == 3 and parts[0] == "projects" and parts[2] == "api_keys":
                project = next((p for p in self.projects if p.id == parts[1]), None)
                if project is None:
                    return _error(404, f"No such project: {parts[1]}")
                obj = "organization.project.api_key"
                return _listing(
                    [
                        {"object": obj, "id": k, "name": n, "created_at": 1_700_000_000}
                        for k, n in project.keys
                    ],
                    q,
                )
        except ValueError as exc:  # a bad integer or cursor
            return _error(400, str(exc))
        return _error(404, f"Invalid URL (GET /v1/organization/{path})")

    def _buckets(self, endpoint: str, q: dict[str, list[str]]) -> tuple[int, Any]:
        """The `page` of buckets the query asks for, grouped and filtered as asked, as JSON bytes."""
        if _one(q, "start_time") is None:
            return _error(400, "Missing required parameter: 'start_time'.", param="start_time")
        epoch, end = (self.start - date(1970, 1, 1)).days, _one(q, "end_time")
        first, last = (
            int(_one(q, "start_time") or 0) // DAY,
            -(-int(end) // DAY) if end else epoch + self.days,
        )
        if (_one(q, "bucket_width") or "1d") != "1d":
            return _error(400, "Invalid bucket_width: this fake serves 1d buckets only", param="bucket_width")
        top, limit = 180 if endpoint == "costs" else 31, int(_one(q, "limit") or 7)
        if not 1 <= limit <= top:
            return _error(
                400, f"Invalid limit: must be between 1 and {top} for bucket_width 1d", param="limit"
            )
        group_by, wanted, dims = set(_many(q, "group_by")), set(_many(q, "project_ids")), self._dims(endpoint)
        if group_by - set(dims):
            return _error(400, f"Invalid group_by: {sorted(group_by - set(dims))}", param="group_by")
        cursor = _one(q, "page")
        pos, number = (
            map(int, base64.urlsafe_b64decode(cursor[5:]).decode().split(":")) if cursor else (first, 1)
        )
        stop = min(pos + min(limit, self.page_buckets or limit), last)
        fast = endpoint in ("costs", "usage/completions") and group_by >= set(dims) - {"user_id"}
        if (endpoint, number) in self._malformed:  # the slow path, whose dicts can be broken
            fast = False
        data: list[Any] = []
        for day in range(pos, stop):
            bucket = {"object": "bucket", "start_time": day * DAY, "end_time": (day + 1) * DAY}
            if fast:
                data.append(
                    json.dumps(bucket)[:-1]
                    + ',"results":['
                    + ",".join(self._fast(endpoint, day - epoch, wanted))
                    + "]}"
                )
            else:
                rows = [
                    r for r in self._rows(endpoint, day - epoch) if not wanted or r[0]["project_id"] in wanted
                ]
                data.append(bucket | {"results": self._results(endpoint, rows, group_by)})
        if (endpoint, number) in self._malformed:
            self._break(data, *self._malformed[(endpoint, number)])
        more = stop < last
        token = "page_" + base64.urlsafe_b64encode(f"{stop}:{number + 1}".encode()).decode() if more else None
        buckets = ",".join(b if isinstance(b, str) else json.dumps(b) for b in data)
        tail = f'"has_more":{json.dumps(more)},"next_page":{_json(token)}'
        return 200, f'{{"object":"page","data":[{buckets}],{tail}}}'.encode()

    def _dims(self, endpoint: str) -> tuple[str, ...]:
        """The dimensions an endpoint's results carry, which are also its allowed group_by values."""
        if endpoint == "costs":
            return ("project_id", "line_item", "api_key_id")
        if endpoint == "usage/completions":
            return _COMPLETION_DIMS
        name = endpoint.removeprefix("usage/")
        keys = () if name in _NO_KEYS else ("user_id", "api_key_id")
        model = ("model",) if _EXTRAS[name][2] else ()
        store = ("vector_store_id",) if name == "file_search_calls" else ()
        return ("project_id", *keys, *model, *_FIXED_DIMS.get(name, {}), *store)

    def _results(self, endpoint: str, rows: Rows, group_by: set[str]) -> list[dict[str, Any]]:
        merged: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}
        for dims, metrics in rows:  # dimensions not grouped on are null, their rows summed
            key = tuple((d, v if d in group_by else None) for d, v in dims.items())
            if key in merged:
                for name, value in metrics.items():
                    merged[key][name] += value
            else:
                merged[key] = dict(metrics)
        if endpoint != "costs":
            name = endpoint.removeprefix("usage/")
            obj = f"organization.usage.{_OBJECTS.get(name, name)}.result"
            return [{"object": obj, **m, **dict(k)} for k, m in merged.items()]
        out = []
        for key, m in merged.items():
            dims = dict(key)
            line = dims["line_item"]
            unit = json.loads(_UNITS.get(line, '"tokens"'))
            quantity = {"quantity": m["quantity"], "quantity_unit": unit} if line else {}
            amount = {"value": float(m["amount"]), "currency": "usd"}  # a JSON number, as the real API sends
            out.append({"object": "organization.costs.result", "amount": amount, **dims, **quantity})
        return out

    def _break(self, data: list[dict[str, Any]], field: str, value: object) -> None:
        for b, bucket in enumerate(data):
            if bucket["results"]:
                *parents, leaf = field.split(".")
                target = bucket["results"][0]
                for name in parents:
                    target = target[name]
                if value is MISSING:
                    target.pop(leaf, None)
                else:
                    target[leaf] = value
                self.malformed_paths.append(f"data[{b}].results[0].{field}")
                return


def _one(q: dict[str, list[str]], name: str) -> str | None:
    values = _many(q, name)
    return values[-1] if values else None


def _many(q: dict[str, list[str]], name: str) -> list[str]:
    """An array parameter, sent repeated (`group_by=x`) or PHP-style (`group_by[]=x`)."""
    return q.get(name, []) + q.get(f"{name}[]", [])


def _project_json(p: FakeProject) -> dict[str, Any]:
    archived_at, status = (1_740_000_000, "archived") if p.archived else (None, "active")
    return {"id": p.id, "object": "organization.project", "name": p.name, "created_at": 1_700_000_000,
            "archived_at": archived_at, "status": status}  # fmt: skip


def _listing(items: list[dict[str, Any]], q: dict[str, list[str]]) -> tuple[int, Any]:
    """The `list` envelope with `after`/`last_id` cursor paging (limit 1..100, default 20)."""
    limit, after = int(_one(q, "limit") or 20), _one(q, "after")
    if not 1 <= limit <= 100:
        raise ValueError("Invalid limit: must be between 1 and 100")
    start = next((i + 1 for i, item in enumerate(items) if item["id"] == after), 0) if after else 0
    page = items[start : start + limit]
    first, last = (page[0]["id"], page[-1]["id"]) if page else (None, None)
    return 200, {
        "object": "list",
        "data": page,
        "first_id": first,
        "last_id": last,
        "has_more": start + limit < len(items),
    }
