"""Request and response bodies of the JSON API (pydantic v2).

`EventIn` is the ingest API's event. It is validated for a whole batch at once from the
raw bytes (pydantic-core parses and validates in one pass), so every constraint a
column imposes is declared here: a value the database would refuse must be rejected
per event, or it would fail the whole batch's transaction.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from spendledger.ingest import IngestResult
from spendledger.store.tables import DIM

# Bounds keep every sum of a column inside a 64-bit integer, in nano-units for money.
MAX_COUNT = 10**12
MAX_COST = 10**9
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Dimension = Annotated[str | None, Field(max_length=DIM)]


class EventIn(BaseModel):
    """One metered call. Token subsets follow OpenAI's counting: cached reads and cache
    writes are part of `input_tokens`, reasoning is part of `output_tokens`."""

    # Unknown fields are ignored so that newer SDKs can send more than this server reads.
    model_config = ConfigDict(extra="ignore")

    id: Annotated[
        str, Field(min_length=1, max_length=396, description="Unique per call; re-sends are ignored")
    ]
    timestamp: Annotated[
        AwareDatetime,
        Field(description="ISO 8601 with a zone (Z or an offset), from 2000-01-01 to 2099-12-31T23:59:59Z"),
    ]
    provider: Annotated[str, Field(min_length=1, max_length=DIM, examples=["openai"])]
    model: Annotated[str, Field(min_length=1, max_length=DIM, examples=["gpt-4o-mini"])]
    account: Dimension = None
    workspace: Dimension = None
    project: Dimension = None
    api_key_id: Dimension = None
    user: Dimension = None
    feature: Dimension = None
    tags: Annotated[
        dict[str, Any] | None,
        Field(description="A JSON object of at most 4 levels and 4 096 bytes (compact JSON)"),
    ] = None
    requests: Count = 1
    input_tokens: Count = 0
    cached_input_tokens: Count = 0
    cache_write_5m_tokens: Count = 0
    cache_write_1h_tokens: Count = 0
    output_tokens: Count = 0
    reasoning_tokens: Count = 0
    audio_input_tokens: Count = 0
    audio_output_tokens: Count = 0
    service_tier: Annotated[str | None, Field(max_length=32)] = None
    batch: bool = False
    cost: Annotated[
        Decimal | None,
        Field(
            ge=0,
            le=MAX_COST,
            allow_inf_nan=False,
            description="The provider's cost; omit to price from the catalogue",
        ),
    ] = None
    currency: Annotated[str, Field(pattern=r"^[A-Za-z]{3}$", description="An ISO 4217 code")] = "USD"
    latency_ms: Annotated[int | None, Field(ge=0, le=2**31 - 1, description="The call's duration")] = None
    status: Annotated[
        str | None,
        Field(
            pattern=r"^(ok|error|cancelled)$",
            description="ok, error (usage billed anyway) or cancelled (a stream closed early)",
        ),
    ] = None
    request_id: Annotated[str | None, Field(max_length=DIM, description="The provider's request id")] = None


class EventBatchIn(BaseModel):
    events: list[EventIn]


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
    """A spend report: money as exact decimal strings in `currency`."""

    currency: str
    from_: Annotated[str, Field(alias="from")]
    to: str
    basis: str
    granularity: str
    by: list[str]
    filters: dict[str, list[str]]
    total: str
    rows: list[SpendRowPublic]
    totals: dict[str, str] | None = None


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
