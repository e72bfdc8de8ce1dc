"""`spendledger channels ...`: where alerts are sent (email, Slack, Teams, Discord, webhooks).

A channel's URL often holds a token or a password: it is sealed at once (secrets.py) and
only shown masked.
"""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.table import Table

from spendledger.alerts.transport import TEST_TITLE, NotifyError, check_url, send, url_hint
from spendledger.cli.context import USAGE_ERROR, fail, open_ledger, out, print_table, settings_of, user_errors
from spendledger.secrets import load_vault
from spendledger.store.channels import (
    ChannelExistsError,
    UnknownChannelError,
    add_channel,
    get_channel,
    list_channels,
    remove_channel,
)

app = typer.Typer(help="Notification channels: where alerts are sent.", no_args_is_help=True)


@app.command("add")
def add(ctx: typer.Context, name: str, url: str) -> None:
    """Add a channel: an Apprise URL (mailto://, slack://, workflows:// (Teams), discord://, json://...)
    or an http(s) webhook URL (sent a JSON body). The URL is stored encrypted."""
    try:
        check_url(url)
    except NotifyError as exc:
        fail(str(exc), code=USAGE_ERROR)
    settings = settings_of(ctx)
    hint = url_hint(url)
    with open_ledger(ctx) as engine, user_errors():
        vault = load_vault(settings)
        with engine.begin() as conn:
            try:
                add_channel(
                    conn, name=name, url=vault.seal(url.strip()), url_hint=hint, now=datetime.now(UTC)
                )
            except ChannelExistsError as exc:
                fail(str(exc))
    out().print(f"Added channel {name!r} ({hint}). `spendledger channels test {name}` sends a test message.")


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """The channels, their URL masked."""
    with open_ledger(ctx) as engine, engine.connect() as conn:
        rows = list_channels(conn)
    if not rows:
        out().print("No channels yet: `spendledger channels add NAME URL`.")
        return
    table = Table("Name", "URL", "Added")
    for c in rows:
        table.add_row(
            c.name, c.url_hint, c.created_at.strftime("%Y-%m-%d %H:%M UTC") if c.created_at else "—"
        )
    print_table(table)


@app.command("test")
def test(ctx: typer.Context, name: str) -> None:
    """Send a test message to the channel NAME; says why when it cannot."""
    settings = settings_of(ctx)
    with open_ledger(ctx) as engine, user_errors(), engine.connect() as conn:
        try:
            channel = get_channel(conn, name)
        except UnknownChannelError as exc:
            fail(str(exc))
        url = load_vault(settings).open(channel.url)
    try:
        send(url, TEST_TITLE, f"A test message to the channel {name!r}: alerts will arrive here.")
    except NotifyError as exc:
        fail(f"channel {name!r} ({channel.url_hint}): sending failed: {exc}")
    out().print(f"Sent a test message to {name!r} ({channel.url_hint}).")


@app.command("remove")
def remove(ctx: typer.Context, name: str) -> None:
    """Remove a channel (its delivery log stays)."""
    with open_ledger(ctx) as engine, engine.begin() as conn:
        try:
            remove_channel(conn, name)
        except UnknownChannelError as exc:
            fail(str(exc))
    out().print(f"Removed channel {name!r}.")
