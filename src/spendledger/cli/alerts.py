"""`spendledger alerts ...`: budgets' threshold and forecast alerts and spend anomalies,
evaluated, listed, acknowledged.

Each command calls one library function (alerts.py, store/alerts.py) and prints its result.
"""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from spendledger.alerts.delivery import Delivery, notify
from spendledger.alerts.evaluate import describe, evaluate, headline, severity, subject
from spendledger.cli.context import (
    USAGE_ERROR,
    err,
    fail,
    open_ledger,
    out,
    print_table,
    settings_of,
    user_errors,
)
from spendledger.cli.report import money
from spendledger.secrets import load_vault
from spendledger.store.alerts import AlertRow, UnknownAlertError, acknowledge, list_alerts
from spendledger.store.tables import ALERT_STATUSES

app = typer.Typer(
    help="Alerts: budgets' thresholds crossed, forecasts heading over, spend anomalies.",
    no_args_is_help=True,
)


@app.command("evaluate")
def evaluate_(
    ctx: typer.Context,
    at: Annotated[
        str | None,
        typer.Option("--at", help="Evaluate as of this moment (YYYY-MM-DD[THH:MM], in the ledger's zone)."),
    ] = None,
) -> None:
    """Evaluate every alert now (or as of --at) and print those newly raised: budgets'
    thresholds and forecasts on that day, anomalies of the day before (each fires once)."""
    settings = settings_of(ctx)
    moment = None
    if at is not None:
        try:
            parsed = datetime.fromisoformat(at.strip())
        except ValueError:
            fail(
                f"--at: {at!r} is not a date or date-time (YYYY-MM-DD or YYYY-MM-DDTHH:MM)", code=USAGE_ERROR
            )
        moment = parsed if parsed.tzinfo else parsed.replace(tzinfo=settings.tz)
    deliveries: list[Delivery] = []
    with open_ledger(ctx) as engine:
        with engine.begin() as conn:
            raised = evaluate(conn, tz=settings.tz, at=moment)
        if raised:  # sent by whoever raised them, once stored
            with user_errors():
                vault = load_vault(settings)
            deliveries = notify(engine, raised, vault=vault, dashboard_url=settings.public_url)
    if not raised:
        out().print("No new alerts.")
        return
    for alert in raised:
        out().print(f"#{alert.id} {describe(alert)}")
    out().print(
        f"{len(raised)} new alert{'s' if len(raised) != 1 else ''}; `spendledger alerts list` lists them."
    )
    for d in deliveries:
        if d.status == "failed":
            err().print(
                f"#{d.alert_id} to channel {d.channel}: failed after {d.attempts} attempts: {d.error}"
            )
    sent = sum(d.status == "sent" for d in deliveries)
    if deliveries:
        out().print(f"Sent {sent} of {len(deliveries)} notifications.")


app.command("check", hidden=True)(evaluate_)  # the first name it had


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[str, typer.Option(help=f"{'|'.join(ALERT_STATUSES)}|all.")] = "open",
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """The alerts with STATUS (default: open), newest first."""
    if status != "all" and status not in ALERT_STATUSES:
        fail(f"--status: {status!r} is not one of {', '.join(ALERT_STATUSES)}, all", code=USAGE_ERROR)
    if fmt not in ("table", "json"):
        fail(f"--format: {fmt!r} is not one of table, json", code=USAGE_ERROR)
    with open_ledger(ctx) as engine, engine.connect() as conn:
        rows = list_alerts(conn, None if status == "all" else status)
    if fmt == "json":
        typer.echo(json.dumps([_public(a) for a in rows], indent=2))
        return
    if not rows:
        out().print(f"No {'' if status == 'all' else status + ' '}alerts.")
        return
    table = Table(
        "ID",
        "Budget or subject",
        "Kind",
        "Threshold",
        "Window",
        "Spent",
        "Used",
        "Projected",
        "Status",
        "Raised",
    )
    for a in rows:
        f = a.figures
        table.add_row(
            str(a.id),
            headline(a) if a.kind in ("anomaly", "balance") else a.budget,
            a.kind,
            "—" if a.kind in ("anomaly", "balance") else f"{a.threshold} %",
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
    out().print(f"Alert #{alert.id} ({headline(alert)}): {_status(alert)}.")


def _public(a: AlertRow) -> dict[str, object]:
    """An alert as JSON: money as decimal strings, times in ISO 8601."""
    return {
        "id": a.id,
        "kind": a.kind,
        "budget": a.budget,  # an anomaly's subject as a filter, "model:gpt-4o"
        "subject": subject(a),
        "threshold": None if a.kind in ("anomaly", "balance") else a.threshold,
        "level": severity(a),
        "window": {"from": a.window_start.isoformat(), "to": a.window_end.isoformat()},
        "figures": {k: str(v) for k, v in a.figures.items()},
        "currency": a.currency,
        "state": a.status,
        "passed": a.passed,  # resolved as passed on the way to a higher threshold, never raised
        "fired_at": a.created_at.isoformat() if a.created_at else None,
        "acknowledged_by": a.acknowledged_by,
        "acknowledged_at": a.acknowledged_at.isoformat() if a.acknowledged_at else None,
        "resolved_at": a.resolved_at.isoformat() if a.resolved_at else None,
        "text": describe(a),
    }


def _status(a: AlertRow) -> str:
    if a.passed:
        return a.note or "passed"
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
