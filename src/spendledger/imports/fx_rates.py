"""Rates into the rate table: a file (`fx import`), the ECB's download (`fx update`, and the
scheduler's daily round) and a rate set by hand (`fx set`).

Every way is idempotent (store/fx_rates.py: a rate already there with its value changes
nothing) and keeps the good lines of a file with bad ones, naming each bad line (line,
column, reason). A change made by hand is written to the audit log in the same
transaction. The scheduler's download runs in one process at a time (a compare-and-set on
its stored state) and records its outcome, success or failure, for `fx list` to show; a
failure is logged and tried again an hour later, never raised into the round.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import httpx

from spendledger.errors import SpendledgerError
from spendledger.fx.fetch import fetch_rate_file
from spendledger.fx.files import RateRejected, read_rates
from spendledger.fx.rates import ECB_BASE, Rate, make_rate
from spendledger.store import Connection, Engine, audit
from spendledger.store.fx_rates import (
    MANUAL,
    RateWrite,
    UpdateState,
    claim_update,
    remove_rate,
    set_update_state,
    update_state,
    write_rates,
)

log = logging.getLogger("spendledger.fx")

MAX_REJECTIONS = 100  # kept in a result (all are counted)
UPDATE_EVERY = timedelta(hours=12)  # the ECB publishes once a working day, ~16:00 CET
RETRY_AFTER = timedelta(hours=1)  # after a failed (or abandoned) download


class RateNotFoundError(SpendledgerError, LookupError):
    """A rate asked for by its day and currency that the table does not hold."""


@dataclass
class RateImport:
    format: str  # ecb-xml, ecb-csv or generic-csv
    rates: int  # good rates read
    write: RateWrite
    rejected: list[RateRejected] = field(default_factory=list)  # the first MAX_REJECTIONS
    rejected_count: int = 0
    first_day: date | None = None
    last_day: date | None = None
    currencies: list[str] = field(default_factory=list)

    def summary(self) -> str:
        days = f" from {self.first_day} to {self.last_day}" if self.first_day else ""
        kept = f", {self.write.kept_manual} kept manual" if self.write.kept_manual else ""
        bad = f", {self.rejected_count} lines rejected" if self.rejected_count else ""
        w = self.write
        return (
            f"{self.rates} rates ({self.format}){days}: {w.added} new, {w.changed} changed, "
            f"{w.unchanged} unchanged{kept}{bad}"
        )


def import_rates(conn: Connection, data: bytes, *, name: str, actor: str | None = None) -> RateImport:
    """Read a rate file's bytes and store its good rates; with `actor`, audit-log the change.

    An ECB file's rates carry the source "ecb", a generic file's "file:NAME".
    """
    fmt, rows = read_rates(data, source="ecb")
    rates: list[Rate] = []
    rejected: list[RateRejected] = []
    count = 0
    generic = fmt == "generic-csv"
    for row in rows:
        if isinstance(row, RateRejected):
            count += 1
            if len(rejected) < MAX_REJECTIONS:
                rejected.append(row)
        else:
            source = f"file:{name}"[:200] if generic else row.source
            rates.append(Rate(row.day, row.base, row.currency, row.rate, source))
    written = write_rates(conn, rates)
    days = sorted({r.day for r in rates})
    result = RateImport(
        fmt,
        len(rates),
        written,
        rejected,
        count,
        days[0] if days else None,
        days[-1] if days else None,
        sorted({r.currency for r in rates} | {r.base for r in rates}),
    )
    if actor and written.written:
        audit.record(
            conn,
            actor=actor,
            action="fx.import",
            what={"file": name, "format": fmt, "added": written.added, "changed": written.changed},
        )
    return result


def update_rates(
    engine: Engine,
    *,
    url: str,
    actor: str | None = None,
    client: httpx.Client | None = None,
    now: datetime | None = None,
) -> RateImport:
    """Download the rate file at `url` and store it; the outcome is kept for `fx list`."""
    started = now or datetime.now(UTC)
    try:
        data = fetch_rate_file(url, client=client)
        with engine.begin() as conn:
            result = import_rates(conn, data, name=url, actor=actor)
            set_update_state(conn, UpdateState(started, True, f"{url}: {result.summary()}"))
        return result
    except SpendledgerError as exc:
        with engine.begin() as conn:
            set_update_state(conn, UpdateState(started, False, str(exc)))
        raise


def update_in_round(
    engine: Engine, *, url: str, now: datetime, client: httpx.Client | None = None
) -> RateImport | None:
    """The scheduler's step: download when the last download is UPDATE_EVERY old (a failed
    one: RETRY_AFTER), in one process at a time; None when not due or another took it.
    A failure is logged and stored, never raised."""
    with engine.begin() as conn:
        seen, state = update_state(conn)
        if state is not None and now - state.at < (UPDATE_EVERY if state.ok else RETRY_AFTER):
            return None
        if not claim_update(conn, seen=seen, state=UpdateState(now, None, f"{url}: under way")):
            return None
    try:
        result = update_rates(engine, url=url, client=client, now=now)
    except SpendledgerError as exc:
        log.warning("exchange rates: the download failed: %s", exc)
        return None
    log.info("exchange rates: %s", result.summary())
    return result


def last_update(conn: Connection) -> UpdateState | None:
    """The last download's outcome (by hand or scheduled), or None when there was none."""
    return update_state(conn)[1]


def set_rate(
    conn: Connection, *, day: str, currency: str, rate: str, base: str = ECB_BASE, actor: str
) -> tuple[Rate, Rate | None]:
    """Record a rate by hand (it wins over imports); the rate and the one it replaced."""
    new = make_rate(day, currency, rate, base=base, source=MANUAL)
    previous = remove_rate(conn, day=new.day, base=new.base, currency=new.currency)
    write_rates(conn, [new])
    audit.record(
        conn,
        actor=actor,
        action="fx.set",
        what={
            "day": new.day,
            "base": new.base,
            "currency": new.currency,
            "rate": f"{new.rate:f}",
            "previous": None if previous is None else f"{previous.rate:f} ({previous.source})",
        },
    )
    return new, previous


def unset_rate(conn: Connection, *, day: str, currency: str, base: str = ECB_BASE, actor: str) -> Rate:
    """Remove one rate by hand (audit-logged); an unknown rate is an error naming it."""
    key = make_rate(day, currency, "1", base=base, source=MANUAL)
    removed = remove_rate(conn, day=key.day, base=key.base, currency=key.currency)
    if removed is None:
        raise RateNotFoundError(
            f"no rate for {key.base}→{key.currency} on {key.day}; see `spendledger fx list --currency "
            f"{key.currency}`",
            field="day",
        )
    audit.record(
        conn,
        actor=actor,
        action="fx.remove",
        what={
            "day": removed.day,
            "base": removed.base,
            "currency": removed.currency,
            "rate": f"{removed.rate:f}",
        },
    )
    return removed
