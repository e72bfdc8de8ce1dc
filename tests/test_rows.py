"""A record's `usage` row (`rows.usage_values`, the one layout): each value as the
ledger stores it, stated by hand; `record_to_row` is the same row keyed by column."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from spendledger.records import Basis, PricingStatus, TokenCounts, UsageRecord
from spendledger.store.rows import ROW_COLUMNS, DayOf, key_hash, record_to_row, record_values
from spendledger.store.tables import usage
from usage_records import NOON, usage_record

WRITTEN = datetime(2026, 11, 21, 8, tzinfo=UTC)
TOKENS = TokenCounts(
    input=900, cached_input=100, cache_write_5m=20, cache_write_1h=10, output=50, reasoning=5,
    audio_input=7, audio_output=3,
)  # fmt: skip

RECORDS: dict[str, UsageRecord] = {
    "unpriced event": usage_record(key="api:e1", requests=3, tokens=TOKENS, user="u", feature="f"),
    "priced event, every fact": usage_record(
        key="api:e2",
        cost="0.000123456789",
        pricing_status=PricingStatus.PRICED,
        price_source="p" * 300,
        customer="c",
        latency_ms=120,
        status="ok",
        request_id="req_1",
        service_tier="flex",
        batch=True,
        tags={"team": "search", "n": 2},
    ),
    "event in another zone": usage_record(key="api:e3", start=NOON.astimezone(timezone(timedelta(hours=-7)))),
    "billed bucket": usage_record(
        key="costs|proj_1|gpt-4o, input|key_1",
        basis=Basis.BILLED,
        start=NOON.replace(hour=0),
        end=NOON.replace(hour=0) + timedelta(days=1),
        cost="12.5",
        account="org",
        project="Web",
        api_key_id="key_1",
        requests=0,
        tags={"line_item": "gpt-4o, input"},
    ),
    "billed bucket, zero cost, end in another zone": usage_record(
        key="usage/completions|proj_1|gpt-4o",
        basis=Basis.BILLED,
        start=NOON.replace(hour=0),
        end=(NOON.replace(hour=0) + timedelta(days=1)).astimezone(timezone(timedelta(hours=2))),
        cost="0",
        tokens=TOKENS,
        currency="EUR",
    ),
    "manual entry": usage_record(key="manual:1", basis=Basis.MANUAL, cost="20", provider="chatgpt"),
}


RECORDS["late event"] = usage_record(key="api:e4", start=NOON.replace(hour=23, minute=10))

# what each row holds beyond the record's own facts (the same in every zone but its days)
EXPECTED: dict[str, dict[str, object]] = {
    "unpriced event": {
        "key_hash": key_hash("api:e1"),
        "cost_nanos": 0,
        "unpriced_requests": 3,
        "pricing_status": "unpriced",
        "input_tokens": 900,
        "cached_input_tokens": 100,
        "cache_write_5m_tokens": 20,
        "cache_write_1h_tokens": 10,
        "output_tokens": 50,
        "reasoning_tokens": 5,
        "audio_input_tokens": 7,
        "audio_output_tokens": 3,
        "tags": None,
        "records": 1,
        "end": None,
    },
    # $0.000123456789 = 123 456.789 nanodollars, rounded to 123 457; the note cut to 200 characters
    "priced event, every fact": {
        "cost_nanos": 123_457,
        "unpriced_requests": 0,
        "pricing_status": "priced",
        "price_source": "p" * 200,
        "batch": True,
        "tags": {"team": "search", "n": 2},
        "service_tier": "flex",
        "latency_ms": 120,
    },
    "event in another zone": {"start": NOON},  # 05:00 at UTC-7 is noon UTC
    "billed bucket": {
        "key_hash": None,
        "cost_nanos": 12_500_000_000,
        "basis": "billed",
        "start": NOON.replace(hour=0),
        "end": NOON.replace(hour=0) + timedelta(days=1),
    },
    "billed bucket, zero cost, end in another zone": {
        "key_hash": None,
        "cost_nanos": 0,
        "end": NOON.replace(hour=0) + timedelta(days=1),
        "currency": "EUR",
    },
    "manual entry": {
        "key_hash": None,
        "cost_nanos": 20_000_000_000,
        "basis": "manual",
        "provider": "chatgpt",
    },
    "late event": {"start": NOON.replace(hour=23, minute=10)},
}
# (local day, UTC day) of each row by zone: a bucket is dated by its midpoint (noon UTC);
# 23:10 UTC is 15:10 in Los Angeles and 04:40 the next day in Kolkata
DAYS = {
    ("late event", "Asia/Kolkata"): ("2026-11-21", "2026-11-20"),
}


@pytest.mark.parametrize("zone", ["UTC", "America/Los_Angeles", "Asia/Kolkata"])
@pytest.mark.parametrize("name", list(RECORDS))
def test_a_records_row_holds_each_value_as_stored(name: str, zone: str) -> None:
    record = RECORDS[name]
    values = record_values(record, day_of=DayOf(ZoneInfo(zone)), written_at=WRITTEN)
    row = dict(zip(ROW_COLUMNS, values, strict=True))
    assert row == record_to_row(record, day_of=DayOf(ZoneInfo(zone)), written_at=WRITTEN)
    for column, value in EXPECTED[name].items():
        assert row[column] == value, column
    assert (row["day"], row["utc_day"]) == DAYS.get((name, zone), ("2026-11-20", "2026-11-20"))
    assert row["start"].tzinfo is UTC and (row["end"] is None or row["end"].tzinfo is UTC)
    assert row["written_at"] == WRITTEN and row["records"] == 1


def test_row_columns_are_usage_columns_but_its_id() -> None:
    assert set(ROW_COLUMNS) == {c.name for c in usage.columns} - {"id"}
