"""GitHub Copilot billing connector: an organisation's or an enterprise's Copilot bill → ledger records.

One source is one organisation (`--option org=<login>`) or one enterprise
(`--option enterprise=<slug>`), read with a token that can see its billing
(provider-apis-2026.md §1.6; docs.github.com rest/billing/usage).

Endpoints:
- `ai_credit` and `premium_request`: the Copilot usage reports, one page per UTC day.
  From June 2026 Copilot bills AI credits and before that premium requests. Each report
  answers only for its own era and is empty elsewhere, so both are read; an empty day
  costs one call. GitHub answers per product × SKU × model for the period asked, and
  for one user only when the `user=<login>` filter names that user. So each day is read
  once for the whole bill, then once per user who used Copilot that month. One call per
  user and month finds those users. The users are the Copilot seat holders (the seat
  listing, paged by Link headers) or the logins the `users` option names. Usage no
  answer by user covers (people who have left, usage of no seat) is kept under no user.
  So a day's records add up to the bill's day exactly, and each member's own spend is
  theirs (user = login).
- `seats`: the Copilot seat charges, taken from the billing usage report's Copilot lines.
  Its AI-credit and premium-request lines are left out, because the endpoints above carry
  them with model and user. One page per month, summed per UTC day × organisation × SKU
  × unit. The report has no user, so seat charges sit with the organisation.

Records: basis billed, pricing status provider, currency USD as billed. The cost is
`netAmount`, what is billed; the gross and discount money and the quantities are in
tags (pooled discounts can exceed the gross, so the net is read, never computed).
Keys are `<endpoint>|<login>|<product>|<sku>|<model>` and `seats|<org>|<sku>|<unit>`.
Every payload is validated before it is read: a mismatch is a `SourceError("malformed")`
naming the endpoint, the page and the field. GitHub's throttling is respected as its
docs say (rest/using-the-rest-api/rate-limits-for-the-rest-api): 403 or 429 with
`retry-after` waits that long; with `x-ratelimit-remaining: 0` it waits until
`x-ratelimit-reset`; a secondary limit with neither waits a minute.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, ValidationError

from spendledger.records import Basis, PricingStatus, UsageRecord, as_utc
from spendledger.sources import _http
from spendledger.sources._github_copilot_payloads import (
    BillingReport,
    SeatListing,
    UsageItem,
    UsageReport,
)
from spendledger.sources.base import Option, Page, SourceConfig, SourceError, SourceType

DEFAULT_BASE_URL = "https://api.github.com"
API_VERSION = "2026-03-10"
PROVIDER = "github-copilot"
_USAGE = {"ai_credit": "ai_credit/usage", "premium_request": "premium_request/usage"}
_ENDPOINTS = (*_USAGE, "seats")
_SEATS_PER_PAGE = 100  # the listing's maximum
_USAGE_SKUS = ("ai credit", "premium request")  # the usage endpoints' SKUs, left out of `seats`
_ZERO = Decimal(0)
DAY = timedelta(days=1)
M = TypeVar("M", bound=BaseModel)
Query = Sequence[tuple[str, str | int]]

_KEY_HELP = (
    "for an organisation: a fine-grained personal access token (or a GitHub App's token) of an "
    'organisation owner with the organisation permissions "Administration" (read) and "GitHub Copilot '
    'Business" (read), from Settings → Developer settings → Personal access tokens; for an enterprise: '
    "a personal access token (classic) of an enterprise owner or billing manager with "
    "manage_billing:enterprise and read:enterprise"
)
_AUTH = (
    "the token is wrong, expired or revoked; create a new one under GitHub → Settings → Developer "
    "settings → Personal access tokens (the permissions it needs are in `spendledger sources types`) "
    "and set it as this source's key"
)
_ORG_PERMISSION = (
    'a fine-grained token or GitHub App needs the organisation permissions "Administration" (read) '
    'for billing usage and "GitHub Copilot Business" (read) for the seat list, and its owner must be '
    "an organisation owner; grant them under Settings → Developer settings → Personal access tokens "
    "(or in the App's permissions), and approve the token under the organisation's Settings → "
    "Personal access tokens if the organisation requires approval"
)
_ENTERPRISE_PERMISSION = (
    "enterprise billing takes a personal access token (classic) of an enterprise owner or billing "
    "manager with the manage_billing:enterprise and read:enterprise scopes (fine-grained tokens and "
    "GitHub Apps cannot read it); create one under Settings → Developer settings → Personal access "
    "tokens (classic)"
)


def throttled(response: httpx.Response, *, now: Callable[[], float] = time.time) -> float | None:
    """The wait GitHub's throttling answer asks for, in seconds; None when it is not one.

    GitHub's docs: a primary or secondary rate limit answers 403 or 429; wait `retry-after`
    seconds when given, else until `x-ratelimit-reset` (epoch seconds) when
    `x-ratelimit-remaining` is 0, else at least a minute.
    """
    if response.status_code not in (403, 429):
        return None
    headers = response.headers
    try:
        return max(0.0, float(headers["retry-after"]))
    except (KeyError, ValueError):
        pass
    if headers.get("x-ratelimit-remaining") == "0":
        try:
            return max(1.0, float(headers["x-ratelimit-reset"]) - now())
        except (KeyError, ValueError):
            return 60.0
    if response.status_code == 429 or "rate limit" in response.text.lower():
        return 60.0
    return None


def _days(start: datetime, end: datetime) -> list[date]:
    first, last = as_utc(start).date(), as_utc(end).date()
    return [first + timedelta(days=i) for i in range((last - first).days)]


def _bucket(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + DAY


@dataclass
class _Sums:
    """A line's quantities and money, summed: what one record holds."""

    unit_type: str
    price_per_unit: Decimal
    values: dict[str, Decimal] = field(default_factory=dict)

    def add(self, values: dict[str, Decimal], sign: int = 1) -> None:
        for name, value in values.items():
            self.values[name] = self.values.get(name, _ZERO) + sign * value

    @property
    def empty(self) -> bool:
        return not any(self.values.values())


def _usage_values(item: UsageItem) -> dict[str, Decimal]:
    return {
        "gross_quantity": item.gross_quantity,
        "gross_amount": item.gross_amount,
        "discount_quantity": item.discount_quantity,
        "discount_amount": item.discount_amount,
        "net_quantity": item.net_quantity,
        "net_amount": item.net_amount,
    }


class GitHubCopilotConnector:
    """Reads one organisation's or enterprise's Copilot bill through a billing-read token."""

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
        org = config.options.get("org", "").strip()
        enterprise = config.options.get("enterprise", "").strip()
        if bool(org) == bool(enterprise):
            raise SourceError(
                "config",
                f'GitHub Copilot source "{config.name}": give exactly one of '
                "--option org=<organisation login> or --option enterprise=<enterprise slug>",
            )
        self.org = org  # the workspace of its records ("" for an enterprise: its reports name no org)
        if org:
            self._scope = f'organisation "{org}"'
            self._billing = f"organizations/{quote(org)}/settings/billing"
            self._seat_listing = f"orgs/{quote(org)}/copilot/billing/seats"
        else:
            self._scope = f'enterprise "{enterprise}"'
            self._billing = f"enterprises/{quote(enterprise)}/settings/billing"
            self._seat_listing = f"enterprises/{quote(enterprise)}/copilot/billing/seats"
        users = config.options.get("users", "").strip()
        self._users: list[str] | None = (  # None: the seat holders
            [] if users.lower() == "none" else [u.strip() for u in users.split(",") if u.strip()] or None
        )
        self._hints = _http.Hints(
            provider="GitHub Copilot",
            source=config.name,
            secret=config.key,
            auth=_AUTH,
            permission=_ORG_PERMISSION if org else _ENTERPRISE_PERMISSION,
            not_found=f"check the {'organisation login' if org else 'enterprise slug'}, that the token's "
            "owner administers it, and base_url (https://api.github.com)",
        )
        self._client = client or SOURCE_TYPE.client(config)
        self._api = _http.Api(self._client, self._hints, self._policy, throttle=throttled)
        self._roster: list[str] | None = None  # the seat holders' logins, listed once
        self._active: dict[tuple[str, int, int], list[str]] = {}  # (endpoint, year, month) → logins

    def endpoints(self) -> list[str]:
        return list(_ENDPOINTS)

    def check(self) -> str:
        """The month's AI-credit report and the seat count: proves the token can read both."""
        today = datetime.now(UTC).date()
        report = self._report("ai_credit", [("year", today.year), ("month", today.month)], "ai_credit", None)
        seats = (
            ""
            if self._users is not None
            else f"; {self._seat_page(None, 1, per_page=1)[0].total_seats} Copilot seats"
        )
        lines = len(report.usage_items)
        return f"GitHub Copilot {self._scope} reachable{seats}; {lines} AI-credit lines this month"

    def fetch(self, endpoint: str, start: datetime, end: datetime) -> Iterator[Page]:
        if endpoint in _USAGE:
            return self._usage(endpoint, start, end)
        if endpoint == "seats":
            return self._seat_charges(start, end)
        known = ", ".join(_ENDPOINTS)
        raise SourceError("config", f"GitHub Copilot has no endpoint {endpoint!r}; known: {known}")

    def close(self) -> None:
        self._client.close()

    # ---- usage by day × user × model ----------------------------------------------------

    def _usage(self, endpoint: str, start: datetime, end: datetime) -> Iterator[Page]:
        for number, day in enumerate(_days(start, end), start=1):
            when = [("year", day.year), ("month", day.month), ("day", day.day)]
            total = self._report(endpoint, when, endpoint, number, asked=day)
            page = Page(endpoint=endpoint, number=number, buckets=[_bucket(day)])
            if total.usage_items:
                users = self._active_users(endpoint, day, number)
                by_user = {login: self._by_user(endpoint, when, login, number, day) for login in users}
                page.records = self._usage_records(endpoint, day, total, by_user)
            yield page

    def _by_user(self, endpoint: str, when: Query, login: str, number: int, day: date | None) -> UsageReport:
        try:
            return self._report(endpoint, [*when, ("user", login)], endpoint, number, asked=day)
        except SourceError as exc:
            if exc.kind != "permission":
                raise
            raise SourceError(
                "permission",
                f'GitHub Copilot source "{self.name}", {endpoint} (page {number}): 403 on the usage of '
                f"one user ({login}): GitHub splits an enterprise-owned organisation's usage by user only "
                "for the enterprise's admins; add the source for the enterprise (--option "
                "enterprise=<slug>, an enterprise owner's classic token), or set --option users=none to "
                "keep the organisation's bill without the split by user",
                endpoint=endpoint,
                page=number,
            ) from None

    def _active_users(self, endpoint: str, day: date, number: int) -> list[str]:
        """The logins with usage on `endpoint` in `day`'s month: one call per login and month."""
        month = (endpoint, day.year, day.month)
        if month not in self._active:
            when = [("year", day.year), ("month", day.month)]
            self._active[month] = [
                login
                for login in self._logins(number)
                if self._by_user(endpoint, when, login, number, None).usage_items
            ]
        return self._active[month]

    def _usage_records(
        self, endpoint: str, day: date, total: UsageReport, by_user: dict[str, UsageReport]
    ) -> list[UsageRecord]:
        """Each user's lines, then what the users' answers leave of the whole day's lines."""
        lines: dict[tuple[str, tuple[str, str, str]], _Sums] = {}
        rest: dict[tuple[str, str, str], _Sums] = {}
        for item in total.usage_items:
            rest.setdefault(item.line, _Sums(item.unit_type, item.price_per_unit)).add(_usage_values(item))
        for login, report in by_user.items():
            for item in report.usage_items:
                values = _usage_values(item)
                lines.setdefault((login, item.line), _Sums(item.unit_type, item.price_per_unit)).add(values)
                rest.setdefault(item.line, _Sums(item.unit_type, item.price_per_unit)).add(values, -1)
        lines.update((("", line), sums) for line, sums in rest.items() if not sums.empty)
        return [self._usage_record(endpoint, day, login, line, sums) for (login, line), sums in lines.items()]

    def _usage_record(
        self, endpoint: str, day: date, login: str, line: tuple[str, str, str], sums: _Sums
    ) -> UsageRecord:
        product, sku, model = line
        values = sums.values
        tags: dict[str, Any] = {
            "product": product,
            "sku": sku,
            "unit_type": sums.unit_type,
            "price_per_unit": str(sums.price_per_unit),
            **{name: str(value) for name, value in values.items() if name != "net_amount"},
        }
        if not login:
            tags["by_user"] = "none"  # usage no user's answer covers
        start, end = _bucket(day)
        return UsageRecord(
            key=f"{endpoint}|{login}|{product}|{sku}|{model}",
            source=self.name,
            basis=Basis.BILLED,
            start=start,
            end=end,
            provider=PROVIDER,
            model=model,
            account=self.account,
            workspace=self.org,
            user=login,
            tags=tags,
            requests=0,
            cost=values.get("net_amount", _ZERO),
            currency="USD",
            pricing_status=PricingStatus.PROVIDER,
        )

    # ---- seat charges by day × organisation × SKU ----------------------------------------

    def _seat_charges(self, start: datetime, end: datetime) -> Iterator[Page]:
        months: dict[tuple[int, int], list[date]] = {}
        for day in _days(start, end):
            months.setdefault((day.year, day.month), []).append(day)
        for number, ((year, month), days) in enumerate(months.items(), start=1):
            body = self._get(f"{self._billing}/usage", [("year", year), ("month", month)], "seats", number)
            report = self._parse(BillingReport, body, "seats", number)
            wanted = set(days)
            sums: dict[tuple[date, str, str, str], _Sums] = {}
            for item in report.usage_items:
                sku = item.sku.lower()
                if item.product.lower() != "copilot" or any(s in sku for s in _USAGE_SKUS):
                    continue
                if item.day not in wanted:
                    continue
                org = item.organization_name or self.org
                line = sums.setdefault(
                    (item.day, org, item.sku, item.unit_type), _Sums(item.unit_type, item.price_per_unit)
                )
                line.add(
                    {
                        "quantity": item.quantity,
                        "gross_amount": item.gross_amount,
                        "discount_amount": item.discount_amount,
                        "net_amount": item.net_amount,
                    }
                )
            page = Page(endpoint="seats", number=number, buckets=[_bucket(d) for d in days])
            page.records = [self._seat_record(*key, line) for key, line in sums.items()]
            yield page

    def _seat_record(self, day: date, org: str, sku: str, unit_type: str, sums: _Sums) -> UsageRecord:
        start, end = _bucket(day)
        values = sums.values
        tags: dict[str, Any] = {
            "product": "copilot",
            "sku": sku,
            "unit_type": unit_type,
            "price_per_unit": str(sums.price_per_unit),
            **{name: str(value) for name, value in values.items() if name != "net_amount"},
        }
        return UsageRecord(
            key=f"seats|{org}|{sku}|{unit_type}",
            source=self.name,
            basis=Basis.BILLED,
            start=start,
            end=end,
            provider=PROVIDER,
            account=self.account,
            workspace=org,
            tags=tags,
            requests=0,
            cost=values["net_amount"],
            currency="USD",
            pricing_status=PricingStatus.PROVIDER,
        )

    # ---- the seat holders -----------------------------------------------------------------

    def _logins(self, number: int) -> list[str]:
        """The users whose usage is asked for one by one: the option's, else the seat holders."""
        if self._users is not None:
            return self._users
        if self._roster is None:
            logins: dict[str, str] = {}  # lower case → as listed: an enterprise lists a user per org
            url: str | None = None
            page = 0
            while True:
                page += 1
                listing, next_url = self._seat_page(url, page)
                for seat in listing.seats:
                    login = seat.assignee.login if seat.assignee else None
                    if login:
                        logins.setdefault(login.lower(), login)
                if not next_url:
                    break
                if next_url == url:
                    raise SourceError(
                        "malformed",
                        f'GitHub Copilot source "{self.name}", seat listing (page {page}): the Link '
                        "header's next page is the page just read; stopping rather than looping",
                        endpoint="seat listing",
                        page=page,
                    )
                url = next_url
            self._roster = sorted(logins.values(), key=str.lower)
        return self._roster

    def _seat_page(
        self, url: str | None, page: int, per_page: int = _SEATS_PER_PAGE
    ) -> tuple[SeatListing, str | None]:
        """One page of the seat listing and the Link header's next page (None: the last).

        A next page is asked for as the Link header gives it: its path, and its query as the
        parameters (httpx would otherwise replace the URL's query with the parameters)."""
        path, params = self._seat_listing, [("per_page", str(per_page))]
        if url is not None:
            link = urlsplit(url)
            path, params = urlunsplit((link.scheme, link.netloc, link.path, "", "")), parse_qsl(link.query)
        body, response = self._request(path, params, "seat listing", page)
        next_url = response.links.get("next", {}).get("url")
        return self._parse(SeatListing, body, "seat listing", page), next_url

    # ---- HTTP and validation --------------------------------------------------------------

    def _report(
        self,
        endpoint: str,
        params: Query,
        where: str,
        number: int | None,
        asked: date | None = None,
    ) -> UsageReport:
        report = self._parse(
            UsageReport,
            self._get(f"{self._billing}/{_USAGE[endpoint]}", params, where, number),
            where,
            number,
        )
        period = report.time_period
        if asked is not None and (period.year, period.month, period.day) != (
            asked.year,
            asked.month,
            asked.day,
        ):
            raise SourceError(
                "malformed",
                f'GitHub Copilot source "{self.name}", {where} (page {number}): timePeriod is '
                f"{period.year}-{period.month}-{period.day}, the query asked for {asked.isoformat()}",
                endpoint=where,
                page=number,
            )
        return report

    def _get(self, path: str, params: Query, endpoint: str, page: int | None) -> dict[str, Any]:
        return self._request(path, params, endpoint, page)[0]

    def _request(
        self, path: str, params: Query | None, endpoint: str, page: int | None
    ) -> tuple[dict[str, Any], httpx.Response]:
        return self._api.get_response(path, params, endpoint=endpoint, page=page)

    def _parse(self, model: type[M], body: object, endpoint: str, page: int | None) -> M:
        """Validate `body`; a mismatch names the endpoint, the page and the field path."""
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = endpoint + (f" (page {page})" if page else "")
            path = _http.field_path(tuple(first["loc"])) or "the page"
            more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
            raise SourceError(
                "malformed",
                f'GitHub Copilot source "{self.name}", {where}: unexpected data at {path}: {first["msg"]} '
                f"(got {str(first.get('input'))[:60]!r}){more}; the API's format may have changed, "
                "report this message",
                endpoint=endpoint,
                page=page,
            ) from None


SOURCE_TYPE = SourceType(
    name=PROVIDER,
    label="GitHub Copilot",
    connector=GitHubCopilotConnector,
    base_url=DEFAULT_BASE_URL,
    key_help=_KEY_HELP,
    options=(
        Option("org", "Organisation", "GitHub: the organisation's login, as in github.com/<login>."),
        Option(
            "enterprise",
            "Enterprise (instead of an organisation)",
            "GitHub: the enterprise's slug, for its whole Copilot bill (takes a classic token).",
        ),
        Option(
            "users",
            "Users (optional)",
            "GitHub: blank splits usage by every Copilot seat holder; a comma-separated list of logins "
            "splits by those only; none keeps the bill without a split by user.",
        ),
    ),
    headers={
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": API_VERSION,
        "User-Agent": "spendledger",
    },
)
