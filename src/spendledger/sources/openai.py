"""OpenAI organisation connector: the Admin API's costs and usage → ledger records.

One source is one OpenAI organisation read with an admin key (`sk-admin-…`). `costs`
gives the invoice's money per project × line item × API key; the usage endpoints give
tokens and requests per project × model × API key (× batch × service tier). Both come
as daily UTC buckets in the same `page`/`bucket` envelope, paged with `next_page`
(provider-apis.md §1).

Invariants:
- every payload is validated by a pydantic model before it is read; a mismatch is a
  `SourceError("malformed")` naming the endpoint, the page and the field path.
- keys carry ids only (project, line item, API key, model); names go into `project`
  and `tags`, so renaming a project never duplicates a record.
- token counts follow the ledger contract; the mapping and its clamping live in
  `_openai_payloads.py`, next to the fields they read.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any, ClassVar, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from spendledger.records import Basis, PricingStatus, UsageRecord, as_utc
from spendledger.sources import _http
from spendledger.sources._openai_payloads import (
    ApiKey,
    Bucket,
    CodeInterpreter,
    Completions,
    CostResult,
    Envelope,
    FileSearches,
    Images,
    InputTokens,
    Listing,
    Payload,
    Project,
    Speeches,
    Transcriptions,
    UsageResult,
    VectorStores,
    WebSearches,
)
from spendledger.sources.base import Option, Page, SourceConfig, SourceError, SourceType

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_ZERO = Decimal(0)
R = TypeVar("R", bound=Payload)
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class _Endpoint:
    bucket: type[Bucket[Any]]
    group_by: tuple[str, ...]  # also the ids of a record's key, in this order
    limit: int = 31  # the API's maximum of 1d buckets per page (usage 31, costs 180)
    requests: str = "num_model_requests"  # the count that is the record's `requests` ("": none)
    tags: tuple[str, ...] = ()  # counts and dimensions kept in tags, under the API's names

    @functools.cached_property
    def ids_of(self) -> Callable[[Any], tuple[Any, ...]]:
        """A result's ids of its record's key, in `group_by` order (a page's thousands of results)."""
        get = attrgetter(*self.group_by)
        return get if len(self.group_by) > 1 else lambda result: (get(result),)


_DIMS = ("project_id", "model", "api_key_id")
_ENDPOINTS: dict[str, _Endpoint] = {
    "costs": _Endpoint(Bucket[CostResult], ("project_id", "line_item", "api_key_id"), 180, ""),
    "usage/completions": _Endpoint(Bucket[Completions], (*_DIMS, "batch", "service_tier")),
    "usage/embeddings": _Endpoint(Bucket[InputTokens], _DIMS),
    "usage/moderations": _Endpoint(Bucket[InputTokens], _DIMS),
    "usage/images": _Endpoint(Bucket[Images], (*_DIMS, "size", "source"), tags=("images", "size", "source")),
    "usage/audio_speeches": _Endpoint(Bucket[Speeches], _DIMS, tags=("characters",)),
    "usage/audio_transcriptions": _Endpoint(Bucket[Transcriptions], _DIMS, tags=("seconds",)),
    "usage/vector_stores": _Endpoint(
        Bucket[VectorStores], ("project_id",), requests="", tags=("usage_bytes",)
    ),
    "usage/code_interpreter_sessions": _Endpoint(
        Bucket[CodeInterpreter], ("project_id",), requests="", tags=("num_sessions",)
    ),
    "usage/web_search_calls": _Endpoint(
        Bucket[WebSearches], (*_DIMS, "context_level"), tags=("num_requests", "context_level")
    ),
    "usage/file_search_calls": _Endpoint(
        Bucket[FileSearches],
        ("project_id", "api_key_id", "vector_store_id"),
        31,
        "num_requests",
        ("vector_store_id",),
    ),
}

# A model id: lower case, no spaces, with a digit or a hyphen (gpt-4o-2024-08-06, o3, ft:gpt-4o:org::x).
_MODEL_ID = re.compile(r"[a-z0-9][A-Za-z0-9._:/-]*")


@functools.lru_cache(maxsize=4096)
def model_of_line_item(line_item: str) -> str:
    """Best-effort model of a costs line item ("gpt-4o, input" → "gpt-4o"); "" for tools and storage.

    OpenAI documents line items as opaque text, so this only feeds the model dimension;
    the raw item always stays in tags["line_item"] and the money is never split on it.
    """
    head = line_item.split(",", 1)[0].strip()
    if _MODEL_ID.fullmatch(head) and any(c.isdigit() or c == "-" for c in head):
        return head
    return ""


def _part(value: object) -> str:
    """One id of a record key: None → "", booleans as true/false."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while one page is decoded and translated.

    A full page (180 days of costs) is hundreds of thousands of acyclic objects; the
    collections they trigger scan them again and again and made a page 4-5x slower
    (measured). Reference counting still frees everything; the GC resumes after.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class OpenAIConnector:
    """Reads one OpenAI organisation's costs and usage through its admin key."""

    provider: ClassVar[str] = "openai"

    def __init__(
        self,
        config: SourceConfig,
        *,
        policy: _http.RetryPolicy | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.name = config.name
        self.account = config.options.get("account") or config.name
        self._policy = policy or _http.RetryPolicy()
        self._project_ids = [p.strip() for p in config.options.get("project_ids", "").split(",") if p.strip()]
        self._hints = _http.Hints(
            provider="OpenAI",
            source=config.name,
            secret=config.key,
            auth="the key must be an organisation admin key (sk-admin-…); create one under "
            "Organization settings → Admin keys and set it as this source's key",
            permission="the admin key needs read access to usage and costs; create an admin key "
            "with read permission on Usage under Organization settings → Admin keys",
        )
        self._client = client or SOURCE_TYPE.client(config)
        self._api = _http.Api(self._client, self._hints, self._policy)
        self._projects: dict[str, str] | None = None  # id → name, loaded on first use
        self._keys: dict[str, str] = {}  # API key id → name

    def endpoints(self) -> list[str]:
        return list(_ENDPOINTS)

    def check(self) -> str:
        body = self._get("organization/projects", [("limit", 100), ("include_archived", "true")], "projects")
        listing = self._parse(Listing[Project], body, "projects", None)
        archived = sum(1 for p in listing.data if p.archived_at is not None or p.status == "archived")
        count = f"{len(listing.data)}{'+' if listing.has_more else ''}"
        return f"OpenAI organisation reachable; {count} projects ({archived} archived)"

    def fetch(self, endpoint: str, start: datetime, end: datetime) -> Iterator[Page]:
        spec = _ENDPOINTS.get(endpoint)
        if spec is None:
            raise SourceError(
                "config", f"OpenAI has no endpoint {endpoint!r}; known: {', '.join(_ENDPOINTS)}"
            )
        params: list[tuple[str, str | int]] = [
            ("start_time", int(as_utc(start).timestamp())),
            ("end_time", int(as_utc(end).timestamp())),
            ("bucket_width", "1d"),
            ("limit", spec.limit),
            *(("group_by", g) for g in spec.group_by),
            *(("project_ids", p) for p in self._project_ids),
        ]
        cursor: str | None = None
        number = 0
        while True:
            number += 1
            query = params if cursor is None else [*params, ("page", cursor)]
            with _gc_paused():
                body = self._get(f"organization/{endpoint}", query, endpoint, number)
                page = self._parse(Envelope, body, endpoint, number)
                del body
                out = Page(endpoint=endpoint, number=number, buckets=[])
                for i, raw in enumerate(page.data):
                    page.data[i] = None  # translated buckets free their raw JSON as we go
                    bucket = self._parse(spec.bucket, raw, endpoint, number, ("data", i))
                    self._translate(endpoint, spec, bucket, out)
            yield out
            if not page.has_more or not page.next_page:
                return
            if page.next_page == cursor:
                raise SourceError(
                    "malformed",
                    f'OpenAI source "{self.name}", {endpoint} (page {number}): next_page repeats the cursor '
                    "just read; stopping rather than looping",
                    endpoint=endpoint,
                    page=number,
                )
            cursor = page.next_page

    def close(self) -> None:
        self._client.close()

    # ---- translation ------------------------------------------------------------------

    def _translate(self, endpoint: str, spec: _Endpoint, bucket: Bucket[Any], out: Page) -> None:
        start = datetime.fromtimestamp(bucket.start_time, UTC)
        end = datetime.fromtimestamp(bucket.end_time, UTC)
        out.buckets.append((start, end))
        if bucket.results and self._projects is None:
            self._load_names()
        for result in bucket.results:
            if isinstance(result, CostResult):
                out.records.append(self._cost(result, start, end))
            else:
                out.records.append(self._usage(endpoint, spec, result, start, end))

    def _tags(self, project_id: str, api_key_id: str) -> dict[str, Any]:
        tags: dict[str, Any] = {}
        if project_id:
            tags["project_id"] = project_id
        if api_key_id:
            tags["api_key_id"] = api_key_id
            if api_key_id in self._keys:
                tags["api_key_name"] = self._keys[api_key_id]
        return tags

    def _project(self, project_id: str) -> str:
        return (self._projects or {}).get(project_id) or project_id

    def _cost(self, r: CostResult, start: datetime, end: datetime) -> UsageRecord:
        project_id, line_item, api_key_id = r.project_id or "", r.line_item or "", r.api_key_id or ""
        tags = self._tags(project_id, api_key_id)
        if line_item:
            tags["line_item"] = line_item
        if r.quantity is not None:
            tags["quantity"] = r.quantity
        if r.quantity_unit is not None:
            tags["quantity_unit"] = r.quantity_unit
        return UsageRecord(
            key=f"costs|{project_id}|{line_item}|{api_key_id}",
            source=self.name,
            basis=Basis.BILLED,
            start=start,
            end=end,
            provider="openai",
            model=model_of_line_item(line_item),
            account=self.account,
            project=self._project(project_id),
            api_key_id=api_key_id,
            tags=tags,
            requests=0,
            cost=r.amount.value,
            currency=r.amount.currency.upper(),
            pricing_status=PricingStatus.PROVIDER,
        )

    def _usage(
        self, endpoint: str, spec: _Endpoint, r: UsageResult, start: datetime, end: datetime
    ) -> UsageRecord:
        project_id, api_key_id = r.project_id or "", r.api_key_id or ""
        tags = self._tags(project_id, api_key_id)
        for name in spec.tags:
            if (value := getattr(r, name)) is not None:
                tags[name] = value
        completions = r if isinstance(r, Completions) else None
        return UsageRecord(
            key="|".join([endpoint, *map(_part, spec.ids_of(r))]),
            source=self.name,
            basis=Basis.BILLED,
            start=start,
            end=end,
            provider="openai",
            model=r.model or "",
            account=self.account,
            project=self._project(project_id),
            api_key_id=api_key_id,
            tags=tags,
            requests=getattr(r, spec.requests) if spec.requests else 0,
            tokens=r.tokens(),
            cost=_ZERO,
            currency="USD",
            pricing_status=PricingStatus.PROVIDER,
            service_tier=completions.service_tier if completions else None,
            batch=bool(completions and completions.batch),
        )

    # ---- names --------------------------------------------------------------------------

    def _load_names(self) -> None:
        """Project and API key names, once per connector; archived projects included."""
        projects = self._list("organization/projects", Listing[Project], [("include_archived", "true")])
        self._projects = {p.id: p.name or p.id for p in projects}
        for project_id in self._project_ids or list(self._projects):
            try:
                keys = self._list(f"organization/projects/{project_id}/api_keys", Listing[ApiKey], [])
            except SourceError as exc:  # names are a nicety: without a key list, ids stay
                if exc.kind not in ("not_found", "permission"):
                    raise
                continue
            self._keys.update((k.id, k.name) for k in keys if k.name)

    def _list(self, path: str, model: type[Listing[R]], extra: list[tuple[str, str | int]]) -> list[R]:
        """Every item of a `list` endpoint, following `after=<last_id>` while `has_more`."""
        items: list[R] = []
        after: str | None = None
        number = 0
        while True:
            number += 1
            query: list[tuple[str, str | int]] = [
                ("limit", 100),
                *extra,
                *([("after", after)] if after else []),
            ]
            listing = self._parse(model, self._get(path, query, path, number), path, number)
            items.extend(listing.data)
            if not listing.has_more or not listing.last_id or listing.last_id == after:
                return items
            after = listing.last_id

    # ---- HTTP ---------------------------------------------------------------------------

    def _get(
        self, path: str, params: list[tuple[str, str | int]], endpoint: str, page: int | None = None
    ) -> dict[str, Any]:
        return self._api.get(path, params, endpoint=endpoint, page=page)

    def _parse(
        self, model: type[M], body: object, endpoint: str, page: int | None, at: tuple[str | int, ...] = ()
    ) -> M:
        """Validate `body`; a mismatch names the endpoint, the page and the field path."""
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = f"{endpoint}" + (f" (page {page})" if page else "")
            path = _http.field_path((*at, *first["loc"])) or "the page"
            more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
            raise SourceError(
                "malformed",
                f'OpenAI source "{self.name}", {where}: unexpected data at {path}: {first["msg"]} '
                f"(got {str(first.get('input'))[:60]!r}){more}; the API's format may have changed, "
                "report this message",
                endpoint=endpoint,
                page=page,
            ) from None


SOURCE_TYPE = SourceType(
    name="openai",
    label="OpenAI",
    connector=OpenAIConnector,
    base_url=DEFAULT_BASE_URL,
    key_help="an organisation admin key (sk-admin-…) from Organization settings → Admin keys",
    options=(
        Option(
            "project_ids",
            "Project IDs (optional)",
            "OpenAI: comma-separated proj_… ids; blank syncs every project.",
            "ids",
        ),
    ),
)
