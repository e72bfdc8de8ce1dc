"""The reconciliation's reads and its closed months (the SQL behind spendledger/reconcile/).

The two sides are read where each is cheap: the bill record by record from `usage`
(billed records are few — buckets per day, project and line item — and the partial
index `ix_usage_billed_day` finds them without walking the metered events), since its
line items and token counts are needed; the metering summed by UTC day, account,
workspace, project and model from `rollup_model`, whatever the number of calls.
Days are UTC days: the providers bill by UTC day.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, select, text

from spendledger.records import UsageRecord, as_utc
from spendledger.store.rollups import current
from spendledger.store.rows import dialect_insert, row_to_record
from spendledger.store.tables import reconcile_closed_months, rollups, usage

_BILLED = text("basis = 'billed'")  # as the partial index states it, so both databases use it


def billed_records(conn: Connection, *, first: date, last: date) -> Iterator[tuple[str, UsageRecord]]:
    """(UTC day, record) of every billed record of the UTC days `first` to `last`."""
    query = (
        select(usage)
        .where(_BILLED, usage.c.utc_day >= first.isoformat(), usage.c.utc_day <= last.isoformat())
        .order_by(usage.c.utc_day, usage.c.id)
    )
    for row in conn.execute(query):
        yield row.utc_day, row_to_record(row)


@dataclass(frozen=True)
class MeteredSum:
    """The metered records of one UTC day and (provider, account, workspace, project, model)."""

    day: str
    provider: str
    account: str
    workspace: str
    project: str
    model: str
    currency: str
    cost_nanos: int
    records: int


def metered_sums(conn: Connection, *, first: date, last: date) -> list[MeteredSum]:
    """The metered records of the UTC days `first` to `last`, summed from `rollup_model`.

    The rollup is keyed by local day first: a UTC day lies within a day of it either way.
    """
    t = current(rollups["rollup_model"])
    keys = (t.c.utc_day, t.c.provider, t.c.account, t.c.workspace, t.c.project, t.c.model, t.c.currency)
    query = (
        select(*keys, func.sum(t.c.cost_nanos), func.sum(t.c.records))
        .where(
            t.c.day >= (first - timedelta(days=1)).isoformat(),
            t.c.day <= (last + timedelta(days=1)).isoformat(),
            t.c.utc_day >= first.isoformat(),
            t.c.utc_day <= last.isoformat(),
            t.c.basis == "metered",
        )
        .group_by(*keys)
        .having(func.sum(t.c.records) > 0)
    )
    return [MeteredSum(*row[:7], int(row[7] or 0), int(row[8] or 0)) for row in conn.execute(query)]


def last_billed_days(conn: Connection) -> dict[tuple[str, str], str]:
    """(provider, account) → the last UTC day it has billed records on: the accounts a
    billing sync (or a billed import) covers, and how far."""
    t = current(rollups["rollup_provider"])
    key = (t.c.utc_day, t.c.provider, t.c.account)
    days = (
        select(*key).where(t.c.basis == "billed").group_by(*key).having(func.sum(t.c.records) > 0).subquery()
    )
    query = select(days.c.provider, days.c.account, func.max(days.c.utc_day)).group_by(
        days.c.provider, days.c.account
    )
    return {(r[0], r[1]): r[2] for r in conn.execute(query)}


# ---- closed months ------------------------------------------------------------------------


@dataclass(frozen=True)
class ClosedMonthRow:
    month: str  # YYYY-MM
    closed_at: datetime  # UTC
    closed_by: str
    figures: list[dict[str, Any]]


def _closed(row: Any) -> ClosedMonthRow:
    return ClosedMonthRow(row.month, as_utc(row.closed_at), row.closed_by, list(row.figures))


def closed_month(conn: Connection, month: str) -> ClosedMonthRow | None:
    row = conn.execute(
        select(reconcile_closed_months).where(reconcile_closed_months.c.month == month)
    ).first()
    return None if row is None else _closed(row)


def closed_months(conn: Connection) -> list[ClosedMonthRow]:
    """Every closed month, the latest first."""
    query = select(reconcile_closed_months).order_by(reconcile_closed_months.c.month.desc())
    return [_closed(row) for row in conn.execute(query)]


def add_closed_month(
    conn: Connection,
    *,
    month: str,
    figures: list[dict[str, Any]],
    closed_by: str,
    now: datetime | None = None,
) -> bool:
    """Keep `month` as closed with its figures; False (and nothing changed) when it is
    closed already: closing twice keeps the first figures."""
    stmt = dialect_insert(conn, reconcile_closed_months).values(
        month=month, closed_at=(now or datetime.now(UTC)), closed_by=closed_by, figures=figures
    )
    stmt = stmt.on_conflict_do_nothing(index_elements=["month"])  # type: ignore[attr-defined]
    return conn.execute(stmt.returning(reconcile_closed_months.c.month)).first() is not None


def remove_closed_month(conn: Connection, month: str) -> bool:
    """Reopen `month`; False when it was not closed."""
    done = conn.execute(delete(reconcile_closed_months).where(reconcile_closed_months.c.month == month))
    return bool(done.rowcount)
