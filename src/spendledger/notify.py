"""Notifications: alerts sent to the channels through Apprise, once each, logged.

A channel is an Apprise URL (`mailto://`, `slack://`, `workflows://` for Microsoft Teams,
`discord://`, `json://`...) or an http(s) webhook URL: a service's own (Slack's, Discord's,
a Teams workflow's) is sent in that service's format, any other as Apprise's generic JSON
webhook (`json://` / `jsons://`).

Once across processes, with no gap: each alert and channel is first claimed — a delivery
row stored as `sending` with ON CONFLICT DO NOTHING on (alert, channel) and committed on
its own — and only the process whose insert stored the row sends; it then records `sent`
or `failed` with the attempts made. Whoever raised an alert (alerts.evaluate returns only
the new ones) may send it with `notify`; `notify_pending`, which every scheduler round
runs, sends the open alerts of the last day that lack a delivery for one of their
channels, so an alert raised by a process that died before sending it goes out on the
next round, once.

At most once rather than at least once: a claim whose process died mid-send stays
`sending` (its created_at says since when) and is never sent again automatically. The
message may well have gone out; a gap the delivery log shows beats paging people twice.

A failing channel is retried with exponential backoff, then logged as failed; it never
blocks the other channels and never raises.

Each message carries its level (alerts.severity): Apprise's notify type WARNING below
100 % of a budget, FAILURE at or over it, so a JSON webhook's `type`, Slack's colour and
the title every service shows ("spendledger failure — budget web reached 100 %") say it.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from spendledger.alerts import describe, headline, severity
from spendledger.links import alert_explore_path
from spendledger.secrets import Vault
from spendledger.store.alerts import AlertRow, get_alert
from spendledger.store.budgets import BudgetRow, list_budgets
from spendledger.store.channels import (
    ChannelRow,
    claim_delivery,
    delivered,
    finish_delivery,
    list_channels,
    open_alerts_since,
)

if sys.version_info < (3, 13):  # Apprise imports imghdr (deprecated) when it loads its email plugin
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="'imghdr' is deprecated", category=DeprecationWarning)
        import imghdr  # noqa: F401

import apprise  # noqa: E402 - after the shim above

from spendledger.errors import SpendledgerError

_apprise_lib: Any = apprise  # untyped: used only through send/check_url below

log = logging.getLogger("spendledger.notify")

TEST_TITLE = "spendledger: test message"
PENDING_WITHIN = timedelta(hours=24)  # how far back notify_pending looks for unsent alerts


class NotifyError(SpendledgerError, RuntimeError):
    """A message could not be sent; the message says why."""


@dataclass(frozen=True)
class Delivery:
    alert_id: int
    channel: str
    status: str  # sent | failed
    attempts: int
    error: str | None = None


def apprise_url(url: str) -> str:
    """The Apprise URL for a channel's URL. A service's own webhook URL that Apprise knows
    (Slack's, Discord's, a Teams workflow's...) stays as it is, so that it is sent in that
    service's format; any other http(s) URL becomes the generic JSON webhook, json(s)://."""
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() in ("http", "https") and _apprise(url) is None:
        return f"{'jsons' if scheme.lower() == 'https' else 'json'}://{rest}"
    return url


def url_hint(url: str) -> str:
    """A channel's URL as it may be shown: its scheme and last four characters."""
    scheme, sep, rest = url.strip().partition("://")
    if not sep:
        return "…"
    return f"{scheme}://…{rest[-4:]}" if len(rest) >= 12 else f"{scheme}://…"


def check_url(url: str) -> None:
    """Raise NotifyError unless Apprise understands the URL."""
    if _apprise(apprise_url(url)):
        return
    if url.strip().lower().startswith("msteams://"):
        # Microsoft retired Office 365 connectors; Apprise 2 dropped msteams:// for them
        raise NotifyError(
            "msteams:// (Office 365 connector webhooks) is retired: in Teams, add the "
            '"Post to a channel when a webhook request is received" workflow and add its URL '
            "(https://....logic.azure.com/workflows/...) or workflows://HOST/WORKFLOW/SIGNATURE"
        )
    raise NotifyError(
        "not a URL Apprise can send to: use an http(s) webhook URL or an Apprise URL such as mailto://, "
        "slack://, workflows:// (Microsoft Teams), discord://, json:// (see https://appriseit.com/services/)"
    )


def send(url: str, title: str, body: str, *, level: str = "info") -> None:
    """Send one message to `url` (one attempt) with Apprise's notify type `level` (info,
    warning, failure); NotifyError with Apprise's reason if it fails."""
    sender = _apprise(apprise_url(url))
    if sender is None:
        raise NotifyError("not a URL Apprise can send to")
    notify_type = _apprise_lib.NotifyType(level)
    with _apprise_lib.LogCapture(level=logging.WARNING) as captured:
        ok = bool(sender.notify(title=title, body=body, notify_type=notify_type))
    if not ok:
        lines = [line.strip() for line in str(captured.getvalue()).splitlines() if line.strip()]
        reason = lines[-1].split(" - ", 2)[-1] if lines else "Apprise reported a failure"
        raise NotifyError(reason)


def _apprise(url: str) -> Any:
    """An Apprise object holding `url`, or None when Apprise does not understand it."""
    sender = _apprise_lib.Apprise()
    return sender if sender.add(url) else None


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
            send(url, title, body, level=level)
        except Exception as exc:  # noqa: BLE001 - any failure of a channel is logged, never raised
            error = str(exc) or exc.__class__.__name__
            continue
        return attempt + 1, None
    return retries + 1, error


@dataclass(frozen=True)
class _Routes:
    """Where alerts go: a budget's own channels when it names some, else every channel."""

    every: list[ChannelRow]
    picked: dict[str, list[str]]
    budgets: dict[str, BudgetRow]

    @classmethod
    def load(cls, conn: Connection) -> _Routes:
        budgets = {b.name: b for b in list_budgets(conn)}
        picked = {name: list(b.channels) for name, b in budgets.items() if b.channels}
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
