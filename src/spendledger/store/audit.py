"""The audit log: who deleted or changed what, when, and how much money it moved.

One function writes it, `record`, called by the code that makes the change with the
connection of the change's own transaction: the entry and the change are committed (or
rolled back) together, so the log never shows a change that did not happen, nor misses
one that did. Entries are never updated or removed. Admins read them (/audit,
`spendledger audit`, GET /api/v1/audit) through `entries`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert, select

from spendledger.records import as_utc, format_money
from spendledger.store.tables import audit_log

ACTOR_LENGTH = 320
ACTION_LENGTH = 64


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime  # UTC
    actor: str
    action: str
    what: dict[str, Any]
    amount: dict[str, Decimal] | None  # per currency; None: no money involved


def record(
    conn: Connection,
    *,
    actor: str,
    action: str,
    what: Mapping[str, Any],
    amount: Mapping[str, Decimal] | None = None,
    at: datetime | None = None,
) -> None:
    """Write one entry of the audit log, in the caller's transaction.

    Args:
        conn: the connection of the transaction making the change (`engine.begin()`), so
            the entry is committed with the change or not at all.
        actor: who made it: the user's email on the dashboard, `token:NAME` through the
            API with a token, `cli:LOGIN` on the command line (`cli.context.cli_actor()`).
        action: what was done, as `noun.verb`: "records.delete", "source.add",
            "source.remove", "budget.add", "budget.change", "budget.remove",
            "price_override.add", "price_override.remove", "entry.add"...
        what: what it was done to, as a small JSON-able mapping ({"name": "web",
            "records": 120}); dates, datetimes and Decimals are stored as strings. Never
            put a secret here (a key, a password, a channel's URL).
        amount: the money it moved or removed, per currency ({"USD": Decimal("12.50")});
            None when no money is involved.
        at: when; now by default.
    """
    conn.execute(
        insert(audit_log).values(
            at=(at or datetime.now(UTC)).astimezone(UTC),  # SQLite compares the text: one zone
            actor=actor[:ACTOR_LENGTH],
            action=action[:ACTION_LENGTH],
            what=json.loads(json.dumps(dict(what), default=_plain)),
            amount=None if amount is None else {c: format_money(a) for c, a in sorted(amount.items())},
        )
    )


def entries(
    conn: Connection,
    *,
    start: date | None = None,
    end: date | None = None,
    tz: ZoneInfo,
    limit: int | None = None,
) -> list[AuditEntry]:
    """The entries written on the local days `start` to `end` (both included; None: no
    bound) of zone `tz`, newest first, at most `limit`."""
    query = select(audit_log).order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
    if start is not None:
        query = query.where(audit_log.c.at >= datetime.combine(start, time(), tz).astimezone(UTC))
    if end is not None:
        query = query.where(
            audit_log.c.at < datetime.combine(end + timedelta(days=1), time(), tz).astimezone(UTC)
        )
    if limit is not None:
        query = query.limit(limit)
    return [
        AuditEntry(
            id=int(row.id),
            at=as_utc(row.at),
            actor=row.actor,
            action=row.action,
            what=dict(row.what),
            amount=None if row.amount is None else {c: Decimal(a) for c, a in row.amount.items()},
        )
        for row in conn.execute(query)
    ]


def describe(what: Mapping[str, Any]) -> str:
    """An entry's `what` in one line, as the page and the CLI show it:
    "scope: provider=openai · records: 12"."""

    def text(v: Any) -> str:
        if isinstance(v, dict):
            return ", ".join(f"{k}={text(x)}" for k, x in v.items())
        if isinstance(v, list):
            return ", ".join(text(x) for x in v)
        return "—" if v is None else str(v)

    return " · ".join(f"{k}: {text(v)}" for k, v in what.items())


def _plain(value: object) -> str:
    """A value JSON cannot hold, as the string people read it by."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format_money(value)  # exact, at least two places: "500.00", "0.000125"
    return str(value)
