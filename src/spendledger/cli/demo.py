"""`spendledger demo`: fill an empty ledger with realistic data to try every page on.

It loads only once: when demo data is there it says so and changes nothing, and it
refuses a ledger holding real records (demo figures would mix into their reports)
unless asked with --force. The demo's budget gets its alerts raised at once, so
/budgets and /alerts have something to show. `--clear` removes the demo data (records,
budget, its alerts) and nothing else.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from spendledger.alerts.evaluate import check_budget
from spendledger.cli.context import fail, open_ledger, out, progress_bar, settings_of, today_in
from spendledger.cli.report import money
from spendledger.demo import DEMO_BUDGET, clear_demo, has_demo, has_other_data, load_demo


def demo(
    ctx: typer.Context,
    clear: Annotated[
        bool, typer.Option("--clear", help="Remove the demo records, budget and alerts (nothing else).")
    ] = False,
    days: Annotated[int, typer.Option(min=1, max=3660, help="How many days of data, ending today.")] = 180,
    seed: Annotated[int, typer.Option(help="Another seed gives other (still realistic) data.")] = 7,
    force: Annotated[
        bool, typer.Option("--force", help="Load even though the ledger has real records.")
    ] = False,
    if_empty: Annotated[
        bool,
        typer.Option("--if-empty", help="Load only into an empty ledger, else do nothing."),
    ] = False,
) -> None:
    """Load demo data ending today (three OpenAI orgs, Anthropic, Mistral, Google) and a
    budget past 80 % with its alerts."""
    settings = settings_of(ctx)
    console = out()
    with open_ledger(ctx) as engine:
        if clear:
            removed = clear_demo(engine)
            console.print(
                f"Removed {removed:,} demo records, the budget {DEMO_BUDGET!r} and its alerts."
                if removed
                else "There was no demo data."
            )
            return
        with engine.connect() as conn:
            loaded, other = has_demo(conn), has_other_data(conn)
        if loaded:
            console.print("Demo data is already loaded; `spendledger demo --clear` removes it.")
            return
        if other and if_empty:
            console.print("The ledger holds records already; no demo data loaded.")
            return
        if other and not force:
            fail(
                "this ledger holds real records and demo figures would mix into their reports; "
                "point --database-url at another database, or pass --force to load anyway"
            )
        end = today_in(settings)
        with progress_bar("Loading demo data") as progress:
            result = load_demo(engine, tz=settings.tz, end=end, days=days, seed=seed, progress=progress)
        raised = []
        if result.budget is not None:
            with engine.begin() as conn:
                raised = check_budget(conn, result.budget, today=end, now=datetime.now(UTC))
    first = end - timedelta(days=days - 1)
    console.print(
        f"Loaded {result.records:,} demo records from {first} to {end}: "
        f"{money(result.total_cost)} USD in total; accounts are named demo-…"
    )
    if result.budget is not None:
        console.print(
            f"Added the budget {DEMO_BUDGET!r} ({money(result.budget.amount)} USD a month, "
            f"{len(raised)} alert{'s' if len(raised) != 1 else ''} raised)."
        )
    console.print(
        "See them with `spendledger report --period 30d --by provider` or `spendledger serve`; "
        "`spendledger demo --clear` removes them."
    )
