"""`spendledger export focus`: the ledger's spend as a FOCUS 1.2 or 1.3 file (exports/focus*.py).

The period, filters and basis are `report`'s (same names, same errors, via
`queries.build_query`). The file is written beside its destination and moved into place
when complete, so a failed export never leaves half a file under the name asked for.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from spendledger.cli.context import USAGE_ERROR, err, fail, open_ledger, settings_of, today_in, user_errors
from spendledger.exports.focus_files import check_options, export_focus
from spendledger.queries import BASES, PRESETS, build_query
from spendledger.records import display_money

app = typer.Typer(help="Exports other tools read: FOCUS cost and usage files.", no_args_is_help=True)


@app.command("focus")
def focus(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("-o", "--output", help="The file to write.", dir_okay=False)],
    start: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD, local).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day, included.")] = None,
    period: Annotated[str | None, typer.Option(help=f"Instead of dates: {'|'.join(PRESETS)}.")] = None,
    version: Annotated[str, typer.Option(help="The FOCUS version: 1.2 or 1.3.")] = "1.2",
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="csv or parquet (default: from the file's suffix, else csv)."),
    ] = None,
    basis: Annotated[str, typer.Option(help=f"{'|'.join(BASES)}.")] = "best",
    filters: Annotated[
        list[str] | None, typer.Option("--filter", help="DIM=VALUE; repeat to add (same DIM: any of).")
    ] = None,
) -> None:
    """Write the spend of a period as a FOCUS cost and usage file (default: the last 30 days)."""
    settings = settings_of(ctx)
    fmt = fmt or ("parquet" if output.suffix.lower() == ".parquet" else "csv")
    with user_errors():
        check_options(version, fmt)
        query = build_query(
            today=today_in(settings),
            start=start,
            end=end,
            period=period,
            filters=filters or (),
            basis=basis,
        )
    folder = output.parent
    if "\x00" in str(output) or not folder.is_dir():
        fail(f"-o: the folder {folder!s:.80} does not exist; create it or write elsewhere", code=USAGE_ERROR)
    try:
        handle, scratch = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".part", dir=folder)
    except OSError as exc:
        fail(
            f"-o: cannot write in {folder} ({exc.strerror}); choose a folder you may write in",
            code=USAGE_ERROR,
        )
    try:
        with open_ledger(ctx) as engine, engine.connect() as conn, os.fdopen(handle, "wb") as out:
            summary = export_focus(conn, query, tz=settings.tz, out=out, version=version, fmt=fmt)
        os.replace(scratch, output)
    finally:
        if os.path.exists(scratch):
            os.unlink(scratch)
    totals = ", ".join(f"{display_money(v, c)}" for c, v in sorted(summary.totals.items())) or "nothing"
    err().print(
        f"Wrote {output}: FOCUS {summary.version} {summary.format}, {summary.rows:,} rows, "
        f"{query.start} → {query.end} ({basis}): {totals}"
    )
