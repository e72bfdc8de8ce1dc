"""`record_values` is `record_to_row` as a tuple: the same values, in ROW_COLUMNS order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from spendledger.records import Basis, PricingStatus, TokenCounts, UsageRecord
from spendledger.store.rows import ROW_COLUMNS, DayOf, record_to_row, record_values
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


@pytest.mark.parametrize("zone", ["UTC", "America/Los_Angeles", "Asia/Kolkata"])
@pytest.mark.parametrize("name", list(RECORDS))
def test_record_values_equal_record_to_row(name: str, zone: str) -> None:
    record = RECORDS[name]
    row = record_to_row(record, day_of=DayOf(ZoneInfo(zone)), written_at=WRITTEN)
    values = record_values(record, day_of=DayOf(ZoneInfo(zone)), written_at=WRITTEN)
    assert tuple(row) == ROW_COLUMNS
    assert dict(zip(ROW_COLUMNS, values, strict=True)) == row


def test_row_columns_are_usage_columns_but_its_id() -> None:
    assert set(ROW_COLUMNS) == {c.name for c in usage.columns} - {"id"}
