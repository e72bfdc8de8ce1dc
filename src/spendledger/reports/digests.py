"""Scheduled digests: a week's or a month's spend summed up and sent to the channels chosen
for it, once per period and channel, however many processes run the scheduler.

- When: the weekly digest of an ISO week from the Monday after it, the monthly digest of a
  month from the 1st after it, each from SEND_FROM (local time, so the night's billing syncs
  have brought the last day in). Only the latest period whose time has come is due: a
  scheduler that was down for longer does not send a backlog. A digest added after that
  time starts with the next period.
- Once: each (kind, period, channel) is claimed before sending, a `digest_sends` row stored
  with ON CONFLICT DO NOTHING and committed alone, as alert deliveries are
  (alerts/delivery.py); only the process whose insert stored it sends. At most once: a
  claim whose process died mid-send stays `sending` and is not sent again.
- What: email gets the short summary with the period's PDF report attached; every other
  channel (Slack, Teams, webhooks...) the summary with a link to the dashboard's download
  of the same PDF (with SPENDLEDGER_PUBLIC_URL set). The figures are the report's own
  (reports.period_report), over all spend.
"""

from __future__ import annotations

import logging
import time as clock
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from spendledger.alerts.delivery import send_with_retries
from spendledger.alerts.transport import Attachment, is_email
from spendledger.config import Settings
from spendledger.exports.pdf import render_pdf
from spendledger.exports.periods import Period, last_complete
from spendledger.exports.report_figures import ReportFigures
from spendledger.records import display_money
from spendledger.reports.period_report import period_report, report_filename
from spendledger.secrets import Vault, load_vault
from spendledger.store import Engine
from spendledger.store.channels import ChannelRow, UnknownChannelError, list_channels
from spendledger.store.digests import DigestRow, claim_send, finish_send, list_digests, sends_of

log = logging.getLogger("spendledger.digests")

PERIOD_OF: dict[str, str] = {"weekly": "week", "monthly": "month"}
SEND_FROM = time(6)  # local: a period's digest goes out from 06:00 the day after it ends
TOP = 3  # providers and projects named in a summary


@dataclass(frozen=True)
class DigestDelivery:
    kind: str
    period: str
    channel: str
    status: str  # sent | failed
    attempts: int
    error: str | None = None


def send_time(period: Period, settings: Settings) -> datetime:
    """When a period's digest is first due: SEND_FROM on the day after its end, local."""
    return datetime.combine(period.end + timedelta(days=1), SEND_FROM, settings.tz)


def latest_period(kind: str, *, now: datetime, settings: Settings) -> Period:
    """The latest period of a `kind` digest whose send time has come by `now`."""
    period = last_complete(PERIOD_OF[kind], now.astimezone(settings.tz).date())
    return period if send_time(period, settings) <= now else period.previous


def due_digests(
    digests: list[DigestRow], *, now: datetime, settings: Settings
) -> list[tuple[DigestRow, Period]]:
    """The digests due at `now`, each with its period (sent or not: the claim decides)."""
    due = []
    for digest in digests:
        period = latest_period(digest.kind, now=now, settings=settings)
        if digest.created_at < send_time(period, settings):
            due.append((digest, period))
    return due


def send_due_digests(
    engine: Engine,
    settings: Settings,
    *,
    now: datetime | None = None,
    retries: int = 3,
    backoff: float = 2.0,
    sleep: Callable[[float], None] = clock.sleep,
) -> list[DigestDelivery]:
    """Send each digest due and not sent yet, claiming each first; the deliveries made."""
    moment = now or datetime.now(UTC)
    with engine.connect() as conn:
        digests = list_digests(conn)
        due = due_digests(digests, now=moment, settings=settings)
        sent = {(d.kind, p.key): sends_of(conn, kind=d.kind, period=p.key) for d, p in due}
        channels = {c.name: c for c in list_channels(conn)}
    due = [(d, p) for d, p in due if d.channel not in sent[(d.kind, p.key)] and d.channel in channels]
    if not due:
        return []
    vault = load_vault(settings)
    made: list[DigestDelivery] = []
    reports: dict[str, Digest] = {}
    for digest, period in due:
        with engine.begin() as conn:
            claim = claim_send(conn, kind=digest.kind, period=period.key, channel=digest.channel, now=moment)
        if claim is None:
            continue  # another process has it
        if period.key not in reports:
            reports[period.key] = Digest.build(engine, settings, digest.kind, period, now=moment)
        made.append(
            reports[period.key].deliver(
                channels[digest.channel], vault, retries=retries, backoff=backoff, sleep=sleep
            )
        )
        with engine.begin() as conn:
            last = made[-1]
            finish_send(
                conn,
                claim,
                sent=last.status == "sent",
                attempts=last.attempts,
                last_error=last.error,
                now=moment,
            )
    return made


def send_digest_now(
    engine: Engine, settings: Settings, *, kind: str, channel: str, period: Period, vault: Vault
) -> DigestDelivery:
    """Send the `kind` digest of `period` to `channel` now, outside the schedule and its log
    (a test, or a resend): the schedule's own send of that period still goes out once."""
    with engine.connect() as conn:
        target = next((c for c in list_channels(conn) if c.name == channel), None)
    if target is None:
        raise UnknownChannelError(f"no channel named {channel!r}; see `spendledger channels list`")
    digest = Digest.build(engine, settings, kind, period, now=datetime.now(UTC))
    return digest.deliver(target, vault, retries=0)


@dataclass
class Digest:
    """One period's digest: its figures, its public link, its PDF (rendered when first needed)."""

    kind: str
    figures: ReportFigures
    link: str | None
    _pdf: bytes | None = None

    @classmethod
    def build(cls, engine: Engine, settings: Settings, kind: str, period: Period, *, now: datetime) -> Digest:
        local = now.astimezone(settings.tz)
        with engine.connect() as conn:
            figures = period_report(
                conn,
                period=period,
                today=local.date(),
                timezone=settings.timezone,
                now=local,
                tolerance=settings.reconcile_limits,
            )
        link = f"{settings.public_url.rstrip('/')}/reports/{period.key}.pdf" if settings.public_url else None
        return cls(kind, figures, link)

    @property
    def pdf(self) -> bytes:
        if self._pdf is None:
            self._pdf = render_pdf(self.figures)
        return self._pdf

    def deliver(
        self,
        channel: ChannelRow,
        vault: Vault,
        *,
        retries: int = 3,
        backoff: float = 2.0,
        sleep: Callable[[float], None] = clock.sleep,
    ) -> DigestDelivery:
        """Send to one channel, with retries; never raises."""
        key = self.figures.period.key
        try:
            url = vault.open(channel.url)
        except Exception as exc:  # noqa: BLE001 - a bad key fails this channel only
            return DigestDelivery(self.kind, key, channel.name, "failed", 0, str(exc) or type(exc).__name__)
        attach = None
        if is_email(url):
            attach = Attachment(report_filename(self.figures.period), self.pdf, "application/pdf")
        title, body = digest_message(self.kind, self.figures, link=self.link, attached=attach is not None)
        level = "warning" if any(b.over for b in self.figures.budgets or []) else "info"
        attempts, error = send_with_retries(
            url, title, body, level=level, attach=attach, retries=retries, backoff=backoff, sleep=sleep
        )
        if error is None:
            log.info("%s digest %s sent to channel %s", self.kind, key, channel.name)
        else:
            log.warning("%s digest %s to channel %s failed: %s", self.kind, key, channel.name, error)
        return DigestDelivery(self.kind, key, channel.name, "failed" if error else "sent", attempts, error)


def digest_message(kind: str, f: ReportFigures, *, link: str | None, attached: bool) -> tuple[str, str]:
    """A digest's title and its short body: the total and its basis, the change, the top
    providers and projects, budgets over, anomalies, and where the whole report is."""
    cur = f.currency

    def money(amount: Decimal) -> str:
        return display_money(amount, cur)

    bases = ", ".join(f"{b} {money(v)}" for b, v in f.bases.items())
    lines = [f"Spend: {money(f.total)}" + (f" (best available: {bases})" if bases else "")]
    change = money(f.change) if f.change <= 0 else f"+{money(f.change)}"
    pct = (
        f" ({'+' if f.change_pct and f.change_pct > 0 else ''}{f.change_pct} %)"
        if f.change_pct is not None
        else ""
    )
    lines.append(f"Against {f.compared.label}: {change}{pct}, from {money(f.previous_total)}")
    for other, amount in f.other_currencies.items():
        lines.append(
            f"Also spent in {other}: {display_money(amount, other)} (not converted, not counted above)"
        )
    for breakdown in f.breakdowns:
        if breakdown.dimension in ("provider", "project") and breakdown.top:
            named = ", ".join(f"{line.name} {money(line.cost)}" for line in breakdown.top[:TOP])
            lines.append(f"Top {breakdown.dimension}s: {named}")
    if f.budgets:
        over = [b for b in f.budgets if b.over]
        listed = ", ".join(f"{b.name} {b.percent} %" for b in over)
        lines.append(f"Budgets: {len(over)} of {len(f.budgets)} over" + (f" ({listed})" if listed else ""))
    count = len(f.anomalies) + f.anomalies_left_out
    if count:
        top = max(f.anomalies, key=lambda a: a.spent - a.usual)
        lines.append(
            f"Anomalies: {count}; the largest {top.subject}, {display_money(top.spent, top.currency)} on "
            f"{top.day.isoformat()} (usual {display_money(top.usual, top.currency)})"
        )
    else:
        lines.append("Anomalies: none")
    if attached:
        lines.append(f"The whole report is attached ({report_filename(f.period)}).")
    if link:
        lines.append(f"Report (PDF): {link}")
    return f"spendledger {kind} digest — {f.period.label}", "\n".join(lines)
