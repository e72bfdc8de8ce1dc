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
