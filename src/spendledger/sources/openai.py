"""OpenAI organisation connector: the Admin API's costs and usage → ledger records.

One source is one OpenAI organisation read with an admin key (`sk-admin-…`). `costs`
gives the invoice's money per project × line item × API key; the usage endpoints give
tokens and requests per project × model × API key (× batch × service tier). Both come
as daily UTC buckets in the same `page`/`bucket` envelope, paged with `next_page`.

Invariants:
- every payload is validated by a pydantic model before it is read; a mismatch is a
  `SourceError("malformed")` naming the endpoint, the page and the field path.
- keys carry ids only (project, line item, API key, model); names go into `project`
  and `tags`, so renaming a project never duplicates a record.
- token counts follow the ledger contract (records.py): OpenAI's `input_tokens`
  already includes cached reads and cache writes, and `input_audio_tokens` is the
  *uncached* audio (spec, UsageCompletionsResult); counts are clamped so that
  `TokenCounts.validate()` holds even on older responses that counted cached audio in.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spendledger.records import Basis, PricingStatus, TokenCounts, UsageRecord, as_utc
from spendledger.sources import _http
from spendledger.sources.base import Page, SourceConfig, SourceError, register

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_ZERO = Decimal(0)
Count = Annotated[int, Field(ge=0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


# ---- payloads -------------------------------------------------------------------------


class _Amount(_Model):
    value: Decimal  # a JSON number in dollars; some clients have seen a string
    currency: str = "usd"


class _CostResult(_Model):
    amount: _Amount  # optional in the spec, but a cost without an amount cannot be recorded
    line_item: str | None = None
    project_id: str | None = None
    api_key_id: str | None = None
    quantity: Decimal | None = None
    quantity_unit: str | None = None


class _UsageResult(_Model):
    """The dimensions every usage result may carry; subclasses add their counts."""

    project_id: str | None = None
    api_key_id: str | None = None
    model: str | None = None

    def tokens(self) -> TokenCounts:
        return TokenCounts()

    def request_count(self) -> int:
        return 0

    def extra_tags(self) -> dict[str, Any]:
        return {}


class _Completions(_UsageResult):
    input_tokens: Count
    output_tokens: Count
    num_model_requests: Count
    input_cached_tokens: Count | None = None
    input_cache_write_tokens: Count | None = None
    input_audio_tokens: Count | None = None  # uncached audio (spec); older docs said "including cached"
    output_audio_tokens: Count | None = None
    batch: bool | None = None
    service_tier: str | None = None

    def tokens(self) -> TokenCounts:
        # output_tokens already holds reasoning; the org usage API reports no reasoning split.
        whole = self.input_tokens
        cached = min(self.input_cached_tokens or 0, whole)
        write = min(self.input_cache_write_tokens or 0, whole - cached)
        audio = min(self.input_audio_tokens or 0, whole - cached - write)
        return TokenCounts(
            input=whole,
            cached_input=cached,
            cache_write_5m=write,
            audio_input=audio,
            output=self.output_tokens,
            audio_output=min(self.output_audio_tokens or 0, self.output_tokens),
        )

    def request_count(self) -> int:
        return self.num_model_requests


class _InputTokens(_UsageResult):  # embeddings, moderations
    input_tokens: Count
    num_model_requests: Count

    def tokens(self) -> TokenCounts:
        return TokenCounts(input=self.input_tokens)

    def request_count(self) -> int:
        return self.num_model_requests


class _Images(_UsageResult):
    images: Count
    num_model_requests: Count
    size: str | None = None
    source: str | None = None

    def request_count(self) -> int:
        return self.num_model_requests

    def extra_tags(self) -> dict[str, Any]:
        return _present(images=self.images, size=self.size, image_source=self.source)


class _Speeches(_UsageResult):
    characters: Count
    num_model_requests: Count

    def request_count(self) -> int:
        return self.num_model_requests

    def extra_tags(self) -> dict[str, Any]:
        return {"characters": self.characters}


class _Transcriptions(_UsageResult):
    seconds: Count
    num_model_requests: Count

    def request_count(self) -> int:
        return self.num_model_requests

    def extra_tags(self) -> dict[str, Any]:
        return {"seconds": self.seconds}


class _VectorStores(_UsageResult):
    usage_bytes: Count

    def extra_tags(self) -> dict[str, Any]:
        return {"usage_bytes": self.usage_bytes}


class _CodeInterpreter(_UsageResult):
    num_sessions: Count

    def extra_tags(self) -> dict[str, Any]:
        return {"sessions": self.num_sessions}


class _WebSearches(_UsageResult):
    num_model_requests: Count
    num_requests: Count  # the search calls themselves, billed per call
    context_level: str | None = None

    def request_count(self) -> int:
        return self.num_model_requests

    def extra_tags(self) -> dict[str, Any]:
        return _present(search_calls=self.num_requests, context_level=self.context_level)


class _FileSearches(_UsageResult):
    num_requests: Count
    vector_store_id: str | None = None

    def request_count(self) -> int:
        return self.num_requests

    def extra_tags(self) -> dict[str, Any]:
        return _present(vector_store_id=self.vector_store_id)


R = TypeVar("R", bound=_Model)
M = TypeVar("M", bound=BaseModel)


class _Bucket(_Model, Generic[R]):
    start_time: int
    end_time: int
    results: list[R]


class _Page(_Model, Generic[R]):
    data: list[_Bucket[R]]
    has_more: bool
    next_page: str | None = None


class _Project(_Model):
    id: str
    name: str | None = None
    status: str | None = None
    archived_at: int | None = None


class _ApiKey(_Model):
    id: str
    name: str | None = None


class _List(_Model, Generic[R]):
    data: list[R]
    has_more: bool = False
    last_id: str | None = None


@dataclass(frozen=True)
class _Endpoint:
    page: type[_Page[Any]]
    group_by: tuple[str, ...]
    limit: int  # the API's maximum number of 1d buckets per page


_USAGE_DIMS = ("project_id", "model", "api_key_id")
_ENDPOINTS: dict[str, _Endpoint] = {
    "costs": _Endpoint(_Page[_CostResult], ("project_id", "line_item", "api_key_id"), 180),
    "usage/completions": _Endpoint(_Page[_Completions], (*_USAGE_DIMS, "batch", "service_tier"), 31),
    "usage/embeddings": _Endpoint(_Page[_InputTokens], _USAGE_DIMS, 31),
    "usage/moderations": _Endpoint(_Page[_InputTokens], _USAGE_DIMS, 31),
    "usage/images": _Endpoint(_Page[_Images], (*_USAGE_DIMS, "size", "source"), 31),
    "usage/audio_speeches": _Endpoint(_Page[_Speeches], _USAGE_DIMS, 31),
    "usage/audio_transcriptions": _Endpoint(_Page[_Transcriptions], _USAGE_DIMS, 31),
    "usage/vector_stores": _Endpoint(_Page[_VectorStores], ("project_id",), 31),
    "usage/code_interpreter_sessions": _Endpoint(_Page[_CodeInterpreter], ("project_id",), 31),
    "usage/web_search_calls": _Endpoint(_Page[_WebSearches], (*_USAGE_DIMS, "context_level"), 31),
    "usage/file_search_calls": _Endpoint(
        _Page[_FileSearches], ("project_id", "api_key_id", "vector_store_id"), 31
    ),
}

# A model id: lower case, no spaces, a digit or a hyphen (gpt-4o-2024-08-06, o3, ft:gpt-4o:org::id).
_MODEL_ID = re.compile(r"[a-z0-9][a-z0-9._:/-]*")


@functools.lru_cache(maxsize=4096)
def model_of_line_item(line_item: str | None) -> str:
    """Best-effort model of a costs line item ("gpt-4o, input" → "gpt-4o"); "" for tools and storage.

    OpenAI documents line items as opaque text, so this only feeds the model dimension;
    the raw item always stays in tags["line_item"] and the money is never split on it.
    """
    head = (line_item or "").split(",", 1)[0].strip()
    if _MODEL_ID.fullmatch(head) and any(c.isdigit() or c == "-" for c in head):
        return head
    return ""


def _present(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


def _part(value: object) -> str:
    """One id of a record key: None → "", booleans as true/false."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json_number(value: Decimal) -> int | float:
    """A quantity for tags (JSON): tags are not money, so a float is exact enough."""
    return int(value) if value == value.to_integral_value() else float(value)


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


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return path


class OpenAIConnector:
    """Reads one OpenAI organisation's costs and usage through its admin key."""

    provider: ClassVar[str] = "openai"

    def __init__(self, config: SourceConfig, *, policy: _http.RetryPolicy | None = None) -> None:
        self.name = config.name
        self.account = config.options.get("account") or config.name
        self._key = config.key
        self._policy = policy or _http.RetryPolicy()
        raw_ids = config.options.get("project_ids", "")
        self._project_ids = [p.strip() for p in raw_ids.split(",") if p.strip()]
        self._hints = _http.Hints(
            provider="OpenAI",
            source=config.name,
            auth="the key must be an organisation admin key (sk-admin-…); create one under "
            "Organization settings → Admin keys and set it as this source's key",
            permission="the admin key needs read access to usage and costs; create an admin key "
            "with read permission on Usage under Organization settings → Admin keys",
        )
        base_url = config.options.get("base_url", DEFAULT_BASE_URL)
        self._client = _http.make_client(base_url, {"Authorization": f"Bearer {config.key}"})
        self._projects: dict[str, str] | None = None  # id → name, loaded on first use
        self._keys: dict[str, str] = {}  # API key id → name

    def endpoints(self) -> list[str]:
        return list(_ENDPOINTS)

    def check(self) -> str:
        body = self._get("organization/projects", [("limit", 100), ("include_archived", "true")], "projects")
        listing = self._parse(_List[_Project], body, "projects", None)
        archived = sum(1 for p in listing.data if p.archived_at is not None or p.status == "archived")
        count = f"{len(listing.data)}{'+' if listing.has_more else ''}"
        return f"OpenAI organisation reachable; {count} projects ({archived} archived)"

    def fetch(self, endpoint: str, start: datetime, end: datetime) -> Iterator[Page]:
        spec = _ENDPOINTS.get(endpoint)
        if spec is None:
            known = ", ".join(_ENDPOINTS)
            raise SourceError("config", f"OpenAI has no endpoint {endpoint!r}; known: {known}")
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
                page = self._parse(spec.page, body, endpoint, number)
                del body
                records = self._records(endpoint, number, page, spec.group_by)
            yield records
            if not page.has_more or not page.next_page:
                return
            if page.next_page == cursor:
                raise SourceError(
                    "malformed",
                    f'OpenAI source "{self.name}", {endpoint} (page {number}): next_page repeats the '
                    "cursor just read; stopping rather than looping",
                    endpoint=endpoint,
                    page=number,
                )
            cursor = page.next_page

    def close(self) -> None:
        self._client.close()

    # ---- translation ------------------------------------------------------------------

    def _records(self, endpoint: str, number: int, page: _Page[Any], group_by: tuple[str, ...]) -> Page:
        out = Page(endpoint=endpoint, number=number, buckets=[])
        for bucket in page.data:
            start = datetime.fromtimestamp(bucket.start_time, UTC)
            end = datetime.fromtimestamp(bucket.end_time, UTC)
            out.buckets.append((start, end))
            if bucket.results and self._projects is None:
                self._load_names()
            for result in bucket.results:
                if isinstance(result, _CostResult):
                    out.records.append(self._cost(result, start, end))
                else:
                    key = "|".join([endpoint, *(_part(getattr(result, g, None)) for g in group_by)])
                    out.records.append(self._usage(key, result, start, end))
        return out

    def _common_tags(self, project_id: str | None, api_key_id: str | None) -> dict[str, Any]:
        tags: dict[str, Any] = {}
        if project_id:
            tags["project_id"] = project_id
        if api_key_id:
            tags["api_key_id"] = api_key_id
            if api_key_id in self._keys:
                tags["api_key_name"] = self._keys[api_key_id]
        return tags

    def _project(self, project_id: str | None) -> str:
        if not project_id:
            return ""
        return (self._projects or {}).get(project_id) or project_id

    def _cost(self, r: _CostResult, start: datetime, end: datetime) -> UsageRecord:
        tags = self._common_tags(r.project_id, r.api_key_id)
        if r.line_item is not None:
            tags["line_item"] = r.line_item
        if r.quantity is not None:
            tags["quantity"] = _json_number(r.quantity)
        if r.quantity_unit is not None:
            tags["quantity_unit"] = r.quantity_unit
        return UsageRecord(
            key=f"costs|{_part(r.project_id)}|{_part(r.line_item)}|{_part(r.api_key_id)}",
            source=self.name,
            basis=Basis.BILLED,
            start=start,
            end=end,
            provider="openai",
            model=model_of_line_item(r.line_item),
            account=self.account,
            project=self._project(r.project_id),
            api_key_id=r.api_key_id or "",
            tags=tags,
            requests=0,
            cost=r.amount.value,
            currency=r.amount.currency.upper(),
            pricing_status=PricingStatus.PROVIDER,
        )

    def _usage(self, key: str, r: _UsageResult, start: datetime, end: datetime) -> UsageRecord:
        tags = self._common_tags(r.project_id, r.api_key_id)
        tags.update(r.extra_tags())
        completions = r if isinstance(r, _Completions) else None
        return UsageRecord(
            key=key,
            source=self.name,
            basis=Basis.BILLED,
            start=start,
            end=end,
            provider="openai",
            model=r.model or "",
            account=self.account,
            project=self._project(r.project_id),
            api_key_id=r.api_key_id or "",
            tags=tags,
            requests=r.request_count(),
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
        projects: dict[str, str] = {}
        for project in self._list("organization/projects", _List[_Project], [("include_archived", "true")]):
            projects[project.id] = project.name or project.id
        self._projects = projects
        for project_id in self._project_ids or list(projects):
            try:
                keys = self._list(f"organization/projects/{project_id}/api_keys", _List[_ApiKey], [])
                self._keys.update((k.id, k.name) for k in keys if k.name)
            except SourceError as exc:  # names are a nicety: a project without a key list keeps ids
                if exc.kind not in ("not_found", "permission"):
                    raise

    def _list(self, path: str, model: type[_List[R]], extra: list[tuple[str, str | int]]) -> list[R]:
        items: list[R] = []
        after: str | None = None
        number = 0
        while True:
            number += 1
            query: list[tuple[str, str | int]] = [("limit", 100), *extra]
            if after:
                query.append(("after", after))
            listing = self._parse(model, self._get(path, query, path, number), path, number)
            items.extend(listing.data)
            if not listing.has_more or not listing.last_id or listing.last_id == after:
                return items
            after = listing.last_id

    # ---- HTTP ---------------------------------------------------------------------------

    def _get(
        self, path: str, params: list[tuple[str, str | int]], endpoint: str, page: int | None = None
    ) -> dict[str, Any]:
        try:
            return _http.get_json(
                self._client,
                path,
                params=params,
                hints=self._hints,
                endpoint=endpoint,
                page=page,
                policy=self._policy,
            )
        except SourceError as exc:  # defence in depth: an echoing proxy must not leak the key
            if self._key and self._key in str(exc):
                raise SourceError(
                    exc.kind, str(exc).replace(self._key, "[key]"), endpoint=exc.endpoint, page=exc.page
                ) from None
            raise

    def _parse(self, model: type[M], body: dict[str, Any], endpoint: str, page: int | None) -> M:
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = f"{endpoint}" + (f" (page {page})" if page else "")
            more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
            raise SourceError(
                "malformed",
                f'OpenAI source "{self.name}", {where}: unexpected data at {_field_path(first["loc"])}: '
                f"{first['msg']} (got {str(first.get('input'))[:60]!r}){more}; the API's format may "
                "have changed, report this message",
                endpoint=endpoint,
                page=page,
            ) from None


register("openai", OpenAIConnector)
