"""`spendledger reconcile`: the providers' bills against the metering, and closing a month.

`reconcile` (no subcommand) prints the coverage per provider, then billed beside metered
per UTC day with the gap explained (reconcile/figures.py), then the closed months the
period touches with their late adjustments; `--format csv|json` give the exports' exact
renderings (the JSON is GET /api/v1/reconcile's). `close MONTH` and `reopen MONTH`
(admins' acts, written to the audit log) keep or drop a month's figures.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from spendledger.cli.context import (
    USAGE_ERROR,
    cli_actor,
    fail,
    open_ledger,
    out,
    print_table,
    settings_of,
    today_in,
    user_errors,
)
from spendledger.cli.report import Format, money
from spendledger.exports.reconcile import reconciliation_to_csv, reconciliation_to_dict
from spendledger.queries import PRESETS
from spendledger.reconcile import (
    CATEGORIES,
    CATEGORY_LABELS,
    CATEGORY_SHORT,
    DIMS,
    KIND_LABELS,
    ClosedMonth,
    ReconcileError,
    Reconciliation,
    ReconRow,
    build_reconcile_query,
    close_month,
    closed_months,
    parse_tolerance,
    reconcile,
    reopen_month,
)

app = typer.Typer(help="The providers' bills against the metering, per UTC day; close a reconciled month.")


@app.callback(invoke_without_command=True)
def show(
    ctx: typer.Context,
    start: Annotated[str | None, typer.Option("--from", help="First UTC day (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last UTC day, included.")] = None,
    period: Annotated[
        str | None, typer.Option(help=f"Instead of dates: {'|'.join(PRESETS)} (default: last-month).")
    ] = None,
    by: Annotated[list[str] | None, typer.Option(help=f"Rows by DIM,... of: {', '.join(DIMS)}.")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="table, csv or json.")] = Format.TABLE,
    tolerance: Annotated[
        str | None,
        typer.Option(help="Flag rows further apart: a percent of the bill, an amount, or both (1%,0.01)."),
    ] = None,
    flagged: Annotated[bool, typer.Option("--flagged", help="Only the rows outside the tolerance.")] = False,
) -> None:
    """Billed beside metered per UTC day, provider and account, the gap explained by category."""
    if ctx.invoked_subcommand is not None:
        return
    settings = settings_of(ctx)
    with user_errors():
        query = build_reconcile_query(
            today=today_in(settings), start=start, end=end, period=period, by=by or ()
        )
    try:
        limits = parse_tolerance(tolerance or settings.reconcile_tolerance)
    except ReconcileError as exc:  # a bad option, as a bad date is
        fail(str(exc), code=USAGE_ERROR)
    with open_ledger(ctx) as engine, engine.connect() as conn:
        found = reconcile(conn, query, tolerance=limits)
        closed = closed_months(conn, start=query.start, end=query.end)
    if flagged:
        found.rows = [r for r in found.rows if r.flagged]
    if fmt is Format.JSON:
        typer.echo(json.dumps(reconciliation_to_dict(found, closed), indent=2))
    elif fmt is Format.CSV:
        typer.echo(reconciliation_to_csv(found), nl=False)
    else:
        print_table(coverage_table(found))
        print_table(rows_table(found))
        for month in closed:
            print_table(adjustments_table(month))


@app.command("close")
def close(ctx: typer.Context, month: Annotated[str, typer.Argument(help="YYYY-MM (UTC days).")]) -> None:
    """Close a reconciled month: keep its figures; later changes show as late adjustments."""
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        done = close_month(conn, month, actor=cli_actor(), today=datetime.now(UTC).date())
    if not done:
        out().print(f"{month} is closed already; `spendledger reconcile reopen {month}` reopens it.")
        return
    out().print(f"Closed {month}: its figures are kept; a later change to it shows as a late adjustment.")


@app.command("reopen")
def reopen(ctx: typer.Context, month: Annotated[str, typer.Argument(help="YYYY-MM.")]) -> None:
    """Reopen a closed month (its kept figures are dropped)."""
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        done = reopen_month(conn, month, actor=cli_actor())
    out().print(f"Reopened {month}." if done else f"{month} was not closed.")


def explained(row: ReconRow) -> str:
    """The gap's categories in words: "non-token items 1.25 (web search 1.25); rounding 0.00074"."""
    parts = []
    for category, amount in row.gaps.items():
        text = f"{CATEGORY_SHORT[category]} {money(amount)}"
        if category == "non_token" and row.non_token:
            text += " (" + ", ".join(f"{KIND_LABELS[k]} {money(v)}" for k, v in row.non_token.items()) + ")"
        parts.append(text)
    return "; ".join(parts) or "—"


def _coverage(row: ReconRow) -> str:
    return "—" if row.coverage is None else f"{row.coverage}%"


def coverage_table(found: Reconciliation) -> Table:
    """Per provider: billed, metered, coverage, the gap and a column per category it holds."""
    q = found.query
    present = [c for c in CATEGORIES if any(c in p.gaps for p in found.providers)]
    legend = "; ".join(
        f"{CATEGORY_SHORT[c]}: {CATEGORY_LABELS[c]}"
        for c in present
        if CATEGORY_SHORT[c] != CATEGORY_LABELS[c]
    )
    table = Table(
        title=f"Metered vs billed by provider, {q.start} → {q.end} (UTC days)",
        caption=f"coverage: the metered estimate as a share of the bill · tolerance {found.tolerance}"
        + (f" · {legend}" if legend else ""),
    )
    table.add_column("Provider")
    table.add_column("Currency")
    for name in ("Billed", "Metered", "Coverage", "Gap", *(CATEGORY_SHORT[c].capitalize() for c in present)):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("Flagged days", justify="right")
    for p in found.providers:
        table.add_row(
            p.provider,
            p.currency,
            money(p.billed),
            money(p.metered),
            _coverage(p),
            money(p.gap),
            *(money(p.gaps[c]) if c in p.gaps else "—" for c in present),
            f"{len(p.flagged_days)} of {p.days}",
        )
    if not found.providers:
        table.add_row("(no billed or metered records)", *[""] * (6 + len(present)))
    return table


def rows_table(found: Reconciliation) -> Table:
    by = found.query.by
    table = Table(title="By day", caption="⚑: outside the tolerance")
    for name in ("Day", *(d.replace("_", " ").capitalize() for d in by), "Currency"):
        table.add_column(name, overflow="fold")
    for name in ("Billed", "Metered", "Coverage", "Gap"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)
    table.add_column("Gap explained", overflow="fold")
    for row in found.rows:
        table.add_row(
            row.day or "",
            *(row.dims[d] or "—" for d in by),
            row.currency,
            money(row.billed),
            money(row.metered),
            _coverage(row),
            money(row.gap),
            "⚑" if row.flagged else "",
            explained(row),
        )
    return table


def adjustments_table(month: ClosedMonth) -> Table:
    table = Table(
        title=f"{month.month}: closed {month.closed_at:%Y-%m-%d %H:%M} UTC by {month.closed_by}",
        caption="late adjustments: changes to the month's records since it was closed"
        if month.adjustments
        else "no late adjustments: the month's figures are as they were closed",
    )
    for name in (
        "Day",
        "Provider",
        "Account",
        "Currency",
        "Billed then",
        "Billed now",
        "Metered then",
        "Metered now",
    ):
        table.add_column(name, justify="right" if "then" in name or "now" in name else "left")
    for a in month.adjustments:
        table.add_row(
            a.day, a.provider, a.account or "—", a.currency,
            money(a.billed_then), money(a.billed_now), money(a.metered_then), money(a.metered_now),
        )  # fmt: skip
    return table
