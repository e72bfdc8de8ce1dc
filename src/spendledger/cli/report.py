"""`spendledger report`: the spend query every page and export uses, rendered in a terminal.

The parameters are the JSON API's (same names, same errors, via `queries.build_query`);
json and csv are the exports' own renderings (exact), and the table shows the same figures
as every page does (`display_money`: cents, or two significant digits below a cent).
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Annotated, Any

import typer
from rich.table import Table

from spendledger.cli.context import err, open_ledger, print_table, settings_of, today_in, user_errors
from spendledger.exports.spend import report_csv_chunks, report_json
from spendledger.queries import (
    BASES,
    PRESETS,
    QUERY_DIMENSIONS,
    SpendReport,
    SpendRow,
    build_query,
    check_display_currency,
    spend,
)
from spendledger.records import display_money

BASIS_NOTES: dict[str, str] = {
    "best": "best available (billed where a billing sync covers the day, else metered; manual and demo)",
    "all": "every record, billed and metered both counted",
}


class Format(enum.StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def report(
    ctx: typer.Context,
    start: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD, local).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day, included.")] = None,
    period: Annotated[str | None, typer.Option(help=f"Instead of dates: {'|'.join(PRESETS)}.")] = None,
    by: Annotated[
        list[str] | None, typer.Option(help=f"Group by DIM,... of: {', '.join(QUERY_DIMENSIONS)}, tag:KEY.")
    ] = None,
    granularity: Annotated[str, typer.Option(help="day|week|month|total.")] = "total",
    basis: Annotated[str, typer.Option(help=f"{'|'.join(BASES)}.")] = "best",
    filters: Annotated[
        list[str] | None, typer.Option("--filter", help="DIM=VALUE; repeat to add (same DIM: any of).")
    ] = None,
    currency: Annotated[
        str | None,
        typer.Option(
            help="Show every amount in this currency (ISO 4217), at its day's rate; original: as "
            "charged. Default: SPENDLEDGER_CURRENCY."
        ),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="table, csv or json.")] = Format.TABLE,
) -> None:
    """Spend over a period, grouped and filtered (default: the last 30 days, in total).
    `report monthly` and `report weekly` write a period's PDF report instead."""
    if ctx.invoked_subcommand is not None:
        return  # the options above are this command's; `monthly` and `weekly` have their own
    settings = settings_of(ctx)
    with user_errors():
        query = build_query(
            today=today_in(settings),
            start=start,
            end=end,
            period=period,
            by=by or (),
            filters=filters or (),
            granularity=granularity,
            basis=basis,
            currency=settings.currency if currency is None else currency,
        )
    with open_ledger(ctx) as engine, engine.connect() as conn, user_errors():
        result = spend(conn, check_display_currency(conn, query))
    if fmt is Format.JSON:
        typer.echo(report_json(result, indent=True).decode())
    elif fmt is Format.CSV:
        for chunk in report_csv_chunks(result):
            typer.echo(chunk, nl=False)
    else:
        print_table(render_table(result))
        if result.unconverted:
            days = sorted({u.day for u in result.unconverted})
            target = query.currency
            others = ", ".join(f"{money(v)} {c}" for c, v in sorted(result.totals.items()) if c != target)
            err().print(
                f"No exchange rate into {target} on or before {len(days)} days ({days[0]} … {days[-1]}): "
                f"{others} shown as charged, not in the {target} total; "
                "import rates with `spendledger fx import FILE` or `spendledger fx update`.",
                style="yellow",
            )


def render_table(report: SpendReport) -> Table:
    """Rows, then a total row per currency; money as `display_money` shows it."""
    q = report.query
    multi_currency = len(report.totals) > 1
    periods = q.granularity != "total"
    show_unpriced = any(r.unpriced_requests for r in report.rows)
    converted = f" · in {q.currency}, each day at its rate" if q.currency else ""
    table = Table(
        title=f"Spend {q.start} → {q.end}",
        caption=f"basis: {BASIS_NOTES.get(q.basis, q.basis)} · read from {report.table}{converted}"
        + (" · several currencies: a total per currency, not converted" if multi_currency else ""),
    )
    labels = ([str(q.granularity).capitalize()] if periods else []) + [
        d.replace("_", " ").capitalize() for d in q.by
    ]
    for label in labels or [""]:
        table.add_column(label, overflow="fold")  # a model name folds rather than losing its end
    if multi_currency:
        table.add_column("Currency")
    table.add_column("Cost" if multi_currency else f"Cost ({report.currency})", justify="right", no_wrap=True)
    for name in (
        "Requests",
        "Input tokens",
        "Output tokens",
        *(["Unpriced requests"] if show_unpriced else []),
    ):
        table.add_column(name, justify="right", no_wrap=True)

    measures = [
        "requests",
        "input_tokens",
        "output_tokens",
        *(["unpriced_requests"] if show_unpriced else []),
    ]

    def add(label_cells: list[str], currency: str, cost: Decimal, rows: list[SpendRow], **style: Any) -> None:
        figures = [money(cost), *(f"{sum(getattr(r, m) for r in rows):,}" for m in measures)]
        table.add_row(*label_cells, *([currency] if multi_currency else []), *figures, **style)

    if labels:  # without labels each row would repeat its currency's total
        for i, row in enumerate(report.rows):
            cells = ([row.period or ""] if periods else []) + [row.dims[d] or "—" for d in q.by]
            add(cells, row.currency, row.cost, [row], end_section=i == len(report.rows) - 1)
    for currency, total in sorted(report.totals.items()) or [("USD", Decimal(0))]:
        cells = ["Total"] + [""] * (max(1, len(labels)) - 1)
        add(cells, currency, total, [r for r in report.rows if r.currency == currency], style="bold")
    return table


def money(amount: Decimal) -> str:
    """The CLI's money: `display_money`'s figure; the column or the sentence names the currency."""
    return display_money(amount)
