"""The ledger's writes as test operations, for the property tests that run random sequences
of them (test_rollups_property.py, test_rollups_writebehind.py): each test draws its own
operations with its own strategies, and both apply them here, the same way."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from spendledger.pricing import PriceOverride, Pricer
from spendledger.records import UsageRecord
from spendledger.store import WriteResult, write_records
from spendledger.store import rollups as rollup_sums
from spendledger.store.ledger import apply_prices, delete_where, iter_priceable, replace_buckets
from spendledger.store.tables import usage


@dataclass(frozen=True)
class Insert:  # a batch of new events
    events: tuple[UsageRecord, ...]


@dataclass(frozen=True)
class Resend:
    which: int  # index among the earlier inserts


@dataclass(frozen=True)
class Billed:  # revisable records through write_records
    records: tuple[UsageRecord, ...]


@dataclass(frozen=True)
class Buckets:  # a billing page: its bucket's records replaced (a day of openai-<account>'s costs)
    day: datetime
    account: str
    records: tuple[UsageRecord, ...]


@dataclass(frozen=True)
class Reprice:
    override: PriceOverride


@dataclass(frozen=True)
class Delete:
    column: str
    value: str


@dataclass(frozen=True)
class Fold:
    limit: int


@dataclass(frozen=True)
class Read:  # the caller checks what a read sees
    pass


Op = Insert | Resend | Billed | Buckets | Reprice | Delete | Fold | Read


def apply(
    conn: Connection, op: Op, inserts: list[tuple[UsageRecord, ...]], *, tz: ZoneInfo
) -> WriteResult | None:
    """Apply `op` in the caller's transaction; `inserts` are the batches inserted so far
    (an Insert adds to them, a Resend sends one again, none when there are none yet).
    Returns what `write_records` said for the writes that go through it."""
    if isinstance(op, Insert):
        inserts.append(op.events)
        return write_records(conn, op.events, tz=tz)
    if isinstance(op, Resend):
        return write_records(conn, inserts[op.which % len(inserts)], tz=tz) if inserts else None
    if isinstance(op, Billed):
        return write_records(conn, [replace(r) for r in op.records], tz=tz)
    if isinstance(op, Buckets):
        replace_buckets(
            conn,
            source=f"openai-{op.account}",
            endpoint="costs",
            buckets=[(op.day, op.day + timedelta(days=1))],
            records=[replace(r) for r in op.records],
            tz=tz,
        )
    elif isinstance(op, Reprice):
        pricer = Pricer(overrides=[op.override])
        for items in list(iter_priceable(conn, batch_size=7)):
            for _, _, record in items:
                pricer.price(record)
            apply_prices(conn, items)
    elif isinstance(op, Delete):
        delete_where(conn, usage.c[op.column] == op.value)
    elif isinstance(op, Fold):
        rollup_sums.fold(conn, limit=op.limit)
    return None
