"""Metered events from the HTTP ingest API → priced records → the ledger.

Orchestration only: the batch parser (batch.py) validates the body's shape and hands
over objects with `event.Event`'s fields; this module checks each (`checked`), prices it
and writes the batch in the caller's transaction. An event that only goes to the ledger
becomes its `usage` row directly (`EventRows`: no `UsageRecord` in between, a third of
the cost); `event_to_record` gives the record others need (agent logs), by the same rules.

Invariants:
- one bad event never sinks the batch: it is rejected with its index, the field at
  fault and what to do; the good events of the same batch are stored;
- idempotent on the event id: the record key is `api:<id>` and the ledger stores a
  (timestamp, key) once, so re-sending a batch changes no total;
- a `cost` sent with the event is the provider's figure and is kept as-is; otherwise the
  catalogue prices the call, and an unknown model is stored unpriced (no cost), never $0;
- the model is stored under the ledger's name of it (model_names.py: the same model
  whatever the cloud), the id the event named kept in its tags; every event passes
  `ingest_events`, whether it came from the events API, the tracker or OTLP.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from spendledger.currencies import currency_problem
from spendledger.errors import SpendledgerError
from spendledger.ingest.event import Event
from spendledger.model_names import PROVIDER_MODEL_TAG, canonical_provider, canonicalise, ledger_name
from spendledger.pricing import PriceOverride, Pricer
from spendledger.records import (
    Basis,
    PricingStatus,
    TokenCounts,
    TokenError,
    UsageRecord,
    tags_problem,
    timestamp_problem,
    to_nanos,
)
from spendledger.store import Connection, write_event_rows
from spendledger.store.overrides import load_overrides
from spendledger.store.rows import DayOf, key_hash, record_to_row, usage_row

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
    _, tokens = checked(event)
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


def checked(event: Event) -> tuple[datetime, TokenCounts]:
    """The event's time in UTC and its token counts, once every rule an event must meet is
    checked (the ledger's rules for times, tags, currencies and token counts); raises EventError."""
    at = event.timestamp
    if at.tzinfo is None:
        raise EventError("timestamp", NAIVE_TIMESTAMP_REASON)
    try:
        start = at if at.tzinfo is UTC else at.astimezone(UTC)
    except OverflowError:  # a time near year 1 or 9999 with an offset: far out of range
        start = at
    # checked in UTC, ~5x faster than in the parser's zone (TzInfo); the same instant, and
    # when it is refused, the reason names the time as it was sent
    if timestamp_problem("timestamp", start) and (problem := timestamp_problem("timestamp", at)):
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
    return start, tokens


class EventRows:
    """A batch's events → `usage` rows, priced, without a `UsageRecord` in between.

    Exactly `record_to_row` of the priced `event_to_record`: the same checks
    (`checked`), names (`canonical_provider`, `ledger_name`: what `canonicalise`
    does), prices (`Pricer.rates_on`, in integer nanos: `Rates.cost_nanos`) and row
    (`usage_row`), at a third of the cost; an event whose tags carry a provider's model id
    of their own takes the record's way (`provider_model` reads it there).
    """

    def __init__(self, *, pricer: Pricer, tz: ZoneInfo, written_at: datetime, source: str = SOURCE) -> None:
        self._pricer, self._written_at, self._source = pricer, written_at, source
        self._day_of = DayOf(tz)
        self._providers: dict[str, tuple[str, PricingStatus]] = {}

    def __call__(self, event: Event) -> dict[str, Any]:
        """The row of `event`; raises EventError."""
        start, tokens = checked(event)
        model, tags = event.model, event.tags or {}
        if renamed := ledger_name(model, tags):
            model, tags = renamed
        elif PROVIDER_MODEL_TAG in tags:
            return self._by_record(event)
        try:
            provider, priced = self._providers[event.provider]
        except KeyError:
            provider = canonical_provider(event.provider)
            provider, priced = self._providers[event.provider] = (provider, self._pricer.status_of(provider))
        at = event.timestamp
        day, utc_day = self._day_of(start)
        cost, currency, price_source = event.cost, event.currency.upper(), None
        if cost is not None:
            nanos, status = to_nanos(cost) if cost else 0, PricingStatus.PROVIDER
        else:
            # priced as the provider billed it: the event's model (ledger_name kept it in the tags)
            rates = self._pricer.rates_on(
                provider, event.model, at, utc_day, service_tier=event.service_tier, batch=event.batch
            )
            found = None if rates is None else rates.cost_nanos(tokens, event.requests, event.latency_ms)
            if rates is None or found is None:
                nanos, status = 0, PricingStatus.UNPRICED
            else:
                nanos, status, currency, price_source = found, priced, rates.currency, rates.source
        key = f"{self._source}:{event.id}"
        return usage_row(
            start,
            key,
            key_hash(key),
            None,
            day,
            utc_day,
            self._source,
            _METERED,
            provider,
            event.account or "",
            event.workspace or "",
            event.project or "",
            event.api_key_id or "",
            model,
            event.user or "",
            event.feature or "",
            event.customer or "",
            tags,
            event.requests,
            tokens,
            nanos,
            currency,
            status,
            price_source,
            event.service_tier,
            event.batch,
            event.latency_ms,
            event.status,
            event.request_id,
            self._written_at,
        )

    def _by_record(self, event: Event) -> dict[str, Any]:
        record = event_to_record(event, source=self._source)
        if record.cost is None:
            self._pricer.price(record)
        return record_to_row(record, day_of=self._day_of, written_at=self._written_at)


_METERED = Basis.METERED._value_


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
    now = now or datetime.now(UTC)
    rejections = list(rejected)
    rows: list[dict[str, Any]] = []
    row_of = EventRows(pricer=pricer, tz=tz, written_at=now, source=source)
    for index, event in events:
        try:
            rows.append(row_of(event))
        except EventError as exc:
            rejections.append(Rejection(index, exc.field, str(exc)))
    written = write_event_rows(conn, rows, tz=tz, now=now)
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
