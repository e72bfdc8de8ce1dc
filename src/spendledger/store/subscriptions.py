"""Seat subscriptions (the definitions and their dated seat counts) and their records.

A subscription's figures are never stored here: ingest/subscriptions.py turns a
definition into manual records of source "subscriptions", keyed `sub:<id>|<kind>|<day>`,
and `replace_records` makes the ledger hold exactly those (written through the ledger's
verbs, so the rollups follow). The price is integer nano-units per seat and interval,
like every sum of money; days are local ISO dates of the configured zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, delete, insert, select, tuple_, update

from spendledger.errors import SpendledgerError
from spendledger.records import UsageRecord, as_utc, from_nanos, to_nanos
from spendledger.store.ledger import WriteResult, delete_where, get_meta, set_meta, write_records
from spendledger.store.tables import subscription_seats, subscriptions, usage

SOURCE = "subscriptions"  # the `source` of every record a subscription writes
_VIEW = "subscriptions_view"  # ledger_meta: which records the ledger keeps, charges or a spread
_CHUNK = 500


@dataclass(frozen=True)
class SubscriptionRow:
    id: int
    name: str
    provider: str
    plan: str
    price: Decimal  # per seat and interval
    currency: str
    interval: str  # monthly | annual
    billing_day: int
    starts: date
    ends: date | None  # the last day paid for, included
    account: str
    project: str
    user: str
    seats: tuple[tuple[date, int], ...]  # (from day, seats), by day; the first is `starts`
    created_at: datetime

    @property
    def key_prefix(self) -> str:
        return record_prefix(self.id)


def record_prefix(subscription_id: int) -> str:
    """What every record key of the subscription starts with."""
    return f"sub:{subscription_id}|"


class SubscriptionExistsError(SpendledgerError, ValueError):
    pass


class UnknownSubscriptionError(SpendledgerError, LookupError):
    pass


def _columns(
    *,
    provider: str,
    plan: str,
    price: Decimal,
    currency: str,
    interval: str,
    billing_day: int,
    starts: date,
    ends: date | None,
    account: str,
    project: str,
    user: str,
) -> dict[str, Any]:
    return {
        "provider": provider,
        "plan": plan,
        "price_nanos": to_nanos(price),
        "currency": currency,
        "interval": interval,
        "billing_day": billing_day,
        "starts": starts.isoformat(),
        "ends": ends.isoformat() if ends else None,
        "account": account,
        "project": project,
        "user": user,
    }


def add_subscription(
    conn: Connection, *, name: str, seats: Sequence[tuple[date, int]], now: datetime, **fields: Any
) -> SubscriptionRow:
    """Store a subscription (checked by ingest.subscriptions) and its seat counts; names are unique."""
    if conn.execute(select(subscriptions.c.id).where(subscriptions.c.name == name)).first():
        raise SubscriptionExistsError(
            f"name: a subscription named {name!r} exists; pick another name, change its seats with "
            f"`spendledger subscriptions seats {name} N --from DAY`, or remove it first",
            field="name",
        )
    conn.execute(insert(subscriptions).values(name=name, created_at=now, **_columns(**fields)))
    row = get_subscription(conn, name)
    set_seats(conn, row.id, seats)
    return get_subscription(conn, name)


def update_subscription(
    conn: Connection, name: str, *, seats: Sequence[tuple[date, int]], **fields: Any
) -> SubscriptionRow:
    """Replace the definition and seat counts of `name` (its id, name and creation time stay)."""
    row = get_subscription(conn, name)
    conn.execute(update(subscriptions).where(subscriptions.c.id == row.id).values(**_columns(**fields)))
    set_seats(conn, row.id, seats)
    return get_subscription(conn, name)


def set_seats(conn: Connection, subscription_id: int, seats: Sequence[tuple[date, int]]) -> None:
    """Make the subscription's dated seat counts exactly `seats`."""
    conn.execute(delete(subscription_seats).where(subscription_seats.c.subscription_id == subscription_id))
    if seats:
        conn.execute(
            insert(subscription_seats),
            [{"subscription_id": subscription_id, "from_day": d.isoformat(), "seats": n} for d, n in seats],
        )


def _rows(conn: Connection, *conditions: Any) -> list[SubscriptionRow]:
    seats: dict[int, list[tuple[date, int]]] = {}
    query = select(subscription_seats).order_by(subscription_seats.c.from_day)
    for s in conn.execute(query):
        seats.setdefault(s.subscription_id, []).append((date.fromisoformat(s.from_day), s.seats))
    found = conn.execute(select(subscriptions).where(*conditions).order_by(subscriptions.c.name))
    return [
        SubscriptionRow(
            id=r.id,
            name=r.name,
            provider=r.provider,
            plan=r.plan,
            price=from_nanos(r.price_nanos),
            currency=r.currency,
            interval=r.interval,
            billing_day=r.billing_day,
            starts=date.fromisoformat(r.starts),
            ends=date.fromisoformat(r.ends) if r.ends else None,
            account=r.account,
            project=r.project,
            user=r.user,
            seats=tuple(seats.get(r.id, ())),
            created_at=as_utc(r.created_at),
        )
        for r in found
    ]


def get_subscription(conn: Connection, name: str) -> SubscriptionRow:
    found = _rows(conn, subscriptions.c.name == name)
    if not found:
        known = ", ".join(s.name for s in list_subscriptions(conn)) or "none yet"
        raise UnknownSubscriptionError(
            f"no subscription named {name!r} (subscriptions: {known}); see `spendledger subscriptions list`",
            field="name",
        )
    return found[0]


def list_subscriptions(conn: Connection) -> list[SubscriptionRow]:
    return _rows(conn)


def remove_subscription_row(conn: Connection, name: str) -> SubscriptionRow:
    """Delete the definition and its seat counts (not its records: `replace_records` with none)."""
    row = get_subscription(conn, name)
    conn.execute(delete(subscription_seats).where(subscription_seats.c.subscription_id == row.id))
    conn.execute(delete(subscriptions).where(subscriptions.c.id == row.id))
    return row


# ---- the records a subscription holds in the ledger ----------------------------------------


def _of(subscription_id: int) -> Any:
    return and_(
        usage.c.source == SOURCE,
        usage.c.key.startswith(record_prefix(subscription_id), autoescape=True),
    )


def replace_records(
    conn: Connection,
    subscription_id: int,
    records: Sequence[UsageRecord],
    *,
    tz: ZoneInfo,
    now: datetime | None = None,
) -> tuple[int, WriteResult]:
    """Make the ledger hold exactly `records` for the subscription; (removed, written).

    Records already stored as they are count as duplicates (nothing moves), changed ones
    replace their version, and stored ones not among `records` go, the rollups following:
    run twice, the second run changes nothing.
    """
    wanted = {(as_utc(r.start), r.key) for r in records}
    stored = [
        (as_utc(s), k)
        for s, k in conn.execute(select(usage.c.start, usage.c.key).where(_of(subscription_id)))
    ]
    stale = [pair for pair in stored if pair not in wanted]
    removed = 0
    for i in range(0, len(stale), _CHUNK):
        chunk = stale[i : i + _CHUNK]
        removed += delete_where(
            conn, and_(_of(subscription_id), tuple_(usage.c.start, usage.c.key).in_(chunk))
        )
    written = write_records(conn, records, tz=tz, now=now) if records else WriteResult()
    return removed, written


def recorded(conn: Connection) -> dict[int, tuple[int, Decimal]]:
    """(records, their cost) each subscription holds in the ledger, by subscription id."""
    found: dict[int, tuple[int, int]] = {}
    query = select(usage.c.key, usage.c.cost_nanos).where(usage.c.source == SOURCE)
    for key, nanos in conn.execute(query):
        head = key.split("|", 1)[0].removeprefix("sub:")
        if head.isdigit():
            count, total = found.get(int(head), (0, 0))
            found[int(head)] = (count + 1, total + nanos)
    return {sid: (count, from_nanos(total)) for sid, (count, total) in found.items()}


def get_view(conn: Connection) -> str | None:
    """Which records subscriptions write (ingest.subscriptions.VIEWS); None: never set."""
    return get_meta(conn, _VIEW)


def set_view(conn: Connection, view: str) -> None:
    set_meta(conn, _VIEW, view)
