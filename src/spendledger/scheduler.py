"""The sync scheduler: every source, on its interval, by whichever process gets its lease.

`serve` runs it in a background thread, `spendledger worker` on its own. Any number of
them may run against one database: a source is due when its last run started at least
`interval_minutes` ago, and `sync.sync_source` takes the source's lease before it runs,
so a due source is synced by exactly one of them. After the syncs, each round evaluates
the alerts and sends the notifications and the weekly and monthly digests due (each claimed
once across processes). With SPENDLEDGER_FX_DAILY_UPDATE, each round also downloads the
ECB's exchange rates when they are due (imports/fx_rates.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from spendledger.alerts.delivery import notify_pending
from spendledger.alerts.evaluate import evaluate, headline
from spendledger.config import Settings
from spendledger.imports.fx_rates import update_in_round
from spendledger.ingest.subscriptions import sync_in_round
from spendledger.reports.digests import send_due_digests
from spendledger.secrets import load_vault
from spendledger.store import Engine, partitions
from spendledger.store.alerts import AlertRow
from spendledger.store.folder import Running
from spendledger.store.sources import list_sources
from spendledger.sync import SyncOutcome, default_owner, is_due, sync_source

log = logging.getLogger("spendledger.scheduler")


def due(engine: Engine, *, now: datetime) -> list[str]:
    """The sources whose interval has passed since their last run started."""
    with engine.connect() as conn:
        rows = list_sources(conn)
    return [s.name for s in rows if is_due(s, now=now)]


def run_due(
    engine: Engine, settings: Settings, *, owner: str, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> list[SyncOutcome]:
    """Sync every due source once (those another process holds are skipped)."""
    outcomes = []
    for name in due(engine, now=now()):
        outcome = sync_source(engine, settings, name, owner=owner, now=now, only_if_due=True)
        if outcome.skipped:
            log.info("source %s: skipped, %s", name, outcome.error)
        elif outcome.error:
            log.warning("source %s: sync failed: %s", name, outcome.error)
        else:
            log.info("source %s: %d pages, %d records", name, outcome.pages, outcome.records)
        outcomes.append(outcome)
    try:  # PostgreSQL: usage's partitions for the months ahead (nothing to do most rounds)
        with engine.begin() as conn:
            partitions.maintain(conn, today=now().date())
    except Exception:
        log.exception("making the partitions of the months ahead failed")
    try:  # seat subscriptions' records up to today, once the syncs that may cover them ran
        sync_in_round(engine, tz=settings.tz, now=now())
    except Exception:
        log.exception("writing the seat subscriptions' records failed")
    if settings.fx_daily_update:  # the ECB's rates, twice a day (a failure is logged and kept)
        try:
            update_in_round(engine, url=settings.fx_url, now=now())
        except Exception:
            log.exception("updating the exchange rates failed")
    evaluate_and_notify(engine, settings, at=now())  # on what the syncs brought
    try:  # the weekly and monthly digests due, each claimed once across processes
        send_due_digests(engine, settings, now=now())
    except Exception:
        log.exception("sending the digests failed")
    return outcomes


def evaluate_and_notify(engine: Engine, settings: Settings, *, at: datetime | None = None) -> list[AlertRow]:
    """Raise the alerts due, then send every recent alert not sent yet: the new ones and any
    a crashed process raised but never sent (notify.notify_pending). Failures are logged,
    never raised (they must not block a sync round or an ingest batch). The alerts raised here."""
    moment = at or datetime.now(UTC)
    raised: list[AlertRow] = []
    try:
        with engine.begin() as conn:
            raised = evaluate(conn, tz=settings.tz, at=moment)
        for alert in raised:
            log.info("alert raised: %s for %s", headline(alert), alert.window_start)
    except Exception:
        log.exception("checking budgets' alerts failed")
    try:  # each claimed once across processes; a failing channel is logged, never blocks the round
        vault = load_vault(settings)
        notify_pending(engine, vault=vault, dashboard_url=settings.public_url, at=moment)
    except Exception:
        log.exception("sending alerts' notifications failed")
    return raised


def run_forever(engine: Engine, settings: Settings, *, stop: threading.Event, poll: float = 60.0) -> None:
    """Run due syncs until `stop` is set, checking every `poll` seconds."""
    owner = default_owner()
    while not stop.is_set():
        try:
            run_due(engine, settings, owner=owner)
        except Exception:  # the database went away, say: log it, try again next round
            log.exception("scheduler round failed")
        stop.wait(poll)


def start_in_thread(engine: Engine, settings: Settings, *, poll: float = 60.0) -> Running:
    """Start the scheduler in a daemon thread; `.stop()` the returned handle to end it."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run_forever, args=(engine, settings), kwargs={"stop": stop, "poll": poll}, daemon=True
    )
    thread.name = "spendledger-scheduler"
    thread.start()
    return Running(stop, thread)
