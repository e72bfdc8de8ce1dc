"""Azure OpenAI / AI Foundry spend → ledger records, from the Cost Management Query API.

One source is one Cost Management scope (`--option scope=`): a subscription, a resource
group or a billing account, read by a service principal (OAuth 2 client credentials:
`tenant_id` and `client_id` as options, the client secret as the key; `_oauth.py`).

One endpoint, `costs`: `POST {base_url}/{scope}/providers/Microsoft.CostManagement/query`
(provider-apis.md §4.2) asks for `ActualCost` (or `AmortizedCost`, `cost_type` option),
`Daily` granularity, the sums of `Cost`, `CostUSD` and `UsageQuantity`, grouped by
resource (`ResourceId`; `SubscriptionId` at a billing scope, where the service does not
group by resource), `ServiceName`, `MeterSubcategory` and `Meter`, filtered to the AI
services (`services` option). The service takes at most 31 days of Daily rows a query,
so [start, end) is asked for in windows of 31 days; each window's rows come in pages
linked by `nextLink` (the same body POSTed to it) and the window becomes one `Page`
once all of them are read: its days are replaced whole, so a sync killed mid-window
leaves the old figures, never half a window.

Invariants:
- money is the `Cost` column in the row's `Currency` (as billed), Decimal from the JSON
  text; `CostUSD` and the quantity stay in tags as decimal strings;
- a row's day must lie in the window asked for (else the page is malformed: a day outside
  the window's buckets would never be replaced); rows that share a key are summed, so a
  group the service splits over pages is one record;
- keys carry the resource id (lower case: Azure's ids are case-insensitive), the
  service, the meter subcategory, the meter and the currency; the resource's name is
  the project, its resource group the workspace;
- meters are mapped to model and tokens where their names allow (`_azure_meters.py`),
  else the record is a money line item with the meter in its tags;
- throttling: a 429 waits the largest of `Retry-After` and the
  `x-ms-ratelimit-microsoft.costmanagement-*-retry-after` headers (qpu, entity, tenant).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from spendledger.records import Basis, PricingStatus, TokenCounts, UsageRecord, as_utc
from spendledger.sources import _http
from spendledger.sources._azure_meters import meter_kind
from spendledger.sources._azure_payloads import CostRow, Where, read_page
from spendledger.sources._oauth import ClientCredentials, TokenError
from spendledger.sources.base import Option, Page, SourceConfig, SourceError, SourceType

DEFAULT_BASE_URL = "https://management.azure.com"
DEFAULT_LOGIN_URL = "https://login.microsoftonline.com"
TOKEN_SCOPE = "https://management.azure.com/.default"
API_VERSION = "2025-03-01"
PAGE_ROWS = 5000  # rows a page (`$top`): the service's maximum; 1000 when not asked
WINDOW_DAYS = 31  # the longest period a Daily query may span
DEFAULT_SERVICES = ("Cognitive Services", "Foundry Models", "Foundry Tools")
COST_TYPES = {"actualcost": "ActualCost", "amortizedcost": "AmortizedCost"}
_THROTTLE = re.compile(r"^x-ms-ratelimit-microsoft\.costmanagement-[a-z-]+-retry-after$")
_ID = re.compile(r"^[A-Za-z0-9._-]+$")  # a tenant id (GUID or domain), a client id
_SCOPE = re.compile(
    r"^(subscriptions/[0-9A-Za-z-]+(/resourceGroups/[-\w.()]+)?"
    r"|providers/Microsoft\.(Billing/billingAccounts|Management/managementGroups)/[-\w:.]+(/[-\w:.]+/[-\w:.]+)*)$",
    re.IGNORECASE,
)
_ZERO = Decimal(0)


def throttle_wait(response: httpx.Response) -> float | None:
    """The longest wait a 429 asks for: `Retry-After` or any Cost Management retry-after header."""
    if response.status_code != 429:
        return None
    waits = []
    for name, value in response.headers.items():
        if name == "retry-after" or _THROTTLE.match(name):
            try:
                waits.append(max(0.0, float(value)))
            except ValueError:
                continue  # an HTTP date: rare here; the others (or backoff) decide
    return max(waits) if waits else None


def _scope(options: Mapping[str, str], source: str) -> str:
    raw = (options.get("scope") or "").strip().strip("/")
    if not _SCOPE.match(raw):
        raise SourceError(
            "config",
            f'Azure source "{source}": set --option scope= to the Cost Management scope to read: '
            "/subscriptions/<subscription id>, /subscriptions/<id>/resourceGroups/<name> or "
            f"/providers/Microsoft.Billing/billingAccounts/<id> (got {raw[:80]!r})",
        )
    return raw


def _required_id(config: SourceConfig, name: str, what: str) -> str:
    value = (config.options.get(name) or "").strip()
    if not _ID.match(value):
        raise SourceError(
            "config", f'Azure source "{config.name}": set --option {name}= to {what} (got {value[:60]!r})'
        )
    return value


def _token_error(config: SourceConfig, tenant: str, client_id: str) -> TokenError:
    """What a 400/401 of the Entra token endpoint means, by its AADSTS code."""

    def explain(response: httpx.Response) -> SourceError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        described = str(body.get("error_description") or body.get("error") or response.text[:200])
        first = described.splitlines()[0][:300] if described else ""
        code = re.search(r"AADSTS(\d+)", described)
        number = code.group(1) if code else ""
        if number in ("7000215", "7000222", "7000216", "7000218"):
            advice = (
                "the client secret (this source's key) is wrong or expired; create a new one in the Azure "
                f"portal under Microsoft Entra ID → App registrations → {client_id} → Certificates & secrets "
                "and give its Value (not its Secret ID) as the key"
            )
        elif number in ("700016", "70001", "700038"):
            advice = (
                f"no application {client_id} in tenant {tenant}: client_id must be the app registration's "
                "Application (client) ID, and tenant_id the Directory (tenant) ID it is registered in"
            )
        elif number in ("90002", "900023", "90013", "900021"):
            advice = (
                f"tenant {tenant} not found: tenant_id must be the Directory (tenant) ID shown under "
                "Microsoft Entra ID → Overview (or the tenant's domain), and login_url the cloud's sign-in "
                "host"
            )
        else:
            advice = "check tenant_id, client_id and the client secret (this source's key)"
        return SourceError(
            "auth", f'Azure source "{config.name}", token endpoint: {response.status_code} {first}: {advice}'
        )

    return explain


def azure_auth(config: SourceConfig) -> httpx.Auth:
    """The service principal's client-credentials flow against the tenant's token endpoint."""
    tenant = _required_id(config, "tenant_id", "the Directory (tenant) ID of the Entra tenant")
    client_id = _required_id(config, "client_id", "the app registration's Application (client) ID")
    login = (config.options.get("login_url") or DEFAULT_LOGIN_URL).rstrip("/")
    return ClientCredentials(
        token_url=f"{login}/{tenant}/oauth2/v2.0/token",
        client_id=client_id,
        client_secret=config.key,
        scope=config.options.get("token_scope") or TOKEN_SCOPE,
        on_error=_token_error(config, tenant, client_id),
    )


class AzureConnector:
    """Reads one Cost Management scope's AI-service costs through a service principal."""

    provider: ClassVar[str] = "azure"

    def __init__(
        self,
        config: SourceConfig,
        *,
        policy: _http.RetryPolicy | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.name = config.name
        self.account = config.options.get("account") or config.name
        self._scope = _scope(config.options, config.name)
        self._by_resource = self._scope.lower().startswith("subscriptions/")
        self._subscription = self._scope.split("/")[1].lower() if self._by_resource else ""
        raw_type = (config.options.get("cost_type") or "ActualCost").strip()
        if raw_type.lower() not in COST_TYPES:
            raise SourceError(
                "config", f'Azure source "{config.name}": cost_type must be ActualCost or AmortizedCost'
            )
        self._cost_type = COST_TYPES[raw_type.lower()]
        listed = [s.strip() for s in (config.options.get("services") or "").split(",") if s.strip()]
        self._services = listed or list(DEFAULT_SERVICES)
        # Azure's limits are tight (a few queries a minute per scope): wait out what it asks
        self._policy = policy or _http.RetryPolicy(max_attempts=8, max_wait=300.0)
        client_id = (config.options.get("client_id") or "").strip()
        self._hints = _http.Hints(
            provider="Azure",
            source=config.name,
            secret=config.key,
            auth="Cost Management refused the service principal's token; tenant_id must be the tenant "
            f"that holds {self._scope}",
            permission=f"the service principal (client_id {client_id}) needs Cost Management Reader (or "
            f"Reader) on /{self._scope}; grant it in the Azure portal on that "
            f"{'subscription or resource group' if self._by_resource else 'billing account or group'} → "
            "Access control (IAM) → Add role assignment",
            not_found=f"check the scope option (/{self._scope}) and base_url (default {DEFAULT_BASE_URL})",
        )
        self._client = client or SOURCE_TYPE.client(config)
        self._api = _http.Api(self._client, self._hints, self._policy, throttle=throttle_wait)

    def endpoints(self) -> list[str]:
        return ["costs"]

    def check(self) -> str:
        last = datetime.now(UTC).date() - timedelta(days=1)
        first = last - timedelta(days=29)
        query = self._query(first, last, daily=False)
        totals: dict[str, Decimal] = {}
        for row in self._rows(query, "costs", None, first, last):
            totals[row.currency.upper()] = totals.get(row.currency.upper(), _ZERO) + row.cost
        spent = ", ".join(f"{v:,.2f} {c}" for c, v in sorted(totals.items())) or "nothing"
        return (
            f"Azure Cost Management reachable for /{self._scope}; {', '.join(self._services)}: "
            f"{spent} in the 30 days to {last}"
        )

    def fetch(self, endpoint: str, start: datetime, end: datetime) -> Iterator[Page]:
        if endpoint != "costs":
            raise SourceError("config", f"Azure has no endpoint {endpoint!r}; known: costs")
        first, stop = as_utc(start).date(), as_utc(end).date()
        if as_utc(end) > datetime.combine(stop, time(), UTC):
            stop += timedelta(days=1)  # a partial last day is asked for whole
        number = 0
        while first < stop:
            number += 1
            last = min(first + timedelta(days=WINDOW_DAYS), stop) - timedelta(days=1)
            days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
            merged: dict[tuple[str, datetime], UsageRecord] = {}
            for row in self._rows(self._query(first, last, daily=True), endpoint, number, first, last):
                record = self._record(row)
                held = merged.get((record.key, record.start))
                merged[(record.key, record.start)] = record if held is None else _sum(held, record)
            buckets = [(_midnight(d), _midnight(d + timedelta(days=1))) for d in days]
            yield Page(endpoint=endpoint, number=number, buckets=buckets, records=list(merged.values()))
            first = last + timedelta(days=1)

    def close(self) -> None:
        self._client.close()

    # ---- the query --------------------------------------------------------------------------

    def _query(self, first: date, last: date, *, daily: bool) -> dict[str, Any]:
        """The body POSTed for [first, last] (both whole days): daily rows by resource and meter,
        or (the key check) one total per currency."""
        dataset: dict[str, Any] = {
            "granularity": "Daily" if daily else "None",
            "aggregation": {"totalCost": {"name": "Cost", "function": "Sum"}},
            "filter": {"dimensions": {"name": "ServiceName", "operator": "In", "values": self._services}},
        }
        if daily:
            dataset["aggregation"] |= {
                "totalCostUSD": {"name": "CostUSD", "function": "Sum"},
                "totalQuantity": {"name": "UsageQuantity", "function": "Sum"},
            }
            owner = "ResourceId" if self._by_resource else "SubscriptionId"
            names = (owner, "ServiceName", "MeterSubcategory", "Meter")
            dataset["grouping"] = [{"type": "Dimension", "name": n} for n in names]
        return {
            "type": self._cost_type,
            "timeframe": "Custom",
            "timePeriod": {"from": f"{first}T00:00:00Z", "to": f"{last}T23:59:59Z"},
            "dataset": dataset,
        }

    def _rows(
        self, query: dict[str, Any], endpoint: str, number: int | None, first: date, last: date
    ) -> Iterator[CostRow]:
        """Every row of `query`, following `nextLink`; each validated and inside [first, last]."""
        url = f"/{self._scope}/providers/Microsoft.CostManagement/query"
        params: list[tuple[str, str | int]] | None = [("api-version", API_VERSION), ("$top", PAGE_ROWS)]
        seen: set[str] = set()
        part = 0
        while True:
            part += 1
            where = Where(self.name, endpoint, number, f" ({first}..{last}, part {part})" if number else "")
            body = self._post(url, query, params, endpoint, number)
            rows, link = read_page(body, where, first, last, daily=query["dataset"]["granularity"] == "Daily")
            yield from rows
            if not link:
                return
            if link in seen:
                where.malformed("properties.nextLink", "it repeats a link already followed")
            seen.add(link)
            url, params = _relative(link, where), None

    # ---- translation ------------------------------------------------------------------------

    def _record(self, row: CostRow) -> UsageRecord:
        resource, subscription, group, resource_name = _resource(row.resource_id)
        subscription = subscription or row.subscription_id.lower() or self._subscription
        owner = resource or subscription
        tags: dict[str, Any] = {
            "meter": row.meter,
            "service_name": row.service_name,
            "cost_type": self._cost_type,
        }
        for name, value in (
            ("meter_subcategory", row.meter_subcategory),
            ("resource_id", resource),
            ("subscription_id", subscription),
            ("resource_group", group),
            ("quantity", _text(row.quantity)),
            ("cost_usd", _text(row.cost_usd)),
        ):
            if value:
                tags[name] = value
        kind = meter_kind(row.meter)
        tokens = TokenCounts()
        if kind is not None:
            tokens = kind.tokens(row.quantity or _ZERO)
            if kind.deployment:
                tags["deployment_type"] = kind.deployment
        start = _midnight(row.day or date(2000, 1, 1))
        return UsageRecord(
            key="|".join(
                ("costs", owner, row.service_name, row.meter_subcategory, row.meter, row.currency.upper())
            ),
            source=self.name,
            basis=Basis.BILLED,
            start=start,
            end=start + timedelta(days=1),
            provider="azure",
            model=kind.model if kind else "",
            account=self.account,
            workspace=group,
            project=resource_name or subscription,
            tags=tags,
            requests=0,
            tokens=tokens,
            cost=row.cost,
            currency=row.currency.upper(),
            pricing_status=PricingStatus.PROVIDER,
            batch=bool(kind and kind.batch),
        )

    # ---- HTTP and validation ----------------------------------------------------------------

    def _post(
        self,
        url: str,
        query: dict[str, Any],
        params: list[tuple[str, str | int]] | None,
        endpoint: str,
        number: int | None,
    ) -> dict[str, Any]:
        return self._api.post(url, query, params, endpoint=endpoint, page=number)


def _relative(link: str, where: Where) -> str:
    """`nextLink` as a path and query on our base URL: a proxy or a fake stays in the path, and
    the token never goes to a host the source was not pointed at."""
    parts = urlsplit(link)
    if parts.scheme not in ("http", "https") or not parts.path.startswith("/"):
        where.malformed("properties.nextLink", f"{link[:80]!r} is not a URL")
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


@functools.lru_cache(maxsize=4096)
def _resource(resource_id: str) -> tuple[str, str, str, str]:
    """A resource id, lower case, and its subscription, resource group and name ("" where absent)."""
    resource = resource_id.lower()
    parts = resource.strip("/").split("/")
    subscription = parts[1] if len(parts) > 1 and parts[0] == "subscriptions" else ""
    group = parts[3] if len(parts) > 3 and parts[2] == "resourcegroups" else ""
    name = parts[-1] if len(parts) >= 8 and parts[4] == "providers" else ""
    return resource, subscription, group, name


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _text(value: Decimal | None) -> str:
    return "" if value is None else f"{value:f}"


def _sum(a: UsageRecord, b: UsageRecord) -> UsageRecord:
    """Two rows of one key (a group split over pages, ids differing in case) as one record."""
    a.cost = (a.cost or _ZERO) + (b.cost or _ZERO)
    a.tokens = a.tokens + b.tokens
    for name in ("quantity", "cost_usd"):
        if name in b.tags:
            a.tags[name] = _text(Decimal(a.tags.get(name, "0")) + Decimal(b.tags[name]))
    return a


SOURCE_TYPE = SourceType(
    name="azure",
    label="Azure OpenAI / Foundry",
    connector=AzureConnector,
    base_url=DEFAULT_BASE_URL,
    key_help="a client secret of an Entra ID app registration (a service principal) with Cost Management "
    "Reader (or Reader) on the scope: create the secret under Microsoft Entra ID → App registrations → "
    "Certificates & secrets, grant the role on the subscription → Access control (IAM)",
    options=(
        Option(
            "tenant_id",
            "Tenant ID",
            "Azure: the Directory (tenant) ID of the app registration.",
            required=True,
        ),
        Option(
            "client_id", "Client ID", "Azure: the app registration's Application (client) ID.", required=True
        ),
        Option(
            "scope",
            "Scope",
            "Azure: /subscriptions/<id>, /subscriptions/<id>/resourceGroups/<name> or "
            "/providers/Microsoft.Billing/billingAccounts/<id>.",
            required=True,
        ),
        Option(
            "cost_type",
            "Cost type (optional)",
            "Azure: ActualCost (default: as invoiced) or AmortizedCost (reservations spread over the term).",
        ),
        Option(
            "services",
            "Services (optional)",
            f"Azure: comma-separated ServiceName values to read; blank: {', '.join(DEFAULT_SERVICES)}.",
            "ids",
        ),
        Option(
            "login_url",
            "Login URL (optional)",
            f"Azure: the token endpoint's host; blank: {DEFAULT_LOGIN_URL} (set it for a sovereign cloud).",
            "url",
            form=False,
        ),
        Option(
            "token_scope",
            "Token scope (optional)",
            f"Azure: the OAuth scope asked for; blank: {TOKEN_SCOPE}.",
            form=False,
        ),
    ),
    auth=azure_auth,
)
