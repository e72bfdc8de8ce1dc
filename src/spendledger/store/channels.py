"""Notification channels (where alerts are sent) and the log of what was sent to each.

A channel's URL is stored sealed (secrets.py: it often holds a token or a password) with
a masked hint to show; sealing and opening are the caller's. A delivery is one alert sent
(or not) to one channel, stored once per alert and channel (ON CONFLICT DO NOTHING).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from spendledger.records import as_utc
from spendledger.store.rows import dialect_insert
from spendledger.store.tables import channels, deliveries


@dataclass(frozen=True)
class ChannelRow:
    name: str
    url: str  # sealed
    url_hint: str
    created_at: datetime | None = None
    id: int | None = None


@dataclass(frozen=True)
class DeliveryRow:
    alert_id: int
    channel: str
    status: str  # sent | failed
    attempts: int
    last_error: str | None = None
    created_at: datetime | None = None
    sent_at: datetime | None = None
    id: int | None = None


class ChannelExistsError(ValueError):
    pass


class UnknownChannelError(LookupError):
    pass


def _channel(r: Any) -> ChannelRow:
    m = r._mapping
    return ChannelRow(
        id=m["id"], name=m["name"], url=m["url"], url_hint=m["url_hint"], created_at=as_utc(m["created_at"])
    )


def _delivery(r: Any) -> DeliveryRow:
    m = r._mapping
    return DeliveryRow(
        id=m["id"],
        alert_id=m["alert_id"],
        channel=m["channel"],
        status=m["status"],
        attempts=m["attempts"],
        last_error=m["last_error"],
        created_at=as_utc(m["created_at"]),
        sent_at=as_utc(m["sent_at"]) if m["sent_at"] else None,
    )


def add_channel(conn: Connection, *, name: str, url: str, url_hint: str, now: datetime) -> ChannelRow:
    """Store a channel; `url` already sealed. Names are unique."""
    if conn.execute(select(channels.c.id).where(channels.c.name == name)).first():
        raise ChannelExistsError(
            f"a channel named {name!r} exists; pick another name or "
            f"`spendledger channels remove {name}` first"
        )
    conn.execute(insert(channels).values(name=name, url=url, url_hint=url_hint, created_at=now))
    return get_channel(conn, name)


def get_channel(conn: Connection, name: str) -> ChannelRow:
    row = conn.execute(select(channels).where(channels.c.name == name)).first()
    if row is None:
        known = ", ".join(c.name for c in list_channels(conn)) or "none yet"
        raise UnknownChannelError(
            f"no channel named {name!r} (channels: {known}); see `spendledger channels list`"
        )
    return _channel(row)


def list_channels(conn: Connection) -> list[ChannelRow]:
    return [_channel(r) for r in conn.execute(select(channels).order_by(channels.c.name))]


def remove_channel(conn: Connection, name: str) -> None:
    get_channel(conn, name)
    conn.execute(delete(channels).where(channels.c.name == name))


def record_delivery(
    conn: Connection,
    *,
    alert_id: int,
    channel: str,
    status: str,
    attempts: int,
    last_error: str | None,
    now: datetime,
) -> bool:
    """Log a delivery unless one for this alert and channel exists; whether it was stored."""
    stmt = dialect_insert(conn, deliveries).values(
        alert_id=alert_id,
        channel=channel,
        status=status,
        attempts=attempts,
        last_error=last_error,
        created_at=now,
        sent_at=now if status == "sent" else None,
    )
    stmt = stmt.on_conflict_do_nothing(  # type: ignore[attr-defined]
        index_elements=["alert_id", "channel"]
    ).returning(deliveries.c.id)
    return conn.execute(stmt).scalar() is not None


def delivered(conn: Connection, alert_id: int) -> set[str]:
    """The channels the alert already has a delivery (sent or failed) for."""
    query = select(deliveries.c.channel).where(deliveries.c.alert_id == alert_id)
    return {r.channel for r in conn.execute(query)}


def list_deliveries(conn: Connection, alert_id: int | None = None) -> list[DeliveryRow]:
    """Deliveries (of one alert when `alert_id` is given), oldest first."""
    query = select(deliveries).order_by(deliveries.c.id)
    if alert_id is not None:
        query = query.where(deliveries.c.alert_id == alert_id)
    return [_delivery(r) for r in conn.execute(query)]
