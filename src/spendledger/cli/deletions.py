"""`spendledger delete`: remove the records of a scope, after saying exactly what goes.

The scope is every option given at once (store/deletions.py); an empty one is refused
unless `--all`. What goes is printed first (records per provider and basis, the money
per currency, the days); `--dry-run` stops there, otherwise the command asks before
deleting (`--yes` answers for scripts). The deletion is written to the audit log.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from spendledger.cli.context import cli_actor, open_ledger, out, print_table, user_errors
from spendledger.records import display_money
from spendledger.store.deletions import Summary, delete, parse_scope, summarise


def delete_command(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option(help="The records a source wrote (its name).")] = None,
    provider: Annotated[str | None, typer.Option(help="A provider's records (openai, aws...).")] = None,
    account: Annotated[str | None, typer.Option(help="An account's records; none: those with none.")] = None,
    project: Annotated[str | None, typer.Option(help="A project's records; none: those with none.")] = None,
    basis: Annotated[str | None, typer.Option(help="billed|metered|manual|demo.")] = None,
    start: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD, local).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day, included.")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Every record (no scope option).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would go; delete nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before deleting.")] = False,
) -> None:
    """Delete the records matching every option given (admins' tool; audited)."""
    with user_errors():
        scope = parse_scope(
            source=source,
            provider=provider,
            account=account,
            project=project,
            basis=basis,
            start=start,
            end=end,
            everything=everything,
        )
    with open_ledger(ctx) as engine:
        with engine.connect() as conn:
            preview = summarise(conn, scope)
        if preview.records == 0:
            out().print(f"No record matches {scope.describe()}: nothing to delete.")
            return
        show(preview, verb="Would delete" if dry_run else "Will delete")
        if dry_run:
            out().print("Nothing was deleted (--dry-run).")
            return
        if not yes and not typer.confirm(f"Delete these {preview.records:,} records?", default=False):
            out().print("Nothing was deleted.")
            raise typer.Exit(1)
        with engine.begin() as conn:
            gone = delete(conn, scope, actor=cli_actor())
    out().print(
        f"Deleted {gone.records:,} records ({gone.money()}) of {scope.describe()}; "
        "`spendledger audit` shows it."
    )


def show(summary: Summary, *, verb: str) -> None:
    """What a scope holds: a line, a table per provider and basis, the days."""
    console = out()
    console.print(
        f"{verb} {summary.records:,} records of {summary.scope.describe()}: {summary.money()}, "
        f"on {summary.days} day{'s' if summary.days != 1 else ''} "
        f"({summary.first_day} to {summary.last_day})."
    )
    table = Table("Provider", "Basis", "Records", "Amount")
    for s in summary.slices:
        amounts = ", ".join(display_money(a, c) for c, a in s.amounts.items())
        table.add_row(s.provider, s.basis, f"{s.records:,}", amounts)
    print_table(table)
