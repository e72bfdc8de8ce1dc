"""A fake Azure: the Entra token endpoint and the Cost Management Query API, on 127.0.0.1.

Why: the Azure connector is tested over real HTTP (STYLE.md, "real databases, fake
networks"), and the fake is the oracle: it holds a table of cost rows (day × resource ×
meter, with quantity, actual and amortized cost) and answers each query by computing it
from that table, so `expected_costs()` / `expected_tokens()` are what the connector must
read back, to the cent.

What it honours, as documented (provider-apis.md §4, the REST reference of Query - Usage):
- `POST /{tenant}/oauth2/v2.0/token`, form-encoded client credentials: unknown tenant →
  400 AADSTS90002, unknown client → 400 AADSTS700016, wrong secret → 401 AADSTS7000215,
  wrong scope → 400 AADSTS70011; else a bearer token the query endpoint then requires
  (401 InvalidAuthenticationToken / ExpiredAuthenticationToken otherwise);
- `POST /{scope}/providers/Microsoft.CostManagement/query?api-version=...`: the scope
  (subscription, resource group, billing account; 404 for an unknown one, 403
  AuthorizationFailed where the principal holds no reader role), `type` (ActualCost,
  AmortizedCost, Usage), `timeframe` Custom with `timePeriod` (Daily: at most 31 days),
  `granularity` Daily|None, `aggregation` (Sum of Cost, CostUSD, PreTaxCost,
  UsageQuantity), `grouping` (Dimension names the service knows; ResourceId only at a
  subscription or resource group), `filter` (dimensions In, and/or/not), answered as
  `columns` + positional `rows` (aggregations, UsageDate as yyyymmdd, the groupings,
  Currency), money as JSON doubles like the service's;
- paging: `$top` rows a page (1000 by default, at most 5000), `nextLink` carrying a
  `$skiptoken` bound to the query's body: POSTing another body to it is a 400.
Knobs: `fail()` (any status, with headers: 429 and the x-ms-ratelimit-* retry-afters),
`malform()`, `revise()`, `expire_tokens()`, `readers` (the scopes the principal may read).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import random
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fakes.server import FakeHTTPServer, FakeServer

TENANT = "7c1f0b6e-3d2a-4b8e-9f10-2a6b5c4d3e21"
CLIENT_ID = "5e8d2c1a-9b7f-4a3e-8c6d-0f1e2d3c4b5a"
CLIENT_SECRET = "Xq8Q~fakeSecretValue.4b7cT2mZ9wK1pL0vR"
SUBSCRIPTION = "3f2a9c1e-6b4d-4e8f-a1b2-c3d4e5f60718"
OTHER_SUBSCRIPTION = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
BILLING_ACCOUNT = "87654321"
TOKEN_SCOPE = "https://management.azure.com/.default"
MISSING = object()  # `malform(..., value=MISSING)` removes the column
DIMENSIONS = {  # lower case → the spelling the service answers with
    n.lower(): n
    for n in [
        "ResourceGroup",
        "ResourceGroupName",
        "ResourceLocation",
        "ResourceType",
        "ResourceId",
        "MeterId",
        "MeterCategory",
        "MeterSubcategory",
        "Meter",
        "SubscriptionId",
        "SubscriptionName",
        "ServiceName",
        "ServiceTier",
        "ChargeType",
        "PublisherType",
        "PricingModel",
        "BillingAccountId",
    ]  # fmt: skip
}
_AGGREGATES = {"cost", "costusd", "pretaxcost", "pretaxcostusd", "usagequantity"}


@dataclass(frozen=True)
class Meter:
    """A meter and what it bills: the model and token kind its name stands for ("": none)."""

    name: str
    subcategory: str
    service: str
    price: Decimal  # per unit of quantity
    model: str = ""
    kind: str = ""  # input | cached_input | output | "" (a money line item)
    unit: int = 1_000  # tokens per unit
    ai: bool = True  # False: a service the connector's filter must leave out


def _m(
    name: str, sub: str, service: str, price: str, model: str = "", kind: str = "", unit: int = 1000
) -> Meter:
    return Meter(name, sub, service, Decimal(price), model, kind, unit)


METERS = (
    _m("gpt-4o-0806 Inp glbl Tokens", "Azure OpenAI", "Foundry Models", "0.0025", "gpt-4o-0806", "input"),
    _m(
        "gpt-4o-0806 cached Inp glbl Tokens",
        "Azure OpenAI",
        "Foundry Models",
        "0.00125",
        "gpt-4o-0806",
        "cached_input",
    ),
    _m("gpt-4o-0806 Outp glbl Tokens", "Azure OpenAI", "Foundry Models", "0.01", "gpt-4o-0806", "output"),
    _m("gpt 4.1 nano Inp glbl Tokens", "Azure OpenAI", "Foundry Models", "0.0001", "gpt-4.1-nano", "input"),
    _m("gpt 4.1 nano Outp glbl Tokens", "Azure OpenAI", "Foundry Models", "0.0004", "gpt-4.1-nano", "output"),
    _m("GPT 5 Inpt Glbl 1M Tokens", "Azure OpenAI GPT5", "Foundry Models", "1.25", "gpt-5", "input", 10**6),
    _m("GPT 5 outpt Glbl 1M Tokens", "Azure OpenAI GPT5", "Foundry Models", "10", "gpt-5", "output", 10**6),
    _m("o3 0416 Inp DZone Tokens", "Azure OpenAI Reasoning", "Foundry Models", "0.0022", "o3-0416", "input"),
    _m(
        "o3 0416 Outp DZone Tokens", "Azure OpenAI Reasoning", "Foundry Models", "0.0088", "o3-0416", "output"
    ),
    _m("Phi-4-Input Tokens", "Azure Phi Models", "Foundry Models", "0.000125", "phi-4", "input"),
    _m(
        "text-embedding-3-large Tokens",
        "Azure OpenAI",
        "Cognitive Services",
        "0.00013",
        "text-embedding-3-large",
        "input",
    ),
    _m("5.4 inp Gl 1M Tokens", "Azure OpenAI GPT5", "Foundry Models", "2.5"),  # no model in the name
    _m("S1 Speech To Text", "Speech", "Foundry Tools", "1"),  # hours of audio
    replace(_m("D4s v5", "Dsv5 Series", "Virtual Machines", "0.192"), ai=False),
)
PTU = _m(
    "Provisioned Managed Global Hourly", "Azure OpenAI", "Cognitive Services", "1"
)  # covered by a reservation
PTU_RESERVATION = _m("Provisioned Managed Reservation", "Azure OpenAI", "Cognitive Services", "0")


@dataclass(slots=True)
class CostRow:
    """One row of the fake's table: a day of one meter on one resource (or a purchase)."""

    day: date
    subscription: str
    group: str  # resource group ("" for a purchase)
    resource: str  # resource name ("" for a purchase)
    meter: Meter
    quantity: Decimal
    actual: Decimal  # ActualCost (and Usage's PreTaxCost)
    amortized: Decimal  # AmortizedCost

    @property
    def resource_id(self) -> str:
        return _resource_id(self.subscription, self.group, self.resource, self.meter.ai)

    def value(self, column: str, cost_type: str, rate: Decimal) -> Decimal:
        if column == "usagequantity":
            return self.quantity
        cost = self.amortized if cost_type == "amortizedcost" else self.actual
        return cost * rate if column.endswith("usd") else cost

    def dimension(self, name: str) -> str:
        get = _DIMENSION.get(name)
        return get(self) if get else ""


@functools.cache
def _resource_id(subscription: str, group: str, resource: str, ai: bool) -> str:
    """A resource's id, lower case as Cost Management answers it ("" for a purchase)."""
    if not resource:
        return ""
    kind = "cognitiveservices/accounts" if ai else "compute/virtualmachines"
    return f"/subscriptions/{subscription}/resourcegroups/{group}/providers/microsoft.{kind}/{resource}"


_DIMENSION: dict[str, Callable[[CostRow], str]] = {
    "resourceid": lambda r: r.resource_id,
    "resourcegroup": lambda r: r.group,
    "resourcegroupname": lambda r: r.group,
    "subscriptionid": lambda r: r.subscription,
    "servicename": lambda r: r.meter.service,
    "metercategory": lambda r: r.meter.service,
    "metersubcategory": lambda r: r.meter.subcategory,
    "meter": lambda r: r.meter.name,
    "chargetype": lambda r: "Usage" if r.resource else "Purchase",
}


def _error(status: int, code: str, message: str) -> tuple[int, Any]:
    return status, {"error": {"code": code, "message": message}}


def _aad(status: int, error: str, code: int, text: str) -> tuple[int, Any]:
    """Entra's token error body: a description with the AADSTS code, trace and correlation ids."""
    stamp = "2025-03-08 10:00:00Z"
    description = f"AADSTS{code}: {text}\r\nTrace ID: 0c1d\r\nCorrelation ID: 9f8e\r\nTimestamp: {stamp}"
    body = {"error": error, "error_description": description, "error_codes": [code], "timestamp": stamp}
    return status, body | {"trace_id": "0c1d", "correlation_id": "9f8e", "error_uri": f"/error?code={code}"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: FakeHTTPServer

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fake: FakeAzureCost = self.server.fake
        status, answer, headers = fake.handle(self.path, self.headers, body)
        data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json; charset=utf-8", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class FakeAzureCost(FakeServer):
    """Two subscriptions of one billing account, `resources` AI resources each, `days` from `start`.

    `page_rows` caps the rows a page (to force paging); `currency` and `usd_rate` are the
    billing currency and its rate to USD. `requests` logs (path, query, body) of every query.
    """

    def __init__(
        self,
        *,
        start: date = date(2025, 3, 1),
        days: int = 7,
        resources: int = 3,
        density: float = 0.7,
        seed: int = 13,
        page_rows: int | None = None,
        currency: str = "USD",
        usd_rate: Decimal = Decimal(1),
        token_lifetime: int = 3599,
    ) -> None:
        self.start, self.days, self.page_rows = start, days, page_rows
        self.currency, self.usd_rate, self.token_lifetime = currency, usd_rate, token_lifetime
        self.readers = {f"subscriptions/{SUBSCRIPTION}", f"subscriptions/{OTHER_SUBSCRIPTION}"}
        self.readers.add(f"providers/microsoft.billing/billingaccounts/{BILLING_ACCOUNT}")
        self.requests: list[tuple[str, dict[str, list[str]], dict[str, Any]]] = []
        self.tokens_issued = 0
        self._tokens: set[str] = set()
        self._expired: set[str] = set()
        self._faults: list[dict[str, Any]] = []
        self._malformed: list[dict[str, Any]] = []
        self._pages_served = 0
        self._answers: dict[str, tuple[list[dict[str, str]], list[list[Any]]]] = {}  # by query
        self._lock = threading.Lock()
        self.by_day: dict[date, list[CostRow]] = defaultdict(list)
        self._seed(resources, density, random.Random(seed))
        self.listen(_Handler)

    # ---- the table ------------------------------------------------------------------------

    def _seed(self, resources: int, density: float, rnd: random.Random) -> None:
        for s, subscription in enumerate((SUBSCRIPTION, OTHER_SUBSCRIPTION)):
            vm = resources - 1 if s == 0 else -1  # the first subscription's last resource is a VM
            names = [
                (f"rg-ai-{s}{r % 2}", f"{'vm' if r == vm else 'aoai'}-{s}-{r}") for r in range(resources)
            ]
            for d in range(self.days):
                day = self.start + timedelta(days=d)
                for r, (group, name) in enumerate(names):
                    for meter in METERS:
                        if meter.ai == (r == vm):
                            continue
                        if rnd.random() < density:
                            quantity = (
                                Decimal(rnd.randint(1, 400_000)) / (10**6 if meter.unit == 10**6 else 1000)
                                if meter.kind
                                else Decimal(rnd.randint(1, 240)) / 10
                            )
                            cost = (quantity * meter.price).quantize(Decimal("1e-10"))
                            self.by_day[day].append(
                                CostRow(day, subscription, group, name, meter, quantity, cost, cost)
                            )
                if s == 0:  # resource 0 runs a provisioned deployment on a monthly reservation
                    self.by_day[day].append(
                        CostRow(
                            day,
                            subscription,
                            names[0][0],
                            names[0][1],
                            PTU,
                            Decimal(24),
                            Decimal(0),
                            Decimal("52.5"),
                        )
                    )
                    if day.day == 1 or d == 0:
                        price = Decimal("1627.5")
                        self.by_day[day].append(
                            CostRow(day, subscription, "", "", PTU_RESERVATION, Decimal(1), price, Decimal(0))
                        )

    def rows(self, scope: str, first: date, last: date) -> list[CostRow]:
        """The table's rows of `scope` (lower case, no leading slash) for days first..last."""
        out = []
        for d in range((last - first).days + 1):
            for row in self.by_day.get(first + timedelta(days=d), ()):
                if self._in_scope(row, scope):
                    out.append(row)
        return out

    @staticmethod
    def _in_scope(row: CostRow, scope: str) -> bool:
        parts = scope.split("/")
        if parts[0] == "providers":
            return True  # the billing account holds both subscriptions
        if parts[1] != row.subscription:
            return False
        return len(parts) < 4 or parts[3] == row.group

    def revise(self, day: str, *, factor: int | str = 3) -> None:
        """A late revision of `day`: its quantities and costs multiplied by `factor`."""
        self._answers.clear()
        for row in self.by_day[date.fromisoformat(day)]:
            f = Decimal(factor)
            row.quantity, row.actual, row.amortized = row.quantity * f, row.actual * f, row.amortized * f

    def expected_costs(
        self,
        scope: str = f"subscriptions/{SUBSCRIPTION}",
        cost_type: str = "ActualCost",
        services: tuple[str, ...] = (),
    ) -> dict[tuple[str, str, str], Decimal]:
        """The cost by (day, project, model) a connector should read: project is the resource
        name (the subscription id where the row has none, or at a billing scope)."""
        out: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
        for row in self._expected_rows(scope, services):
            out[self._expected_key(row, scope)] += row.value("cost", cost_type.lower(), Decimal(1))
        return dict(out)

    def expected_tokens(
        self, scope: str = f"subscriptions/{SUBSCRIPTION}"
    ) -> dict[tuple[str, str, str], dict[str, int]]:
        """The tokens by (day, project, model) and kind that the meters' quantities stand for."""
        out: dict[tuple[str, str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for row in self._expected_rows(scope, ()):
            if row.meter.kind:
                count = int((row.quantity * row.meter.unit).to_integral_value())
                key = self._expected_key(row, scope)
                out[key]["output" if row.meter.kind == "output" else "input"] += count
                if row.meter.kind == "cached_input":
                    out[key]["cached_input"] += count
        return {k: dict(v) for k, v in out.items()}

    def _expected_rows(self, scope: str, services: tuple[str, ...]) -> list[CostRow]:
        wanted = services or ("Cognitive Services", "Foundry Models", "Foundry Tools")
        last = self.start + timedelta(days=self.days - 1)
        return [r for r in self.rows(scope.lower().strip("/"), self.start, last) if r.meter.service in wanted]

    @staticmethod
    def _expected_key(row: CostRow, scope: str) -> tuple[str, str, str]:
        by_resource = scope.lower().strip("/").startswith("subscriptions/")
        project = row.resource if by_resource and row.resource else row.subscription
        return (row.day.isoformat(), project, row.meter.model)

    # ---- knobs ------------------------------------------------------------------------------

    def fail(
        self,
        status: int,
        *,
        at: int = 1,
        times: int | None = 1,
        headers: dict[str, str] | None = None,
        path: str = "query",
    ) -> None:
        """Answer `status` (with `headers`) to the `at`-th next request whose path contains `path`,
        and to the `times - 1` after it (None: forever)."""
        self._faults.append(
            {"status": status, "at": at, "times": times, "headers": headers or {}, "path": path, "seen": 0}
        )

    def clear_faults(self) -> None:
        self._faults.clear()

    def malform(self, *, at: int = 1, row: int = 0, column: str = "Cost", value: object = "abc") -> None:
        """On the `at`-th next query page with rows, set `column` of row `row` to `value`
        (`MISSING`: drop the column from `columns` and every row)."""
        self._malformed.append({"at": self._pages_served + at, "row": row, "column": column, "value": value})

    def expire_tokens(self) -> None:
        """Every token issued so far expires (the next query with one answers 401)."""
        self._expired |= self._tokens
        self._tokens.clear()

    # ---- HTTP -------------------------------------------------------------------------------

    def handle(self, raw: str, headers: Any, body: bytes) -> tuple[int, Any, dict[str, str]]:
        url = urlsplit(raw)
        query = parse_qs(url.query, keep_blank_values=True)
        with self._lock:
            fault = next((f for f in self._faults if self._trips(f, url.path)), None)
            if fault is not None:
                text = "Too many requests. Please retry." if fault["status"] == 429 else "An error occurred."
                status, answer = _error(fault["status"], str(fault["status"]), text)
                return status, answer, dict(fault["headers"])
            if url.path.endswith("/oauth2/v2.0/token"):
                return (*self._token(url.path, body), {})
            status, answer = self._query(url.path, query, headers.get("Authorization") or "", body)
            return status, answer, {"x-ms-ratelimit-microsoft.costmanagement-qpu-remaining": "QueryUsage=5"}

    def _trips(self, fault: dict[str, Any], path: str) -> bool:
        if fault["path"] not in path:
            return False
        fault["seen"] += 1
        until = None if fault["times"] is None else fault["at"] + fault["times"]
        return bool(fault["at"] <= fault["seen"] and (until is None or fault["seen"] < until))

    def _token(self, path: str, body: bytes) -> tuple[int, Any]:
        form = {k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        tenant = path.strip("/").split("/")[0]
        if form.get("grant_type") != "client_credentials":
            return _aad(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
        if tenant != TENANT:
            return _aad(
                400,
                "invalid_request",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID.",
            )
        if form.get("client_id") != CLIENT_ID:
            return _aad(
                400, "unauthorized_client", 700016,
                f"Application with identifier '{form.get('client_id')}' was not found in the directory "
                f"'{tenant}'.",
            )  # fmt: skip
        if form.get("client_secret") != CLIENT_SECRET:
            return _aad(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client "
                "secret value, not the client secret ID.",
            )
        if form.get("scope") != TOKEN_SCOPE:
            return _aad(
                400, "invalid_scope", 70011, f"The provided value for scope {form.get('scope')} is not valid."
            )
        self.tokens_issued += 1
        token = f"eyJ0eXAiOiJKV1Qi.fake.{self.tokens_issued}"
        self._tokens.add(token)
        return 200, {
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "ext_expires_in": self.token_lifetime,
            "access_token": token,
        }

    def _query(self, path: str, q: dict[str, list[str]], auth: str, raw: bytes) -> tuple[int, Any]:
        token = auth.removeprefix("Bearer ")
        if not auth:
            return _error(
                401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."
            )
        if token in self._expired:
            return _error(
                401,
                "ExpiredAuthenticationToken",
                "The access token expiry UTC time is earlier than current UTC time.",
            )
        if token not in self._tokens:
            return _error(401, "InvalidAuthenticationToken", "The access token is invalid.")
        suffix = "/providers/microsoft.costmanagement/query"
        if not path.lower().endswith(suffix):
            return _error(404, "NotFound", f"No route for {path}")
        scope = path[: -len(suffix)].strip("/").lower()
        if not q.get("api-version"):
            return _error(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required.",
            )
        parts = scope.split("/")
        if parts[0] == "subscriptions" and parts[1] not in (SUBSCRIPTION, OTHER_SUBSCRIPTION):
            return _error(404, "SubscriptionNotFound", f"The subscription '{parts[1]}' could not be found.")
        if not any(scope == r or scope.startswith(r + "/") for r in self.readers):
            return _error(
                403, "AuthorizationFailed",
                f"The client '{CLIENT_ID}' with object id '{CLIENT_ID}' does not have authorization to "
                f"perform action 'Microsoft.CostManagement/query/action' over scope '/{scope}' or the scope "
                "is invalid. "
                "If access was recently granted, please refresh your credentials.",
            )  # fmt: skip
        try:
            body = json.loads(raw)
            self.requests.append((path, q, body))
            return self._answer(scope, q, body)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return _error(400, "BadRequest", f"Invalid query definition: {type(exc).__name__}: {exc}")

    def _answer(self, scope: str, q: dict[str, list[str]], body: dict[str, Any]) -> tuple[int, Any]:
        """The page of the query's answer that `$skiptoken` points at."""
        digest = hashlib.sha256(json.dumps([scope, body], sort_keys=True).encode()).hexdigest()[:16]
        if digest not in self._answers:
            self._answers[digest] = self._compute(scope, body)
        columns, rows = self._answers[digest]
        columns = [dict(c) for c in columns]  # a malformed page must not break the next one
        top = int((q.get("$top") or ["1000"])[-1])
        if not 1 <= top <= 5000:
            raise ValueError("$top must be between 1 and 5000")
        size = min(top, self.page_rows or top)
        offset = 0
        if q.get("$skiptoken"):
            offset_text, _, bound = base64.urlsafe_b64decode(q["$skiptoken"][-1]).decode().partition(":")
            if bound != digest:
                raise ValueError("the $skiptoken belongs to another query: POST the same body to nextLink")
            offset = int(offset_text)
        page = [list(r) for r in rows[offset : offset + size]]
        link = None
        if offset + size < len(rows):
            token = base64.urlsafe_b64encode(f"{offset + size}:{digest}".encode()).decode()
            version = q["api-version"][-1]
            link = (
                f"{self.url}/{scope}/providers/Microsoft.CostManagement/query"
                f"?api-version={version}&$top={top}&$skiptoken={token}"
            )
        if page:
            self._pages_served += 1
            for fault in [m for m in self._malformed if m["at"] == self._pages_served]:
                self._break(columns, page, fault)
        name = hashlib.sha256(digest.encode()).hexdigest()[:32]
        return 200, {
            "id": f"{scope}/providers/Microsoft.CostManagement/query/{name}",
            "name": name,
            "type": "Microsoft.CostManagement/query",
            "location": None,
            "sku": None,
            "eTag": None,
            "properties": {"nextLink": link, "columns": columns, "rows": page},
        }

    def _compute(self, scope: str, body: dict[str, Any]) -> tuple[list[dict[str, str]], list[list[Any]]]:
        """The whole answer to a query, from the table: its columns and its sorted rows."""
        cost_type = body["type"].lower()
        if cost_type not in ("actualcost", "amortizedcost", "usage"):
            raise ValueError(f"type {body['type']!r}")
        if body["timeframe"] != "Custom":
            raise ValueError("this fake answers Custom timeframes only")
        first = datetime.fromisoformat(body["timePeriod"]["from"]).date()
        last = datetime.fromisoformat(body["timePeriod"]["to"]).date()
        dataset = body["dataset"]
        daily = {"daily": True, "none": False}[dataset["granularity"].lower()]
        if last < first or (daily and (last - first).days >= 31) or (last - first).days > 366:
            raise ValueError(
                f"the time period {first}..{last} is too long for granularity {dataset['granularity']}"
            )
        aggregates = [(a["name"].lower(), a["name"]) for a in dataset["aggregation"].values()]
        if any(name not in _AGGREGATES for name, _ in aggregates) or any(
            a["function"] != "Sum" for a in dataset["aggregation"].values()
        ):
            raise ValueError(f"Invalid aggregation: {dataset['aggregation']}")
        groups = [g["name"].lower() for g in dataset.get("grouping", [])]
        if any(
            g["type"] != "Dimension" or g["name"].lower() not in DIMENSIONS
            for g in dataset.get("grouping", [])
        ):
            raise ValueError(
                f"Invalid dataset grouping: {dataset['grouping']}; valid values: "
                + ", ".join(DIMENSIONS.values())
            )
        if "resourceid" in groups and not scope.startswith("subscriptions/"):
            raise ValueError("Invalid dataset grouping: 'ResourceId' is not supported at this scope")
        wanted = dataset.get("filter")
        sums: dict[tuple[Any, ...], list[Decimal]] = {}
        for row in self.rows(scope, first, last):
            if wanted is not None and not _passes(row, wanted):
                continue
            key = (
                *([int(row.day.strftime("%Y%m%d"))] if daily else []),
                *(row.dimension(g) for g in groups),
                self.currency,
            )
            values = [row.value(name, cost_type, self.usd_rate) for name, _ in aggregates]
            held = sums.get(key)
            sums[key] = values if held is None else [a + b for a, b in zip(held, values, strict=True)]
        columns = [{"name": name, "type": "Number"} for _, name in aggregates]
        columns += [{"name": "UsageDate", "type": "Number"}] if daily else []
        columns += [{"name": DIMENSIONS[g], "type": "String"} for g in groups]
        columns += [{"name": "Currency", "type": "String"}]
        return columns, [[*(float(v) for v in values), *key] for key, values in sorted(sums.items())]

    @staticmethod
    def _break(columns: list[dict[str, str]], page: list[list[Any]], fault: dict[str, Any]) -> None:
        at = next(i for i, c in enumerate(columns) if c["name"] == fault["column"])
        if fault["value"] is MISSING:
            del columns[at]
            for values in page:
                del values[at]
        else:
            page[fault["row"]][at] = fault["value"]


def _passes(row: CostRow, expression: dict[str, Any]) -> bool:
    """A QueryFilter (and/or/not/dimensions; keys in any case, as the service reads them)."""
    found = {k.lower(): v for k, v in expression.items()}
    if "and" in found:
        return len(found["and"]) >= 2 and all(_passes(row, e) for e in found["and"])
    if "or" in found:
        return len(found["or"]) >= 2 and any(_passes(row, e) for e in found["or"])
    if "not" in found:
        return not _passes(row, found["not"])
    comparison = {k.lower(): v for k, v in found["dimensions"].items()}
    if comparison["operator"] != "In" or comparison["name"].lower() not in DIMENSIONS:
        raise ValueError(f"Invalid filter: {comparison}")
    return row.dimension(comparison["name"].lower()) in comparison["values"]
