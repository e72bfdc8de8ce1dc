"""Request and response bodies of the JSON API (pydantic v2).

`EventIn`, the ingest API's event, is built in spendledger.ingest.model from the event's
field list, as the batch parser validates with it; it is named here with the others.
"""

from __future__ import annotations

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
