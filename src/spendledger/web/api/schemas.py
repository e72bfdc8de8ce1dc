"""Request and response bodies of the JSON API (pydantic v2).

`EventIn`, the ingest API's event, is built in spendledger.ingest.model from the event's
field list, as the batch parser validates with it; it is named here with the others.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from spendledger.ingest.model import EventBatchIn as EventBatchIn
from spendledger.ingest.model import EventIn as EventIn
from spendledger.ingest.records import IngestResult


class RejectionPublic(BaseModel):
    index: int
    field: str
    reason: str


class IngestResultPublic(BaseModel):
    accepted: int
    duplicates: int
    rejected_count: int
    rejected: list[RejectionPublic]

    @classmethod
    def from_result(cls, result: IngestResult) -> IngestResultPublic:
        return cls(
            accepted=result.accepted,
            duplicates=result.duplicates,
            rejected_count=len(result.rejected),
            rejected=[
                RejectionPublic(index=r.index, field=r.field, reason=r.reason) for r in result.rejected
            ],
        )


class SpendRowPublic(BaseModel):
    """A row of a spend report; it also carries one key per `by` dimension."""

    model_config = ConfigDict(extra="allow")

    period: str | None
    currency: str
    cost: str
    requests: int
    input_tokens: int
    cached_input_tokens: int
    cache_write_tokens: int
    output_tokens: int
    reasoning_tokens: int
    unpriced_requests: int


class UnconvertedPublic(BaseModel):
    """An amount the display currency could not take: no rate on its day or any day before."""

    day: str
    currency: str
    amount: str


class SpendPublic(BaseModel):
    """A spend report: money as exact decimal strings in `currency`; with several
    currencies `currency` and `total` are null, `totals` has one per currency and `note`
    says so."""

    currency: str | None
    from_: Annotated[str, Field(alias="from")]
    to: str
    basis: str
    granularity: str
    by: list[str]
    filters: dict[str, list[str]]
    total: str | None
    rows: list[SpendRowPublic]
    totals: dict[str, str] | None = None
    note: str | None = None
    # with a display currency (`currency=`): what had no rate for its day, left as charged
    unconverted: list[UnconvertedPublic] | None = None


class ErrorPublic(BaseModel):
    detail: str


def request_body(model: type[BaseModel]) -> dict[str, Any]:
    """A route's `openapi_extra` declaring `model` as its required JSON body, for routes
    that read the raw body themselves. The schema is self-contained: pydantic's nested
    models (`#/$defs/EventIn`) are inlined, as such a reference would point at the root
    of the OpenAPI document, where nothing answers it."""
    schema = model.model_json_schema()
    defs: dict[str, Any] = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    content = {"application/json": {"schema": inline(schema)}}
    return {"requestBody": {"required": True, "content": content}}


# ---- the read API's bodies: dimensions, sources, budgets, alerts ------------------------------
# Money is an exact decimal string in the currency named beside it, as in SpendPublic.

Money = Annotated[str, Field(examples=["37.75"], description="an exact decimal amount")]
PerCurrency = Annotated[
    dict[str, str], Field(examples=[{"USD": "37.75"}], description="currency → exact amount, never added up")
]


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)}, populate_by_name=True)


class DimensionValuePublic(BaseModel):
    value: str | None = Field(description="null: records with no value (the filter DIM:none selects them)")
    spend: PerCurrency
    requests: int
    unpriced_requests: int


class DimensionPublic(BaseModel):
    """The values a dimension holds (ever, within the caller's scope), with their spend in
    the period: the same figures as /api/v1/spend?by=DIM for the same parameters."""

    model_config = _examples(
        {
            "dimension": "project",
            "from": "2026-11-01",
            "to": "2026-11-30",
            "basis": "best",
            "filters": {"provider": ["openai"]},
            "totals": {"USD": "16.25"},
            "values": [
                {"value": "support-bot", "spend": {"USD": "12.00"}, "requests": 4120, "unpriced_requests": 0},
                {"value": "search", "spend": {"USD": "4.25"}, "requests": 950, "unpriced_requests": 2},
                {"value": "legacy", "spend": {}, "requests": 0, "unpriced_requests": 0},
            ],
        }
    )

    dimension: str
    from_: Annotated[str, Field(alias="from")]
    to: str
    basis: str
    filters: dict[str, list[str]]
    totals: PerCurrency
    values: list[DimensionValuePublic]


class LastSyncPublic(BaseModel):
    at: datetime
    outcome: str = Field(description="running, ok, failed or interrupted")
    error: str | None
    pages: int | None = Field(description="pages the run read (null: the run is no longer recorded)")
    records: int | None


class SourcePublic(BaseModel):
    name: str
    type: str
    type_label: str
    status: str = Field(description="never_synced, running, ok, failed or interrupted")
    key: str = Field(description="the key, masked: its kind and last four characters")
    options: dict[str, str]
    last_sync: LastSyncPublic | None
    synced_until: datetime | None
    interval_minutes: int
    backfill_days: int
    created_at: datetime


class SourcesPublic(BaseModel):
    """The provider accounts the ledger syncs from; keys only masked (admins and API tokens)."""

    model_config = _examples(
        {
            "sources": [
                {
                    "name": "Edugami",
                    "type": "openai",
                    "type_label": "OpenAI",
                    "status": "failed",
                    "key": "sk-admin…a1b2",
                    "options": {"account": "org-edugami"},
                    "last_sync": {
                        "at": "2026-11-23T08:00:00Z",
                        "outcome": "failed",
                        "error": "401 from OpenAI for source 'Edugami': the key is not an admin key",
                        "pages": 0,
                        "records": 0,
                    },
                    "synced_until": "2026-11-22T00:00:00Z",
                    "interval_minutes": 60,
                    "backfill_days": 90,
                    "created_at": "2026-10-01T09:30:00Z",
                }
            ]
        }
    )

    sources: list[SourcePublic]


class ForecastPublic(BaseModel):
    spent_so_far: Money
    projected_total: Money
    low: Money = Field(description="the 80 % band's low end")
    high: Money
    method: str
    exceeds: bool = Field(description="the projection passes the budget's amount")


class PastWindowPublic(BaseModel):
    start: date
    end: date
    spent: Money
    percent: str


class BudgetPublic(BaseModel):
    name: str
    amount: Money = Field(description="the limit per window")
    currency: str
    period: str
    scope: dict[str, list[str]] = Field(description="the filters the budget covers; empty: everything")
    basis: str
    thresholds: list[int] = Field(description="percentages of the amount that raise an alert")
    channels: list[str] = Field(description="where its alerts go; empty: every channel")
    window_start: date
    window_end: date
    spent: Money = Field(description="in the window up to today")
    left: Money = Field(description="the amount less spent; negative once over")
    percent: str
    resets_in: int | None = Field(description="days until the next window; null for a custom one")
    crossed: list[int]
    status: str = Field(description="over, heading_over, on_track, not_started or ended")
    forecast: ForecastPublic | None = Field(description="the window-end projection; null outside the window")
    past: list[PastWindowPublic] = Field(description="the windows before, most recent first")
    unconverted: dict[str, Money] = Field(
        default_factory=dict,
        description="per currency, spend in the window on days with no exchange rate into the "
        "budget's currency: not in `spent`",
    )


class BudgetsPublic(BaseModel):
    """Every budget's current window, forecast and past windows: the /budgets page's figures."""

    model_config = _examples(
        {
            "today": "2026-11-23",
            "budgets": [
                {
                    "name": "web",
                    "amount": "500",
                    "currency": "USD",
                    "period": "monthly",
                    "scope": {"project": ["web"]},
                    "basis": "best",
                    "thresholds": [50, 80, 100],
                    "channels": [],
                    "window_start": "2026-11-01",
                    "window_end": "2026-11-30",
                    "spent": "412.50",
                    "left": "87.50",
                    "percent": "82.5",
                    "resets_in": 8,
                    "crossed": [50, 80],
                    "status": "heading_over",
                    "forecast": {
                        "spent_so_far": "412.50",
                        "projected_total": "540.00",
                        "low": "505.00",
                        "high": "580.00",
                        "method": "weekday profile × trend",
                        "exceeds": True,
                    },
                    "past": [
                        {"start": "2026-10-01", "end": "2026-10-31", "spent": "455.10", "percent": "91.0"}
                    ],
                }
            ],
        }
    )

    today: date
    budgets: list[BudgetPublic]


class AlertRulePublic(BaseModel):
    kind: str = Field(description="budget (thresholds and forecast) or anomaly")
    budget: str | None
    thresholds: list[int]
    forecast: bool = Field(description="an alert when the window-end forecast passes the amount")
    dimensions: list[str] = Field(description="an anomaly rule's dimensions")
    channels: list[str] = Field(description="the channels its alerts go to")


class AlertPublic(BaseModel):
    id: int
    kind: str = Field(description="threshold, forecast or anomaly")
    subject: str = Field(description="the budget's name, or an anomaly's filter (model:gpt-4o)")
    headline: str
    description: str
    severity: str = Field(description="failure at or over 100 %, else warning")
    threshold: int
    window_start: date
    window_end: date
    figures: dict[str, str] = Field(
        description="exact decimals: spent, amount, percent, projected, low, high; an anomaly's usual, spread"
    )
    currency: str
    status: str = Field(description="open, acknowledged or resolved")
    passed: bool = Field(description="a threshold passed on the way to a higher one: recorded, never sent")
    created_at: datetime
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    note: str | None
    explore_url: str = Field(description="the explorer view that explains it")


class AlertsPublic(BaseModel):
    """The alert rules (budgets' thresholds and forecasts, the anomaly check) and the most
    recent alerts, newest first: the /alerts page's content."""

    model_config = _examples(
        {
            "rules": [
                {
                    "kind": "budget",
                    "budget": "web",
                    "thresholds": [50, 80, 100],
                    "forecast": True,
                    "dimensions": [],
                    "channels": ["ops-slack"],
                },
                {
                    "kind": "anomaly",
                    "budget": None,
                    "thresholds": [],
                    "forecast": False,
                    "dimensions": ["provider", "project", "model", "user", "api_key_id"],
                    "channels": ["ops-slack"],
                },
            ],
            "total": 1,
            "alerts": [
                {
                    "id": 7,
                    "kind": "threshold",
                    "subject": "web",
                    "headline": "budget web reached 80 %",
                    "description": "web: 80 % reached — spent $412.50 of $500.00 USD (82.5 %) in "
                    "2026-11-01 → 2026-11-30",
                    "severity": "warning",
                    "threshold": 80,
                    "window_start": "2026-11-01",
                    "window_end": "2026-11-30",
                    "figures": {"spent": "412.50", "amount": "500.00", "percent": "82.50"},
                    "currency": "USD",
                    "status": "open",
                    "passed": False,
                    "created_at": "2026-11-23T08:00:00Z",
                    "acknowledged_by": None,
                    "acknowledged_at": None,
                    "resolved_at": None,
                    "note": None,
                    "explore_url": "/explore?from=2026-11-01&to=2026-11-23&by=project&granularity=day",
                }
            ],
        }
    )

    rules: list[AlertRulePublic]
    total: int = Field(description="alerts with the status asked for, before the limit")
    alerts: list[AlertPublic]


# ---- manual entries (spendledger.ingest.manual) -------------------------------------------------


class EntryIn(BaseModel):
    """A manual entry: `amount` on `date`, or spread evenly over `period` (a month) or `from`..`to`."""

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {"id": "invoice-1234", "provider": "mistral", "amount": "40.00", "period": "2026-11"},
                {"provider": "perplexity", "amount": 20, "date": "2026-11-30", "project": "research"},
            ]
        },
    )

    id: str | None = Field(None, description="idempotency key: sending an id again replaces that entry")
    provider: str
    amount: str | float = Field(
        description="more than zero, at most 9 decimal places; a string keeps it exact"
    )
    currency: str = "USD"
    date: str | None = Field(None, description="the day it counts on (YYYY-MM-DD)")
    period: str | None = Field(None, description="or the month it is spread over (YYYY-MM)")
    from_: Annotated[str | None, Field(alias="from", description="or the first day it is spread over")] = None
    to: str | None = Field(None, description="and the last, included")
    account: str | None = None
    workspace: str | None = None
    project: str | None = None
    user: str | None = None
    feature: str | None = None
    model: str | None = None
    note: str | None = None


class EntryBatchIn(BaseModel):
    entries: list[EntryIn] = Field(min_length=1, max_length=1000)


class EntryPublic(BaseModel):
    id: str
    provider: str
    amount: Money
    currency: str
    from_: Annotated[date, Field(alias="from")]
    to: date
    days: int = Field(description="the days the amount is spread over, one record each")
    in_range: Money = Field(description="what the entry counts between the request's from and to")
    account: str
    workspace: str
    project: str
    user: str
    feature: str
    model: str
    note: str


class EntriesPublic(BaseModel):
    """The manual entries with a day in the period (all without one), within the caller's scope."""

    model_config = _examples(
        {
            "from": "2026-11-01",
            "to": "2026-11-30",
            "totals": {"USD": "60.00"},
            "entries": [
                {
                    "id": "invoice-1234",
                    "provider": "mistral",
                    "amount": "40.00",
                    "currency": "USD",
                    "from": "2026-11-01",
                    "to": "2026-11-30",
                    "days": 30,
                    "in_range": "40.00",
                    "account": "",
                    "workspace": "",
                    "project": "",
                    "user": "",
                    "feature": "",
                    "model": "",
                    "note": "invoice 1234",
                }
            ],
        }
    )

    from_: Annotated[date | None, Field(alias="from")]
    to: date | None
    totals: PerCurrency = Field(description="the entries' in_range, per currency")
    entries: list[EntryPublic]


class EntryOutcomePublic(BaseModel):
    index: int
    id: str
    outcome: str = Field(description="added, replaced or unchanged")


class EntryRejectionPublic(BaseModel):
    index: int
    id: str | None
    field: str = Field(description="the field at fault; empty when the item is not an object")
    reason: str


class EntryBatchResultPublic(BaseModel):
    """What became of each entry of a batch: the good ones are stored, the bad ones named."""

    model_config = _examples(
        {
            "added": 1,
            "replaced": 0,
            "unchanged": 0,
            "rejected_count": 1,
            "entries": [{"index": 0, "id": "invoice-1234", "outcome": "added"}],
            "rejected": [
                {"index": 1, "id": None, "field": "amount", "reason": "'forty' is not a number: send digits"}
            ],
        }
    )

    added: int
    replaced: int
    unchanged: int
    rejected_count: int
    entries: list[EntryOutcomePublic]
    rejected: list[EntryRejectionPublic]


# ---- removing data and the audit log (admins) ------------------------------------------------


class DeletionIn(BaseModel):
    """A scope of records to delete: those matching every field given (days are local and
    both included; account or project "none": the records with none). An empty scope is
    refused unless `all` is true. `dry_run` states what would go and deletes nothing."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"provider": "openai", "from": "2026-11-01", "to": "2026-11-30"}]},
        populate_by_name=True,
        extra="forbid",
    )

    source: str | None = Field(None, max_length=200)
    provider: str | None = Field(None, max_length=200)
    account: str | None = Field(None, max_length=200)
    project: str | None = Field(None, max_length=200)
    basis: str | None = Field(None, description="billed, metered, manual or demo", max_length=16)
    from_: Annotated[date | None, Field(alias="from")] = None
    to: date | None = None
    all: bool = Field(False, description="every record: only with no other field")
    dry_run: bool = Field(False, description="state what would go; delete nothing")


class DeletionSlicePublic(BaseModel):
    provider: str
    basis: str
    records: int
    amounts: PerCurrency


class DeletionPublic(BaseModel):
    """What the scope held: deleted (`dry_run` false) or what would go (`dry_run` true)."""

    model_config = _examples(
        {
            "dry_run": False,
            "deleted": 1736,
            "records": 1736,
            "scope": {"provider": "openai", "from": "2026-11-01", "to": "2026-11-30"},
            "amounts": {"USD": "525.33"},
            "by_provider_basis": [
                {
                    "provider": "openai",
                    "basis": "billed",
                    "records": 1736,
                    "amounts": {"USD": "525.33"},
                }
            ],
            "first_day": "2026-11-01",
            "last_day": "2026-11-30",
            "days": 30,
        }
    )

    dry_run: bool
    deleted: int = Field(description="records deleted: 0 on a dry run")
    records: int = Field(description="records the scope held")
    scope: dict[str, str] = Field(description="the fields given; {'all': 'true'} for every record")
    amounts: PerCurrency
    by_provider_basis: list[DeletionSlicePublic]
    first_day: date | None = Field(description="the first local day holding records; null: none")
    last_day: date | None
    days: int = Field(description="the days holding records")


class AuditEntryPublic(BaseModel):
    id: int
    at: datetime
    actor: str = Field(description="an email, token:NAME (the API) or cli:LOGIN (the command line)")
    action: str = Field(description="noun.verb: records.delete, source.add, budget.remove...")
    what: dict[str, Any]
    amount: PerCurrency | None = Field(description="the money involved, per currency; null: none")


class AuditPublic(BaseModel):
    """The audit log between two local days, newest first: the /audit page's entries."""

    model_config = _examples(
        {
            "entries": [
                {
                    "id": 12,
                    "at": "2026-11-23T08:00:00Z",
                    "actor": "admin@example.com",
                    "action": "records.delete",
                    "what": {
                        "scope": {"provider": "openai", "from": "2026-11-01", "to": "2026-11-30"},
                        "records": 1736,
                        "first_day": "2026-11-01",
                        "last_day": "2026-11-30",
                        "days": 30,
                        "by_provider_basis": {"openai/billed": 1736},
                    },
                    "amount": {"USD": "525.33"},
                }
            ]
        }
    )

    entries: list[AuditEntryPublic]


# ---- seat subscriptions: /api/v1/subscriptions -------------------------------------------------


class SeatChangeIn(BaseModel):
    from_day: date = Field(alias="from", description="the first day at this seat count")
    seats: int = Field(description="seats paid for from that day; 0 pauses the subscription")

    model_config = ConfigDict(populate_by_name=True)


class SubscriptionIn(BaseModel):
    """A whole subscription: created, or replacing the one of that name (sending the same
    body twice changes nothing). Fields as `spendledger subscriptions add` takes them."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "chatgpt-team",
                    "plan": "chatgpt-business",
                    "seats": 12,
                    "price_per_seat": "30",
                    "starts": "2026-09-01",
                    "seat_changes": [{"from": "2026-11-01", "seats": 15}],
                }
            ]
        }
    )

    name: str = Field(max_length=200, description="unique; the subscription's handle")
    seats: int = Field(description="seats paid for from `starts`")
    starts: date = Field(description="the first day paid")
    provider: str | None = Field(None, description="who bills it (openai, anthropic...); default: the plan's")
    plan: str | None = Field(None, description="a shipped plan preset (`spendledger subscriptions plans`)")
    price_per_seat: str | None = Field(
        None, examples=["30"], description="one seat's price per interval; default: the plan's list price"
    )
    currency: str = "USD"
    interval: str = Field("monthly", description="monthly or annual")
    billing_day: int | None = Field(None, description="day of the month billed; default: the start's")
    ends: date | None = Field(None, description="the last day paid, included; null: ongoing")
    account: str = ""
    project: str = ""
    user: str = ""
    seat_changes: list[SeatChangeIn] = Field(default_factory=list, max_length=1000)


class SubscriptionPeriodPublic(BaseModel):
    start: date = Field(description="the billing day that opens it")
    end: date = Field(description="the next billing day (excluded)")
    first: date = Field(description="the first day paid")
    last: date = Field(description="the last day paid, included")
    seats: str = Field(description='"12", or "12 → 15" when it changed within the period')
    cost: Money = Field(description="what the period costs, prorated by the day")


class SubscriptionPublic(BaseModel):
    name: str
    provider: str
    plan: str
    account: str
    project: str
    user: str
    seats: int = Field(description="seats paid for today")
    seat_changes: list[SeatChangeIn] = Field(description="every dated seat count, the start's first")
    price_per_seat: Money
    currency: str
    interval: str
    billing_day: int
    starts: date
    ends: date | None
    counted: str = Field(description="subscription, or covered: a billing source's seat charges count")
    covered_by: str | None = Field(description="that source's name")
    recorded: Money = Field(description="what its records in the ledger add up to, up to today")
    records: int
    periods: list[SubscriptionPeriodPublic] = Field(
        description="up to today's, most recent first (12 at most)"
    )


_SUBSCRIPTION_EXAMPLE: dict[str, Any] = {
    "name": "chatgpt-team",
    "provider": "openai",
    "plan": "chatgpt-business",
    "account": "",
    "project": "",
    "user": "",
    "seats": 15,
    "seat_changes": [{"from": "2026-09-01", "seats": 12}, {"from": "2026-11-01", "seats": 15}],
    "price_per_seat": "30",
    "currency": "USD",
    "interval": "monthly",
    "billing_day": 1,
    "starts": "2026-09-01",
    "ends": None,
    "counted": "subscription",
    "covered_by": None,
    "recorded": "1170.00",
    "records": 3,
    "periods": [
        {
            "start": "2026-11-01",
            "end": "2026-12-01",
            "first": "2026-11-01",
            "last": "2026-11-30",
            "seats": "15",
            "cost": "450.00",
        }
    ],
}


class SubscriptionsPublic(BaseModel):
    """Every seat subscription, what it has recorded and which figures count: /subscriptions' figures."""

    model_config = _examples(
        {"today": "2026-11-30", "view": "charge", "subscriptions": [_SUBSCRIPTION_EXAMPLE]}
    )

    today: date
    view: str = Field(description="charge (each period on its billing day) or spread (a share every day)")
    subscriptions: list[SubscriptionPublic]


class SubscriptionResultPublic(BaseModel):
    """What a POST did: the subscription as stored, and the records it (re)wrote."""

    model_config = _examples(
        {
            "created": True,
            "records_written": 3,
            "records_revised": 0,
            "records_removed": 0,
            "warning": None,
            "subscription": _SUBSCRIPTION_EXAMPLE,
        }
    )

    created: bool
    records_written: int
    records_revised: int
    records_removed: int
    warning: str | None = Field(description="set when a billing source covers it (it records nothing)")
    subscription: SubscriptionPublic


# ---- POST /api/v1/imports ----------------------------------------------------------------


class ImportRejectionPublic(BaseModel):
    line: int = Field(description="the row's line in the file; the header is line 1")
    column: str = Field(description="the file's column at fault; empty when the row as a whole is")
    reason: str


class ImportTotalPublic(BaseModel):
    provider: str
    month: str = Field(examples=["2026-11"])
    currency: str
    rows: int
    cost: Money
    unpriced: int = Field(description="rows of a model with no known price: stored without a cost")


class ImportResultPublic(BaseModel):
    """What an import stored, or a dry run would store (imports/importer.py's summary)."""

    model_config = _examples(
        {
            "format": "generic",
            "source": "import-generic",
            "dry_run": False,
            "rows": 997,
            "inserted": 997,
            "replaced": 0,
            "unchanged": 0,
            "rejected_count": 3,
            "rejected": [
                {"line": 102, "column": "cost", "reason": "'twelve' is not an amount: write a number"}
            ],
            "totals": [
                {
                    "provider": "openai",
                    "month": "2026-11",
                    "currency": "USD",
                    "rows": 249,
                    "cost": "311.25",
                    "unpriced": 0,
                }
            ],
        }
    )

    format: str
    source: str
    dry_run: bool
    rows: int = Field(description="rows that make records")
    inserted: int = Field(description="records new to the ledger (a dry run: every row)")
    replaced: int = Field(description="billed or manual records whose stored figure changed")
    unchanged: int = Field(description="rows already stored as they are")
    rejected_count: int
    rejected: list[ImportRejectionPublic] = Field(description="the first 1 000 rejected rows, in file order")
    totals: list[ImportTotalPublic] = Field(description="per provider, month (ledger's zone) and currency")


class ReconcileFiguresPublic(BaseModel):
    currency: str
    billed: str
    metered: str = Field(description="the metering's estimate, priced from the catalogue")
    coverage_pct: str | None = Field(description="metered as a percentage of billed; null: nothing billed")
    gap: str = Field(description="billed − metered; `gaps` add up to it exactly")
    gaps: dict[str, str] = Field(
        description="the gap by category: missed, outside, priced, non_token, rounding, unbilled, "
        "unexplained (only the non-zero ones)"
    )
    non_token: dict[str, str] = Field(
        description="the non_token category by kind: web_search, file_search, storage, fine_tuning, "
        "code_execution, seats, other"
    )


class ReconcileRowPublic(ReconcileFiguresPublic):
    day: str = Field(description="a UTC day: providers bill by them")
    provider: str | None = None
    account: str | None = None
    workspace: str | None = None
    project: str | None = None
    model: str | None = None
    flagged: bool = Field(description="the gap is outside the tolerance")


class ReconcileProviderPublic(ReconcileFiguresPublic):
    provider: str
    days: int = Field(description="UTC days with a bill or metering")
    flagged_days: list[str] = Field(description="the days whose provider total is outside the tolerance")


class ReconcileAdjustmentPublic(BaseModel):
    day: str
    provider: str
    account: str
    currency: str
    billed_then: str
    billed_now: str
    metered_then: str
    metered_now: str


class ReconcileClosedPublic(BaseModel):
    month: str
    closed_at: datetime
    closed_by: str
    late_adjustments: list[ReconcileAdjustmentPublic] = Field(
        description="changes to the month's records since it was closed, per day, provider and account"
    )


class ReconcileTolerancePublic(BaseModel):
    percent: str
    amount: str


class ReconcilePublic(BaseModel):
    """Billed beside metered per UTC day and the `by` dimensions, the gap explained by
    category, a summary per provider, and the closed months the period touches."""

    model_config = _examples(
        {
            "from": "2026-11-01",
            "to": "2026-11-30",
            "days": "UTC",
            "by": ["provider", "account"],
            "tolerance": {"percent": "1", "amount": "0.01"},
            "providers": [
                {
                    "provider": "openai",
                    "currency": "USD",
                    "billed": "7.96",
                    "metered": "7.40025865",
                    "coverage_pct": "93.0",
                    "gap": "0.55974135",
                    "gaps": {
                        "missed": "0.70",
                        "priced": "-1.40",
                        "non_token": "1.25",
                        "rounding": "0.00974135",
                    },
                    "non_token": {"web_search": "1.25"},
                    "days": 4,
                    "flagged_days": ["2026-11-02", "2026-11-03", "2026-11-04"],
                }
            ],
            "rows": [
                {
                    "day": "2026-11-03",
                    "provider": "openai",
                    "account": "Edugami",
                    "currency": "USD",
                    "billed": "0.70",
                    "metered": "0.00",
                    "coverage_pct": "0.0",
                    "gap": "0.70",
                    "gaps": {"missed": "0.70"},
                    "non_token": {},
                    "flagged": True,
                }
            ],
            "closed_months": [
                {
                    "month": "2026-10",
                    "closed_at": "2026-11-05T09:00:00Z",
                    "closed_by": "admin@example.com",
                    "late_adjustments": [
                        {
                            "day": "2026-10-30",
                            "provider": "openai",
                            "account": "Edugami",
                            "currency": "USD",
                            "billed_then": "5.60",
                            "billed_now": "5.80",
                            "metered_then": "7.00",
                            "metered_now": "7.00",
                        }
                    ],
                }
            ],
        }
    )

    from_: Annotated[str, Field(alias="from")]
    to: str
    days: str = Field(description="always UTC")
    by: list[str]
    tolerance: ReconcileTolerancePublic
    providers: list[ReconcileProviderPublic]
    rows: list[ReconcileRowPublic]
    closed_months: list[ReconcileClosedPublic]


# ---- allocation: /api/v1/aliases and /api/v1/showback ------------------------------------------


class AliasIn(BaseModel):
    """An alias: `name` (found in the records' `from` field, the dimension itself by
    default) is reported as `canonical` in `dimension`; `provider` and `account` narrow it
    to those records. Adding it again changes nothing."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "dimension": "project",
                    "name": "Support bot",
                    "canonical": "support-bot",
                    "provider": "openai",
                }
            ]
        },
        populate_by_name=True,
        extra="forbid",
    )

    dimension: str = Field(
        description="account, workspace, project, api_key_id, model, user, feature or customer"
    )
    name: str = Field(max_length=1000, description="the name as a source has it")
    canonical: str = Field(max_length=1000, description="the name reports give it")
    provider: str = Field("", max_length=1000, description="only this provider's records ('' any)")
    account: str = Field("", max_length=1000, description="only this account's records ('' any)")
    from_: Annotated[
        str, Field(alias="from", max_length=100, description="workspace: a project named by a workspace")
    ] = ""


class AliasPublic(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: int
    dimension: str
    from_: Annotated[str, Field(alias="from", description="the record field `name` is found in")]
    name: str
    canonical: str
    provider: str | None = Field(description="null: any provider")
    account: str | None = Field(description="null: any account")


class AliasesPublic(BaseModel):
    """Every alias, by dimension and canonical name; each applies to every figure read."""

    model_config = _examples(
        {
            "aliases": [
                {
                    "id": 1,
                    "dimension": "project",
                    "from": "project",
                    "name": "Support bot",
                    "canonical": "support-bot",
                    "provider": "openai",
                    "account": None,
                }
            ]
        }
    )

    aliases: list[AliasPublic]


class AliasOutcomePublic(BaseModel):
    outcome: str = Field(description="added, unchanged or removed")
    alias: AliasPublic


class ShowbackRowPublic(BaseModel):
    group: str
    currency: str
    direct: Money
    shared: Money = Field(description="its shares of the shared pools")
    total: Money


class PoolPublic(BaseModel):
    what: str = Field(description="subscriptions, non-token or unattributed")
    rule: str
    split: str = Field(description="even or proportional")
    currency: str
    amount: Money
    shares: dict[str, str] = Field(description="group → share; empty: no group to share with (unallocated)")


class ShowbackPublic(BaseModel):
    """What each team, project or customer cost: direct spend and shares of the shared
    costs split by the allocation rules; per currency, `totals` equal /api/v1/spend's."""

    model_config = _examples(
        {
            "dimension": "team",
            "from": "2026-11-01",
            "to": "2026-11-30",
            "basis": "best",
            "filters": {},
            "totals": {"USD": "400.00"},
            "rows": [
                {
                    "group": "search",
                    "currency": "USD",
                    "direct": "225.00",
                    "shared": "75.00",
                    "total": "300.00",
                },
                {
                    "group": "support",
                    "currency": "USD",
                    "direct": "75.00",
                    "shared": "25.00",
                    "total": "100.00",
                },
            ],
            "unallocated": {},
            "pools": [
                {
                    "what": "unattributed",
                    "rule": "leftovers",
                    "split": "proportional",
                    "currency": "USD",
                    "amount": "100.00",
                    "shares": {"search": "75.00", "support": "25.00"},
                }
            ],
        }
    )

    dimension: str
    from_: Annotated[str, Field(alias="from")]
    to: str
    basis: str
    filters: dict[str, list[str]]
    totals: PerCurrency
    rows: list[ShowbackRowPublic]
    unallocated: PerCurrency = Field(description="shared spend no rule split, per currency")
    pools: list[PoolPublic]
