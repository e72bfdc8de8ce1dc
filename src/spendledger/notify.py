"""Notifications: new alerts sent to the channels through Apprise, once each, logged.

A channel is an Apprise URL (`mailto://`, `slack://`, `msteams://`, `discord://`,
`json://`...) or a plain http(s) webhook URL, which is sent as Apprise's generic JSON
webhook (`json://` / `jsons://`). `notify` is called by whoever raised the alerts
(alerts.evaluate returns only the alerts it newly stored, once across processes), so each
alert is sent once; a delivery row per alert and channel records it and makes a second
call with the same alerts send nothing. A failing channel is retried with exponential
backoff, then logged as failed; it never blocks the other channels and never raises.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from spendledger.alerts import describe
from spendledger.secrets import Vault
from spendledger.store.alerts import AlertRow
from spendledger.store.budgets import list_budgets
from spendledger.store.channels import ChannelRow, delivered, list_channels, record_delivery

if sys.version_info < (3, 13):  # Apprise imports imghdr (deprecated) when it loads its email plugin
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="'imghdr' is deprecated", category=DeprecationWarning)
        import imghdr  # noqa: F401

import apprise  # noqa: E402 - after the shim above

_apprise_lib: Any = apprise  # untyped: used only through send/check_url below

log = logging.getLogger("spendledger.notify")

TEST_TITLE = "spendledger: test message"


class NotifyError(RuntimeError):
    """A message could not be sent; the message says why."""


@dataclass(frozen=True)
class Delivery:
    alert_id: int
    channel: str
    status: str  # sent | failed
    attempts: int
    error: str | None = None


def apprise_url(url: str) -> str:
    """The Apprise URL for a channel's URL: a plain http(s) webhook becomes json(s)://."""
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() == "http":
        return f"json://{rest}"
    if sep and scheme.lower() == "https":
        return f"jsons://{rest}"
    return url


def url_hint(url: str) -> str:
    """A channel's URL as it may be shown: its scheme and last four characters."""
    scheme, sep, rest = url.strip().partition("://")
    if not sep:
        return "…"
    return f"{scheme}://…{rest[-4:]}" if len(rest) >= 12 else f"{scheme}://…"


def check_url(url: str) -> None:
    """Raise NotifyError unless Apprise understands the URL."""
    if not _apprise(apprise_url(url)):
        raise NotifyError(
            "not a URL Apprise can send to: use an http(s) webhook URL or an Apprise URL such as "
            "mailto://, slack://, msteams://, discord://, json:// (see https://github.com/caronc/apprise/wiki)"
        )


def send(url: str, title: str, body: str) -> None:
    """Send one message to `url` (one attempt); NotifyError with Apprise's reason if it fails."""
    sender = _apprise(apprise_url(url))
    if sender is None:
        raise NotifyError("not a URL Apprise can send to")
    with _apprise_lib.LogCapture(level=logging.WARNING) as captured:
        ok = bool(sender.notify(title=title, body=body))
    if not ok:
        lines = [line.strip() for line in str(captured.getvalue()).splitlines() if line.strip()]
        reason = lines[-1].split(" - ", 2)[-1] if lines else "Apprise reported a failure"
        raise NotifyError(reason)


def _apprise(url: str) -> Any:
    """An Apprise object holding `url`, or None when Apprise does not understand it."""
    sender = _apprise_lib.Apprise()
    return sender if sender.add(url) else None


def message(alert: AlertRow, dashboard_url: str | None = None) -> tuple[str, str]:
    """An alert's title and body: its words, and a link to the alert centre."""
    kind = {"threshold": "budget threshold", "forecast": "budget forecast", "anomaly": "spend anomaly"}
    title = f"spendledger: {kind.get(alert.kind, alert.kind)} — {alert.budget}"
    body = describe(alert)
    if dashboard_url:
        body += f"\n\nDetails: {dashboard_url.rstrip('/')}/alerts"
    return title, body


def send_with_retries(
    url: str,
    title: str,
    body: str,
    *,
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
            send(url, title, body)
        except Exception as exc:  # noqa: BLE001 - any failure of a channel is logged, never raised
            error = str(exc) or exc.__class__.__name__
            continue
        return attempt + 1, None
    return retries + 1, error


def notify(
    conn: Connection,
    alerts: Sequence[AlertRow],
    *,
    vault: Vault,
    dashboard_url: str | None = None,
    retries: int = 3,
    backoff: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[Delivery]:
    """Send each alert to its channels — a budget's own channels when it names some, else
    every channel — once, and log each delivery; the deliveries made."""
    if not alerts:
        return []
    every = list_channels(conn)
    by_name = {c.name: c for c in every}
    picked = {b.name: b.channels for b in list_budgets(conn) if b.channels}
    made: list[Delivery] = []
    for alert in alerts:
        if alert.id is None:
            continue
        names = picked.get(alert.budget)
        targets: list[ChannelRow] = [by_name[n] for n in names if n in by_name] if names else every
        done = delivered(conn, alert.id)
        title, body = message(alert, dashboard_url)
        for channel in targets:
            if channel.name in done:
                continue
            error: str | None
            try:
                url = vault.open(channel.url)
            except Exception as exc:  # noqa: BLE001 - a bad key fails this channel only
                attempts, error = 0, str(exc)
            else:
                attempts, error = send_with_retries(
                    url, title, body, retries=retries, backoff=backoff, sleep=sleep
                )
            status = "failed" if error else "sent"
            if error:
                log.warning(
                    "alert #%d to channel %s failed after %d attempts: %s",
                    alert.id,
                    channel.name,
                    attempts,
                    error,
                )
            if record_delivery(
                conn,
                alert_id=alert.id,
                channel=channel.name,
                status=status,
                attempts=attempts,
                last_error=error,
                now=now(),
            ):
                made.append(Delivery(alert.id, channel.name, status, attempts, error))
    return made
