"""The metered event, declared once: one call as every way in sends it.

`Event` is the field list: its names, types, defaults and documentation. The events
API's body (`model.EventIn`) is built from it with each column's constraints, OTLP's
mapping builds `Event`s, and the SDK's dict uses its names (`FIELDS`, `TOKEN_FIELDS`).
Token fields are the ledger's token columns (`records.TOKEN_COLUMNS`), in their order.

This module imports the standard library and `records` only: the SDK imports it in an
application that has nothing else of ours installed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from spendledger.records import TOKEN_COLUMNS  # records imports the standard library only

TOKEN_FIELDS: tuple[str, ...] = tuple(TOKEN_COLUMNS.values())


def _doc(description: str = "", *examples: str) -> dict[str, Any]:
    """A field's documentation, shown in the API's schema (model.py reads it)."""
    doc: dict[str, Any] = {"description": description} if description else {}
    if examples:
        doc["examples"] = list(examples)
    return doc


@dataclass(slots=True, kw_only=True)
class Event:
    """One metered call. Token subsets follow OpenAI's counting: cached reads and cache
    writes are part of `input_tokens`, reasoning is part of `output_tokens`."""

    id: str = field(metadata=_doc("Unique per call; re-sends are ignored"))
    timestamp: datetime = field(
        metadata=_doc("ISO 8601 with a zone (Z or an offset), from 2000-01-01 to 2099-12-31T23:59:59Z")
    )
    provider: str = field(metadata=_doc("", "openai"))
    model: str = field(metadata=_doc("", "gpt-4o-mini"))
    account: str | None = None
    workspace: str | None = None
    project: str | None = None
    api_key_id: str | None = None
    user: str | None = None
    feature: str | None = None
    customer: str | None = field(
        default=None,
        metadata=_doc("The customer (tenant) the call served: a dimension of every report", "acme"),
    )
    tags: dict[str, Any] | None = field(
        default=None, metadata=_doc("A JSON object of at most 4 levels and 4 096 bytes (compact JSON)")
    )
    requests: int = 1
    # the token fields, as records.TOKEN_COLUMNS names them (tests/test_ingest_event.py checks)
    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    audio_input_tokens: int = 0
    audio_output_tokens: int = 0
    service_tier: str | None = None
    batch: bool = False
    cost: Decimal | None = field(
        default=None, metadata=_doc("The provider's cost; omit to price from the catalogue")
    )
    currency: str = field(default="USD", metadata=_doc("An ISO 4217 code"))
    latency_ms: int | None = field(default=None, metadata=_doc("The call's duration"))
    status: str | None = field(
        default=None, metadata=_doc("ok, error (usage billed anyway) or cancelled (a stream closed early)")
    )
    request_id: str | None = field(default=None, metadata=_doc("The provider's request id"))


FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Event))
