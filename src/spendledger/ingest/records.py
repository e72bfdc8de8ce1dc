"""Metered events from the HTTP ingest API → priced records → the ledger.

Orchestration only: the batch parser (batch.py) validates the body's shape and hands
over objects with `event.Event`'s fields; this module turns each into a `UsageRecord`,
checks the token contract, prices it and writes the batch in the caller's transaction.

Invariants:
- one bad event never sinks the batch: it is rejected with its index, the field at
  fault and what to do; the good events of the same batch are stored;
- idempotent on the event id: the record key is `api:<id>` and the ledger stores a
  (timestamp, key) once, so re-sending a batch changes no total;
- a `cost` sent with the event is the provider's figure and is kept as-is; otherwise the
  catalogue prices the call, and an unknown model is stored unpriced (no cost), never $0;
- the model is stored under the ledger's name of it (model_names.py: the same model
  whatever the cloud), the id the event named kept in its tags; every event passes
  `event_to_record`, whether it came from the events API, the tracker or OTLP.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from spendledger.currencies import currency_problem
from spendledger.errors import SpendledgerError
from spendledger.ingest.event import Event
from spendledger.model_names import canonicalise
from spendledger.pricing import PriceOverride, Pricer
from spendledger.records import (
    Basis,
    PricingStatus,
    TokenCounts,
    TokenError,
    UsageRecord,
    tags_problem,
    timestamp_problem,
)
from spendledger.store import Connection, write_records
from spendledger.store.overrides import load_overrides

SOURCE = "api"
NAIVE_TIMESTAMP_REASON = (
    "timestamp has no time zone: add Z for UTC or an offset, e.g. 2026-11-20T10:00:00Z "
    "or 2026-11-20T11:00:00+01:00"
)


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int  # position of the event in the batch
    field: str  # the event field at fault ("" when the event itself is malformed)
    reason: str  # what is wrong and what to send instead


@dataclass(slots=True)
class IngestResult:
    accepted: int = 0  # events newly stored
    duplicates: int = 0  # events already stored (same id and timestamp), or repeated in the batch
    rejected: list[Rejection] = field(default_factory=list)


class EventError(SpendledgerError, ValueError):
    """An event that cannot become a record; `field` names the culprit."""

    field: str  # always set here

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message, field=field_name)


def event_to_record(event: Event, *, source: str = SOURCE) -> UsageRecord:
    """One event as an unpriced (or provider-costed) metered record; raises EventError.
    Its key is `<source>:<event id>`: the ingest API's events are `api:…`, OTLP spans `otlp:…`."""
    if event.timestamp.tzinfo is None:
        raise EventError("timestamp", NAIVE_TIMESTAMP_REASON)
    if problem := timestamp_problem("timestamp", event.timestamp):
        raise EventError("timestamp", problem)
    if event.tags and (problem := tags_problem(event.tags)):
        raise EventError("tags", problem)
    if problem := currency_problem(event.currency):
        raise EventError("currency", problem)
    tokens = TokenCounts(
        event.input_tokens,
        event.cached_input_tokens,
        event.cache_write_5m_tokens,
        event.cache_write_1h_tokens,
        event.output_tokens,
        event.reasoning_tokens,
        event.audio_input_tokens,
        event.audio_output_tokens,
    )
    try:
        tokens.validate()
    except TokenError as exc:
        raise EventError(exc.field, str(exc)) from None
    if event.requests < 0:
        raise EventError("requests", "requests must be zero or more")
    cost = event.cost
    record = UsageRecord(
        key=f"{source}:{event.id}",
        source=source,
        basis=Basis.METERED,
        start=event.timestamp,
        provider=event.provider,
        model=event.model,
        account=event.account or "",
        workspace=event.workspace or "",
        project=event.project or "",
        api_key_id=event.api_key_id or "",
        user=event.user or "",
        feature=event.feature or "",
        customer=event.customer or "",
        tags=event.tags or {},
        requests=event.requests,
        tokens=tokens,
        cost=cost,
        currency=event.currency.upper(),
        pricing_status=PricingStatus.UNPRICED if cost is None else PricingStatus.PROVIDER,
        service_tier=event.service_tier,
        batch=event.batch,
        latency_ms=event.latency_ms,
        status=event.status,
        request_id=event.request_id,
    )
    canonicalise(record)
    return record


def ingest_events(
    conn: Connection,
    events: Iterable[tuple[int, Event]],
    *,
    pricer: Pricer,
    tz: ZoneInfo,
    rejected: Sequence[Rejection] = (),
    now: datetime | None = None,
    source: str = SOURCE,
) -> IngestResult:
    """Price and store (index, event) pairs; call inside a transaction (`engine.begin()`).

    `rejected` carries the events the caller already refused (e.g. failed schema
    validation), so the result lists every rejection of the batch in index order.
    """
    rejections = list(rejected)
    records: list[UsageRecord] = []
    price = pricer.price
    for index, event in events:
        try:
            record = event_to_record(event, source=source)
        except EventError as exc:
            rejections.append(Rejection(index, exc.field, str(exc)))
            continue
        if record.cost is None:
            price(record)
        records.append(record)
    written = write_records(conn, records, tz=tz, now=now)
    rejections.sort(key=lambda r: r.index)
    return IngestResult(accepted=written.inserted, duplicates=written.duplicates, rejected=rejections)


class PricerCache:
    """One `Pricer` per process, rebuilt when the price overrides change.

    A Pricer caches resolved rates, so building one per request would throw that work
    away; it snapshots the overrides, so it is rebuilt when they differ from the last read.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._overrides: list[PriceOverride] | None = None
        self._pricer: Pricer | None = None

    def get(self, conn: Connection) -> Pricer:
        overrides = load_overrides(conn)
        with self._lock:
            if self._pricer is None or overrides != self._overrides:
                self._pricer = Pricer(overrides)
                self._overrides = overrides
            return self._pricer
