"""A fake OpenAI Admin API on 127.0.0.1, serving a `SeededOrganisation` (openai_org.py).

Why: connector tests run over real HTTP (STYLE.md, "real databases, fake networks"), and
the fake is also the oracle: its `expected_costs()` / `expected_tokens()` are what the
connector must read back, to the cent.

It follows provider-apis.md §1: `page`/`bucket` envelope, 1d buckets (empty ones too),
`limit` counted in buckets and validated (costs ≤ 180, usage ≤ 31: 400 past it), opaque
`next_page` cursors, array params sent repeated or `[]`-suffixed, group_by aggregation with
null dimensions, project_ids filters, `after`/`last_id` lists, Bearer auth (401 wrong key,
403 non-admin key) and the `{"error": {...}}` body. Fully grouped costs and completions
(the connector's queries) are written with string templates, ~10x faster than dicts and
`json.dumps`, so a year of a large organisation pages out in a few seconds.
"""

from __future__ import annotations

import base64
import json
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fakes.openai_org import (
    COMPLETION_METRICS,
    EXTRAS,
    MODELS,
    NO_KEYS,
    FakeProject,
    SeededOrganisation,
    completion_values,
)
from fakes.server import FakeHTTPServer, FakeServer

ADMIN_KEY = "sk-admin-fake-6a3f0c9d2b7e41a8c5d0"
PROJECT_KEY = "sk-proj-fake-1f2e3d4c5b6a79800e1f"  # a valid key, but not an admin one: 403
MISSING = object()  # `malform(..., value=MISSING)` deletes the field
DAY = 86_400
_CREATED = 1_700_000_000  # every project's and key's created_at
_TEMPLATED = ("costs", "usage/completions")  # their fully grouped pages are written from templates

_UNITS = {line.format(model=model): json.dumps(unit) for _m, _t, model, line, _p, unit in EXTRAS.values()}
_OBJECTS = {"web_search_calls": "web_searches", "file_search_calls": "file_searches"}  # not the path's name
_FIXED_DIMS = {
    "images": {"size": "1024x1024", "source": "image.generation"},
    "web_search_calls": {"context_level": "low"},
}
_COMPLETION_DIMS = ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier")
_COMPLETION_ROW = (
    '{"object":"organization.usage.completions.result",'
    + "".join(f'"{name}":%d,' for name in COMPLETION_METRICS)
    + '"project_id":"%s","user_id":null,"api_key_id":%s,"model":"%s","batch":%s,"service_tier":"%s"}'
)
_COST_ROW = (
    '{"object":"organization.costs.result","amount":{"value":%s,"currency":"usd"},"line_item":"%s",'
    '"project_id":"%s","api_key_id":%s,"quantity":%d,"quantity_unit":%s}'
)
_FORBIDDEN = (
    "You have insufficient permissions for this operation. Missing scopes: api.usage.read. "
    "Check that you have the correct role in your organization."
)
Rows = list[tuple[dict[str, Any], dict[str, Any]]]  # (dimensions, summable metrics)


def _json(value: str | None) -> str:
    return "null" if value is None else f'"{value}"'


def _error(status: int, message: str, type_: str = "invalid_request_error", **more: str) -> tuple[int, Any]:
    """OpenAI's error body: `Error` requires type, message, param and code (null when unknown)."""
    return status, {"error": {"message": message, "type": type_, "param": None, "code": None, **more}}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the connector's client reuses its connection
    disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms delayed-ACK stall
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


class FakeOpenAIAdmin(SeededOrganisation, FakeServer):
    """The fake organisation, served; a context manager, or call `stop()`.

    Takes `SeededOrganisation`'s arguments (start, days, projects, archived, models,
    keys_per_project, density, seed, empty_days) plus `page_buckets` (serve fewer buckets
    per page than `limit`, to force paging) and the two keys it knows. Knobs: `fail()`,
    `malform()`, `revise()`. `requests` logs every request as (path, query);
    `malformed_paths` the fields `malform` broke.
    """

    url_path = "/v1"  # OpenAI's clients take the version in their base URL

    def __init__(
        self,
        *,
        page_buckets: int | None = None,
        admin_key: str = ADMIN_KEY,
        project_key: str = PROJECT_KEY,
        **org: Any,
    ) -> None:
        super().__init__(**org)
        self.page_buckets, self.admin_key, self.project_key = page_buckets, admin_key, project_key
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.malformed_paths: list[str] = []
        self._faults: list[dict[str, Any]] = []
        self._malformed: dict[tuple[str, int], tuple[str, object]] = {}
        self._lock = threading.Lock()
        self.listen(_Handler)

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

    def malform(
        self, endpoint: str, *, page: int = 1, field: str = "amount.value", value: object = "abc"
    ) -> None:
        """On page `page` of `endpoint`, set `field` (dotted, in the first result of the first
        non-empty bucket) to `value`, or delete it with `value=MISSING`."""
        self._malformed[(endpoint, page)] = (field, value)

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
            redacted = f"{key[:3]}*****{key[-4:]}"
            status, body = _error(401, f"Incorrect API key provided: {redacted}.", code="invalid_api_key")
        else:
            status, body = self._route(url.path.removeprefix("/v1/organization/"), query)
        return status, body if isinstance(body, bytes) else json.dumps(body).encode(), headers

    def _trips(self, fault: dict[str, Any], path: str) -> bool:
        if fault["path"] not in path:
            return False
        fault["seen"] += 1
        until = None if fault["times"] is None else fault["at"] + fault["times"]
        return bool(fault["at"] <= fault["seen"] and (until is None or fault["seen"] < until))

    def _route(self, path: str, q: dict[str, list[str]]) -> tuple[int, Any]:
        try:
            if path in ("costs", "usage/completions") or path.removeprefix("usage/") in EXTRAS:
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
                keys = [{"object": obj, "id": k, "name": n, "created_at": _CREATED} for k, n in project.keys]
                return _listing(keys, q)
        except ValueError as exc:  # a bad integer or cursor
            return _error(400, str(exc))
        return _error(404, f"Invalid URL (GET /v1/organization/{path})")

    def _buckets(self, endpoint: str, q: dict[str, list[str]]) -> tuple[int, Any]:
        """The `page` of buckets the query asks for, grouped and filtered as asked, as JSON bytes."""
        if _one(q, "start_time") is None:
            return _error(400, "Missing required parameter: 'start_time'.", param="start_time")
        epoch, end = (self.start - date(1970, 1, 1)).days, _one(q, "end_time")
        first = int(_one(q, "start_time") or 0) // DAY
        last = -(-int(end) // DAY) if end else epoch + self.days
        if (_one(q, "bucket_width") or "1d") != "1d":
            return _error(400, "Invalid bucket_width: this fake serves 1d buckets only", param="bucket_width")
        top, limit = 180 if endpoint == "costs" else 31, int(_one(q, "limit") or 7)
        if not 1 <= limit <= top:
            return _error(400, f"Invalid limit: must be between 1 and {top} for 1d buckets", param="limit")
        group_by, only, dims = set(_many(q, "group_by")), set(_many(q, "project_ids")), self._dims(endpoint)
        if group_by - set(dims):
            return _error(400, f"Invalid group_by: {sorted(group_by - set(dims))}", param="group_by")
        cursor = _one(q, "page")
        pos, number = map(int, base64.urlsafe_b64decode(cursor[5:]).split(b":")) if cursor else (first, 1)
        stop = min(pos + min(limit, self.page_buckets or limit), last)
        broken = self._malformed.get((endpoint, number))  # a broken page takes the dict path, to break it
        fast = not broken and endpoint in _TEMPLATED and group_by >= set(dims) - {"user_id"}
        data: list[Any] = []
        for day in range(pos, stop):
            bucket = {"object": "bucket", "start_time": day * DAY, "end_time": (day + 1) * DAY}
            if fast:
                results = ",".join(self._fast(endpoint, day - epoch, only))
                data.append(json.dumps(bucket)[:-1] + f',"results":[{results}]}}')
            else:
                rows = [
                    r for r in self._rows(endpoint, day - epoch) if not only or r[0]["project_id"] in only
                ]
                data.append(bucket | {"results": self._results(endpoint, rows, group_by)})
        if broken:
            self._break(data, *broken)
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
        keys = () if name in NO_KEYS else ("user_id", "api_key_id")
        model = ("model",) if EXTRAS[name][2] else ()
        store = ("vector_store_id",) if name == "file_search_calls" else ()
        return ("project_id", *keys, *model, *_FIXED_DIMS.get(name, {}), *store)

    def _completion_dims(self, p: int, m: int, batch: bool) -> tuple[Any, ...]:
        tier = "priority" if (p + m) % 7 == 3 and not batch else "default"
        return (self.projects[p].id, None, self.projects[p].key(m), MODELS[m][0], batch, tier)

    def _fast(self, endpoint: str, offset: int, wanted: set[str]) -> list[str]:
        """One day of costs or completions, fully grouped, straight to JSON text."""
        ids = [p.id for p in self.projects]
        if endpoint == "costs":
            return [
                _COST_ROW % (amount, line, ids[p], _json(key), qty, _UNITS.get(line, '"tokens"'))
                for p, line, key, _model, amount, qty in self.cost_rows(offset)
                if not wanted or ids[p] in wanted
            ]
        out = []
        for p, m, batch, counts in self.uses(offset):
            if not wanted or ids[p] in wanted:
                project, _, key, model, _, tier = self._completion_dims(p, m, batch)
                flag = "true" if batch else "false"
                out.append(
                    _COMPLETION_ROW % (*completion_values(counts), project, _json(key), model, flag, tier)
                )
        return out

    def _rows(self, endpoint: str, offset: int) -> Rows:
        """One day of `endpoint` at its finest grain, as (dimensions, metrics): the general path."""
        if endpoint == "costs":
            return [
                (
                    {"project_id": self.projects[p].id, "line_item": line, "api_key_id": key},
                    {"amount": a, "quantity": q},
                )
                for p, line, key, _model, a, q in self.cost_rows(offset)
            ]
        if endpoint == "usage/completions":
            return [
                (
                    dict(zip(_COMPLETION_DIMS, self._completion_dims(p, m, batch), strict=True)),
                    dict(zip(COMPLETION_METRICS, completion_values(counts), strict=True)),
                )
                for p, m, batch, counts in self.uses(offset)
            ]
        name, rows = endpoint.removeprefix("usage/"), []
        for p, metrics in self.extras(offset, name):
            project = self.projects[p]
            dims: dict[str, Any] = {"project_id": project.id}
            if name not in NO_KEYS:
                dims |= {"user_id": None, "api_key_id": project.key(0)}
            if EXTRAS[name][2]:
                dims["model"] = EXTRAS[name][2]
            dims |= _FIXED_DIMS.get(name, {})
            if name == "file_search_calls":
                dims["vector_store_id"] = f"vs_{project.id[5:17]}"
            rows.append((dims, metrics))
        return rows

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
            quantity = {"quantity": m["quantity"], "quantity_unit": json.loads(_UNITS.get(line, '"tokens"'))}
            amount = {"value": float(m["amount"]), "currency": "usd"}  # a JSON number, as the real API sends
            out.append(
                {
                    "object": "organization.costs.result",
                    "amount": amount,
                    **dims,
                    **(quantity if line else {}),
                }
            )
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
    archived_at, status = (_CREATED + 9 * 10**7, "archived") if p.archived else (None, "active")
    archived = {"archived_at": archived_at, "status": status}
    return {"id": p.id, "object": "organization.project", "name": p.name, "created_at": _CREATED} | archived


def _listing(items: list[dict[str, Any]], q: dict[str, list[str]]) -> tuple[int, Any]:
    """The `list` envelope with `after`/`last_id` cursor paging (limit 1..100, default 20)."""
    limit, after = int(_one(q, "limit") or 20), _one(q, "after")
    if not 1 <= limit <= 100:
        raise ValueError("Invalid limit: must be between 1 and 100")
    start = next((i + 1 for i, item in enumerate(items) if item["id"] == after), 0) if after else 0
    page = items[start : start + limit]
    first, last = (page[0]["id"], page[-1]["id"]) if page else (None, None)
    more = start + limit < len(items)
    return 200, {"object": "list", "data": page, "first_id": first, "last_id": last, "has_more": more}
