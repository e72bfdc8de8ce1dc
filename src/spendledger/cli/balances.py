"""`spendledger balances ...`: balance-only sources (DeepSeek): where each balance stands, what
it did day by day (spend from the drops, top-ups as credits), and "balance below X" alerts.

Each command calls one library function (alerts/balance.py, store/balances.py) and prints it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from spendledger.alerts.balance import balance_history, create_rule
from spendledger.cli.context import open_ledger, out, print_table, user_errors
from spendledger.cli.report import money
from spendledger.store.balances import latest_balances, list_rules, remove_rule
from spendledger.store.sources import get_source

app = typer.Typer(
    help="Balance-only sources (DeepSeek): balances, spend from their drops, top-ups, low-balance alerts.",
    no_args_is_help=True,
)
alert_app = typer.Typer(help="Alerts when a source's balance drops below an amount.", no_args_is_help=True)
app.add_typer(alert_app, name="alert")


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """Each balance source's latest balance per currency, and when it was read."""
    with open_ledger(ctx) as engine, engine.connect() as conn:
        latest = latest_balances(conn)
    if not latest:
        out().print(
            "No balance read yet: add a DeepSeek source (`spendledger sources add deepseek ...`) and sync."
        )
        return
    table = Table("Source", "Currency", "Balance", "Granted", "Topped up", "Read at")
    for source, rows in latest.items():
        for r in rows:
            table.add_row(
                source,
                r.currency,
                money(r.total),
                "—" if r.granted is None else money(r.granted),
                "—" if r.topped_up is None else money(r.topped_up),
                f"{r.at:%Y-%m-%d %H:%M} UTC",
            )
    print_table(table)


@app.command("show")
def show(
    ctx: typer.Context,
    source: str,
    days: Annotated[int, typer.Option(help="How many of the latest days to show.", min=1)] = 31,
) -> None:
    """What SOURCE's balance did on each UTC day it was read: spend, top-ups, the closing balance."""
    with open_ledger(ctx) as engine, user_errors(), engine.connect() as conn:
        get_source(conn, source)
        rows = sorted(balance_history(conn, source), key=lambda r: (r.day, r.currency))
    if not rows:
        out().print(f"No balance of {source!r} read yet: `spendledger sync` reads it.")
        return
    cut = sorted({r.day for r in rows})[-days:]
    table = Table("Day (UTC)", "Currency", "Spent", "Topped up", "Granted", "Balance", "Readings")
    for r in rows:
        if r.day in cut:
            table.add_row(
                r.day.isoformat(),
                r.currency,
                money(r.spent),
                f"+{money(r.topped_up)}" if r.topped_up else "—",
                f"+{money(r.granted)}" if r.granted else "—",
                money(r.closing),
                str(r.readings),
            )
    print_table(table)
    out().print(
        "Spent = the drops between readings, landing on the day of the later reading; a rise is a "
        "top-up (or a grant), never negative spend."
    )


@alert_app.command("add")
def alert_add(
    ctx: typer.Context,
    name: str,
    source: Annotated[str, typer.Option("--source", help="The balance source to watch.")],
    below: Annotated[str, typer.Option("--below", help="Alert when the balance drops below this.")],
    currency: Annotated[
        str, typer.Option(help="The balance's currency (default: the source's only one).")
    ] = "",
    channels: Annotated[
        list[str] | None, typer.Option("--channel", help="A notification channel's name (repeat).")
    ] = None,
) -> None:
    """Add the alert NAME: raised (once per fall) when SOURCE's balance drops below --below."""
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        rule = create_rule(
            conn,
            name=name,
            source=source,
            below=below,
            currency=currency,
            channels=channels or (),
            now=datetime.now(UTC),
        )
    out().print(
        f"Added balance alert {rule.name!r}: when {rule.source}'s {rule.currency} balance drops below "
        f"{money(rule.below)}; sent to {', '.join(rule.channels) or 'every channel'}."
    )


@alert_app.command("list")
def alert_list(ctx: typer.Context) -> None:
    """The balance alerts, with each source's latest balance."""
    with open_ledger(ctx) as engine, engine.connect() as conn:
        rules = list_rules(conn)
        latest = latest_balances(conn)
    if not rules:
        out().print("No balance alerts yet: `spendledger balances alert add NAME --source S --below 50`.")
        return
    table = Table("Name", "Source", "Below", "Balance now", "Channels")
    for rule in rules:
        now = next((r for r in latest.get(rule.source, []) if r.currency == rule.currency), None)
        table.add_row(
            rule.name,
            rule.source,
            f"{money(rule.below)} {rule.currency}",
            "not read yet" if now is None else f"{money(now.total)} {rule.currency}",
            ", ".join(rule.channels) or "every channel",
            style="red" if now is not None and now.total < rule.below else None,
        )
    print_table(table)


@alert_app.command("remove")
def alert_remove(ctx: typer.Context, name: str) -> None:
    """Remove the balance alert NAME (its past alerts stay)."""
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        remove_rule(conn, name)
    out().print(f"Removed balance alert {name!r}.")
