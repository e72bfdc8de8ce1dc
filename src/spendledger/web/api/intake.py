"""What the ingest routes (events, OTLP traces) share: the raw body, read under a cap, and
the new-data hook, run after the response for the first batch after a quiet minute."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NoReturn

from fastapi import BackgroundTasks, HTTPException, Request, status

from spendledger.ingest.hooks import NewDataHook, nothing

ALERTS_EVERY = 60.0  # seconds: at most one evaluation a minute per process, however many batches


def after_new_data(request: Request, background: BackgroundTasks, *, accepted: int) -> None:
    """Run the app's new-data hook (alerts) after the response when `accepted` records are
    new and this batch is the first after a quiet minute: the sender never waits for it."""
    if accepted and alerts_due(request):
        hook: NewDataHook = getattr(request.app.state, "on_new_data", nothing)
        background.add_task(hook)


def alerts_due(request: Request) -> bool:
    """Whether this batch evaluates the alerts (the first batch after a quiet minute does)."""
    state = request.app.state
    now = time.monotonic()
    if now - getattr(state, "alerts_evaluated_at", -ALERTS_EVERY) < ALERTS_EVERY:
        return False
    state.alerts_evaluated_at = now
    return True


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
