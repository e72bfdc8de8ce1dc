"""Sends claimed once: the rule alert deliveries (channels.py) and digest sends
(digests.py) share.

A send is a row keyed by what is sent and where (an alert and a channel; a digest's kind,
period and channel, each the table's unique key). `claim` inserts it as `sending` with
ON CONFLICT DO NOTHING, so of any number of processes exactly one gets the claim, provided
the caller commits it at once, alone in its transaction; `finish` records how the send
went (`sent` at a moment, or `failed`) with the attempts made and the last error.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, update

from spendledger.records import as_utc
from spendledger.store.rows import dialect_insert


def send_fields(m: Mapping[str, Any]) -> dict[str, Any]:
    """The columns every send row has (id, channel, status, attempts, last error, when
    created and sent), as the fields of the dataclass a store module reads it into."""
    return {
        "id": m["id"],
        "channel": m["channel"],
        "status": m["status"],
        "attempts": m["attempts"],
        "last_error": m["last_error"],
        "created_at": as_utc(m["created_at"]),
        "sent_at": as_utc(m["sent_at"]) if m["sent_at"] else None,
    }


def claim(conn: Connection, table: Table, key: Mapping[str, Any], *, now: datetime) -> int | None:
    """A `sending` row of `table` for `key` (its unique columns): its id, or None when one was
    claimed before."""
    stmt = dialect_insert(conn, table).values(**key, status="sending", attempts=0, created_at=now)
    stmt = stmt.on_conflict_do_nothing(index_elements=list(key)).returning(  # type: ignore[attr-defined]
        table.c.id
    )
    claimed: int | None = conn.execute(stmt).scalar()
    return claimed


def finish(
    conn: Connection,
    table: Table,
    send_id: int,
    *,
    sent: bool,
    attempts: int,
    last_error: str | None,
    now: datetime,
) -> None:
    """Record how a claimed send went: sent (at `now`) or failed, with the attempts made."""
    conn.execute(
        update(table)
        .where(table.c.id == send_id)
        .values(
            status="sent" if sent else "failed",
            attempts=attempts,
            last_error=last_error,
            sent_at=now if sent else None,
        )
    )
