"""`spendledger fx ...`: the exchange-rate table that display currencies convert with.

`import` reads the ECB's euro reference rates (CSV, XML or zip) or a `date,currency,rate`
CSV; `update` downloads the ECB's daily file from SPENDLEDGER_FX_URL; `set` and `remove`
change one rate by hand (audit-logged; a rate set by hand wins over later imports);
`list` shows the table. Each calls one function of imports/fx_rates.py.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from spendledger.cli.context import (
    cli_actor,
    fail,
    open_ledger,
    out,
    parse_day,
    print_table,
    settings_of,
    user_errors,
)
from spendledger.fx.rates import ECB_BASE, parse_currency
from spendledger.imports.fx_rates import (
    RateImport,
    import_rates,
    last_update,
    set_rate,
    unset_rate,
    update_rates,
)
from spendledger.store.fx_rates import list_rates, pair_summaries

app = typer.Typer(help="Exchange rates: import, download, set and list them.", no_args_is_help=True)
SHOWN_REJECTIONS = 20


@app.command("import")
def import_command(
    ctx: typer.Context,
    file: Annotated[
        str,
        typer.Argument(
            help="The ECB's rates (eurofxref*.zip, .csv, .xml) or a date,currency,rate CSV; - for stdin."
        ),
    ],
) -> None:
    """Import rates from a file; importing it again changes nothing."""
    if file == "-":
        data, name = sys.stdin.buffer.read(), "stdin"
    else:
        path = Path(file)
        if not path.is_file():
            fail(f"{file}: no such file")
        data, name = path.read_bytes(), path.name
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        result = import_rates(conn, data, name=name, actor=cli_actor())
    show(result, name)
    if result.rates == 0 and result.rejected_count:
        raise typer.Exit(1)


@app.command("update")
def update_command(ctx: typer.Context) -> None:
    """Download the ECB's latest rates from SPENDLEDGER_FX_URL and import them."""
    settings = settings_of(ctx)
    with open_ledger(ctx) as engine, user_errors():
        result = update_rates(engine, url=settings.fx_url, actor=cli_actor())
    show(result, settings.fx_url)


@app.command("set")
def set_command(
    ctx: typer.Context,
    day: Annotated[str, typer.Argument(help="The day, YYYY-MM-DD.")],
    currency: Annotated[str, typer.Argument(help="The currency, e.g. USD.")],
    rate: Annotated[str, typer.Argument(help="Units of CURRENCY for 1 unit of the base, e.g. 1.0705.")],
    base: Annotated[str, typer.Option(help="The base currency.")] = ECB_BASE,
) -> None:
    """Set one day's rate by hand: 1 BASE = RATE CURRENCY (it wins over later imports)."""
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        new, previous = set_rate(conn, day=day, currency=currency, rate=rate, base=base, actor=cli_actor())
    was = f" (was {previous.rate:f}, {previous.source})" if previous else ""
    out().print(f"{new.day}: 1 {new.base} = {new.rate:f} {new.currency}{was}")


@app.command("remove")
def remove_command(
    ctx: typer.Context,
    day: Annotated[str, typer.Argument(help="The day, YYYY-MM-DD.")],
    currency: Annotated[str, typer.Argument(help="The currency, e.g. USD.")],
    base: Annotated[str, typer.Option(help="The base currency.")] = ECB_BASE,
) -> None:
    """Remove one day's rate (the day then takes the last rate before it)."""
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        removed = unset_rate(conn, day=day, currency=currency, base=base, actor=cli_actor())
    r = removed
    out().print(f"Removed {r.day}: 1 {r.base} = {r.rate:f} {r.currency} ({r.source})")


@app.command("list")
def list_command(
    ctx: typer.Context,
    currency: Annotated[str | None, typer.Option(help="One currency's rates, day by day.")] = None,
    start: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day, included.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many days' rates.")] = 60,
) -> None:
    """Each currency's latest rate; with --currency or dates, the rates day by day."""
    first, last = parse_day("--from", start), parse_day("--to", end)
    with user_errors():
        code = parse_currency(currency) if currency else None
    with open_ledger(ctx) as engine, engine.connect() as conn:
        state = last_update(conn)
        if code or first or last:
            rates = list_rates(conn, currency=code, start=first, end=last, limit=max(1, limit))
            table = Table(title="Exchange rates (1 base = rate units of currency)")
            for name in ("Day", "Base", "Currency", "Rate", "Source"):
                table.add_column(name, justify="right" if name == "Rate" else "left")
            for r in rates:
                table.add_row(r.day.isoformat(), r.base, r.currency, f"{r.rate:f}", r.source)
        else:
            pairs = pair_summaries(conn)
            table = Table(title="Exchange rates: each currency's latest (1 base = rate units of currency)")
            for name in ("Base", "Currency", "Latest rate", "On", "Source", "Days", "Since"):
                table.add_column(name, justify="right" if name in ("Latest rate", "Days") else "left")
            for p in pairs:
                r = p.latest
                on, since = r.day.isoformat(), p.first_day.isoformat()
                table.add_row(r.base, r.currency, f"{r.rate:f}", on, r.source, f"{p.days:,}", since)
    print_table(table)
    if state is not None:
        outcome = {True: "ok", False: "FAILED", None: "under way"}[state.ok]
        out().print(f"Last download {state.at:%Y-%m-%d %H:%M} UTC: {outcome}: {state.message}")


def show(result: RateImport, name: str) -> None:
    """The import's sentence, then its rejected lines (line, column, reason)."""
    console = out()
    console.print(f"{name}: {result.summary()}.")
    if result.rejected:
        table = Table(title="Rejected lines")
        for column in ("Line", "Column", "Reason"):
            table.add_column(column, overflow="fold")
        for r in result.rejected[:SHOWN_REJECTIONS]:
            table.add_row(str(r.line), r.column or "—", r.reason)
        print_table(table)
        if result.rejected_count > SHOWN_REJECTIONS:
            console.print(f"… and {result.rejected_count - SHOWN_REJECTIONS:,} more rejected lines.")
