"""Alerts: what a budget raised, stored once per budget, kind, threshold and window.

`raise_alert` inserts with ON CONFLICT DO NOTHING on that key, so two processes checking
the same budget at once still store (and later send) one alert. Figures are decimal
strings in a JSON object, exact; what they mean is in alerts.py.

A threshold passed on the way to a higher one in the same evaluation is stored under the
same key as already resolved, with a note starting "passed" (`record_passed`): it holds
its key, so it is never raised later, and it is never sent (only open alerts are).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, delete, select, update

from spendledger.errors import SpendledgerError
from spendledger.records import as_utc
from spendledger.store.rows import dialect_insert
from spendledger.store.tables import ALERT_STATUSES, alerts

FORECAST_THRESHOLD = 100  # the threshold a forecast alert is stored (and kept unique) under
PASSED = "passed"  # how the note of a threshold passed on the way to a higher one begins


@dataclass(frozen=True)
class AlertRow:
    budget: str
    kind: str  # threshold | forecast
    threshold: int  # percent of the amount (100 for a forecast alert)
    window_start: date
    window_end: date
    figures: dict[str, Decimal] = field(default_factory=dict)
    currency: str = "USD"
    status: str = "open"  # open | acknowledged | resolved
    created_at: datetime | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    id: int | None = None
    note: str | None = None  # an anomaly's explanation; "passed: ..." for a threshold passed

    @property
    def passed(self) -> bool:
        """A threshold crossed on the way to a higher one, recorded but never raised."""
        return self.kind == "threshold" and self.status == "resolved" and (self.note or "").startswith(PASSED)


class UnknownAlertError(SpendledgerError, LookupError):
    pass


def _row(r: Any) -> AlertRow:
    m = r._mapping
    return AlertRow(
        id=m["id"],
        budget=m["budget"],
        kind=m["kind"],
        threshold=m["threshold"],
        window_start=date.fromisoformat(m["window_start"]),
        window_end=date.fromisoformat(m["window_end"]),
        figures={k: Decimal(v) for k, v in (m["figures"] or {}).items()},
        currency=m["currency"],
        status=m["status"],
        created_at=as_utc(m["created_at"]),
        acknowledged_by=m["acknowledged_by"],
        acknowledged_at=as_utc(m["acknowledged_at"]) if m["acknowledged_at"] else None,
        resolved_at=as_utc(m["resolved_at"]) if m["resolved_at"] else None,
        note=m["note"],
    )


def raise_alert(
    conn: Connection,
    *,
    budget: str,
    kind: str,
    threshold: int,
    window_start: date,
    window_end: date,
    figures: Mapping[str, Decimal],
    currency: str,
    now: datetime,
    note: str | None = None,
    passed: bool = False,
) -> AlertRow | None:
    """Store the alert unless one with its key exists; the new row, or None when it existed.

    `passed`: store it as resolved now (see `record_passed`)."""
    stmt = dialect_insert(conn, alerts).values(
        budget=budget,
        kind=kind,
        threshold=threshold,
        window_start=window_start.isoformat(),
        window_end=window_end.isoformat(),
        figures={k: str(v) for k, v in figures.items()},
        currency=currency,
        status="resolved" if passed else "open",
        created_at=now,
        resolved_at=now if passed else None,
        note=note,
    )
    stmt = stmt.on_conflict_do_nothing(  # type: ignore[attr-defined]
        index_elements=["budget", "kind", "threshold", "window_start"]
    ).returning(alerts.c.id)
    new_id = conn.execute(stmt).scalar()
    return None if new_id is None else get_alert(conn, new_id)


def record_passed(
    conn: Connection,
    *,
    budget: str,
    threshold: int,
    above: int,
    window_start: date,
    window_end: date,
    figures: Mapping[str, Decimal],
    currency: str,
    now: datetime,
) -> AlertRow | None:
    """Store the threshold as passed on the way to `above` unless its key exists (it was
    raised or passed before); the new row or None."""
    return raise_alert(
        conn,
        budget=budget,
        kind="threshold",
        threshold=threshold,
        window_start=window_start,
        window_end=window_end,
        figures=figures,
        currency=currency,
        now=now,
        note=f"{PASSED}: the {above} % alert covers it",
        passed=True,
    )


def get_alert(conn: Connection, alert_id: int) -> AlertRow:
    row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).first()
    if row is None:
        raise UnknownAlertError(f"no alert #{alert_id}; see `spendledger alerts list --status all`")
    return _row(row)


def list_alerts(conn: Connection, status: str | None = None) -> list[AlertRow]:
    """Alerts with `status` (every status when None), newest first."""
    if status is not None and status not in ALERT_STATUSES:
        raise ValueError(f"status {status!r} is not one of {', '.join(ALERT_STATUSES)}")
    query = select(alerts).order_by(alerts.c.created_at.desc(), alerts.c.id.desc())
    if status is not None:
        query = query.where(alerts.c.status == status)
    return [_row(r) for r in conn.execute(query)]


def acknowledge(conn: Connection, alert_id: int, *, by: str, at: datetime) -> AlertRow:
    """Record who acknowledged an open alert and when (an acknowledged or resolved one is kept)."""
    get_alert(conn, alert_id)
    conn.execute(
        update(alerts)
        .where(alerts.c.id == alert_id, alerts.c.status == "open")
        .values(status="acknowledged", acknowledged_by=by, acknowledged_at=at)
    )
    return get_alert(conn, alert_id)


def resolve(conn: Connection, alert_id: int, *, at: datetime) -> None:
    conn.execute(
        update(alerts)
        .where(alerts.c.id == alert_id, alerts.c.status != "resolved")
        .values(status="resolved", resolved_at=at)
    )


def resolve_before(conn: Connection, budget: str, window_start: date, *, at: datetime) -> int:
    """Resolve the budget's unresolved alerts of windows that started before `window_start`."""
    result = conn.execute(
        update(alerts)
        .where(
            alerts.c.budget == budget,
            alerts.c.window_start < window_start.isoformat(),
            alerts.c.status != "resolved",
        )
        .values(status="resolved", resolved_at=at)
    )
    return result.rowcount


def delete_alerts(conn: Connection, *, budget: str) -> int:
    """Delete a budget's alerts (their deliveries cascade); returns how many."""
    return int(conn.execute(delete(alerts).where(alerts.c.budget == budget)).rowcount or 0)
