"""POST /api/v1/events: the ingest API for any language.

The body is read raw so that its size is checked before anything is parsed, and the
bytes go straight to pydantic-core, which parses and validates a whole batch in one
pass. When some events are bad, that pass's errors name them (index and field); the
rest are validated one by one and stored, so one bad event never sinks a batch. When
the parser refuses the whole body for one event's value (nested too deep, a number too
long; batch.py), those events are found without parsing, rejected, and the rest parsed.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from fastapi import APIRouter, BackgroundTasks, HTTPException, Request, status
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from spendledger.currencies import currency_problem
from spendledger.ingest import NAIVE_TIMESTAMP_REASON, IngestResult, Rejection, ingest_events
from spendledger.pricing import Pricer
from spendledger.scheduler import evaluate_and_notify
from spendledger.web.api.batch import LIMITS, LayoutError, scan_events, unreadable_events
from spendledger.web.api.schemas import ErrorPublic, EventBatchIn, EventIn, IngestResultPublic, request_body
from spendledger.web.deps import CurrentToken, EngineDep, PricerDep, SettingsDep

router = APIRouter(tags=["ingest"])


@router.post(
    "/events",
    response_model=IngestResultPublic,
    responses={401: {"model": ErrorPublic}, 413: {"model": ErrorPublic}, 422: {"model": ErrorPublic}},
    openapi_extra=request_body(EventBatchIn),
)
async def post_events(
    request: Request,
    background: BackgroundTasks,
    _token: CurrentToken,
    settings: SettingsDep,
    engine: EngineDep,
    pricer: PricerDep,
) -> IngestResultPublic:
    """Store a batch of metered calls; events already stored (same id) are counted as duplicates."""
    body = await read_body(request, limit=settings.max_body_bytes)
    result = await run_in_threadpool(
        store_batch, engine, body, pricer=pricer, tz=settings.tz, max_events=settings.max_batch_events
    )
    if result.accepted and alerts_due(request):
        # after the response: the sender never waits for budgets and notifications
        background.add_task(evaluate_and_notify, engine, settings)
    return IngestResultPublic.from_result(result)


ALERTS_EVERY = 60.0  # seconds: at most one evaluation a minute per process, however many batches


def alerts_due(request: Request) -> bool:
    """Whether this batch evaluates the alerts (the first batch after a quiet minute does)."""
    state = request.app.state
    now = time.monotonic()
    if now - getattr(state, "alerts_evaluated_at", -ALERTS_EVERY) < ALERTS_EVERY:
        return False
    state.alerts_evaluated_at = now
    return True


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


async def read_body(
    request: Request, *, limit: int, refuse: Callable[[str, int], NoReturn] | None = None
) -> bytes:
    """The raw body, refused as soon as it is known to exceed `limit` bytes: by `refuse(what,
    limit)`, which raises (default: a 413 naming SPENDLEDGER_MAX_BODY_BYTES)."""
    refuse = refuse or _too_large
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        refuse(f"the body is {int(declared):,} bytes", limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            refuse(f"the body is over {limit:,} bytes", limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(what: str, limit: int) -> NoReturn:
    raise HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE,
        detail=f"{what}; the limit is {limit:,} bytes (SPENDLEDGER_MAX_BODY_BYTES): send smaller batches",
    )


def parse_batch(body: bytes, *, max_events: int) -> tuple[list[tuple[int, EventIn]], list[Rejection]]:
    """(index, event) pairs of the valid events and the rejections of the others."""
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
    return pairs, rejected


def _validate(body: bytes) -> tuple[list[EventIn], ValidationError | None]:
    try:
        return EventBatchIn.model_validate_json(body).events, None
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
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"{exc}: remove it") from None
    found = unreadable_events(body, layout)
    rejected = {i: Rejection(i, name, reason) for i, (name, reason) in found.items()}
    return rejected, layout.flattened(body, set(found))


def _check_count(count: int, max_events: int) -> None:
    if count > max_events:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            detail=f"the batch has {count:,} events; the limit is {max_events:,} per request "
            f"(SPENDLEDGER_MAX_BATCH_EVENTS): split it into batches of at most {max_events:,}",
        )


def _salvage(
    body: bytes, exc: ValidationError, *, max_events: int, rejected: dict[int, Rejection]
) -> tuple[list[tuple[int, EventIn]], list[Rejection]]:
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
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                detail=f"the body is not valid JSON ({error.get('ctx', {}).get('error')}); "
                'send {"events": [...]}',
            )
        else:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                detail='the body must be a JSON object with a list of events: {"events": [{"id": ...}, ...]}',
            )
    layout = scan_events(body)  # valid JSON that pydantic parsed: no LayoutError
    _check_count(layout.count, max_events)
    events: list[tuple[int, EventIn]] = []
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
    pairs: list[tuple[int, EventIn]], rejected: list[Rejection]
) -> tuple[list[tuple[int, EventIn]], list[Rejection]]:
    """Refuse text with a NUL character: PostgreSQL cannot store one (tags are JSON, fine)."""
    kept: list[tuple[int, EventIn]] = []
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
