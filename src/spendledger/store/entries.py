"""Manual entries' records: the SQL behind `spendledger entries` (no table of their own).

An entry is the set of `usage` records of source "manual" whose key starts with
`entry|<id>|` (one record per day it covers). Writing and removing go through the
ledger's verbs (`replace_where`, `delete_where`), so the rollups' journal follows in the
same transaction; this module only names an entry's records and reads them back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, and_, or_, select

from spendledger.records import UsageRecord
from spendledger.store.ledger import delete_where, replace_where
from spendledger.store.tables import usage

SOURCE = "manual"
KEY_PREFIX = "entry|"
# the columns an entry is rebuilt from (besides key, day and the cost)
ENTRY_DIMENSIONS = ("provider", "account", "workspace", "project", "user", "feature", "model", "currency")


@dataclass(frozen=True)
class EntryDayRow:
    """One stored day of an entry."""

    entry_id: str
    day: str  # the local day (YYYY-MM-DD) the record counts on
    cost_nanos: int
    dims: dict[str, str]  # ENTRY_DIMENSIONS → value
    tags: dict[str, Any]


def _of(entry_id: str) -> ColumnElement[bool]:
    return and_(usage.c.source == SOURCE, usage.c.key.startswith(f"{KEY_PREFIX}{entry_id}|", autoescape=True))


def replace_entry(
    conn: Connection, entry_id: str, records: Sequence[UsageRecord], *, tz: ZoneInfo, now: datetime
) -> tuple[int, int]:
    """Replace entry `entry_id`'s records by `records` (its new days); (removed, written)."""
    return replace_where(conn, _of(entry_id), records, tz=tz, now=now)


def delete_entry(conn: Connection, entry_id: str) -> int:
    """Delete entry `entry_id`'s records, the rollups following; how many were deleted."""
    return delete_where(conn, _of(entry_id))


def entry_days(
    conn: Connection,
    *,
    ids: Sequence[str] | None = None,
    scope: Mapping[str, Sequence[str]] | None = None,
) -> list[EntryDayRow]:
    """The stored days of every entry (or of `ids`), in day order; with `scope`
    (dimension → allowed values, a member's), only the entries within it."""
    condition = and_(usage.c.source == SOURCE, usage.c.key.startswith(KEY_PREFIX))
    if ids is not None:
        if not ids:
            return []
        condition = and_(condition, or_(*(_of(i) for i in ids)))
    for dim, allowed in (scope or {}).items():
        condition = and_(condition, usage.c[dim].in_(list(allowed)))
    query = (
        select(
            usage.c.key,
            usage.c.day,
            usage.c.cost_nanos,
            usage.c.tags,
            *(usage.c[d] for d in ENTRY_DIMENSIONS),
        )
        .where(condition)
        .order_by(usage.c.day, usage.c.key)
    )
    return [
        EntryDayRow(
            entry_id=row.key.removeprefix(KEY_PREFIX).rsplit("|", 1)[0],
            day=row.day,
            cost_nanos=int(row.cost_nanos),
            dims={d: row._mapping[d] for d in ENTRY_DIMENSIONS},
            tags=row.tags or {},
        )
        for row in conn.execute(query)
    ]


def entry_exists(conn: Connection, entry_id: str) -> bool:
    return conn.execute(select(usage.c.id).where(_of(entry_id)).limit(1)).first() is not None
