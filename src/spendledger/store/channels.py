"""Notification channels (where alerts are sent) and the log of what was sent to each.

A channel's URL is stored sealed (secrets.py: it often holds a token or a password) with
a masked hint to show; sealing and opening are the caller's. A delivery is one alert sent
(or not) to one channel, stored once per alert and channel: `claim_delivery` inserts it as
`sending` with ON CONFLICT DO NOTHING, so of any number of processes exactly one gets the
claim, and `finish_delivery` records how the send went (`sent` or `failed`); sends.py holds
that rule for digest sends too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from spendledger.errors import SpendledgerError
from spendledger.records import as_utc
from spendledger.store import sends
from spendledger.store.tables import alerts, channels, deliveries


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
    status: str  # sending (claimed, the send under way or its process gone) | sent | failed
    attempts: int
    last_error: str | None = None
    created_at: datetime | None = None  # when it was claimed
    sent_at: datetime | None = None
    id: int | None = None


@dataclass(frozen=True)
class OpenAlert:
    """An open alert and the channels it has a delivery (of any status) for."""

    alert_id: int
    budget: str
    delivered: frozenset[str]


class ChannelExistsError(SpendledgerError, ValueError):
    pass


class UnknownChannelError(SpendledgerError, LookupError):
    pass


def _channel(r: Any) -> ChannelRow:
    m = r._mapping
    return ChannelRow(
        id=m["id"], name=m["name"], url=m["url"], url_hint=m["url_hint"], created_at=as_utc(m["created_at"])
    )


def delivery_of(r: Any) -> DeliveryRow:
    """A row of `deliveries` (or of a select holding its columns) as a DeliveryRow."""
    m = r._mapping
    return DeliveryRow(alert_id=m["alert_id"], **sends.send_fields(m))


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


def claim_delivery(conn: Connection, *, alert_id: int, channel: str, now: datetime) -> int | None:
    """Claim sending the alert to the channel: a `sending` delivery, unless one for this alert
    and channel exists; its id, or None when the alert was claimed before. Commit it at once
    (alone in its transaction) so that other processes see it."""
    return sends.claim(conn, deliveries, {"alert_id": alert_id, "channel": channel}, now=now)


def finish_delivery(
    conn: Connection, delivery_id: int, *, sent: bool, attempts: int, last_error: str | None, now: datetime
) -> None:
    """Record how a claimed delivery went: sent (at `now`) or failed, with the attempts made."""
    sends.finish(conn, deliveries, delivery_id, sent=sent, attempts=attempts, last_error=last_error, now=now)


def delivered(conn: Connection, alert_ids: Iterable[int]) -> dict[int, set[str]]:
    """The channels each alert has a delivery (sending, sent or failed) for."""
    ids = list(alert_ids)
    found: dict[int, set[str]] = {i: set() for i in ids}
    if ids:
        query = select(deliveries.c.alert_id, deliveries.c.channel).where(deliveries.c.alert_id.in_(ids))
        for r in conn.execute(query):
            found[r.alert_id].add(r.channel)
    return found


def open_alerts_since(conn: Connection, since: datetime) -> list[OpenAlert]:
    """The open alerts raised at or after `since`, oldest first, with their deliveries' channels."""
    query = (
        select(alerts.c.id, alerts.c.budget, deliveries.c.channel)
        .select_from(alerts.outerjoin(deliveries, deliveries.c.alert_id == alerts.c.id))
        .where(alerts.c.status == "open", alerts.c.created_at >= as_utc(since))
        .order_by(alerts.c.id)
    )
    budgets: dict[int, str] = {}
    names: dict[int, set[str]] = {}
    for r in conn.execute(query):
        budgets[r.id] = r.budget
        names.setdefault(r.id, set()).update([r.channel] if r.channel is not None else [])
    return [OpenAlert(i, budgets[i], frozenset(names[i])) for i in budgets]


def list_deliveries(conn: Connection, alert_id: int | None = None) -> list[DeliveryRow]:
    """Deliveries (of one alert when `alert_id` is given), oldest first."""
    query = select(deliveries).order_by(deliveries.c.id)
    if alert_id is not None:
        query = query.where(deliveries.c.alert_id == alert_id)
    return [delivery_of(r) for r in conn.execute(query)]
