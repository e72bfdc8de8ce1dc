"""`spendledger audit`: the audit log, newest first (store/audit.py), as a table or JSON.

`--from`/`--to` are local days of the configured zone, both included, as in `report`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from spendledger.cli.context import USAGE_ERROR, fail, open_ledger, parse_day, print_table, settings_of
from spendledger.records import display_money, format_money
from spendledger.store.audit import AuditEntry, describe, entries


def audit_command(
    ctx: typer.Context,
    start: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD, local).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day, included.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    limit: Annotated[int, typer.Option(help="At most this many entries, newest first.", min=1)] = 200,
) -> None:
    """Who deleted or changed what, and when: the audit log, newest first."""
    if fmt not in ("table", "json"):
        fail(f"--format: {fmt!r} is not one of table, json", code=USAGE_ERROR)
    tz = settings_of(ctx).tz
    first, last = parse_day("--from", start), parse_day("--to", end)
    with open_ledger(ctx) as engine, engine.connect() as conn:
        found = entries(conn, start=first, end=last, tz=tz, limit=limit)
    if fmt == "json":
        typer.echo(json.dumps([public(e) for e in found], indent=2))
        return
    if not found:
        out_of = f" from {start or '…'} to {end or '…'}" if start or end else ""
        typer.echo(f"The audit log holds no entry{out_of}.")
        return
    table = Table("When", "Who", "Action", "What", "Amount")
    for e in found:
        table.add_row(
            e.at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z"),
            e.actor,
            e.action,
            describe(e.what),
            ", ".join(display_money(a, c) for c, a in (e.amount or {}).items()) or "—",
        )
    print_table(table)


def public(e: AuditEntry) -> dict[str, Any]:
    """An entry as JSON: money as exact decimal strings per currency."""
    return {
        "id": e.id,
        "at": e.at.isoformat(),
        "actor": e.actor,
        "action": e.action,
        "what": e.what,
        "amount": None if e.amount is None else {c: format_money(a) for c, a in e.amount.items()},
    }
