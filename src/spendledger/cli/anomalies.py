"""`spendledger anomalies`: the days whose spend jumped, with the driver and the likely cause."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer

from spendledger.alerts.anomalies import find_anomalies
from spendledger.cli.context import USAGE_ERROR, fail, open_ledger, out, parse_day, settings_of, today_in


def anomalies(
    ctx: typer.Context,
    day: Annotated[
        str | None, typer.Option("--day", help="The day to check (YYYY-MM-DD; default yesterday).")
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=366, help="Check this many days, ending on --day.")] = 1,
    sigmas: Annotated[float, typer.Option(min=1, help="How many spreads over the usual is a jump.")] = 4.0,
    min_jump: Annotated[str, typer.Option("--min-jump", help="Smallest jump in money worth naming.")] = "5",
) -> None:
    """Spend per provider, project, model, user and API key against its usual, weekday-aware."""
    settings = settings_of(ctx)
    last = parse_day("--day", day) or today_in(settings) - timedelta(days=1)
    try:
        floor = Decimal(min_jump)
    except InvalidOperation:
        fail(f"--min-jump: {min_jump!r} is not an amount (e.g. 5 or 12.50)", code=USAGE_ERROR)
    found = []
    with open_ledger(ctx) as engine, engine.connect() as conn:
        for back in range(days - 1, -1, -1):
            found.extend(find_anomalies(conn, day=last - timedelta(days=back), sigmas=sigmas, min_jump=floor))
    if not found:
        span = last.isoformat() if days == 1 else f"{(last - timedelta(days=days - 1)).isoformat()}..{last}"
        out().print(f"No anomalies on {span}: every day's spend is within its usual range.")
        return
    for anomaly in found:
        out().print(anomaly.describe())
