"""Notification delivery: alerts sent to their channels once each, retried, logged.

Sending one message is alerts.transport's part; this module decides which alerts go to
which channels, claims each delivery, retries and records the outcome.

Once across processes, with no gap: each alert and channel is first claimed — a delivery
row stored as `sending` with ON CONFLICT DO NOTHING on (alert, channel) and committed on
its own — and only the process whose insert stored the row sends; it then records `sent`
or `failed` with the attempts made. Whoever raised an alert (evaluate.evaluate returns
only the new ones) may send it with `notify`; `notify_pending`, which every scheduler round
runs, sends the open alerts of the last day that lack a delivery for one of their
channels, so an alert raised by a process that died before sending it goes out on the
next round, once.

At most once rather than at least once: a claim whose process died mid-send stays
`sending` (its created_at says since when) and is never sent again automatically. The
message may well have gone out; a gap the delivery log shows beats paging people twice.

A failing channel is retried with exponential backoff, then logged as failed; it never
blocks the other channels and never raises.

Each message carries its level (evaluate.severity): Apprise's notify type WARNING below
100 % of a budget, FAILURE at or over it, so a JSON webhook's `type`, Slack's colour and
the title every service shows ("spendledger failure — budget web reached 100 %") say it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from spendledger.alerts.evaluate import describe, headline, severity
from spendledger.alerts.links import alert_explore_path
from spendledger.alerts.transport import Attachment, send
from spendledger.secrets import Vault
from spendledger.store import Connection, Engine
from spendledger.store.alerts import AlertRow, get_alert
from spendledger.store.balances import list_rules
from spendledger.store.budgets import BudgetRow, list_budgets
from spendledger.store.channels import (
    ChannelRow,
    claim_delivery,
    delivered,
    finish_delivery,
    list_channels,
    open_alerts_since,
)

log = logging.getLogger("spendledger.notify")  # its name before the alerts package: log filters may use it

PENDING_WITHIN = timedelta(hours=24)  # how far back notify_pending looks for unsent alerts


@dataclass(frozen=True)
class Delivery:
    alert_id: int
    channel: str
    status: str  # sent | failed
    attempts: int
    error: str | None = None


def message(
    alert: AlertRow, dashboard_url: str | None = None, *, budget: BudgetRow | None = None
) -> tuple[str, str]:
    """An alert's title and body: its level and headline ("spendledger warning — budget web
    reached 80 %"), its words, the explorer view that explains it (the budget's scope over
    its window, or the anomaly's subject) and the alert centre."""
    title = f"spendledger {severity(alert)} — {headline(alert)}"
    body = describe(alert)
    if dashboard_url:
        base = dashboard_url.rstrip("/")
        today = alert.created_at.date() if alert.created_at else alert.window_end
        view = alert_explore_path(alert, budget, today=today)
        body += f"\n\nWhy: {base}{view}\nDetails: {base}/alerts"
    return title, body


def send_with_retries(
    url: str,
    title: str,
    body: str,
    *,
    level: str = "info",
    attach: Attachment | None = None,
    retries: int = 3,
    backoff: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[int, str | None]:
    """Send, retrying `retries` times after a failure (waiting backoff, 2×backoff, ...):
    the attempts made and the last error (None when sent)."""
    error: str | None = None
    for attempt in range(retries + 1):
        if attempt:
            sleep(backoff * 2 ** (attempt - 1))
        try:
            send(url, title, body, level=level, attach=attach)
        except Exception as exc:  # noqa: BLE001 - any failure of a channel is logged, never raised
            error = str(exc) or exc.__class__.__name__
            continue
        return attempt + 1, None
    return retries + 1, error


@dataclass(frozen=True)
class _Routes:
    """Where alerts go: a budget's (or a balance rule's) own channels when it names some, else
    every channel."""

    every: list[ChannelRow]
    picked: dict[str, list[str]]
    budgets: dict[str, BudgetRow]

    @classmethod
    def load(cls, conn: Connection) -> _Routes:
        budgets = {b.name: b for b in list_budgets(conn)}
        picked = {name: list(b.channels) for name, b in budgets.items() if b.channels}
        picked.update({r.subject: list(r.channels) for r in list_rules(conn) if r.channels})
        return cls(every=list_channels(conn), picked=picked, budgets=budgets)

    def targets(self, budget: str) -> list[ChannelRow]:
        names = self.picked.get(budget)
        return [c for c in self.every if c.name in names] if names else self.every


def _engine(db: Engine | Connection) -> Engine:
    return db if isinstance(db, Engine) else db.engine


def notify(
    db: Engine | Connection,
    alerts: Sequence[AlertRow],
    *,
    vault: Vault,
    dashboard_url: str | None = None,
    retries: int = 3,
    backoff: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[Delivery]:
    """Send each alert to its channels (a budget's own when it names some, else every channel)
    unless a delivery exists, claiming each first; the deliveries this call made.

    `db` is an engine, or a connection whose engine is used: each claim and each result
    commits in its own short transaction, so the alerts must be committed already.
    """
    ids = [a.id for a in alerts if a.id is not None]
    if not ids:
        return []
    engine = _engine(db)
    with engine.connect() as conn:
        routes = _Routes.load(conn)
        done = delivered(conn, ids)
    made: list[Delivery] = []
    for alert in alerts:
        if alert.id is None:
            continue
        title, body = message(alert, dashboard_url, budget=routes.budgets.get(alert.budget))
        for channel in routes.targets(alert.budget):
            if channel.name in done[alert.id]:
                continue
            delivery = _deliver(
                engine,
                alert.id,
                channel,
                title,
                body,
                level=severity(alert),
                vault=vault,
                retries=retries,
                backoff=backoff,
                sleep=sleep,
                now=now,
            )
            if delivery is not None:
                made.append(delivery)
    return made


def notify_pending(
    db: Engine | Connection,
    *,
    vault: Vault,
    dashboard_url: str | None = None,
    at: datetime | None = None,
    within: timedelta = PENDING_WITHIN,
    retries: int = 3,
    backoff: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[Delivery]:
    """Send the open alerts raised in the `within` before `at` (default: now) that lack a
    delivery for one of their channels — those whose raiser died before sending; the
    deliveries made."""
    engine = _engine(db)
    since = (at or now()) - within
    with engine.connect() as conn:
        routes = _Routes.load(conn)
        if not routes.every:
            return []
        pending = [
            get_alert(conn, a.alert_id)
            for a in open_alerts_since(conn, since)
            if any(c.name not in a.delivered for c in routes.targets(a.budget))
        ]
    return notify(
        engine,
        pending,
        vault=vault,
        dashboard_url=dashboard_url,
        retries=retries,
        backoff=backoff,
        sleep=sleep,
        now=now,
    )


def _deliver(
    engine: Engine,
    alert_id: int,
    channel: ChannelRow,
    title: str,
    body: str,
    *,
    level: str,
    vault: Vault,
    retries: int,
    backoff: float,
    sleep: Callable[[float], None],
    now: Callable[[], datetime],
) -> Delivery | None:
    """Claim, send, record: one alert to one channel; None when it was claimed before."""
    with engine.begin() as conn:
        claim = claim_delivery(conn, alert_id=alert_id, channel=channel.name, now=now())
    if claim is None:
        return None
    error: str | None
    try:
        url = vault.open(channel.url)
    except Exception as exc:  # noqa: BLE001 - a bad key fails this channel only
        attempts, error = 0, str(exc) or exc.__class__.__name__
    else:
        attempts, error = send_with_retries(
            url, title, body, level=level, retries=retries, backoff=backoff, sleep=sleep
        )
    if error is None:
        log.info("alert #%d sent to channel %s", alert_id, channel.name)
    else:
        log.warning(
            "alert #%d to channel %s failed after %d attempts: %s", alert_id, channel.name, attempts, error
        )
    with engine.begin() as conn:
        finish_delivery(conn, claim, sent=error is None, attempts=attempts, last_error=error, now=now())
    return Delivery(alert_id, channel.name, "failed" if error else "sent", attempts, error)
