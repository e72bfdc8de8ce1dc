"""`spendledger subscriptions ...`: recurring seat subscriptions and the records they write.

Each command calls one function of ingest/subscriptions.py and prints its result; the
figures are the ledger's (`spendledger report` shows the same money).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from spendledger.cli.context import (
    cli_actor,
    open_ledger,
    out,
    print_table,
    settings_of,
    today_in,
    user_errors,
)
from spendledger.ingest.subscription_plans import CHECKED, PRESETS
from spendledger.ingest.subscriptions import (
    INTERVALS,
    VIEWS,
    Outcome,
    change_seats,
    covered_by,
    create_subscription,
    current_view,
    period_figures,
    remove_subscription,
    schedule,
    set_view,
    sync_subscriptions,
)
from spendledger.records import display_money
from spendledger.store.subscriptions import SubscriptionRow, get_subscription, list_subscriptions, recorded

app = typer.Typer(
    help="Seat subscriptions (ChatGPT, Claude, Copilot, Cursor...): seats × price a period, as manual spend.",
    no_args_is_help=True,
)


@app.command("add")
def add(
    ctx: typer.Context,
    name: str,
    starts: Annotated[str, typer.Option("--starts", help="The first day paid (YYYY-MM-DD).")],
    seats: Annotated[str, typer.Option("--seats", help="Seats paid for from --starts.")] = "1",
    price_per_seat: Annotated[
        str | None,
        typer.Option("--price-per-seat", help="One seat's price per interval (a plan's list price)."),
    ] = None,
    provider: Annotated[
        str | None, typer.Option(help="Who bills it: openai, anthropic... (a plan's provider).")
    ] = None,
    plan: Annotated[
        str | None, typer.Option("--plan", help="A shipped plan (`subscriptions plans`): provider and price.")
    ] = None,
    currency: Annotated[str, typer.Option(help="The price's currency.")] = "USD",
    billing_day: Annotated[
        str | None, typer.Option("--billing-day", help="Day of the month billed (default: the start's).")
    ] = None,
    interval: Annotated[str, typer.Option(help=f"{'|'.join(INTERVALS)}.")] = "monthly",
    ends: Annotated[str | None, typer.Option("--ends", help="The last day paid, included.")] = None,
    account: Annotated[str, typer.Option(help="The account (organisation) it is billed to.")] = "",
    project: Annotated[str, typer.Option(help="The project its spend counts under.")] = "",
    user: Annotated[str, typer.Option(help="The user its spend counts under (a one-seat plan).")] = "",
) -> None:
    """Add the subscription NAME and record its periods up to today."""
    settings = settings_of(ctx)
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        outcome = create_subscription(
            conn, name=name, seats=seats, starts=starts, provider=provider, price_per_seat=price_per_seat,
            currency=currency, billing_day=billing_day, interval=interval, ends=ends, account=account,
            project=project, user=user, plan=plan, tz=settings.tz, today=today_in(settings),
            now=datetime.now(UTC), actor=cli_actor(),
        )  # fmt: skip
    s = outcome.subscription
    out().print(
        f"Added subscription {s.name!r}: {_definition(s)}; {_written(outcome)}. "
        f"`spendledger subscriptions show {s.name}` lists its periods."
    )
    _warn(outcome)


@app.command("seats")
def seats(
    ctx: typer.Context,
    name: str,
    count: Annotated[str, typer.Argument(help="Seats paid for from --from on (0 pauses it).")],
    from_day: Annotated[str, typer.Option("--from", help="The day the change takes effect (YYYY-MM-DD).")],
) -> None:
    """Change NAME's seats from a day on; a change mid-period is prorated by the day."""
    settings = settings_of(ctx)
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        outcome = change_seats(
            conn,
            name,
            count,
            from_day=from_day,
            tz=settings.tz,
            today=today_in(settings),
            now=datetime.now(UTC),
            actor=cli_actor(),
        )
    out().print(f"{outcome.subscription.name!r}: {count} seats from {from_day}; {_written(outcome)}.")
    _warn(outcome)


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """Every subscription, with its seats today and what it has recorded so far."""
    today = today_in(settings_of(ctx))
    with open_ledger(ctx) as engine, engine.connect() as conn:
        rows = [(s, covered_by(conn, s)) for s in list_subscriptions(conn)]
        totals = recorded(conn)
        view = current_view(conn)
    if not rows:
        out().print(
            "No subscriptions yet: `spendledger subscriptions add NAME --plan chatgpt-business --seats 12 "
            "--starts 2026-09-01` adds one."
        )
        return
    table = Table("Name", "Provider", "Plan", "Seats", "Price per seat", "Period", "Recorded", "Counts")
    for s, source in rows:
        _, total = totals.get(s.id, (0, None))
        table.add_row(
            s.name,
            s.provider + (f" / {s.account}" if s.account else ""),
            s.plan or "—",
            str(schedule(s).seats_on(today)),
            display_money(s.price, s.currency),
            s.interval,
            "—" if total is None else display_money(total, s.currency),
            f"source {source}" if source else "this subscription",
        )
    print_table(table)
    out().print(f"Recorded as: {_view_text(view)} (`spendledger subscriptions view` changes it).")


@app.command("show")
def show(ctx: typer.Context, name: str) -> None:
    """NAME's definition, seat changes and billing periods with what each costs."""
    today = today_in(settings_of(ctx))
    with open_ledger(ctx) as engine, user_errors(), engine.connect() as conn:
        s = get_subscription(conn, name)
        source = covered_by(conn, s)
        count, total = recorded(conn).get(s.id, (0, None))
        view = current_view(conn)
    console = out()
    console.print(f"[bold]{s.name}[/bold]: {_definition(s)}")
    if s.plan:
        console.print(f"Plan: {s.plan}")
    scope = ", ".join(
        f"{k}={v}" for k, v in (("account", s.account), ("project", s.project), ("user", s.user)) if v
    )
    console.print(f"Counts under: provider={s.provider}{', ' + scope if scope else ''}")
    console.print("Seats: " + ", ".join(f"{n} from {d}" for d, n in s.seats))
    if source:
        console.print(
            f"[yellow]Covered by source {source!r}: its billed seat charges count; nothing recorded here."
        )
    else:
        recorded_text = (
            "nothing yet" if total is None else f"{display_money(total, s.currency)} in {count} records"
        )
        console.print(f"Recorded ({_view_text(view)}): {recorded_text}")
    figures = period_figures(s, today=today)
    if figures:
        table = Table("Period", "Days paid", "Seats", "Cost", title="Billing periods (most recent first)")
        for f in figures:
            table.add_row(
                f"{f.start} → {f.end}", f"{f.first} → {f.last}", f.seats, display_money(f.amount, s.currency)
            )
        print_table(table)


@app.command("remove")
def remove(ctx: typer.Context, name: str) -> None:
    """Remove NAME and every record it wrote."""
    settings = settings_of(ctx)
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        gone = remove_subscription(conn, name, tz=settings.tz, actor=cli_actor())
    total = display_money(gone.total, gone.subscription.currency)
    out().print(f"Removed subscription {gone.subscription.name!r} and its {gone.records} records ({total}).")


@app.command("sync")
def sync(ctx: typer.Context) -> None:
    """Bring every subscription's records up to today (the scheduler does it each round)."""
    settings = settings_of(ctx)
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        outcomes = sync_subscriptions(conn, tz=settings.tz, today=today_in(settings), now=datetime.now(UTC))
    for outcome in outcomes:
        out().print(f"{outcome.subscription.name}: {_written(outcome)}")
    if not outcomes:
        out().print("No subscriptions.")


@app.command("view")
def view(
    ctx: typer.Context,
    shape: Annotated[
        str | None, typer.Argument(help=f"{'|'.join(VIEWS)}; none: show the current one.")
    ] = None,
) -> None:
    """How subscriptions are recorded: `charge` (each period's charge on its billing day) or
    `spread` (a share every day, for smooth daily charts). One for the whole ledger."""
    settings = settings_of(ctx)
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        if shape is None:
            out().print(f"Subscriptions are recorded as {_view_text(current_view(conn))}.")
            return
        outcomes = set_view(
            conn, shape, tz=settings.tz, today=today_in(settings), now=datetime.now(UTC), actor=cli_actor()
        )
        now_view = current_view(conn)
    out().print(f"Subscriptions are now recorded as {_view_text(now_view)}; {len(outcomes)} rewritten.")


@app.command("plans")
def plans() -> None:
    """The shipped plan presets with their list prices and where they were read."""
    table = Table(
        "Plan", "Provider", "Monthly", "Annual", "Source", title=f"Plan presets (prices checked {CHECKED})"
    )
    for p in PRESETS:
        monthly, annual = p.price("monthly"), p.price("annual")
        table.add_row(
            p.name,
            p.provider,
            display_money(monthly, "USD") if monthly is not None else "—",
            display_money(annual, "USD") if annual is not None else "—",
            p.source,
        )
    print_table(table)


def _definition(s: SubscriptionRow) -> str:
    ends = f" to {s.ends}" if s.ends else ""
    return (
        f"{s.provider}, {display_money(s.price, s.currency)} per seat {s.interval}, "
        f"billed on day {s.billing_day}, from {s.starts}{ends}"
    )


def _written(outcome: Outcome) -> str:
    if outcome.covered_by:
        return f"covered by source {outcome.covered_by!r}, nothing recorded ({outcome.removed} removed)"
    w = outcome.written
    return (
        f"{w.inserted} records written, {w.replaced} revised, {outcome.removed} removed, "
        f"{w.duplicates} unchanged"
    )


def _warn(outcome: Outcome) -> None:
    if outcome.warning:
        out().print(f"[yellow]Warning: {outcome.warning}.")


def _view_text(view: str) -> str:
    return "each period's charge on its billing day" if view == "charge" else "a share on every day paid"
