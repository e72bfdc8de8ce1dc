"""Budgets: a named spending limit on a slice of the ledger (the definitions only).

The amount is stored in integer nano-units like every sum of money; the scope is the
spend query's filters (dimension → accepted values). What a budget has spent is never
stored: budgets.py reads it through queries.spend, so it agrees with every report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from spendledger.errors import SpendledgerError
from spendledger.records import as_utc, from_nanos, to_nanos
from spendledger.store.tables import DIM as DIM  # the budgets module checks names against it
from spendledger.store.tables import PERIODS as PERIODS  # (re-exported: alerts read no tables)
from spendledger.store.tables import budgets

DEFAULT_THRESHOLDS: tuple[int, ...] = (50, 80, 100)


@dataclass(frozen=True)
class BudgetRow:
    name: str
    amount: Decimal
    currency: str = "USD"
    period: str = "monthly"
    scope: dict[str, tuple[str, ...]] = field(default_factory=dict)
    custom_start: date | None = None  # the window of a custom period, both days included
    custom_end: date | None = None
    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS
    basis: str = "best"
    channels: tuple[str, ...] = ()
    created_at: datetime | None = None
    id: int | None = None


class BudgetExistsError(SpendledgerError, ValueError):
    pass


class UnknownBudgetError(SpendledgerError, LookupError):
    pass


def _row(r: Any) -> BudgetRow:
    m = r._mapping
    return BudgetRow(
        id=m["id"],
        name=m["name"],
        amount=from_nanos(m["amount_nanos"]),
        currency=m["currency"],
        period=m["period"],
        scope={dim: tuple(values) for dim, values in (m["scope"] or {}).items()},
        custom_start=date.fromisoformat(m["custom_start"]) if m["custom_start"] else None,
        custom_end=date.fromisoformat(m["custom_end"]) if m["custom_end"] else None,
        thresholds=tuple(int(t) for t in m["thresholds"]),
        basis=m["basis"],
        channels=tuple(m["channels"]),
        created_at=as_utc(m["created_at"]),
    )


def add_budget(
    conn: Connection,
    *,
    name: str,
    amount: Decimal,
    now: datetime,
    currency: str = "USD",
    period: str = "monthly",
    scope: Mapping[str, Sequence[str]] | None = None,
    custom_start: date | None = None,
    custom_end: date | None = None,
    thresholds: Sequence[int] = DEFAULT_THRESHOLDS,
    basis: str = "best",
    channels: Sequence[str] = (),
) -> BudgetRow:
    """Store a budget (validated by budgets.new_budget); names are unique."""
    if conn.execute(select(budgets.c.id).where(budgets.c.name == name)).first():
        raise BudgetExistsError(
            f"a budget named {name!r} exists; pick another name or `spendledger budgets remove {name}` first"
        )
    conn.execute(
        insert(budgets).values(
            name=name,
            **_columns(
                amount, currency, period, scope, custom_start, custom_end, thresholds, basis, channels
            ),
            created_at=now,
        )
    )
    return get_budget(conn, name)


def update_budget(
    conn: Connection,
    *,
    name: str,
    amount: Decimal,
    currency: str = "USD",
    period: str = "monthly",
    scope: Mapping[str, Sequence[str]] | None = None,
    custom_start: date | None = None,
    custom_end: date | None = None,
    thresholds: Sequence[int] = DEFAULT_THRESHOLDS,
    basis: str = "best",
    channels: Sequence[str] = (),
) -> BudgetRow:
    """Change the budget `name` (validated by budgets.change_budget); its name, id and
    creation time stay."""
    get_budget(conn, name)
    conn.execute(
        update(budgets)
        .where(budgets.c.name == name)
        .values(
            **_columns(
                amount, currency, period, scope, custom_start, custom_end, thresholds, basis, channels
            ),
        )
    )
    return get_budget(conn, name)


def _columns(
    amount: Decimal,
    currency: str,
    period: str,
    scope: Mapping[str, Sequence[str]] | None,
    custom_start: date | None,
    custom_end: date | None,
    thresholds: Sequence[int],
    basis: str,
    channels: Sequence[str],
) -> dict[str, Any]:
    """A budget's stored columns, as add_budget and update_budget write them."""
    return {
        "scope": {dim: list(values) for dim, values in (scope or {}).items()},
        "amount_nanos": to_nanos(amount),
        "currency": currency,
        "period": period,
        "custom_start": custom_start.isoformat() if custom_start else None,
        "custom_end": custom_end.isoformat() if custom_end else None,
        "thresholds": list(thresholds),
        "basis": basis,
        "channels": list(channels),
    }


def get_budget(conn: Connection, name: str) -> BudgetRow:
    row = conn.execute(select(budgets).where(budgets.c.name == name)).first()
    if row is None:
        known = ", ".join(b.name for b in list_budgets(conn)) or "none yet"
        raise UnknownBudgetError(
            f"no budget named {name!r} (budgets: {known}); see `spendledger budgets list`"
        )
    return _row(row)


def list_budgets(conn: Connection) -> list[BudgetRow]:
    return [_row(r) for r in conn.execute(select(budgets).order_by(budgets.c.name))]


def remove_budget(conn: Connection, name: str) -> None:
    get_budget(conn, name)
    conn.execute(delete(budgets).where(budgets.c.name == name))
