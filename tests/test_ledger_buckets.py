"""The ledger's verbs for billing sources: replace a page's buckets, delete a source, count.

Totals are read through `queries.spend` (the rollups), and the rollups must equal a
rebuild from the records after every verb.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from spendledger.queries import SpendQuery, spend
from spendledger.records import Basis, UsageRecord
from spendledger.store.ledger import (
    delete_records,
    rebuild_rollups,
    records_by_source,
    replace_buckets,
)
from usage_records import usage_record

UTC_ZONE = ZoneInfo("UTC")
D1, D2 = datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC)
BUCKETS = [(D1, D1 + timedelta(days=1)), (D2, D2 + timedelta(days=1))]


def _billed(source: str, key: str, start: datetime, cost: str) -> UsageRecord:
    return usage_record(
        key=key, source=source, basis=Basis.BILLED, start=start, end=start + timedelta(days=1),
        account=source, requests=0, cost=cost,
    )  # fmt: skip


def _total(engine: Engine) -> Decimal:
    with engine.connect() as conn:
        return spend(conn, SpendQuery(start=date(2026, 11, 1), end=date(2026, 11, 30))).total


def _replace(engine: Engine, source: str, endpoint: str, buckets: list[tuple[datetime, datetime]],
             records: list[UsageRecord]) -> tuple[int, int]:  # fmt: skip
    with engine.begin() as conn:
        return replace_buckets(
            conn, source=source, endpoint=endpoint, buckets=buckets, records=records, tz=UTC_ZONE
        )


def _rebuilt_total(engine: Engine) -> Decimal:
    with engine.begin() as conn:
        rebuild_rollups(conn, tz=UTC_ZONE)
    return _total(engine)


def test_ledger_replace_buckets_clears_only_the_pages_buckets_of_its_endpoint(engine: Engine) -> None:
    _replace(
        engine, "A", "costs", BUCKETS, [_billed("A", "costs|p1", D1, "1"), _billed("A", "costs|p2", D2, "2")]
    )
    _replace(engine, "A", "usage", BUCKETS[:1], [_billed("A", "usage|p1", D1, "10")])
    _replace(engine, "B", "costs", BUCKETS[:1], [_billed("B", "costs|b1", D1, "100")])
    assert _total(engine) == Decimal("113")
    # a revised page of A's costs for the first day: p1 is gone from it, p3 is new
    assert _replace(engine, "A", "costs", BUCKETS[:1], [_billed("A", "costs|p3", D1, "4")]) == (1, 1)
    assert _total(engine) == Decimal("116") == _rebuilt_total(engine)
    # a later page of a long bucket lists no buckets: it clears nothing and only adds
    assert _replace(engine, "A", "costs", [], [_billed("A", "costs|p4", D1, "0.5")]) == (0, 1)
    assert _total(engine) == Decimal("116.5") == _rebuilt_total(engine)
    with engine.connect() as conn:
        assert records_by_source(conn) == {"A": 4, "B": 1}
        assert records_by_source(conn, source="B") == {"B": 1}


def test_ledger_delete_records_takes_a_source_out_of_the_rollups(engine: Engine) -> None:
    _replace(
        engine, "A", "costs", BUCKETS, [_billed("A", "costs|p1", D1, "1"), _billed("A", "costs|p2", D2, "2")]
    )
    _replace(engine, "B", "costs", BUCKETS, [_billed("B", "costs|b1", D1, "100")])
    with engine.begin() as conn:
        assert delete_records(conn, source="A") == 2
        assert delete_records(conn, source="nobody") == 0
    assert _total(engine) == Decimal("100") == _rebuilt_total(engine)
    with engine.connect() as conn:
        assert records_by_source(conn) == {"B": 1}


def test_ledger_replace_buckets_keeps_a_stored_record_outside_its_buckets(engine: Engine) -> None:
    _replace(engine, "A", "costs", BUCKETS[1:], [_billed("A", "costs|p1", D2, "1")])
    # a page of the first day that also carries a record of the second, already stored,
    # last: it keeps its first version, and the rollups follow only what was written
    many = [_billed("A", f"costs|n{i}", D1, "0.5") for i in range(1500)]
    assert _replace(engine, "A", "costs", BUCKETS[:1], [*many, _billed("A", "costs|p1", D2, "9")]) == (
        0,
        1500,
    )
    assert _total(engine) == Decimal("751") == _rebuilt_total(engine)
    with engine.begin() as conn:
        assert delete_records(conn, source="A") == 1501
    assert _total(engine) == 0 == _rebuilt_total(engine)
