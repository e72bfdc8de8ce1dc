"""`spendledger budgets ...`: spending limits on a slice of the ledger and where they stand.

Each command calls one library function (budgets.py, store/budgets.py) and prints its
result; the figures are those of `spendledger report` over the budget's window, scope
and basis.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table

from spendledger.alerts.budgets import (
    BUDGET_BASES,
    BudgetStatus,
    budget_status,
    create_budget,
    describe_scope,
)
from spendledger.cli.context import (
    cli_actor,
    open_ledger,
    out,
    print_table,
    settings_of,
    today_in,
    user_errors,
)
from spendledger.cli.report import money
from spendledger.records import DIMENSIONS
from spendledger.store import audit
from spendledger.store.budgets import get_budget, list_budgets, remove_budget
from spendledger.store.tables import PERIODS

app = typer.Typer(help="Budgets: spending limits per period on any slice of spend.", no_args_is_help=True)


@app.command("add")
def add(
    ctx: typer.Context,
    name: str,
    amount: Annotated[str, typer.Option("--amount", help="The limit per window, e.g. 500 or 1250.50.")],
    currency: Annotated[
        str,
        typer.Option(help="The amount's currency; spend in others counts, converted at its day's rate."),
    ] = "USD",
    period: Annotated[
        str, typer.Option(help=f"{'|'.join(PERIODS)}; calendar windows in the configured zone.")
    ] = "monthly",
    start: Annotated[str | None, typer.Option("--from", help="A custom period's first day.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="A custom period's last day, included.")] = None,
    filters: Annotated[
        list[str] | None,
        typer.Option(
            "--filter", help=f"DIM=VALUE (repeat; same DIM: any of) of {', '.join(DIMENSIONS[:8])}."
        ),
    ] = None,
    thresholds: Annotated[str, typer.Option(help="Percentages of the amount to alert at.")] = "50,80,100",
    basis: Annotated[str, typer.Option(help=f"{'|'.join(BUDGET_BASES)}.")] = "best",
    channels: Annotated[
        list[str] | None, typer.Option("--channel", help="A notification channel's name (repeat).")
    ] = None,
) -> None:
    """Add a budget called NAME (default: monthly, on all spend, alerts at 50, 80 and 100 %)."""
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        budget = create_budget(
            conn,
            name=name,
            amount=amount,
            now=datetime.now(UTC),
            currency=currency,
            period=period,
            start=start,
            end=end,
            filters=filters or (),
            thresholds=thresholds,
            basis=basis,
            channels=channels or (),
        )
        audit.record(
            conn, actor=cli_actor(), action="budget.add", what={"name": budget.name, "amount": budget.amount}
        )
    out().print(
        f"Added budget {budget.name!r}: {money(budget.amount)} {budget.currency} {budget.period} "
        f"on {describe_scope(budget.scope)}; `spendledger budgets show {budget.name}` shows where it stands."
    )


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """The budgets, with what each has spent in its current window."""
    today = today_in(settings_of(ctx))
    with open_ledger(ctx) as engine, engine.connect() as conn:
        statuses = [budget_status(conn, b, today=today, history=0) for b in list_budgets(conn)]
    if not statuses:
        out().print("No budgets yet: `spendledger budgets add NAME --amount 500` makes one.")
        return
    table = Table("Name", "Scope", "Amount", "Period", "Spent", "Used", "Resets in")
    for s in statuses:
        b = s.budget
        table.add_row(
            b.name,
            describe_scope(b.scope),
            f"{money(b.amount)} {b.currency}",
            b.period,
            money(s.spent),
            f"{s.percent} %",
            _resets(s),
            style="red" if s.over else None,
        )
    print_table(table)


@app.command("show")
def show(ctx: typer.Context, name: str) -> None:
    """Where the budget NAME stands: its window, spent, left, thresholds, past windows."""
    today = today_in(settings_of(ctx))
    with open_ledger(ctx) as engine, user_errors(), engine.connect() as conn:
        s = budget_status(conn, get_budget(conn, name), today=today)
    b, w = s.budget, s.window
    console = out()
    console.print(
        f"[bold]{b.name}[/bold]: {money(b.amount)} {b.currency} {b.period} on {describe_scope(b.scope)}"
    )
    console.print(f"Basis: {b.basis} · thresholds: {', '.join(f'{t} %' for t in b.thresholds)}")
    console.print(f"Channels: {', '.join(b.channels) or 'none'}")
    console.print(f"Current window: {w.start} → {w.end} ({_days(w.days)}, both included), today {today}")
    console.print(f"Spent: {money(s.spent)} {b.currency} ({s.percent} % of {money(b.amount)})")
    if s.unconverted:
        others = ", ".join(f"{money(v)} {c}" for c, v in s.unconverted.items())
        console.print(
            f"Not counted: {others} on days with no exchange rate into {b.currency} "
            "(spendledger fx import FILE, or fx update)",
            style="yellow",
        )
    left = f"{money(s.left)} {b.currency}" if s.left >= 0 else f"none, over by {money(-s.left)} {b.currency}"
    console.print(f"Left: {left}")
    console.print(f"Resets: {_resets(s, long=True)}")
    crossed = ", ".join(f"{t} %" for t in s.crossed) or "none yet"
    console.print(f"Thresholds crossed: {crossed}")
    if s.past:
        table = Table("Window", "Spent", "Used", title="Past windows")
        for p in s.past:
            table.add_row(f"{p.start} → {p.end}", money(p.spent), f"{p.percent} %")
        print_table(table)


@app.command("remove")
def remove(ctx: typer.Context, name: str) -> None:
    """Remove the budget NAME (spend is untouched)."""
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        remove_budget(conn, name)
        audit.record(conn, actor=cli_actor(), action="budget.remove", what={"name": name})
    out().print(f"Removed budget {name!r}.")


def _resets(s: BudgetStatus, *, long: bool = False) -> str:
    if s.resets_in is None:
        return "never (custom window)" if long else "—"
    days = _days(s.resets_in)
    return f"in {days}, on {s.window.end + timedelta(days=1)}" if long else days


def _days(n: int) -> str:
    return f"{n} day{'s' if n != 1 else ''}"
