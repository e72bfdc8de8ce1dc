"""The `spendledger` command: a thin shell over the library (parse, call one function, print).

Each command lives in the module of its noun; this one wires them under one Typer app
and reads the options every command shares. `main` is the console script's entry point.
"""

from __future__ import annotations

from typing import Annotated

import typer

from spendledger.cli import (
    agents,
    alerts,
    aliases,
    allocate,
    balances,
    budgets,
    channels,
    db,
    digests,
    entries,
    exports,
    fx,
    prices,
    reconcile,
    report_pdf,
    sources,
    tokens,
    users,
)
from spendledger.cli.anomalies import anomalies
from spendledger.cli.audit import audit_command
from spendledger.cli.context import CliState
from spendledger.cli.deletions import delete_command
from spendledger.cli.demo import demo
from spendledger.cli.imports import import_file
from spendledger.cli.report import report
from spendledger.cli.subscriptions import app as subscriptions_app

app = typer.Typer(
    name="spendledger",
    help="A self-hosted ledger of LLM spend: reports, prices, API tokens, the web app.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(tokens.app, name="tokens")
app.add_typer(users.app, name="users")
app.add_typer(prices.app, name="prices")
app.add_typer(sources.app, name="sources")
app.add_typer(sources.secrets_app, name="secrets")
app.add_typer(budgets.app, name="budgets")
app.add_typer(alerts.app, name="alerts")
app.add_typer(balances.app, name="balances")
app.add_typer(channels.app, name="channels")
app.add_typer(digests.app, name="digests")
app.add_typer(entries.app, name="entries")
app.add_typer(agents.app, name="agents")
app.add_typer(subscriptions_app, name="subscriptions")
# `report` reads spend (its own options); `report monthly|weekly` writes a period's PDF
report_app = typer.Typer(
    invoke_without_command=True, help="Spend as a table, CSV or JSON; or a period's PDF report."
)
report_app.callback()(report)
report_app.command("monthly")(report_pdf.monthly)
report_app.command("weekly")(report_pdf.weekly)
app.add_typer(report_app, name="report")
app.add_typer(exports.app, name="export")
app.add_typer(reconcile.app, name="reconcile")
app.add_typer(fx.app, name="fx")
app.add_typer(aliases.app, name="aliases")
app.add_typer(aliases.teams_app, name="teams")
app.add_typer(allocate.app, name="allocate")
app.command("showback")(allocate.showback_command)
app.command("sync")(sources.sync)
app.command("serve")(db.serve)
app.command("worker")(db.worker)
app.command("demo")(demo)
app.command("anomalies")(anomalies)
app.command("delete")(delete_command)
app.command("audit")(audit_command)
app.command("import")(import_file)


@app.callback()
def root(
    ctx: typer.Context,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="sqlite:///path.db or postgresql://user@host/db (overrides SPENDLEDGER_DATABASE_URL).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Read the options every command shares; settings are built when a command needs them."""
    ctx.obj = CliState(database_url=database_url)


def main() -> None:
    app()


__all__ = ["app", "main"]
