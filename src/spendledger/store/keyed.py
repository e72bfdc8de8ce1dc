"""Records read back by the start of their key: one way in's records with their tags.

The rollups sum measures, not tags; a way in that keeps a figure in its records' tags
(the coding agents' usage value of calls a subscription covers, spendledger.agents)
reads its records here, over a range of local days, and sums what it needs itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, or_, select

from spendledger.store.tables import usage

_COLUMNS = (
    "key",
    "day",
    "provider",
    "model",
    "user",
    "project",
    "feature",
    "tags",
    "requests",
    "input_tokens",
    "output_tokens",
    "cost_nanos",
    "currency",
    "unpriced_requests",
)


@dataclass(frozen=True, slots=True)
class KeyedRecord:
    key: str
    day: str  # the local day, YYYY-MM-DD
    provider: str
    model: str
    user: str
    project: str
    feature: str
    tags: dict[str, Any] | None
    requests: int
    input_tokens: int
    output_tokens: int
    cost_nanos: int
    currency: str
    unpriced_requests: int


def records_by_key_prefix(
    conn: Connection, *, prefixes: Sequence[str], first_day: str, last_day: str
) -> Iterator[KeyedRecord]:
    """The records whose key starts with one of `prefixes`, on local days first..last (inclusive)."""
    if not prefixes:
        return
    statement = select(*(usage.c[name] for name in _COLUMNS)).where(
        usage.c.day >= first_day,
        usage.c.day <= last_day,
        or_(*(usage.c.key.startswith(prefix, autoescape=True) for prefix in prefixes)),
    )
    for row in conn.execute(statement):
        yield KeyedRecord(*row)
