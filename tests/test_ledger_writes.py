"""Idempotent writes: events append once, billed buckets are replaced, rollups follow."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from spendledger.pricing import Pricer
from spendledger.queries import SpendQuery, spend
from spendledger.records import Basis, TokenCounts, UsageRecord
from spendledger.store import write_records
from spendledger.store.ledger import ZoneChangedError, rebuild_rollups
from usage_records import usage_record

UTC_ZONE = ZoneInfo("UTC")
DAY = datetime(2026, 11, 20, 10, tzinfo=UTC)


def _event(i: int, **kw: object) -> UsageRecord:
    record = usage_record(
        key=f"api:evt-{i}",
        source="api",
        start=DAY + timedelta(minutes=i),
        model="gpt-4o-mini",
        user=f"u{i % 3}",
        tokens=TokenCounts(input=1000, output=100),
    )
    for k, v in kw.items():
        setattr(record, k, v)
    return record


def _total(engine: Engine, basis: str = "all") -> Decimal:
    with engine.connect() as conn:
        return spend(conn, SpendQuery(start=date(2026, 11, 1), end=date(2026, 11, 30), basis=basis)).total


def test_ledger_events_resent_are_duplicates(engine: Engine) -> None:
    events = [_event(i) for i in range(10)]
    Pricer().price_all(events)
    for attempt in range(3):
        with engine.begin() as conn:
            result = write_records(conn, events, tz=UTC_ZONE)
        assert (result.inserted, result.duplicates) == ((10, 0) if attempt == 0 else (0, 10))
    # gpt-4o-mini: 1000 in × $0.15/M + 100 out × $0.60/M = $0.00015 + $0.00006 = $0.00021 per call
    assert _total(engine) == Decimal("0.0021")


def test_ledger_billed_bucket_revision_replaces(engine: Engine) -> None:
    bucket = usage_record(
        key="openai:org-1:cost:proj-a",
        source="openai-org-1",
        basis=Basis.BILLED,
        start=datetime(2026, 11, 20, tzinfo=UTC),
        end=datetime(2026, 11, 21, tzinfo=UTC),
        model="",
        account="org-1",
        requests=0,
        cost="12.50",
    )
    with engine.begin() as conn:
        assert write_records(conn, [bucket], tz=UTC_ZONE).inserted == 1
    bucket.cost = Decimal("13.75")
    with engine.begin() as conn:
        assert write_records(conn, [bucket], tz=UTC_ZONE).replaced == 1
    with engine.begin() as conn:
        assert write_records(conn, [bucket], tz=UTC_ZONE).duplicates == 1
    assert _total(engine) == Decimal("13.75")


def test_ledger_refuses_to_mix_zones(engine: Engine) -> None:
    first, second = _event(1), _event(2)
    Pricer().price_all([first, second])
    with engine.begin() as conn:
        write_records(conn, [first], tz=ZoneInfo("Asia/Tokyo"))
    with pytest.raises(ZoneChangedError, match="rebuild-rollups"), engine.begin() as conn:
        write_records(conn, [second], tz=UTC_ZONE)
    # after re-dating the ledger in UTC, UTC writes go in
    with engine.begin() as conn:
        rebuild_rollups(conn, tz=UTC_ZONE)
        assert write_records(conn, [second], tz=UTC_ZONE).inserted == 1
    # 2 calls × $0.00021 (see above)
    assert _total(engine) == Decimal("0.00042")
