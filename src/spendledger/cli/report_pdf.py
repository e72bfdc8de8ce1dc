"""`spendledger report monthly|weekly`: a month's or a week's report as a PDF file.

The same report as the dashboard's download and the digests' attachment
(reports.period_report): totals and the change against the period before, the daily
chart, spend by provider, account, project, model and user, budgets, anomalies, the
reconciliation summary and the basis of each figure.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from spendledger.cli.context import fail, open_ledger, out, settings_of, today_in, user_errors
from spendledger.exports.periods import Period, last_complete, parse_period
from spendledger.reports.period_report import period_report_pdf, report_filename

CurrencyOption = Annotated[
    str | None,
    typer.Option(help="The currency to show (default: the one the period's spend is in)."),
]
OutputOption = Annotated[
    str | None,
    typer.Option(
        "-o", "--output", help="The PDF file to write (default: spendledger-PERIOD.pdf; - for stdout)."
    ),
]


def monthly(
    ctx: typer.Context,
    month: Annotated[str | None, typer.Option(help="YYYY-MM (default: last month).")] = None,
    currency: CurrencyOption = None,
    output: OutputOption = None,
) -> None:
    """A month's spend report as a PDF."""
    _write(ctx, "month", month, currency, output)


def weekly(
    ctx: typer.Context,
    week: Annotated[str | None, typer.Option(help="YYYY-Www, an ISO week (default: last week).")] = None,
    currency: CurrencyOption = None,
    output: OutputOption = None,
) -> None:
    """An ISO week's spend report (Monday to Sunday) as a PDF."""
    _write(ctx, "week", week, currency, output)


def _write(ctx: typer.Context, kind: str, key: str | None, currency: str | None, output: str | None) -> None:
    settings = settings_of(ctx)
    today = today_in(settings)
    with user_errors():
        period: Period = parse_period(key, kind=kind) if key else last_complete(kind, today)
    with open_ledger(ctx) as engine, engine.connect() as conn, user_errors():
        pdf = period_report_pdf(
            conn,
            period=period,
            today=today,
            timezone=settings.timezone,
            now=datetime.now(settings.tz),
            currency=currency,
            tolerance=settings.reconcile_limits,
        )
    if output == "-":
        sys.stdout.buffer.write(pdf)
        sys.stdout.buffer.flush()
        return
    path = Path(output or report_filename(period))
    try:
        path.write_bytes(pdf)
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}; pick another file with -o")
    out().print(f"Wrote the report for {period.label} to {path} ({len(pdf):,} bytes).")
