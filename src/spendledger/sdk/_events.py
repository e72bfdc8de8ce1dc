"""One call as an event: the JSON object `POST /api/v1/events` takes (ingest/event.py).

Token counts follow the ledger's contract (records.py): cached reads and cache writes
are part of `input_tokens`, reasoning is part of `output_tokens`. The instrumentations
convert what each provider returns into that before calling `make_event`.
The event id is made here, once, so a re-sent or replayed event is stored once.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from spendledger.ingest.event import TOKEN_FIELDS as TOKEN_FIELDS  # the standard library only
from spendledger.sdk._context import Attribution, current

Event = dict[str, Any]


# Event ids: 128 random bits from a private generator, ~10x cheaper than uuid4 (which reads
# os.urandom per call); an application's random.seed() does not touch it, and a forked
# child reseeds it, or parent and child would send the same ids (and one be dropped).
_ids = random.Random()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_ids.seed)


def new_id() -> str:
    return f"{_ids.getrandbits(128):032x}"


def make_event(
    *,
    provider: str,
    model: str,
    tokens: Mapping[str, int] | None = None,
    started_at: datetime | None = None,
    latency_ms: int | None = None,
    status: str = "ok",
    request_id: str | None = None,
    service_tier: str | None = None,
    batch: bool = False,
    cost: Decimal | str | None = None,
    currency: str = "USD",
    requests: int = 1,
    attribution: Attribution | None = None,
    event_id: str | None = None,
) -> Event:
    """An event for one call. `tokens` holds TOKEN_FIELDS names (zeros are left out);
    `attribution` is who the call is for, already merged by the caller (see `attribute`),
    else the current context's. This is every call's path (`_usage.Call` and `record()`),
    so it is written flat: no intermediate dicts (bench/sdk_overhead.py)."""
    who = attribution if attribution is not None else current()
    at = datetime.now(UTC) if started_at is None else started_at.astimezone(UTC)
    event: Event = {
        "id": event_id or new_id(),
        "timestamp": at.isoformat().replace("+00:00", "Z"),
        "provider": provider,
        "model": model or "unknown",
        "requests": requests,
        "status": status,
        "batch": batch,
        "currency": currency,
    }
    if tokens:
        for name, count in tokens.items():
            if count:
                event[name] = int(count)
    if who.project is not None:
        event["project"] = who.project
    if who.account is not None:
        event["account"] = who.account
    if who.user is not None:
        event["user"] = who.user
    if who.feature is not None:
        event["feature"] = who.feature
    if who.customer is not None:
        event["customer"] = who.customer
    if who.tags:
        event["tags"] = dict(who.tags)
    if latency_ms is not None:
        event["latency_ms"] = latency_ms
    if request_id is not None:
        event["request_id"] = request_id
    if service_tier is not None:
        event["service_tier"] = service_tier
    if cost is not None:
        event["cost"] = str(cost)
    return event


def attribute(defaults: Attribution, explicit: Attribution | None = None) -> Attribution:
    """Who a call is for: `explicit` > the current context > `defaults`."""
    merged = current().over(defaults)
    return explicit.over(merged) if explicit is not None else merged
