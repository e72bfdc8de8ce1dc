"""Closing a reconciled month, and the late adjustments to it.

An admin closes a month once its bill and metering are reconciled: its billed and
metered figures per UTC day, provider, account and currency are kept as they stand
(store/reconcile.py). The month's records may still change — a provider revises a
bucket, a late event arrives, records are deleted — and every difference between the
figures now and the figures kept is a late adjustment, listed until the month is
reopened (and closed again). Closing and reopening are written to the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from spendledger.reconcile.figures import ReconcileQuery, reconcile
from spendledger.reconcile_params import ReconcileError, Tolerance, month_range
from spendledger.records import format_money
from spendledger.store import Connection
from spendledger.store import reconcile as store
from spendledger.store.audit import record as audit

_BY = ("provider", "account")
FigureKey = tuple[str, str, str, str]  # (UTC day, provider, account, currency)


@dataclass(frozen=True)
class Adjustment:
    """A change to a closed month: one day, provider, account and currency, then and now."""

    day: str
    provider: str
    account: str
    currency: str
    billed_then: Decimal
    billed_now: Decimal
    metered_then: Decimal
    metered_now: Decimal

    @property
    def billed_change(self) -> Decimal:
        return self.billed_now - self.billed_then

    @property
    def metered_change(self) -> Decimal:
        return self.metered_now - self.metered_then


@dataclass(frozen=True)
class ClosedMonth:
    month: str
    closed_at: datetime
    closed_by: str
    adjustments: list[Adjustment]


def _figures(conn: Connection, month: str) -> dict[FigureKey, tuple[Decimal, Decimal]]:
    """(day, provider, account, currency) → (billed, metered) of a month, as they stand."""
    first, last = month_range(month)
    found = reconcile(conn, ReconcileQuery(first, last, _BY), tolerance=Tolerance())
    return {
        (row.day or "", row.dims["provider"], row.dims["account"], row.currency): (row.billed, row.metered)
        for row in found.rows
    }


def _stored(figures: list[dict[str, Any]]) -> dict[FigureKey, tuple[Decimal, Decimal]]:
    return {
        (f["day"], f["provider"], f["account"], f["currency"]): (Decimal(f["billed"]), Decimal(f["metered"]))
        for f in figures
    }


def close_month(
    conn: Connection, month: str, *, actor: str, today: date, now: datetime | None = None
) -> bool:
    """Close `month` ("YYYY-MM") with its figures as they stand; False when it was closed
    already (its first figures stay). A month is closed once it is over (UTC)."""
    first, last = month_range(month)
    key = first.strftime("%Y-%m")
    if last >= today:
        raise ReconcileError(
            "month", f"{key} is not over yet (UTC); close it from {last.replace(day=last.day)} on"
        )
    figures = _figures(conn, key)
    kept = [
        {
            "day": day,
            "provider": provider,
            "account": account,
            "currency": currency,
            "billed": format_money(billed),
            "metered": format_money(metered),
        }
        for (day, provider, account, currency), (billed, metered) in sorted(figures.items())
    ]
    if not store.add_closed_month(conn, month=key, figures=kept, closed_by=actor, now=now):
        return False
    billed: dict[str, Decimal] = {}
    for (_, _, _, currency), (amount, _) in figures.items():
        billed[currency] = billed.get(currency, Decimal(0)) + amount
    audit(
        conn,
        actor=actor,
        action="reconcile.close",
        what={"month": key, "rows": len(kept)},
        amount=billed,
        at=now,
    )
    return True


def reopen_month(conn: Connection, month: str, *, actor: str, now: datetime | None = None) -> bool:
    """Reopen a closed month (its kept figures are dropped); False when it was not closed."""
    first, _ = month_range(month)
    key = first.strftime("%Y-%m")
    if not store.remove_closed_month(conn, key):
        return False
    audit(conn, actor=actor, action="reconcile.reopen", what={"month": key}, at=now)
    return True


def closed_month(conn: Connection, month: str) -> ClosedMonth | None:
    """A closed month with its late adjustments; None when the month is not closed."""
    first, _ = month_range(month)
    row = store.closed_month(conn, first.strftime("%Y-%m"))
    return None if row is None else _with_adjustments(conn, row)


def closed_months(
    conn: Connection, *, start: date | None = None, end: date | None = None
) -> list[ClosedMonth]:
    """The closed months (those overlapping `start`..`end` when given), latest first, each
    with its late adjustments."""
    found = []
    for row in store.closed_months(conn):
        first, last = month_range(row.month)
        if (start is None or last >= start) and (end is None or first <= end):
            found.append(_with_adjustments(conn, row))
    return found


def _with_adjustments(conn: Connection, row: store.ClosedMonthRow) -> ClosedMonth:
    then, now = _stored(row.figures), _figures(conn, row.month)
    zero = (Decimal(0), Decimal(0))
    adjustments = [
        Adjustment(
            *key, then.get(key, zero)[0], now.get(key, zero)[0], then.get(key, zero)[1], now.get(key, zero)[1]
        )
        for key in sorted(then.keys() | now.keys())
        if then.get(key, zero) != now.get(key, zero)
    ]
    return ClosedMonth(row.month, row.closed_at, row.closed_by, adjustments)
