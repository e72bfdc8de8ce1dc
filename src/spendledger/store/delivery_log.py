"""The delivery log as the channels page reads it: each delivery with its alert's budget and
kind, newest first, and each channel's latest delivery.

Read only; deliveries are written by notify.py through store/channels.py. A delivery
whose alert is gone keeps no row (the foreign key cascades), so the join loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from spendledger.records import as_utc
from spendledger.store.tables import alerts, deliveries


@dataclass(frozen=True)
class LoggedDelivery:
    id: int
    alert_id: int
    budget: str  # the alert's budget (an anomaly's subject, "model:gpt-4o")
    kind: str  # the alert's kind: threshold | forecast | anomaly
    channel: str
    status: str  # sent | failed (| sending, while a send is under way)
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


_COLUMNS = (
    deliveries.c.id,
    deliveries.c.alert_id,
    alerts.c.budget,
    alerts.c.kind,
    deliveries.c.channel,
    deliveries.c.status,
    deliveries.c.attempts,
    deliveries.c.last_error,
    deliveries.c.created_at,
    deliveries.c.sent_at,
)


def _logged(r: Any) -> LoggedDelivery:
    m = r._mapping
    return LoggedDelivery(
        id=m["id"],
        alert_id=m["alert_id"],
        budget=m["budget"],
        kind=m["kind"],
        channel=m["channel"],
        status=m["status"],
        attempts=m["attempts"],
        last_error=m["last_error"],
        created_at=as_utc(m["created_at"]),
        sent_at=as_utc(m["sent_at"]) if m["sent_at"] else None,
    )


def latest_deliveries(conn: Connection, *, limit: int) -> list[LoggedDelivery]:
    """The last `limit` deliveries, newest first."""
    query = (
        select(*_COLUMNS)
        .join(alerts, alerts.c.id == deliveries.c.alert_id)
        .order_by(deliveries.c.id.desc())
        .limit(limit)
    )
    return [_logged(r) for r in conn.execute(query)]


def count_deliveries(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(deliveries)).scalar_one())


def last_delivery_by_channel(conn: Connection) -> dict[str, LoggedDelivery]:
    """Each channel's latest delivery (by channel name; a removed channel's too)."""
    last = select(func.max(deliveries.c.id).label("id")).group_by(deliveries.c.channel).subquery()
    query = (
        select(*_COLUMNS)
        .join(alerts, alerts.c.id == deliveries.c.alert_id)
        .join(last, last.c.id == deliveries.c.id)
    )
    return {d.channel: d for d in map(_logged, conn.execute(query))}
