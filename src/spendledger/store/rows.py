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


# the `usage` columns a written row fills, in the order of `usage_values`' tuples
ROW_COLUMNS: tuple[str, ...] = (
    "start", "key", "key_hash", "end", "day", "utc_day", "source", "basis", "provider", "account",
    "workspace", "project", "api_key_id", "model", "user", "feature", "customer", "tags", "requests",
    "input_tokens", "cached_input_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
    "output_tokens", "reasoning_tokens", "audio_input_tokens", "audio_output_tokens", "cost_nanos",
    "unpriced_requests", "records", "currency", "pricing_status", "price_source", "service_tier",
    "batch", "latency_ms", "status", "request_id", "written_at",
)  # fmt: skip


def usage_values(
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
) -> tuple[Any, ...]:
    """A `usage` row's values in ROW_COLUMNS order, the one place a row is laid out:
    positional for speed (a batch or a billing page builds hundreds of thousands).
    `start` and `end` are UTC; `cost_nanos` is 0 for no cost."""
    return (
        start, key, hashed_key, end, day, utc_day, source, basis, provider, account, workspace,
        project, api_key_id, model, user, feature, customer, tags or None, requests,
        t.input, t.cached_input, t.cache_write_5m, t.cache_write_1h, t.output, t.reasoning,
        t.audio_input, t.audio_output, cost_nanos,
        requests if pricing_status is PricingStatus.UNPRICED else 0,
        1, currency, pricing_status._value_,  # _value_: the enum's `value` property costs ~1 µs
        # the column holds 200 characters; an override's note may be longer
        price_source[:200] if price_source else None,
        service_tier, batch, latency_ms, status, request_id, written_at,
    )  # fmt: skip


def usage_row(*values: Any) -> dict[str, Any]:
    """`usage_values` keyed by column: the events API's rows (ingest.records.EventRows)."""
    return dict(zip(ROW_COLUMNS, usage_values(*values)))  # noqa: B905  (ROW_COLUMNS is its length)


def record_values(record: UsageRecord, *, day_of: DayOf, written_at: datetime) -> tuple[Any, ...]:
    """A record's `usage` row as `usage_values` lays it out; `day_of` dates it (one
    DayOf per batch). The bulk writers' form: no dict per record."""
    start = record.start if record.start.tzinfo is UTC else as_utc(record.start)
    end = record.end
    if end is None:
        day, utc_day = day_of(start)
    else:
        if end.tzinfo is not UTC:
            end = as_utc(end)
        day, utc_day = day_of.bucket(start, end)
    cost = record.cost
    return usage_values(
        start, record.key, None if record.revisable else key_hash(record.key), end, day, utc_day,
        record.source, record.basis._value_, record.provider, record.account, record.workspace,
        record.project, record.api_key_id, record.model, record.user, record.feature, record.customer,
        record.tags, record.requests, record.tokens,
        to_nanos(cost) if cost else 0,  # None or zero: 0 (a usage bucket's cost)
        record.currency, record.pricing_status, record.price_source, record.service_tier,
        record.batch, record.latency_ms, record.status, record.request_id, written_at,
    )  # fmt: skip


def record_to_row(record: UsageRecord, *, day_of: DayOf, written_at: datetime) -> dict[str, Any]:
    """A record's `usage` row keyed by column (`record_values`)."""
    return dict(zip(ROW_COLUMNS, record_values(record, day_of=day_of, written_at=written_at)))  # noqa: B905


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
