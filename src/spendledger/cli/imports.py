"""`spendledger import FILE`: a spend or usage file into the ledger (imports/), or a dry run of it.

Prints what was stored (or, with --dry-run, what would be): the rows, the totals per
provider, month and currency, and each rejected line with its column and reason. A Rich
progress bar on stderr follows the bytes read.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from spendledger.cli.context import (
    USAGE_ERROR,
    cli_actor,
    err,
    fail,
    open_ledger,
    out,
    print_table,
    settings_of,
)
from spendledger.imports.base import AUTO, FORMATS, ImportFileError, ImportOptions
from spendledger.imports.importer import Counted, ImportSummary, parse_map, run_import
from spendledger.pricing import Pricer
from spendledger.records import Basis, display_money
from spendledger.store.overrides import load_overrides

FORMAT_HELP = (
    f"the file's format: {', '.join([AUTO, *FORMATS])} (auto tells them by their columns). mistral is "
    "a --map preset, not a known export: Mistral publishes no columns for its console CSV"
)


def import_file(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="a CSV export (or a FOCUS file)", exists=True, dir_okay=False)],
    format_name: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = AUTO,
    basis: Annotated[
        str | None, typer.Option(help="billed, metered or manual: for rows with no basis column")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="show what would be stored; store nothing")
    ] = False,
    maps: Annotated[
        list[str] | None,
        typer.Option("--map", help="COLUMN=FIELD: read the file's COLUMN as FIELD (FIELD '-' leaves it out)"),
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="the records' source (their keys start with it); default import-FORMAT")
    ] = None,
) -> None:
    """Import a file of spend or usage: generic CSV, FOCUS, or a provider console's export.

    Re-importing a file, or an export overlapping an earlier one, changes nothing: each
    row has a natural key (its id column, else a hash of its identifying fields).
    """
    try:
        mapping = parse_map(maps or [])
    except ImportFileError as exc:
        fail(f"--{exc}", code=USAGE_ERROR)
    options = ImportOptions(source=source or "", basis=_basis(basis), mapping=mapping)
    settings = settings_of(ctx)
    size = file.stat().st_size
    with open_ledger(ctx) as engine:
        with engine.connect() as conn:
            pricer = Pricer(load_overrides(conn))
        with file.open("rb") as raw, _progress(file.name, size) as advance:
            counted = Counted(raw)
            summary = run_import(
                io.BufferedReader(counted),
                format_name=format_name,
                options=options,
                pricer=pricer,
                tz=settings.tz,
                engine=None if dry_run else engine,
                on_batch=lambda _: advance(counted.bytes_read),
                actor=cli_actor(),
            )
    show_summary(summary)
    if summary.rows == 0 and summary.rejected_count:
        raise typer.Exit(1)


def _basis(value: str | None) -> Basis | None:
    if value is None:
        return None
    allowed = (Basis.BILLED, Basis.METERED, Basis.MANUAL)
    if value.lower() not in allowed:
        fail(f"--basis {value!r}: use billed, metered or manual", code=USAGE_ERROR)
    return Basis(value.lower())


@contextmanager
def _progress(name: str, size: int) -> Iterator[Callable[[int], None]]:
    """A progress bar over the file's bytes on stderr; yields `advance(bytes_read)`."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err(),
        transient=True,
    ) as bar:
        task = bar.add_task(f"importing {name}", total=size)
        yield lambda done: bar.update(task, completed=done)


def show_summary(summary: ImportSummary) -> None:
    """The summary as the CLI prints it: a sentence, the totals, the rejected lines."""
    console = out()
    if summary.dry_run:
        console.print(
            f"Dry run, nothing stored: {summary.rows:,} rows would be stored "
            f"(format {summary.format}, source {summary.source}), {summary.rejected_count:,} rejected."
        )
    else:
        console.print(
            f"Imported {summary.rows:,} rows (format {summary.format}, source {summary.source}): "
            f"{summary.inserted:,} new, {summary.replaced:,} replaced, {summary.unchanged:,} already stored; "
            f"{summary.rejected_count:,} rejected."
        )
    if summary.totals:
        table = Table(title="Totals by provider and month")
        for name in ("provider", "month", "rows", "cost", "unpriced rows"):
            table.add_column(name, justify="right" if name in ("rows", "cost", "unpriced rows") else "left")
        for (provider, month, currency), total in summary.sorted_totals():
            table.add_row(
                provider, month, f"{total.rows:,}", display_money(total.cost, currency), f"{total.unpriced:,}"
            )
        print_table(table)
    if summary.unpriced:
        console.print(
            f"{summary.unpriced:,} rows name a model with no known price: stored unpriced, "
            "see `spendledger prices unpriced`."
        )
    if summary.rejected:
        table = Table(title="Rejected lines")
        for name in ("line", "column", "reason"):
            table.add_column(name, justify="right" if name == "line" else "left")
        for rejection in summary.rejected:
            table.add_row(str(rejection.line), rejection.column or "—", rejection.reason)
        print_table(table)
        if summary.rejected_count > len(summary.rejected):
            console.print(f"… and {summary.rejected_count - len(summary.rejected):,} more rejected lines.")
