"""The rate table: dated exchange rates, written idempotently, read for conversion.

A rate's natural key is (day, base, currency). Writing a rate that is there with the same
value changes nothing, so importing a file twice changes nothing; a different value
replaces it. A manual rate (`fx set`) wins over files and downloads: `write_rates` keeps
it unless the rate written is manual too. Rates are stored as their exact decimal text.

The daily download's last outcome is kept in ledger_meta (`UPDATE_META`), taken with a
compare-and-set so that of several workers only one downloads at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, select, update

from spendledger.fx.rates import Rate
from spendledger.store.rows import dialect_insert
from spendledger.store.tables import fx_rates, settings_kv

MANUAL = "manual"
UPDATE_META = "fx_update"
_BATCH = 5000


@dataclass(frozen=True)
class RateWrite:
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    kept_manual: int = 0  # rates in the input a manual rate of the same day kept out

    @property
    def written(self) -> int:
        return self.added + self.changed


def _rate(row: Any) -> Rate:
    return Rate(date.fromisoformat(row.day), row.base, row.currency, Decimal(row.rate), row.source)


def write_rates(conn: Connection, rates: Iterable[Rate]) -> RateWrite:
    """Store `rates` (the last of a key wins within them); see the module's rules."""
    wanted = {(r.day.isoformat(), r.base, r.currency): r for r in rates}
    if not wanted:
        return RateWrite()
    days = [d for d, _, _ in wanted]
    stmt = select(
        fx_rates.c.day, fx_rates.c.base, fx_rates.c.currency, fx_rates.c.rate, fx_rates.c.source
    ).where(
        fx_rates.c.currency.in_(sorted({c for _, _, c in wanted})),  # one range read, not a read per rate
        fx_rates.c.day >= min(days),
        fx_rates.c.day <= max(days),
    )
    existing = {(d, b, c): (r, s) for d, b, c, r, s in conn.execute(stmt) if (d, b, c) in wanted}
    new, changed, unchanged, kept = [], [], 0, 0
    for key, rate in wanted.items():
        if key not in existing:
            new.append(rate)
            continue
        text, source = existing[key]
        same = Decimal(text) == rate.rate
        if source == MANUAL and rate.source != MANUAL:
            kept += not same
            unchanged += same
        elif same and (source == rate.source or rate.source != MANUAL):
            unchanged += 1
        else:
            changed.append(rate)
    for i in range(0, len(new), _BATCH):
        conn.execute(insert(fx_rates), [_values(r) for r in new[i : i + _BATCH]])
    for rate in changed:
        conn.execute(
            update(fx_rates)
            .where(_key(rate.day, rate.base, rate.currency))
            .values(rate=_text(rate.rate), source=rate.source)
        )
    return RateWrite(len(new), len(changed), unchanged, kept)


def _values(rate: Rate) -> dict[str, str]:
    return {
        "day": rate.day.isoformat(),
        "base": rate.base,
        "currency": rate.currency,
        "rate": _text(rate.rate),
        "source": rate.source,
    }


def _text(rate: Decimal) -> str:
    return f"{rate:f}"


def _key(day: date, base: str, currency: str) -> Any:
    return and_(fx_rates.c.day == day.isoformat(), fx_rates.c.base == base, fx_rates.c.currency == currency)


def remove_rate(conn: Connection, *, day: date, base: str, currency: str) -> Rate | None:
    """Remove one rate; the rate removed, or None when there was none."""
    row = conn.execute(select(fx_rates).where(_key(day, base, currency))).first()
    if row is None:
        return None
    conn.execute(delete(fx_rates).where(_key(day, base, currency)))
    return _rate(row)


def rates_for(conn: Connection, currencies: Iterable[str], start: date, end: date) -> list[Rate]:
    """Every rate of `currencies` (against any base) from `start` to `end`, and each pair's
    last rate before `start`: all that converting those days can need."""
    wanted = sorted(set(currencies))
    if not wanted:
        return []
    in_range = select(fx_rates).where(
        fx_rates.c.currency.in_(wanted),
        fx_rates.c.day >= start.isoformat(),
        fx_rates.c.day <= end.isoformat(),
    )
    found = [_rate(r) for r in conn.execute(in_range)]
    for base in _distinct(conn, fx_rates.c.base):
        for currency in wanted:  # one seek per pair on the primary key (base, currency, day)
            last = (
                select(fx_rates)
                .where(
                    fx_rates.c.base == base,
                    fx_rates.c.currency == currency,
                    fx_rates.c.day < start.isoformat(),
                )
                .order_by(fx_rates.c.day.desc())
                .limit(1)
            )
            found.extend(_rate(r) for r in conn.execute(last))
    return found


def _distinct(conn: Connection, column: Any) -> list[str]:
    """Every value of an indexed column, one index seek each (a skip scan: neither SQLite nor
    PostgreSQL skips through an index for DISTINCT, and the table holds ~220 k rates)."""
    found: list[str] = []
    value = conn.execute(select(func.min(column))).scalar()
    while value is not None:
        found.append(value)
        value = conn.execute(select(func.min(column)).where(column > value)).scalar()
    return found


def _same_pair(other: Any, day: Any) -> Any:
    """The join of fx_rates to a per-pair subquery, on its pair and `day`."""
    return and_(
        fx_rates.c.base == other.c.base, fx_rates.c.currency == other.c.currency, fx_rates.c.day == day
    )


def list_rates(
    conn: Connection,
    *,
    currency: str | None = None,
    start: date | None = None,
    end: date | None = None,
    limit: int | None = None,
) -> list[Rate]:
    """Rates, newest day first, optionally of one currency (as currency or base) and days."""
    stmt = select(fx_rates)
    if currency:
        stmt = stmt.where((fx_rates.c.currency == currency) | (fx_rates.c.base == currency))
    if start:
        stmt = stmt.where(fx_rates.c.day >= start.isoformat())
    if end:
        stmt = stmt.where(fx_rates.c.day <= end.isoformat())
    stmt = stmt.order_by(fx_rates.c.day.desc(), fx_rates.c.base, fx_rates.c.currency).limit(limit)
    return [_rate(r) for r in conn.execute(stmt)]


@dataclass(frozen=True)
class PairSummary:
    latest: Rate  # the pair's most recent rate
    first_day: date
    days: int  # how many days have a rate


def pair_summaries(conn: Connection) -> list[PairSummary]:
    """Per (base, currency): its latest rate, its first day and how many days it has."""
    span = (
        select(
            fx_rates.c.base,
            fx_rates.c.currency,
            func.min(fx_rates.c.day).label("first"),
            func.max(fx_rates.c.day).label("last"),
            func.count().label("days"),
        )
        .group_by(fx_rates.c.base, fx_rates.c.currency)
        .subquery()
    )
    stmt = (
        select(fx_rates, span.c.first, span.c.days)
        .join(span, _same_pair(span, span.c.last))
        .order_by(fx_rates.c.base, fx_rates.c.currency)
    )
    return [PairSummary(_rate(r), date.fromisoformat(r.first), int(r.days)) for r in conn.execute(stmt)]


def rate_currencies(conn: Connection) -> set[str]:
    """Every currency the table names, as a base or a currency."""
    return {*_distinct(conn, fx_rates.c.base), *_distinct(conn, fx_rates.c.currency)}


# ---- the scheduled download's state --------------------------------------------------------


@dataclass(frozen=True)
class UpdateState:
    at: datetime  # when the last download started
    ok: bool | None  # None: under way (or its process died)
    message: str


def update_state(conn: Connection) -> tuple[str | None, UpdateState | None]:
    """The stored state's raw text (for `claim_update`) and the state it holds."""
    stmt = select(settings_kv.c.value).where(settings_kv.c.name == UPDATE_META)
    raw = conn.execute(stmt).scalar_one_or_none()
    if raw is None:
        return None, None
    data = json.loads(raw)
    return raw, UpdateState(datetime.fromisoformat(data["at"]), data.get("ok"), data.get("message", ""))


def claim_update(conn: Connection, *, seen: str | None, state: UpdateState) -> bool:
    """Store `state` if the stored one is still `seen` (compare-and-set): True when this
    process took the download, False when another took it first."""
    value = _state_text(state)
    # RETURNING tells whether a row was written (psycopg's rowcount of an upsert may be -1)
    if seen is None:
        stmt = dialect_insert(conn, settings_kv).values(name=UPDATE_META, value=value)
        stmt = stmt.on_conflict_do_nothing(index_elements=["name"])  # type: ignore[attr-defined]
        return conn.execute(stmt.returning(settings_kv.c.name)).first() is not None
    stmt2 = (
        update(settings_kv)
        .where(settings_kv.c.name == UPDATE_META, settings_kv.c.value == seen)
        .values(value=value)
        .returning(settings_kv.c.name)
    )
    return conn.execute(stmt2).first() is not None


def set_update_state(conn: Connection, state: UpdateState) -> None:
    stmt = dialect_insert(conn, settings_kv).values(name=UPDATE_META, value=_state_text(state))
    conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={"value": _state_text(state)}))  # type: ignore[attr-defined]


def _state_text(state: UpdateState) -> str:
    return json.dumps({"at": state.at.isoformat(), "ok": state.ok, "message": state.message[:2000]})
