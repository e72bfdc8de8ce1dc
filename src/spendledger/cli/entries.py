"""`spendledger entries ...`: spend entered by hand (invoices, bills of providers with no API).

Each command calls one function of spendledger.ingest.manual and prints its result; the
entries are records of basis `manual`, so `spendledger report` and every page count them.
"""

from __future__ import annotations

import enum
import getpass
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Any

import typer
from rich.table import Table

from spendledger.cli.context import open_ledger, out, parse_day, print_table, settings_of, user_errors
from spendledger.exports.csvfile import Cell, write_csv
from spendledger.ingest.entries import TEXT_FIELDS, Entry, parse_entry
from spendledger.ingest.manual import (
    Listed,
    Saved,
    as_json,
    edit_entry,
    list_entries,
    remove_entry,
    save_entry,
    totals,
)
from spendledger.records import display_money, format_money

app = typer.Typer(
    help="Manual entries: spend typed in by hand (an invoice, a provider with no API).", no_args_is_help=True
)


class Format(enum.StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def actor() -> str:
    """Who changes the ledger from this terminal, for the audit log."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name (a container's unnamed uid)
        return "cli"


Opt = Annotated[str | None, typer.Option(show_default=False)]


@app.command("add")
def add(
    ctx: typer.Context,
    provider: Annotated[
        str, typer.Option(help="The provider that charged it: openai, mistral, perplexity...")
    ],
    amount: Annotated[str, typer.Option(help="The amount charged, e.g. 40.00.")],
    currency: Annotated[str, typer.Option(help="Its ISO 4217 currency.")] = "USD",
    day: Annotated[str | None, typer.Option("--date", help="The day it counts on (YYYY-MM-DD).")] = None,
    period: Annotated[str | None, typer.Option(help="Or a month it is spread over (YYYY-MM).")] = None,
    start: Annotated[str | None, typer.Option("--from", help="Or the first day it is spread over.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="And the last, included.")] = None,
    account: Opt = None,
    workspace: Opt = None,
    project: Opt = None,
    user: Opt = None,
    feature: Opt = None,
    model: Opt = None,
    note: Annotated[str | None, typer.Option(help='A note, e.g. "invoice 1234".')] = None,
    entry_id: Annotated[
        str | None, typer.Option("--id", help="Its id (e.g. invoice-1234); generated when left out.")
    ] = None,
) -> None:
    """Add an entry: an amount on one day, or spread evenly over a month or a range of days."""
    values = _values(locals())
    settings = settings_of(ctx)
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        saved = save_entry(conn, parse_entry(values), tz=settings.tz, actor=actor(), overwrite=False)
    _said(saved)


@app.command("edit")
def edit(
    ctx: typer.Context,
    entry_id: Annotated[str, typer.Argument(metavar="ID", help="The entry's id (`entries list` shows it).")],
    provider: Opt = None,
    amount: Opt = None,
    currency: Opt = None,
    day: Annotated[str | None, typer.Option("--date", help="A new day (replaces the span).")] = None,
    period: Annotated[str | None, typer.Option(help="A new month (replaces the span).")] = None,
    start: Annotated[str | None, typer.Option("--from", help="A new first day.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="A new last day.")] = None,
    account: Opt = None,
    workspace: Opt = None,
    project: Opt = None,
    user: Opt = None,
    feature: Opt = None,
    model: Opt = None,
    note: Opt = None,
) -> None:
    """Change the options given of entry ID, keeping the others ("" clears a field)."""
    values = _values(locals())
    settings = settings_of(ctx)
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        saved = edit_entry(conn, entry_id, values, tz=settings.tz, actor=actor())
    _said(saved)


@app.command("remove")
def remove(
    ctx: typer.Context,
    entry_id: Annotated[str, typer.Argument(metavar="ID", help="The entry's id (`entries list` shows it).")],
) -> None:
    """Remove entry ID: every day of it leaves the ledger and its totals."""
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        old = remove_entry(conn, entry_id, actor=actor())
    out().print(f"Removed entry {old.id}: {_money(old.amount, old.currency)} {old.provider} on {_span(old)}.")


@app.command("list")
def list_(
    ctx: typer.Context,
    start: Annotated[str | None, typer.Option("--from", help="Entries with a day from this one...")] = None,
    end: Annotated[str | None, typer.Option("--to", help="...to this one, included.")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="table, csv or json.")] = Format.TABLE,
) -> None:
    """The entries (those counting in --from..--to), with what each counts in that range."""
    first, last = parse_day("--from", start), parse_day("--to", end)
    with open_ledger(ctx) as engine, user_errors(), engine.connect() as conn:
        listed = list_entries(conn, start=first, end=last)
    if fmt is Format.JSON:
        body = {"entries": [as_json(e) for e in listed], "totals": _totals(listed, exact=True)}
        out().print_json(json.dumps(body))
    elif fmt is Format.CSV:
        typer.echo(write_csv(CSV_HEADER, [_csv_row(e) for e in listed]), nl=False)
    elif not listed:
        out().print(
            "No entries yet: `spendledger entries add --provider P --amount 40.00 --date D` adds one."
        )
    else:
        _table(listed, ranged=first is not None or last is not None)


CSV_HEADER = ("id", "provider", "amount", "currency", "from", "to", "days", "in_range", *TEXT_FIELDS, "note")


def _values(options: dict[str, Any]) -> dict[str, Any]:
    """The entry fields given on the command line, by their names in `parse_entry`."""
    names = {"day": "date", "start": "from", "end": "to", "entry_id": "id"}
    return {names.get(k, k): v for k, v in options.items() if k != "ctx" and v is not None}


def _csv_row(item: Listed) -> list[Cell]:
    e = item.entry
    head: list[Cell] = [
        e.id,
        e.provider,
        e.amount,
        e.currency,
        str(e.first),
        str(e.last),
        e.days,
        item.in_range,
    ]
    return [*head, *(getattr(e, name) for name in TEXT_FIELDS), e.note]


def _table(listed: Sequence[Listed], *, ranged: bool) -> None:
    columns = ["ID", "Provider", "Amount", "From", "To", "Days"]
    columns += ["In range"] if ranged else []
    table = Table(*columns, "Account", "Project", "User", "Model", "Note")
    for item in listed:
        e = item.entry
        cells = [e.id, e.provider, _money(e.amount, e.currency), str(e.first), str(e.last), str(e.days)]
        cells += [_money(item.in_range, e.currency)] if ranged else []
        table.add_row(*cells, e.account, e.project, e.user, e.model, e.note)
    for total in _totals(listed, exact=False).values():
        figures = ["", "", "", "", total] if ranged else [total]
        table.add_row("Total", "", *figures, style="bold")
    print_table(table)


def _totals(listed: Sequence[Listed], *, exact: bool) -> dict[str, str]:
    return {c: format_money(v) if exact else _money(v, c) for c, v in totals(listed).items()}


def _said(saved: Saved) -> None:
    e = saved.entry
    if saved.outcome == "unchanged":
        out().print(f"Entry {e.id} is stored already with these figures: nothing changed.")
        return
    verb = "Added" if saved.outcome == "added" else "Changed"
    spread = "" if e.days == 1 else f", {e.days} days of about {_money(e.amount / e.days, e.currency)}"
    out().print(f"{verb} entry {e.id}: {_money(e.amount, e.currency)} {e.provider} on {_span(e)}{spread}.")


def _span(e: Entry) -> str:
    return str(e.first) if e.days == 1 else f"{e.first} to {e.last}"


def _money(amount: Decimal, currency: str) -> str:
    return display_money(amount, currency)
