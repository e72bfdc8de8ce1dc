"""Balance readings and balance-below rules: the storage of the balance kind of source.

`record_balances` is what a sync does with a balance page, in the page's transaction:
it stores the readings (once per source, currency and moment: re-running a sync at the
same moment changes nothing) and replaces the "balance" buckets of the days from the
readings' day to the last reading's with the spend derived from the history
(sources/balance.py has the rule). Money is in nano-units, like every sum of money.

A rule ("alert when source S's CNY balance drops below 50") is a definition only; it is
checked by alerts/balance.py against `latest_balances` and `went_below_at`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, delete, func, insert, select, update

from spendledger.errors import SpendledgerError
from spendledger.records import as_utc, from_nanos, to_nanos
from spendledger.sources.balance import ENDPOINT, balance_days, day_bucket, day_records
from spendledger.sources.base import BalanceReading
from spendledger.store import bulk
from spendledger.store.ledger import replace_buckets
from spendledger.store.tables import alerts, balance_readings, balance_rules

_R = balance_readings.c


@dataclass(frozen=True)
class BalanceRow:
    """One stored reading (it satisfies sources.balance.Stamped)."""

    source: str
    currency: str
    at: datetime
    total: Decimal
    granted: Decimal | None = None
    topped_up: Decimal | None = None


def _reading(r: Any) -> BalanceRow:
    m = r._mapping
    return BalanceRow(
        source=m["source"],
        currency=m["currency"],
        at=as_utc(m["at"]),
        total=from_nanos(m["total_nanos"]),
        granted=None if m["granted_nanos"] is None else from_nanos(m["granted_nanos"]),
        topped_up=None if m["topped_up_nanos"] is None else from_nanos(m["topped_up_nanos"]),
    )


def _nanos(value: Decimal | None) -> int | None:
    return None if value is None else to_nanos(value)


def record_balances(
    conn: Connection,
    *,
    source: str,
    provider: str,
    account: str,
    readings: Sequence[BalanceReading],
    at: datetime,
    tz: ZoneInfo,
) -> tuple[int, int]:
    """Store `readings` as taken at `at` and re-derive the spend of the days they change;
    (records removed, records written) as replace_buckets says."""
    if not readings:
        return 0, 0
    rows = [
        {
            "source": source,
            "currency": r.currency,
            "at": at,
            "total_nanos": to_nanos(r.total),
            "granted_nanos": _nanos(r.granted),
            "topped_up_nanos": _nanos(r.topped_up),
        }
        for r in readings
    ]
    parts = ("total_nanos", "granted_nanos", "topped_up_nanos")
    bulk.upsert(
        conn,
        balance_readings,
        rows,
        conflict=("source", "currency", "at"),
        update={c: f"excluded.{c}" for c in parts},
    )
    first = as_utc(at).date()
    history = _history_from(conn, source, first)
    last = max(r.at for r in history).date()
    days = [d for d in balance_days(history) if d.day >= first]
    buckets = [day_bucket(first + timedelta(days=n)) for n in range((last - first).days + 1)]
    records = day_records(days, source=source, provider=provider, account=account)
    return replace_buckets(conn, source=source, endpoint=ENDPOINT, buckets=buckets, records=records, tz=tz)


def _history_from(conn: Connection, source: str, day: date) -> list[BalanceRow]:
    """The source's readings from UTC `day` on, with each currency's last one before it."""
    start = day_bucket(day)[0]
    before = (
        select(_R.currency, func.max(_R.at).label("at"))
        .where(_R.source == source, _R.at < start)
        .group_by(_R.currency)
        .subquery()
    )
    query = select(balance_readings).where(
        _R.source == source,
        (_R.at >= start)
        | _R.id.in_(select(_R.id).join(before, and_(_R.currency == before.c.currency, _R.at == before.c.at))),
    )
    return [_reading(r) for r in conn.execute(query.order_by(_R.at))]


def history(conn: Connection, source: str) -> list[BalanceRow]:
    """Every reading of `source`, oldest first."""
    query = select(balance_readings).where(_R.source == source).order_by(_R.at, _R.currency)
    return [_reading(r) for r in conn.execute(query)]


def latest_balances(conn: Connection, source: str | None = None) -> dict[str, list[BalanceRow]]:
    """Each source's (only `source`'s) latest reading per currency; one never read: absent."""
    newest = select(_R.source, _R.currency, func.max(_R.at).label("at")).group_by(_R.source, _R.currency)
    last = (newest if source is None else newest.where(_R.source == source)).subquery()
    query = (
        select(balance_readings)
        .join(last, and_(_R.source == last.c.source, _R.currency == last.c.currency, _R.at == last.c.at))
        .order_by(_R.source, _R.currency)
    )
    out: dict[str, list[BalanceRow]] = {}
    for r in conn.execute(query):
        row = _reading(r)
        out.setdefault(row.source, []).append(row)
    return out


def went_below_at(conn: Connection, *, source: str, currency: str, below: Decimal) -> datetime | None:
    """When the current run of readings under `below` began: the first reading after the last
    one at or above it (None: the latest reading is not under it)."""
    limit = to_nanos(below)
    where = and_(_R.source == source, _R.currency == currency)
    above = select(func.max(_R.at)).where(where, _R.total_nanos >= limit).scalar_subquery()
    query = select(func.min(_R.at)).where(where, _R.total_nanos < limit, above.is_(None) | (_R.at > above))
    found = conn.execute(query).scalar()
    return None if found is None else as_utc(found)


def delete_readings(conn: Connection, *, source: str) -> int:
    """Delete a purged source's readings."""
    return int(conn.execute(delete(balance_readings).where(_R.source == source)).rowcount or 0)


# ---- rules ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BalanceRuleRow:
    name: str
    source: str
    currency: str
    below: Decimal
    channels: tuple[str, ...] = ()
    created_at: datetime | None = None
    id: int | None = None

    @property
    def subject(self) -> str:
        """What its alerts are stored under (alerts.budget): "balance:<name>", apart from budgets."""
        return f"balance:{self.name}"


class BalanceRuleExistsError(SpendledgerError, ValueError):
    pass


class UnknownBalanceRuleError(SpendledgerError, LookupError):
    pass


def _rule(r: Any) -> BalanceRuleRow:
    m = r._mapping
    return BalanceRuleRow(
        id=m["id"],
        name=m["name"],
        source=m["source"],
        currency=m["currency"],
        below=from_nanos(m["below_nanos"]),
        channels=tuple(m["channels"] or ()),
        created_at=as_utc(m["created_at"]),
    )


def add_rule(
    conn: Connection,
    *,
    name: str,
    source: str,
    currency: str,
    below: Decimal,
    channels: Sequence[str],
    now: datetime,
) -> BalanceRuleRow:
    """Store a rule (checked by alerts.balance.create_rule); names are unique."""
    if conn.execute(select(balance_rules.c.id).where(balance_rules.c.name == name)).first():
        raise BalanceRuleExistsError(f"a balance alert named {name!r} exists; pick another name")
    conn.execute(
        insert(balance_rules).values(
            name=name,
            source=source,
            currency=currency,
            below_nanos=to_nanos(below),
            channels=list(channels),
            created_at=now,
        )
    )
    return get_rule(conn, name)


def get_rule(conn: Connection, name: str) -> BalanceRuleRow:
    row = conn.execute(select(balance_rules).where(balance_rules.c.name == name)).first()
    if row is None:
        known = ", ".join(r.name for r in list_rules(conn)) or "none yet"
        raise UnknownBalanceRuleError(f"no balance alert named {name!r} (balance alerts: {known})")
    return _rule(row)


def list_rules(conn: Connection) -> list[BalanceRuleRow]:
    return [_rule(r) for r in conn.execute(select(balance_rules).order_by(balance_rules.c.name))]


def remove_rule(conn: Connection, name: str) -> None:
    get_rule(conn, name)
    conn.execute(delete(balance_rules).where(balance_rules.c.name == name))


def resolve_balance_alerts(conn: Connection, subject: str, *, at: datetime) -> int:
    """Resolve a rule's open (or acknowledged) alerts: its balance is back at or above the line."""
    result = conn.execute(
        update(alerts)
        .where(alerts.c.budget == subject, alerts.c.kind == "balance", alerts.c.status != "resolved")
        .values(status="resolved", resolved_at=at)
    )
    return int(result.rowcount or 0)
