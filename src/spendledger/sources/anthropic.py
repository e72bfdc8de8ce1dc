"""Anthropic organisation → ledger records, read through the Admin API (provider-apis.md §2).

Three reports, one record per result row:
- `cost_report`, grouped by workspace and description: the money. `amount` is a decimal
  string in cents, so it is divided by 100 as an exact Decimal. Priority Tier never
  appears here (Anthropic bills it apart), and there is no API-key dimension.
- `usage/messages`, grouped by model, workspace, API key, service tier and context
  window: the tokens, cost 0. Anthropic counts input apart from cache reads and writes;
  `TokenCounts.from_disjoint` turns that into the ledger's contract here and nowhere else.
  The report has no request count, so `requests` is 0.
- `usage/claude_code`, one UTC day per request: per-user Claude Code activity. Its token
  and `estimated_cost` figures are kept in tags only; every Claude Code record carries
  cost 0, zero tokens and 0 requests. For `customer_type=api` the same tokens and money
  are already in the two reports above (Claude Code calls the API with a key of the
  organisation), so counting them again would double them. For `subscription` customers
  the money is the seat fee, not usage (`estimated_cost` is what the tokens would cost at
  API rates), and the breakdown's single `cache_creation` figure cannot be split into the
  5m/1h writes the contract prices. The records still give per-user rows (user = email,
  or the key's name for an API actor; feature "claude-code") that reports can list.

Workspace and API-key names come from the list endpoints, read once per connector and
cached; keys hold ids only, so a rename never forks a record. The default workspace
reports `workspace_id: null` and is named "Default workspace".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from spendledger.records import Basis, PricingStatus, TokenCounts, UsageRecord, as_utc
from spendledger.sources._anthropic_payloads import (
    CodeRecord,
    CodeReport,
    CostResult,
    Listing,
    R,
    Report,
    UsageResult,
)
from spendledger.sources._http import Api, Hints, KeyHeader, RetryPolicy
from spendledger.sources.base import Option, Page, SourceConfig, SourceError, SourceType

DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_WORKSPACE = "Default workspace"
_REPORT_LIMIT = 31  # 1d buckets per page: the documented maximum of both reports
_CLAUDE_CODE_LIMIT = 1000  # records per page: the documented maximum
_LIST_LIMIT = 100
_PATHS = {
    "cost_report": "/v1/organizations/cost_report",
    "usage/messages": "/v1/organizations/usage_report/messages",
    "usage/claude_code": "/v1/organizations/usage_report/claude_code",
}
_USAGE_GROUPS = ("model", "workspace_id", "api_key_id", "service_tier", "context_window")

M = TypeVar("M", bound=BaseModel)


def _rfc3339(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def _present(**tags: Any) -> dict[str, Any]:
    return {name: value for name, value in tags.items() if value is not None}


class AnthropicConnector:
    """One Anthropic organisation, read with its Admin API key."""

    provider: ClassVar[str] = "anthropic"

    def __init__(
        self, config: SourceConfig, *, policy: RetryPolicy | None = None, client: httpx.Client | None = None
    ) -> None:
        self._config = config
        self._policy = policy or RetryPolicy()
        self._account = config.options.get("account") or config.name
        raw_ids = config.options.get("workspace_ids", "")
        self._workspace_ids = [w.strip() for w in raw_ids.split(",") if w.strip()]
        self._hints = Hints(
            provider="Anthropic",
            source=config.name,
            secret=config.key,
            auth="an Admin API key (sk-ant-admin…) is needed; an organisation admin creates one in the "
            "Claude Console under Settings → Admin keys",
            permission="this key may not read the organisation's reports; use an Admin API key "
            "(sk-ant-admin…) of an organisation (individual accounts have no Admin API)",
            not_found="check base_url (it should be https://api.anthropic.com, without /v1)",
        )
        self._client = client or SOURCE_TYPE.client(config)
        self._api = Api(self._client, self._hints, self._policy)
        self._workspaces: dict[str, str] | None = None
        self._api_keys: dict[str, str] | None = None

    def close(self) -> None:
        self._client.close()

    def endpoints(self) -> list[str]:
        return list(_PATHS)

    def check(self) -> str:
        """List the workspaces once: proves the key, the version header and the base URL."""
        params: dict[str, str | int] = {"limit": _LIST_LIMIT, "include_archived": "true"}
        listing = self._get("/v1/organizations/workspaces", Listing, endpoint="workspaces", params=params)
        live = sum(1 for w in listing.data if w.archived_at is None)
        if not listing.has_more and self._workspaces is None:
            self._workspaces = {w.id: w.name for w in listing.data}
        more = "+" if listing.has_more else ""
        return f"Anthropic organisation reachable; {live}{more} workspace{'s' if live != 1 else ''}"

    def fetch(self, endpoint: str, start: datetime, end: datetime) -> Iterator[Page]:
        """Every page of `endpoint` for [start, end); each bucket is listed on its first page."""
        if endpoint == "cost_report":
            params: list[tuple[str, str | int]] = [
                ("group_by[]", "workspace_id"),
                ("group_by[]", "description"),
            ]
            return self._report(endpoint, start, end, params, Report[CostResult], self._cost_record)
        if endpoint == "usage/messages":
            params = [("group_by[]", group) for group in _USAGE_GROUPS]
            params += [("workspace_ids[]", w) for w in self._workspace_ids]
            return self._report(endpoint, start, end, params, Report[UsageResult], self._usage_record)
        if endpoint == "usage/claude_code":
            return self._claude_code(start, end)
        known = ", ".join(_PATHS)
        raise SourceError("config", f"Anthropic has no endpoint {endpoint!r}; known: {known}")

    # ---- HTTP and validation --------------------------------------------------------

    def _get(
        self,
        path: str,
        model: type[M],
        *,
        endpoint: str,
        params: Sequence[tuple[str, str | int]] | dict[str, str | int],
        page: int | None = None,
    ) -> M:
        body = self._api.get(path, params, endpoint=endpoint, page=page)
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "the body"
            where = endpoint + (f" (page {page})" if page else "")
            raise SourceError(
                "malformed",
                f'Anthropic source "{self._config.name}", {where}: unexpected response at field {field}: '
                f"{first['msg']} ({exc.error_count()} problem(s)); the API may have changed, so this "
                "source stops until the connector is updated",
                endpoint=endpoint,
                page=page,
            ) from None

    def _report(
        self,
        endpoint: str,
        start: datetime,
        end: datetime,
        extra: list[tuple[str, str | int]],
        model: type[Report[R]],
        translate: Callable[[tuple[datetime, datetime], R], UsageRecord | None],
    ) -> Iterator[Page]:
        base: list[tuple[str, str | int]] = [
            ("starting_at", _rfc3339(start)),
            ("ending_at", _rfc3339(end)),
            ("bucket_width", "1d"),
            ("limit", _REPORT_LIMIT),
            *extra,
        ]
        seen: set[tuple[datetime, datetime]] = set()
        cursor: str | None = None
        number = 0
        while True:
            number += 1
            params = [*base, ("page", cursor)] if cursor else base
            report = self._get(_PATHS[endpoint], model, endpoint=endpoint, params=params, page=number)
            page = Page(endpoint=endpoint, number=number, buckets=[])
            for bucket in report.data:
                span = (as_utc(bucket.starting_at), as_utc(bucket.ending_at))
                if span not in seen:
                    seen.add(span)
                    page.buckets.append(span)
                page.records.extend(r for result in bucket.results if (r := translate(span, result)))
            yield page
            cursor = self._next(report.has_more, report.next_page, endpoint, number)
            if cursor is None:
                return

    def _next(self, has_more: bool, next_page: str | None, endpoint: str, number: int) -> str | None:
        if has_more and not next_page:
            raise SourceError(
                "malformed",
                f'Anthropic source "{self._config.name}", {endpoint} (page {number}): has_more is true '
                "but next_page is empty; the API may have changed",
                endpoint=endpoint,
                page=number,
            )
        return next_page if has_more else None

    def _names(self, path: str, endpoint: str, params: dict[str, str | int]) -> dict[str, str]:
        names: dict[str, str] = {}
        after: str | None = None
        number = 0
        while True:
            number += 1
            query = {**params, "limit": _LIST_LIMIT, **({"after_id": after} if after else {})}
            listing = self._get(path, Listing, endpoint=endpoint, params=query, page=number)
            names.update((item.id, item.name) for item in listing.data)
            if not listing.has_more or not listing.last_id:
                return names
            after = listing.last_id

    def _workspace_name(self, workspace_id: str | None) -> str:
        if workspace_id is None:
            return DEFAULT_WORKSPACE
        if self._workspaces is None:  # archived ones too: their old usage still needs a name
            params: dict[str, str | int] = {"include_archived": "true"}
            self._workspaces = self._names("/v1/organizations/workspaces", "workspaces", params)
        return self._workspaces.get(workspace_id, workspace_id)

    def _api_key_name(self, api_key_id: str) -> str | None:
        if self._api_keys is None:
            self._api_keys = self._names("/v1/organizations/api_keys", "api_keys", {})
        return self._api_keys.get(api_key_id)

    # ---- translation ----------------------------------------------------------------

    def _record(self, key: str, span: tuple[datetime, datetime], **fields: Any) -> UsageRecord:
        return UsageRecord(
            key=key,
            source=self._config.name,
            basis=Basis.BILLED,
            start=span[0],
            end=span[1],
            provider=self.provider,
            account=self._account,
            pricing_status=PricingStatus.PROVIDER,
            **({"cost": Decimal(0)} | fields),
        )

    def _cost_record(self, span: tuple[datetime, datetime], r: CostResult) -> UsageRecord | None:
        if self._workspace_ids and r.workspace_id not in self._workspace_ids:
            return None  # the cost report has no workspace filter; apply the source's here
        ids = (
            r.description,
            r.cost_type,
            r.model,
            r.token_type,
            r.service_tier,
            r.context_window,
            r.inference_geo,
        )
        key = "|".join(["cost_report", r.workspace_id or "default", *(part or "" for part in ids)])
        tags = {"workspace_id": r.workspace_id} | _present(
            description=r.description,
            cost_type=r.cost_type,
            token_type=r.token_type,
            service_tier=r.service_tier,
            context_window=r.context_window,
            inference_geo=r.inference_geo,
        )
        return self._record(
            key,
            span,
            model=r.model or "",
            workspace=self._workspace_name(r.workspace_id),
            tags=tags,
            requests=0,
            cost=r.amount.scaleb(-2),  # cents → dollars, exact
            currency=r.currency,
            service_tier=r.service_tier,
            batch=r.service_tier == "batch",
        )

    def _usage_record(self, span: tuple[datetime, datetime], r: UsageResult) -> UsageRecord:
        ids = (r.model, r.workspace_id or "default", r.api_key_id or "none", r.service_tier, r.context_window)
        tools = r.server_tool_use
        tags = {"workspace_id": r.workspace_id} | _present(
            api_key_name=self._api_key_name(r.api_key_id) if r.api_key_id else None,
            service_tier=r.service_tier,
            context_window=r.context_window,
            inference_geo=r.inference_geo,
            web_search_requests=tools.web_search_requests or None,
            web_fetch_requests=tools.web_fetch_requests or None,
        )
        tokens = TokenCounts.from_disjoint(
            uncached_input=r.uncached_input_tokens,
            cache_read=r.cache_read_input_tokens,
            cache_write_5m=r.cache_creation.ephemeral_5m_input_tokens,
            cache_write_1h=r.cache_creation.ephemeral_1h_input_tokens,
            output=r.output_tokens,
        )
        return self._record(
            "|".join(["usage/messages", *(part or "" for part in ids)]),
            span,
            model=r.model or "",
            workspace=self._workspace_name(r.workspace_id),
            api_key_id=r.api_key_id or "",
            tags=tags,
            requests=0,
            tokens=tokens,
            cost=Decimal(0),
            service_tier=r.service_tier,
            batch=r.service_tier == "batch",
        )

    def _claude_code(self, start: datetime, end: datetime) -> Iterator[Page]:
        """One UTC day per request (the report takes a single day); the day is listed once."""
        endpoint = "usage/claude_code"
        day = as_utc(start).date()
        number = 0
        while (first := datetime.combine(day, time(), UTC)) < as_utc(end):
            span = (first, first + timedelta(days=1))
            cursor: str | None = None
            while True:
                number += 1
                params: list[tuple[str, str | int]] = [("starting_at", day.isoformat())]
                params += [("limit", _CLAUDE_CODE_LIMIT)]
                params += [("page", cursor)] if cursor else []
                report = self._get(
                    _PATHS[endpoint], CodeReport, endpoint=endpoint, params=params, page=number
                )
                records = [rec for item in report.data for rec in self._code_records(span, item)]
                yield Page(endpoint, number, buckets=[] if cursor else [span], records=records)
                if (cursor := self._next(report.has_more, report.next_page, endpoint, number)) is None:
                    break
            day += timedelta(days=1)

    def _code_records(self, span: tuple[datetime, datetime], item: CodeRecord) -> list[UsageRecord]:
        """An activity record per actor-day, then one per model; all without money or tokens."""
        user = item.actor.name or ""
        who = f"usage/claude_code|{item.actor.type}:{user}|{item.terminal_type or ''}"
        common = _present(
            actor_type=item.actor.type,
            customer_type=item.customer_type,
            subscription_type=item.subscription_type,
            terminal_type=item.terminal_type,
        )
        metrics = item.core_metrics
        activity = common | {
            "sessions": metrics.num_sessions,
            "lines_added": metrics.lines_of_code.added,
            "lines_removed": metrics.lines_of_code.removed,
            "commits": metrics.commits_by_claude_code,
            "pull_requests": metrics.pull_requests_by_claude_code,
            "tool_actions": item.tool_actions,
        }
        rows: list[tuple[str, dict[str, Any]]] = [("", activity)]
        for usage in item.model_breakdown:
            tokens, cost = usage.tokens, usage.estimated_cost
            figures = common | {
                "input_tokens": tokens.input,
                "output_tokens": tokens.output,
                "cache_read_tokens": tokens.cache_read,
                "cache_creation_tokens": tokens.cache_creation,
            }
            if cost is not None:  # an estimate at API rates, in cents; never the ledger's money
                figures |= {
                    "estimated_cost": str(cost.amount.scaleb(-2)),
                    "estimated_currency": cost.currency,
                }
            rows.append((usage.model, figures))
        return [
            self._record(
                f"{who}|{model}", span, model=model, user=user, feature="claude-code", tags=tags, requests=0
            )
            for model, tags in rows
        ]


SOURCE_TYPE = SourceType(
    name="anthropic",
    label="Anthropic",
    connector=AnthropicConnector,
    base_url=DEFAULT_BASE_URL,
    key_help="an Admin API key (sk-ant-admin…) from the Claude Console under Settings → Admin keys",
    options=(
        Option(
            "workspace_ids",
            "Workspace IDs (optional)",
            "Anthropic: comma-separated wrkspc_… ids; blank syncs every workspace.",
            "ids",
        ),
    ),
    auth=lambda config: KeyHeader("x-api-key", config.key),
    headers={"anthropic-version": "2023-06-01"},
)
