"""The read side's finest grain: the records of a spend question summed per local day,
every dimension and the records' own tags, in day order, streamed.

A FOCUS export (exports/focus.py, through `spendledger.charges`) writes one charge per
such group. No rollup keeps every dimension with the tags, so the groups are summed from
`usage`, with the same days, filters and "best available" rule as every report
(`reads.conditions`), and each dimension named as reports name it, the aliases applied
(`mapped.expression`: OpenAI's "Support bot" is the tracker's "support-bot" here as in
`report --by project`): the groups of a question add up to `reads.spend_sums` of it to
the nano-unit, and a group's project is the one `report --by project` puts its money
under. The database sorts and sums; rows come back `yield_per` at a time (a server-side
cursor on PostgreSQL), so a year's export never sits in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Text, and_, cast, func, select

from spendledger.store import mapped
from spendledger.store.reads import SpendQuestion, conditions
from spendledger.store.tables import MEASURES, usage

# the group: the local day, every dimension but the day's, and the tags as stored (JSON text)
GROUP: tuple[str, ...] = (
    "day",
    "provider",
    "account",
    "workspace",
    "project",
    "api_key_id",
    "model",
    "user",
    "feature",
    "basis",
    "currency",
)
YIELD_PER = 2_000


@dataclass(frozen=True, slots=True)
class ChargeSums:
    """One group's dimensions ('' for none), its tags' JSON text (None for none) and sums."""

    dims: dict[str, str]  # GROUP's columns
    tags: str | None
    sums: dict[str, int]  # tables.MEASURES, cost in nano-units


def charge_sums(conn: Connection, question: SpendQuestion) -> Iterator[ChargeSums]:
    """The question's records summed per (day, dimensions, tags), ordered by day then
    dimensions; each dimension as reports name it (aliases applied, mapped.py)."""
    maps = mapped.load_maps(conn)
    tags = cast(usage.c.tags, Text).label("tags_text")
    columns: list[Any] = [mapped.expression(usage, name, maps).label(name) for name in GROUP]
    stmt = (
        select(*columns, tags, *(func.sum(usage.c[m]).label(m) for m in MEASURES))
        .where(and_(*conditions(question, usage, question.start, question.end, maps)))
        .group_by(*columns, tags)
        .order_by(*columns, tags)
        .execution_options(yield_per=YIELD_PER)
    )
    width = len(GROUP)
    for row in conn.execute(stmt):
        yield ChargeSums(
            dims={name: row[i] or "" for i, name in enumerate(GROUP)},
            tags=row[width],
            sums={m: int(row[width + 1 + i] or 0) for i, m in enumerate(MEASURES)},
        )
