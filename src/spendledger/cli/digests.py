"""`spendledger digests ...`: the weekly and monthly digests and the channels they go to.

The scheduler (`serve` or `worker`) sends each digest once per period (reports/digests.py);
adding and removing one is written to the audit log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from spendledger.cli.context import cli_actor, err, open_ledger, out, print_table, settings_of, user_errors
from spendledger.exports.periods import last_complete, parse_period
from spendledger.reports.digests import PERIOD_OF, latest_period, send_digest_now, send_time
from spendledger.secrets import load_vault
from spendledger.store.audit import record
from spendledger.store.digests import KINDS, DigestError, add_digest, list_digests, list_sends, remove_digest

app = typer.Typer(
    help="Weekly and monthly digests: a period's spend summed up, sent to channels.", no_args_is_help=True
)
KIND_HELP = "weekly (each Monday, for the week before) or monthly (each 1st, for the month before)."
ChannelsOption = Annotated[list[str], typer.Option("--channel", help="A channel's name; repeat to add.")]


@app.command("add")
def add(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help=KIND_HELP)],
    channels: ChannelsOption,
) -> None:
    """Send the KIND digest to the channels named: email gets the PDF report attached, the
    others a summary with a link to it."""
    now = datetime.now(UTC)
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        added = []
        for channel in channels:
            if add_digest(conn, kind=kind, channel=channel, now=now) is not None:
                record(conn, actor=cli_actor(), action="digest.add", what={"kind": kind, "channel": channel})
                added.append(channel)
    for channel in channels:
        said = "will get" if channel in added else "already gets"
        out().print(f"Channel {channel!r} {said} the {kind} digest.")


@app.command("remove")
def remove(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help=KIND_HELP)],
    channels: Annotated[
        list[str] | None, typer.Option("--channel", help="A channel's name (default: every channel).")
    ] = None,
) -> None:
    """Stop sending the KIND digest to the channels named (or to every channel)."""
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        removed = []
        named: list[str | None] = list(channels) if channels else [None]
        for channel in named:
            for digest in remove_digest(conn, kind=kind, channel=channel):
                what = {"kind": digest.kind, "channel": digest.channel}
                record(conn, actor=cli_actor(), action="digest.remove", what=what)
                removed.append(digest.channel)
    out().print(f"Stopped the {kind} digest to {', '.join(repr(c) for c in removed)}.")


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """The digests, the next period each sends and when, and the last sends."""
    settings = settings_of(ctx)
    now = datetime.now(UTC)
    with open_ledger(ctx) as engine, engine.connect() as conn:
        digests = list_digests(conn)
        sends = list_sends(conn, limit=20)
    if not digests:
        out().print("No digests yet: `spendledger digests add weekly --channel NAME` (see `channels list`).")
    else:
        table = Table("Digest", "Channel", "Next", "Due from")
        for d in digests:
            period = latest_period(d.kind, now=now, settings=settings)
            went = any(s.kind == d.kind and s.period == period.key and s.channel == d.channel for s in sends)
            if went or d.created_at >= send_time(period, settings):
                period = period.next  # that one went out (or came before the digest): the next
            due = send_time(period, settings)
            table.add_row(d.kind, d.channel, period.key, f"{due:%Y-%m-%d %H:%M %Z}")
        print_table(table)
    if sends:
        log = Table(
            "Digest", "Period", "Channel", "Status", "Attempts", "Sent", "Last error", title="Last sends"
        )
        for s in sends:
            sent = f"{s.sent_at:%Y-%m-%d %H:%M UTC}" if s.sent_at else "—"
            log.add_row(s.kind, s.period, s.channel, s.status, str(s.attempts), sent, s.last_error or "")
        print_table(log)


@app.command("send")
def send(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help=KIND_HELP)],
    channels: ChannelsOption,
    period: Annotated[
        str | None, typer.Option(help="YYYY-MM or YYYY-Www (default: the last whole month or week).")
    ] = None,
) -> None:
    """Send the KIND digest to the channels named now, to try a channel or to send again; the
    scheduled digest of that period still goes out as planned."""
    settings = settings_of(ctx)
    with user_errors():
        if kind not in KINDS:
            raise DigestError(f"{kind!r} is not a digest; use one of {', '.join(KINDS)}")
        chosen = (
            parse_period(period, kind=PERIOD_OF[kind])
            if period
            else last_complete(PERIOD_OF[kind], datetime.now(settings.tz).date())
        )
    failed = False
    with open_ledger(ctx) as engine, user_errors():
        vault = load_vault(settings)
        for channel in channels:
            done = send_digest_now(engine, settings, kind=kind, channel=channel, period=chosen, vault=vault)
            if done.error:
                failed = True
                err().print(
                    Text(f"The {kind} digest {chosen.key} to {channel!r} failed: {done.error}", style="red")
                )
            else:
                out().print(f"Sent the {kind} digest {chosen.key} to {channel!r}.")
    if failed:
        raise typer.Exit(1)
