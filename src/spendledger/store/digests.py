"""Scheduled digests (which summary goes to which channel) and the log of each one sent.

A digest is a kind (weekly | monthly) and a channel, once each. A send is one digest's
period sent (or not) to one channel, stored once per kind, period and channel:
`claim_send` inserts it as `sending` with ON CONFLICT DO NOTHING, so of any number of
processes exactly one gets the claim, and `finish_send` records how it went (sends.py:
the rule alert deliveries share).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select

from spendledger.errors import SpendledgerError
from spendledger.records import as_utc
from spendledger.store import sends
from spendledger.store.channels import get_channel
from spendledger.store.rows import dialect_insert
from spendledger.store.tables import digest_sends, digests

KINDS: tuple[str, ...] = ("weekly", "monthly")


class DigestError(SpendledgerError, ValueError):
    """A digest that cannot be added or removed as asked; the message says what to do."""


@dataclass(frozen=True)
class DigestRow:
    kind: str
    channel: str
    created_at: datetime
    id: int | None = None


@dataclass(frozen=True)
class DigestSend:
    kind: str
    period: str
    channel: str
    status: str  # sending (claimed; the send under way or its process gone) | sent | failed
    attempts: int
    last_error: str | None
    created_at: datetime  # when it was claimed
    sent_at: datetime | None
    id: int | None = None


def _digest(r: Any) -> DigestRow:
    m = r._mapping
    return DigestRow(kind=m["kind"], channel=m["channel"], created_at=as_utc(m["created_at"]), id=m["id"])


def _send(r: Any) -> DigestSend:
    m = r._mapping
    return DigestSend(kind=m["kind"], period=m["period"], **sends.send_fields(m))


def add_digest(conn: Connection, *, kind: str, channel: str, now: datetime) -> DigestRow | None:
    """Send the `kind` digest to `channel` from now on; None when it is sent there already.
    The channel must exist (UnknownChannelError names the known ones)."""
    _check_kind(kind)
    get_channel(conn, channel)
    stmt = dialect_insert(conn, digests).values(kind=kind, channel=channel, created_at=now)
    stmt = stmt.on_conflict_do_nothing(  # type: ignore[attr-defined]
        index_elements=["kind", "channel"]
    ).returning(*digests.c)
    row = conn.execute(stmt).first()
    return None if row is None else _digest(row)


def remove_digest(conn: Connection, *, kind: str, channel: str | None = None) -> list[DigestRow]:
    """Stop the `kind` digest on `channel` (None: on every channel); the digests removed."""
    _check_kind(kind)
    query = select(digests).where(digests.c.kind == kind)
    if channel is not None:
        query = query.where(digests.c.channel == channel)
    removed = [_digest(r) for r in conn.execute(query)]
    if not removed:
        where = f" to channel {channel!r}" if channel else ""
        raise DigestError(f"no {kind} digest is sent{where}; see `spendledger digests list`")
    conn.execute(delete(digests).where(digests.c.id.in_([d.id for d in removed])))
    return removed


def list_digests(conn: Connection) -> list[DigestRow]:
    query = select(digests).order_by(digests.c.kind, digests.c.channel)
    return [_digest(r) for r in conn.execute(query)]


def claim_send(conn: Connection, *, kind: str, period: str, channel: str, now: datetime) -> int | None:
    """Claim sending the `kind` digest of `period` to `channel`: its id, or None when it was
    claimed before. Commit it at once (alone in its transaction) so other processes see it."""
    return sends.claim(conn, digest_sends, {"kind": kind, "period": period, "channel": channel}, now=now)


def finish_send(
    conn: Connection, send_id: int, *, sent: bool, attempts: int, last_error: str | None, now: datetime
) -> None:
    sends.finish(conn, digest_sends, send_id, sent=sent, attempts=attempts, last_error=last_error, now=now)


def sends_of(conn: Connection, *, kind: str, period: str) -> set[str]:
    """The channels the `kind` digest of `period` has a send (of any status) for."""
    query = select(digest_sends.c.channel).where(digest_sends.c.kind == kind, digest_sends.c.period == period)
    return set(conn.execute(query).scalars())


def list_sends(conn: Connection, *, limit: int | None = None) -> list[DigestSend]:
    """The sends, newest first."""
    query = select(digest_sends).order_by(digest_sends.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return [_send(r) for r in conn.execute(query)]


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise DigestError(f"{kind!r} is not a digest; use one of {', '.join(KINDS)}")
