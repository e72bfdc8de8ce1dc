"""The delivery log as the channels page reads it: each delivery with its alert's budget and
kind, newest first, and each channel's latest delivery.

Read only; deliveries are written by notify.py through store/channels.py. A delivery
whose alert is gone keeps no row (the foreign key cascades), so the join loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from spendledger.store.channels import DeliveryRow, delivery_of
from spendledger.store.tables import alerts, deliveries


@dataclass(frozen=True)
class LoggedDelivery(DeliveryRow):
    """A delivery with its alert's budget (an anomaly's subject, "model:gpt-4o") and kind
    (threshold | forecast | anomaly)."""

    budget: str = ""
    kind: str = ""


_COLUMNS = (*deliveries.c, alerts.c.budget, alerts.c.kind)


def _logged(r: Any) -> LoggedDelivery:
    m = r._mapping
    return LoggedDelivery(**vars(delivery_of(r)), budget=m["budget"], kind=m["kind"])


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
