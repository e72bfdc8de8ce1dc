"""Daily rollups, kept current in the writer's transaction and rebuildable from `usage`.

A write computes the change it makes to each rollup row (a delta per measure), then
applies it with one multi-row INSERT ... ON CONFLICT DO UPDATE per grain and chunk.
Rows are sorted by key so that concurrent PostgreSQL writers lock them in one order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from spendledger.store import bulk
from spendledger.store.tables import GRAINS, MEASURES, rollups, usage

# Every dimension any grain holds: deltas are gathered once at this grain, then
# projected onto each rollup.
_ALL_DIMS: tuple[str, ...] = tuple(dict.fromkeys(d for dims in GRAINS.values() for d in dims))
FINE_KEY: tuple[str, ...] = ("day", *_ALL_DIMS, "basis", "currency")
_ADD = {m: f"{{t}}.{m} + excluded.{m}" for m in MEASURES}

Delta = dict[tuple[Any, ...], list[int]]


def new_delta() -> Delta:
    return {}


def add_rows(delta: Delta, rows: Iterable[Mapping[Any, Any]], sign: int = 1) -> None:
    """Add (or with sign=-1 subtract) usage rows to the delta at the fine grain."""
    for row in rows:
        key = tuple([row[k] for k in FINE_KEY])
        values = [row[m] for m in MEASURES]
        acc = delta.get(key)
        if acc is None:
            delta[key] = values if sign == 1 else [-v for v in values]
        else:
            delta[key] = [a + sign * v for a, v in zip(acc, values, strict=True)]


def apply(conn: Connection, delta: Delta) -> None:
    """Apply a delta to every rollup; rows left with no records are removed."""
    if not delta:
        return
    shrinking = False
    for name, dims in GRAINS.items():
        keys = ("day", *dims, "basis", "currency")
        positions = [FINE_KEY.index(k) for k in keys]
        projected: dict[tuple[Any, ...], list[int]] = {}
        for fine, values in delta.items():
            key = tuple(fine[p] for p in positions)
            acc = projected.get(key)
            if acc is None:
                projected[key] = list(values)
            else:
                for i, v in enumerate(values):
                    acc[i] += v
        rows = [
            {**dict(zip(keys, key, strict=True)), **dict(zip(MEASURES, values, strict=True))}
            for key, values in sorted(projected.items())
            if any(values)
        ]
        shrinking = shrinking or any(r["records"] < 0 for r in rows)
        bulk.upsert(conn, rollups[name], rows, conflict=keys, update=_ADD)
    if shrinking:
        for table in rollups.values():
            conn.execute(delete(table).where(table.c.records <= 0))


def rebuild(conn: Connection) -> dict[str, int]:
    """Recompute every rollup from `usage`; returns the row count of each."""
    counts: dict[str, int] = {}
    for name, dims in GRAINS.items():
        table = rollups[name]
        keys = ("day", *dims, "basis", "currency")
        conn.execute(delete(table))
        query = select(
            *(usage.c[k] for k in keys), *(func.sum(usage.c[m]).label(m) for m in MEASURES)
        ).group_by(*(usage.c[k] for k in keys))
        conn.execute(insert(table).from_select([*keys, *MEASURES], query))
        counts[name] = conn.execute(select(func.count()).select_from(table)).scalar_one()
    return counts
