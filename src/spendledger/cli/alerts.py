"""`spendledger alerts ...`: budgets' threshold and forecast alerts, checked, listed, acknowledged.

Each command calls one library function (alerts.py, store/alerts.py) and prints its result.
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from spendledger.alerts import check_budgets, describe
from spendledger.cli.context import USAGE_ERROR, fail, open_ledger, out, print_table, settings_of
from spendledger.cli.report import money
from spendledger.store.alerts import AlertRow, UnknownAlertError, acknowledge, list_alerts
from spendledger.store.tables import ALERT_STATUSES

app = typer.Typer(
    help="Alerts: budgets' thresholds crossed and forecasts heading over.", no_args_is_help=True
)


@app.command("check")
def check(ctx: typer.Context) -> None:
    """Check every budget now and print the alerts newly raised (each fires once per window)."""
    settings = settings_of(ctx)
    with open_ledger(ctx) as engine, engine.begin() as conn:
        raised = check_budgets(conn, tz=settings.tz)
    if not raised:
        out().print("No new alerts.")
        return
    for alert in raised:
        out().print(f"#{alert.id} {describe(alert)}")
    out().print(
        f"{len(raised)} new alert{'s' if len(raised) != 1 else ''}; `spendledger alerts list` lists them."
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[str, typer.Option(help=f"{'|'.join(ALERT_STATUSES)}|all.")] = "open",
) -> None:
    """The alerts with STATUS (default: open), newest first."""
    if status != "all" and status not in ALERT_STATUSES:
        fail(f"--status: {status!r} is not one of {', '.join(ALERT_STATUSES)}, all", code=USAGE_ERROR)
    with open_ledger(ctx) as engine, engine.connect() as conn:
        rows = list_alerts(conn, None if status == "all" else status)
    if not rows:
        out().print(f"No {'' if status == 'all' else status + ' '}alerts.")
        return
    table = Table(
        "ID", "Budget", "Kind", "Threshold", "Window", "Spent", "Used", "Projected", "Status", "Raised"
    )
    for a in rows:
        f = a.figures
        table.add_row(
            str(a.id),
            a.budget,
            a.kind,
            f"{a.threshold} %",
            f"{a.window_start} → {a.window_end}",
            f"{money(f['spent'])} {a.currency}" if "spent" in f else "—",
            f"{f['percent']} %" if "percent" in f else "—",
            money(f["projected"]) if "projected" in f else "—",
            _status(a),
            a.created_at.strftime("%Y-%m-%d %H:%M UTC") if a.created_at else "—",
        )
    print_table(table)


@app.command("ack")
def ack(
    ctx: typer.Context,
    alert_id: Annotated[int, typer.Argument(metavar="ID", help="The alert's ID, from `alerts list`.")],
    by: Annotated[str | None, typer.Option(help="Who acknowledges (default: your login name).")] = None,
) -> None:
    """Acknowledge the alert ID: recorded with who and when."""
    who = (by or _login()).strip()
    with open_ledger(ctx) as engine, engine.begin() as conn:
        try:
            alert = acknowledge(conn, alert_id, by=who, at=datetime.now(UTC))
        except UnknownAlertError as exc:
            fail(str(exc))
    out().print(f"Alert #{alert.id} ({alert.budget}, {alert.kind} {alert.threshold} %): {_status(alert)}.")


def _status(a: AlertRow) -> str:
    if a.status == "acknowledged" and a.acknowledged_at:
        return f"acknowledged by {a.acknowledged_by} on {a.acknowledged_at:%Y-%m-%d %H:%M} UTC"
    if a.status == "resolved" and a.resolved_at:
        return f"resolved on {a.resolved_at:%Y-%m-%d %H:%M} UTC"
    return a.status


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"
