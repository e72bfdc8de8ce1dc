"""OpenRouter connector: `GET /api/v1/activity`, one UTC day at a time → ledger records.

One source is one OpenRouter account read with a management key (formerly "provisioning
key"; an ordinary inference key is refused with 403). `/activity?date=YYYY-MM-DD` gives a
day's spend per model × endpoint (the model at one upstream provider), split per
workspace with `group_by=workspace`; `/credits` gives the account's all-time totals,
which the sync keeps on the source as the provider's own running figure
(`provider_note`), never in the ledger (provider-apis-2026.md §1.5).

Invariants:
- OpenRouter serves only the last 30 *completed* UTC days: `fetch` asks for the days of
  [start, end) inside that window and nothing else. A day older than the window is kept
  as synced (no bucket is returned for it, so the sync never clears it) and today, still
  incomplete, is never fetched. One page is one day: its one bucket is replaced whole, so
  a revised day replaces the old figure.
- one record per day × workspace × model × endpoint carries the money (`usage`, USD,
  basis billed, pricing status provider), the requests and the tokens together: nothing
  else reports them, so nothing is counted twice. BYOK inference, paid to the upstream
  provider on the user's own key, stays in tags (it is that provider's bill, not OpenRouter's).
- `model` is OpenRouter's slug as given ("anthropic/claude-sonnet-4.5"); the upstream
  provider, the permaslug and the endpoint id go in tags; keys carry ids only.
- every answer is validated (`_openrouter_payloads.py`); a mismatch is
  `SourceError("malformed")` naming the endpoint, the page (the day) and the field path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from spendledger.records import Basis, PricingStatus, UsageRecord, as_utc, display_money
from spendledger.sources import _http
from spendledger.sources._openrouter_payloads import Activity, ActivityItem, Credits
from spendledger.sources.base import Page, SourceConfig, SourceError, SourceType

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"
WINDOW_DAYS = 30  # the completed UTC days /activity serves
ENDPOINT = "activity"
_DAY = timedelta(days=1)
M = TypeVar("M", bound=BaseModel)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class OpenRouterConnector:
    """Reads one OpenRouter account's daily activity and credits through its management key."""

    def __init__(
        self,
        config: SourceConfig,
        *,
        policy: _http.RetryPolicy | None = None,
        client: httpx.Client | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.name = config.name
        self.account = config.options.get("account") or config.name
        self._policy = policy or _http.RetryPolicy()
        self._clock = clock
        self._hints = _http.Hints(
            provider="OpenRouter",
            source=config.name,
            secret=config.key,
            auth="the key is not valid (revoked, expired or mistyped); create a management key in "
            "OpenRouter's Settings → Management keys (formerly Provisioning keys) and set it as this "
            "source's key",
            permission="this is an ordinary API key, not a management key; create a management key in "
            "OpenRouter's Settings → Provisioning/Management keys and set it as this source's key",
            not_found="check base_url (it should end in /api/v1)",
        )
        self._client = client or SOURCE_TYPE.client(config)
        self._api = _http.Api(self._client, self._hints, self._policy)

    def endpoints(self) -> list[str]:
        return [ENDPOINT]

    def check(self) -> str:
        return f"OpenRouter account reachable with a management key; {self.provider_note()}"

    def provider_note(self) -> str:
        """The account's all-time credits from `/credits`: OpenRouter's own running total."""
        credits = self._parse(Credits, self._get("credits", {}, "credits"), "credits", None).data
        used, bought = (
            display_money(credits.total_usage, "USD"),
            display_money(credits.total_credits, "USD"),
        )
        left = display_money(credits.total_credits - credits.total_usage, "USD")
        return f"{used} used of {bought} bought, {left} left (OpenRouter's all-time credits)"

    def days(self, start: datetime, end: datetime) -> list[date]:
        """The days of [start, end) OpenRouter serves: the last 30 completed UTC days."""
        today = self._clock().astimezone(UTC).date()
        first = max(as_utc(start).date(), today - timedelta(days=WINDOW_DAYS))
        stop = min(as_utc(end).date(), today)
        return [first + timedelta(days=i) for i in range((stop - first).days)]

    def fetch(self, endpoint: str, start: datetime, end: datetime) -> Iterator[Page]:
        if endpoint != ENDPOINT:
            raise SourceError("config", f"OpenRouter has no endpoint {endpoint!r}; known: {ENDPOINT}")
        for number, day in enumerate(self.days(start, end), 1):
            params = {"date": day.isoformat(), "group_by": "workspace"}
            yield self.page(self._get(ENDPOINT, params, ENDPOINT, number), day, number)

    def page(self, body: object, day: date, number: int) -> Page:
        """One day's answer → its page: the day's bucket and its records (the same ids twice: summed)."""
        items = self._parse(Activity, body, ENDPOINT, number, day).data
        merged: dict[tuple[str, str, str], ActivityItem] = {}
        for i, item in enumerate(items):
            if item.date != day:  # a record outside the page's bucket would never be replaced
                raise self._malformed(
                    ENDPOINT, number, day, f"data[{i}].date", f"{item.date} is not that day"
                )
            ids = (item.workspace_id or "", item.model, item.endpoint_id)
            merged[ids] = merged[ids].plus(item) if ids in merged else item
        start = datetime.combine(day, time(), UTC)
        records = [self._record(item, start) for item in merged.values()]
        return Page(endpoint=ENDPOINT, number=number, buckets=[(start, start + _DAY)], records=records)

    def close(self) -> None:
        self._client.close()

    # ---- translation ------------------------------------------------------------------

    def _record(self, item: ActivityItem, start: datetime) -> UsageRecord:
        workspace = item.workspace_id or ""
        tags: dict[str, Any] = {"endpoint_id": item.endpoint_id}
        if item.provider_name:
            tags["provider_name"] = item.provider_name
        if item.model_permaslug:
            tags["model_permaslug"] = item.model_permaslug
        if item.byok_usage_inference:
            tags["byok_usage_inference"] = str(item.byok_usage_inference)  # tags are JSON: text, exact
        return UsageRecord(
            key=f"{ENDPOINT}|{workspace}|{item.model}|{item.endpoint_id}",
            source=self.name,
            basis=Basis.BILLED,
            start=start,
            end=start + _DAY,
            provider="openrouter",
            model=item.model,
            account=self.account,
            workspace=workspace,
            tags=tags,
            requests=item.requests,
            tokens=item.tokens(),
            cost=item.usage,
            currency="USD",
            pricing_status=PricingStatus.PROVIDER,
        )

    # ---- HTTP and validation ------------------------------------------------------------

    def _get(
        self, path: str, params: dict[str, str], endpoint: str, page: int | None = None
    ) -> dict[str, Any]:
        return self._api.get(path, params, endpoint=endpoint, page=page)

    def _parse(
        self, model: type[M], body: object, endpoint: str, page: int | None, day: date | None = None
    ) -> M:
        """Validate `body`; a mismatch names the endpoint, the page (its day) and the field path."""
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
            problem = f"{first['msg']} (got {str(first.get('input'))[:60]!r}){more}"
            path = _http.field_path(first["loc"]) or "the page"
            raise self._malformed(endpoint, page, day, path, problem) from None

    def _malformed(
        self, endpoint: str, page: int | None, day: date | None, path: str, problem: str
    ) -> SourceError:
        where = endpoint + (f" (page {page})" if page else "") + (f" for {day}" if day else "")
        return SourceError(
            "malformed",
            f'OpenRouter source "{self.name}", {where}: unexpected data at {path}: {problem}; the API\'s '
            "format may have changed, report this message",
            endpoint=endpoint,
            page=page,
        )


SOURCE_TYPE = SourceType(
    name="openrouter",
    label="OpenRouter",
    connector=OpenRouterConnector,
    base_url=DEFAULT_BASE_URL,
    key_help="a management key (formerly a provisioning key) from OpenRouter's Settings → Management "
    "keys; an ordinary API key cannot read activity. Only the last 30 completed UTC days can be synced",
    window_days=None,  # it reads at most the last 30 days: one window
)
