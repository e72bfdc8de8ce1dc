"""`spendledger allocate rule ...` and `spendledger showback`: shared costs split by rule, and
what each team, project or customer cost.

The showback takes `report`'s period, filter and basis options (same names, same
errors) and calls `showback.showback`, the function /showback and GET /api/v1/showback
call: every rendering shows the same figures.
"""

from __future__ import annotations

import enum
import json
from decimal import Decimal
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
from spendledger.cli.report import money
from spendledger.queries import BASES, PRESETS, build_query
from spendledger.showback import UNALLOCATED, Showback, showback, showback_to_csv, showback_to_dict
from spendledger.store.allocation import (
    POOLS,
    RULE_DIMENSIONS,
    SPLITS,
    AllocationRule,
    add_rule,
    list_rules,
    remove_rule,
)

app = typer.Typer(help="Shared costs: how each pool is split in the showback.", no_args_is_help=True)
rules_app = typer.Typer(
    help="Allocation rules: a pool, the groups it is split among, and how.", no_args_is_help=True
)
app.add_typer(rules_app, name="rule")


class Format(enum.StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


@rules_app.command("add")
def rule_add(
    ctx: typer.Context,
    name: str,
    what: Annotated[str, typer.Option(help=f"The pool: {'|'.join(POOLS)}.")],
    by: Annotated[str, typer.Option(help=f"The groups: {'|'.join(RULE_DIMENSIONS)}.")],
    split: Annotated[
        str, typer.Option(help=f"{'|'.join(SPLITS)} (in proportion to each group's own spend).")
    ] = "proportional",
) -> None:
    """Split a shared pool among the groups of a showback by a rule."""
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        rule, outcome = add_rule(conn, AllocationRule(name, what, by, split), actor=cli_actor())
    verb = "Unchanged: the rule was there already" if outcome == "unchanged" else "Added rule"
    out().print(f"{verb} {rule.name!r}: {rule.what} split by {rule.by}, {rule.split}.")


@rules_app.command("remove")
def rule_remove(ctx: typer.Context, name: str) -> None:
    """Remove a rule: its pool is shown unallocated again."""
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        gone = remove_rule(conn, name=name, actor=cli_actor())
    out().print(f"Removed rule {gone.name!r} ({gone.what} by {gone.by}).")


@rules_app.command("list")
def rule_list(ctx: typer.Context) -> None:
    """Every rule."""
    with open_ledger(ctx) as engine, engine.connect() as conn:
        found = list_rules(conn)
    if not found:
        out().print(
            "No rules yet: `spendledger allocate rule add NAME --what unattributed --by team "
            "--split proportional`."
        )
        return
    table = Table("Name", "Pool", "By", "Split")
    for r in found:
        table.add_row(r.name, r.what, r.by, r.split)
    print_table(table)


def showback_command(
    ctx: typer.Context,
    by: Annotated[str, typer.Option(help=f"{'|'.join(RULE_DIMENSIONS)}.")] = "team",
    start: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD, local).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day, included.")] = None,
    period: Annotated[str | None, typer.Option(help=f"Instead of dates: {'|'.join(PRESETS)}.")] = None,
    basis: Annotated[str, typer.Option(help=f"{'|'.join(BASES)}.")] = "best",
    filters: Annotated[
        list[str] | None, typer.Option("--filter", help="DIM=VALUE; repeat to add (same DIM: any of).")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="table, csv or json.")] = Format.TABLE,
) -> None:
    """What each team, project or customer cost: direct spend, shares of shared costs, total."""
    settings = settings_of(ctx)
    with user_errors():
        query = build_query(
            today=today_in(settings),
            start=start,
            end=end,
            period=period,
            by=[by],
            filters=filters or (),
            basis=basis,
        )
    with open_ledger(ctx) as engine, engine.connect() as conn, user_errors():
        result = showback(conn, query)
    if fmt is Format.JSON:
        typer.echo(json.dumps(showback_to_dict(result), indent=2))
    elif fmt is Format.CSV:
        typer.echo(showback_to_csv(result), nl=False)
    else:
        print_table(render_table(result))


def render_table(result: Showback) -> Table:
    """A row per group (and currency), the unallocated rest, the totals; then the pools."""
    q = result.query
    several = len(result.totals) > 1
    pools = "; ".join(
        f"{p.what} {money(p.amount)} {p.currency} by rule {p.rule.name} ({p.rule.split})"
        + ("" if p.allocated else ": no group to share with")
        for p in result.pools
    )
    table = Table(
        title=f"Showback by {result.dimension} {q.start} → {q.end}",
        caption=f"basis: {q.basis} · shared: {pools or 'no rule for ' + result.dimension}",
    )
    table.add_column(result.dimension.capitalize(), overflow="fold")
    table.add_column("Currency")
    for name in ("Direct", "Shared", "Total"):
        table.add_column(name, justify="right", no_wrap=True)
    for row in result.rows:
        table.add_row(row.group, row.currency, money(row.direct), money(row.shared), money(row.total))
    for currency, amount in result.unallocated.items():
        table.add_row(UNALLOCATED, currency, money(amount), money(Decimal(0)), money(amount), style="dim")
    for currency, total in sorted(result.totals.items()) or [("USD", Decimal(0))]:
        direct = sum((r.direct for r in result.rows if r.currency == currency), Decimal(0))
        direct += result.unallocated.get(currency, Decimal(0))
        shared = sum((r.shared for r in result.rows if r.currency == currency), Decimal(0))
        label = "Total" + (f" {currency}" if several else "")
        table.add_row(label, currency, money(direct), money(shared), money(total), style="bold")
    return table
