"""A raw batch of the events API → valid events and the rejections of the others.

The bytes go straight to pydantic-core, which parses and validates a whole batch in one
pass. When some events are bad, that pass's errors name them (index and field); the
rest are validated one by one and stored, so one bad event never sinks a batch. When
the parser refuses the whole body for one event's value (nested too deep, a number too
long; scan.py), those events are found without parsing, rejected, and the rest parsed.
A body that is not a batch at all raises BatchError, which the route answers as is.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from spendledger.currencies import currency_problem
from spendledger.errors import SpendledgerError
from spendledger.ingest.event import Event
from spendledger.ingest.model import EventBatchIn, EventIn
from spendledger.ingest.records import NAIVE_TIMESTAMP_REASON, IngestResult, Rejection, ingest_events
from spendledger.ingest.scan import LIMITS, LayoutError, scan_events, unreadable_events
from spendledger.pricing import Pricer
from spendledger.store import Engine

TOO_LARGE = 413  # the HTTP status each BatchError is answered with
UNPROCESSABLE = 422


class BatchError(SpendledgerError, ValueError):
    """A body refused whole: `status` is the HTTP status to answer with, the message what to send."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def store_batch(
    engine: Engine, body: bytes, *, pricer: Pricer, tz: ZoneInfo, max_events: int
) -> IngestResult:
    """Parse and store one batch; runs in a worker thread (CPU-bound parse, blocking writes)."""
    with gc_paused():
        events, rejected = parse_batch(body, max_events=max_events)
        with engine.begin() as conn:
            return ingest_events(conn, events, pricer=pricer, tz=tz, rejected=rejected)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the length of a batch.

    A batch allocates some ten objects per event, all freed by reference counting; the
    cyclic collector would walk them again and again while they pile up (measured: a
    quarter of a 10 000-event batch's time). The pause is process-wide and brief, and it
    leaves the collector as it found it (a collector someone else disabled stays off).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse_batch(body: bytes, *, max_events: int) -> tuple[list[tuple[int, Event]], list[Rejection]]:
    """(index, event) pairs of the valid events and the rejections of the others; raises
    BatchError. The events are `EventIn`s, which have `Event`'s fields (built from them)."""
    deep: dict[int, Rejection] = {}
    events, error = _validate(body)
    if error is not None and _beyond_parser(error):  # rare: find the events at fault, parse the rest
        deep, body = _without_unreadable_events(body)
        events, error = _validate(body)
    if error is None:
        _check_count(len(events), max_events)
        pairs = [(i, event) for i, event in enumerate(events) if i not in deep]
        rejected = sorted(deep.values(), key=lambda r: r.index)
    else:
        pairs, rejected = _salvage(body, error, max_events=max_events, rejected=deep)
    if b"\\u0000" in body:  # JSON spells NUL only so; a fast scan spares the per-event check
        pairs, rejected = _reject_nul(pairs, rejected)
    return cast("list[tuple[int, Event]]", pairs), rejected


def _validate(body: bytes) -> tuple[list[BaseModel], ValidationError | None]:
    try:
        return EventBatchIn.model_validate_json(body).events, None  # type: ignore[attr-defined]
    except ValidationError as exc:
        return [], exc


def _beyond_parser(exc: ValidationError) -> bool:
    """Whether the body may be valid JSON the parser would not read (too deep, batch.LIMITS)."""
    return any(
        e["type"] == "json_invalid"
        and any(s in str(e.get("ctx", {}).get("error", "")) for s in ("recursion limit", *LIMITS))
        for e in exc.errors(include_url=False)
    )


def _without_unreadable_events(body: bytes) -> tuple[dict[int, Rejection], bytes]:
    """The rejections of the events the parser cannot read, and the body with each replaced by `{}`."""
    try:
        layout = scan_events(body)
    except LayoutError as exc:
        raise BatchError(UNPROCESSABLE, f"{exc}: remove it") from None
    found = unreadable_events(body, layout)
    rejected = {i: Rejection(i, name, reason) for i, (name, reason) in found.items()}
    return rejected, layout.flattened(body, set(found))


def _check_count(count: int, max_events: int) -> None:
    if count > max_events:
        raise BatchError(
            TOO_LARGE,
            f"the batch has {count:,} events; the limit is {max_events:,} per request "
            f"(SPENDLEDGER_MAX_BATCH_EVENTS): split it into batches of at most {max_events:,}",
        )


def _salvage(
    body: bytes, exc: ValidationError, *, max_events: int, rejected: dict[int, Rejection]
) -> tuple[list[tuple[int, BaseModel]], list[Rejection]]:
    """The batch failed validation: reject the events it names, validate the others alone.

    Each event is validated from its own bytes (their spans come from `scan_events`), by
    the same parser as the whole batch: what one accepts the other does, and nothing is
    parsed by a recursive parser that a deep field could crash.
    """
    errors = exc.errors(include_url=False)
    for error in errors:
        loc = error["loc"]
        if len(loc) >= 2 and loc[0] == "events" and isinstance(loc[1], int):
            rejected.setdefault(loc[1], _rejection(loc[1], error))
        elif error["type"] == "json_invalid":
            raise BatchError(
                UNPROCESSABLE,
                f'the body is not valid JSON ({error.get("ctx", {}).get("error")}); send {{"events": [...]}}',
            )
        else:
            raise BatchError(
                UNPROCESSABLE,
                'the body must be a JSON object with a list of events: {"events": [{"id": ...}, ...]}',
            )
    layout = scan_events(body)  # valid JSON that pydantic parsed: no LayoutError
    _check_count(layout.count, max_events)
    events: list[tuple[int, BaseModel]] = []
    for index in range(layout.count):
        span = layout.spans.get(index)
        if index in rejected or span is None:  # no span: a scalar, which the batch's errors name
            continue
        try:
            events.append((index, EventIn.model_validate_json(body[span[0] : span[1]])))
        except ValidationError as err:  # the batch's pass and this one should agree; be safe
            rejected[index] = _rejection(index, err.errors(include_url=False)[0], at=0)
    return events, sorted(rejected.values(), key=lambda r: r.index)


def _reject_nul(
    pairs: list[tuple[int, BaseModel]], rejected: list[Rejection]
) -> tuple[list[tuple[int, BaseModel]], list[Rejection]]:
    """Refuse text with a NUL character: PostgreSQL cannot store one (tags are JSON, fine)."""
    kept: list[tuple[int, BaseModel]] = []
    for index, event in pairs:
        bad = next((k for k, v in event if isinstance(v, str) and "\x00" in v), None)
        if bad is None:
            kept.append((index, event))
        else:
            rejected.append(Rejection(index, bad, f"{bad} contains a NUL character (\\u0000); remove it"))
    return kept, sorted(rejected, key=lambda r: r.index)


def _rejection(index: int, error: ErrorDetails, *, at: int = 2) -> Rejection:
    """A pydantic error as a rejection; `at` is where the event's own path starts in `loc`."""
    field = ".".join(str(part) for part in error["loc"][at:])
    return Rejection(index, field, _reason(field, error))


def _reason(field: str, error: ErrorDetails) -> str:
    kind, value = error["type"], _short(error.get("input"))
    if not field:
        return f"each event must be a JSON object with id, timestamp, provider and model, got {value}"
    if kind == "missing":
        return f"{field} is required"
    if field == "currency" and isinstance(error.get("input"), str):
        return currency_problem(error["input"]) or f"currency: {error['msg']}"
    if kind == "timezone_aware":
        return NAIVE_TIMESTAMP_REASON
    if kind.startswith(("datetime", "date_")):
        return f"{field} {value} is not an ISO 8601 date-time such as 2026-11-20T10:00:00Z"
    if kind.startswith("int_"):
        return f"{field} must be a whole number, got {value}"
    if kind == "greater_than_equal":
        return f"{field} must be zero or more, got {value}"
    if kind == "less_than_equal":
        return f"{field} must be at most {error.get('ctx', {}).get('le'):,}, got {value}"
    return f"{field}: {error['msg']} (got {value})"


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, Decimal) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."
