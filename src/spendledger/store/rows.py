"""Conversions between `UsageRecord` and `usage` rows, and the dialect-specific upsert."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from hashlib import blake2b
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from spendledger.records import (
    TOKEN_COLUMNS,
    Basis,
    PricingStatus,
    TokenCounts,
    UsageRecord,
    as_utc,
    from_nanos,
    instant_of,
    to_nanos,
)


class DayOf:
    """The local date and the UTC date of a UTC instant, memoised per 15-minute slot.

    Every zone's offset is a whole number of quarter hours, so all instants of one slot
    share a local date; a batch of events mostly falls in a handful of slots, and
    `astimezone` is a large share of a row's cost.
    """

    def __init__(self, tz: ZoneInfo) -> None:
        self._tz = tz
        self._memo: dict[tuple[int, int, int, int, int], tuple[str, str]] = {}
        self._last_start: datetime | None = None
        self._last_end: datetime | None = None
        self._last_days = ("", "")

    def __call__(self, instant: datetime) -> tuple[str, str]:
        slot = (instant.year, instant.month, instant.day, instant.hour, instant.minute // 15)
        days = self._memo.get(slot)
        if days is None:
            days = self._memo[slot] = (
                instant.astimezone(self._tz).date().isoformat(),
                instant.astimezone(UTC).date().isoformat(),
            )
        return days

    def bucket(self, start: datetime, end: datetime) -> tuple[str, str]:
        """The days of a bucket's midpoint (`instant_of`), from UTC `start` and `end`; a
        billing page's records share a handful of buckets, so the last one is remembered."""
        if start is not self._last_start or end is not self._last_end:
            self._last_start, self._last_end = start, end
            self._last_days = self(instant_of(start, end))
        return self._last_days


def key_hash(key: str) -> int:
    """An event key's 64-bit hash (signed, to fit a BIGINT): the unique key of events.

    Two different ids collide with a probability of about n²/2⁶⁵ (one in 3 000 at
    100 million events); a collision would keep the first event only.
    """
    return int.from_bytes(blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


def record_to_row(record: UsageRecord, *, day_of: DayOf, written_at: datetime) -> dict[str, Any]:
    """The `usage` row of a record; `day_of` dates it (one DayOf per batch)."""
    start = record.start if record.start.tzinfo is UTC else as_utc(record.start)
    end = record.end
    if end is None:
        day, utc_day = day_of(start)
    else:
        if end.tzinfo is not UTC:
            end = as_utc(end)
        day, utc_day = day_of.bucket(start, end)
    cost = record.cost
    return usage_row(
        start,
        record.key,
        None if record.revisable else key_hash(record.key),
        end,
        day,
        utc_day,
        record.source,
        record.basis._value_,  # _value_: the enum's `value` property costs ~1 µs
        record.provider,
        record.account,
        record.workspace,
        record.project,
        record.api_key_id,
        record.model,
        record.user,
        record.feature,
        record.customer,
        record.tags,
        record.requests,
        record.tokens,
        to_nanos(cost) if cost else 0,  # None or zero: 0 (a usage bucket's cost)
        record.currency,
        record.pricing_status,
        record.price_source,
        record.service_tier,
        record.batch,
        record.latency_ms,
        record.status,
        record.request_id,
        written_at,
    )


def usage_row(
    start: datetime,
    key: str,
    hashed_key: int | None,
    end: datetime | None,
    day: str,
    utc_day: str,
    source: str,
    basis: str,
    provider: str,
    account: str,
    workspace: str,
    project: str,
    api_key_id: str,
    model: str,
    user: str,
    feature: str,
    customer: str,
    tags: dict[str, Any] | None,
    requests: int,
    t: TokenCounts,
    cost_nanos: int,
    currency: str,
    pricing_status: PricingStatus,
    price_source: str | None,
    service_tier: str | None,
    batch: bool,
    latency_ms: int | None,
    status: str | None,
    request_id: str | None,
    written_at: datetime,
) -> dict[str, Any]:
    """A `usage` row from its values, positional for speed (a batch builds thousands):
    `record_to_row` and the events API's rows (ingest.records) both build theirs here.
    `start` and `end` are UTC; `cost_nanos` is 0 for no cost."""
    return {
        "start": start,
        "key": key,
        "key_hash": hashed_key,
        "end": end,
        "day": day,
        "utc_day": utc_day,
        "source": source,
        "basis": basis,
        "provider": provider,
        "account": account,
        "workspace": workspace,
        "project": project,
        "api_key_id": api_key_id,
        "model": model,
        "user": user,
        "feature": feature,
        "customer": customer,
        "tags": tags or None,
        "requests": requests,
        "input_tokens": t.input,
        "cached_input_tokens": t.cached_input,
        "cache_write_5m_tokens": t.cache_write_5m,
        "cache_write_1h_tokens": t.cache_write_1h,
        "output_tokens": t.output,
        "reasoning_tokens": t.reasoning,
        "audio_input_tokens": t.audio_input,
        "audio_output_tokens": t.audio_output,
        "cost_nanos": cost_nanos,
        "unpriced_requests": requests if pricing_status is PricingStatus.UNPRICED else 0,
        "records": 1,
        "currency": currency,
        "pricing_status": pricing_status._value_,
        # the column holds 200 characters; an override's note may be longer
        "price_source": price_source[:200] if price_source else None,
        "service_tier": service_tier,
        "batch": batch,
        "latency_ms": latency_ms,
        "status": status,
        "request_id": request_id,
        "written_at": written_at,
    }


# record_to_row's keys in its order: the columns of `record_values`' tuples
ROW_COLUMNS: tuple[str, ...] = (
    "start", "key", "key_hash", "end", "day", "utc_day", "source", "basis", "provider", "account",
    "workspace", "project", "api_key_id", "model", "user", "feature", "customer", "tags", "requests",
    "input_tokens", "cached_input_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
    "output_tokens", "reasoning_tokens", "audio_input_tokens", "audio_output_tokens", "cost_nanos",
    "unpriced_requests", "records", "currency", "pricing_status", "price_source", "service_tier",
    "batch", "latency_ms", "status", "request_id", "written_at",
)  # fmt: skip


def record_values(record: UsageRecord, *, day_of: DayOf, written_at: datetime) -> tuple[Any, ...]:
    """`record_to_row`'s row as a tuple in ROW_COLUMNS order, the same values: the bulk
    writers' form (a billing page's hundreds of thousands of rows), half the cost of a
    dict per record. tests/test_rows.py holds the two equal on every kind of record."""
    t = record.tokens
    start = record.start if record.start.tzinfo is UTC else as_utc(record.start)
    end = record.end
    if end is None:
        day, utc_day = day_of(start)
    else:
        if end.tzinfo is not UTC:
            end = as_utc(end)
        day, utc_day = day_of.bucket(start, end)
    cost = record.cost
    price_source = record.price_source
    return (
        start, record.key, None if record.revisable else key_hash(record.key), end, day, utc_day,
        record.source, record.basis._value_, record.provider, record.account, record.workspace,
        record.project, record.api_key_id, record.model, record.user, record.feature, record.customer,
        record.tags or None, record.requests, t.input, t.cached_input, t.cache_write_5m,
        t.cache_write_1h, t.output, t.reasoning, t.audio_input, t.audio_output,
        to_nanos(cost) if cost else 0,
        record.requests if record.pricing_status is PricingStatus.UNPRICED else 0,
        1, record.currency, record.pricing_status._value_,
        price_source[:200] if price_source else None,
        record.service_tier, record.batch, record.latency_ms, record.status, record.request_id,
        written_at,
    )  # fmt: skip


def row_to_record(row: Any) -> UsageRecord:
    m = row._mapping
    status = PricingStatus(m["pricing_status"])
    return UsageRecord(
        key=m["key"],
        source=m["source"],
        basis=Basis(m["basis"]),
        start=as_utc(m["start"]),
        end=as_utc(m["end"]) if m["end"] is not None else None,
        provider=m["provider"],
        model=m["model"],
        account=m["account"],
        workspace=m["workspace"],
        project=m["project"],
        api_key_id=m["api_key_id"],
        user=m["user"],
        feature=m["feature"],
        customer=m["customer"],
        tags=m["tags"] or {},
        requests=m["requests"],
        tokens=TokenCounts(**{f: m[c] for f, c in TOKEN_COLUMNS.items()}),
        cost=None if status is PricingStatus.UNPRICED else from_nanos(m["cost_nanos"]),
        currency=m["currency"],
        pricing_status=status,
        price_source=m["price_source"],
        service_tier=m["service_tier"],
        batch=bool(m["batch"]),
        latency_ms=m["latency_ms"],
        status=m["status"],
        request_id=m["request_id"],
    )


def dialect_insert(conn: Connection, table: Table) -> Insert:
    """INSERT with ON CONFLICT support for the connection's dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"spendledger supports SQLite and PostgreSQL, not {conn.dialect.name}")


def cost_of(row: dict[str, Any]) -> Decimal:
    return from_nanos(row["cost_nanos"])
