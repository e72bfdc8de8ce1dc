"""`spendledger db ...` and `spendledger serve`: the schema, the rollups and the web app."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from spendledger.cli.context import open_ledger, out, print_table, settings_of
from spendledger.store.engine import current_revision
from spendledger.store.ledger import rebuild_rollups as rebuild

app = typer.Typer(help="The database: schema migrations and rollups.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_cmd(ctx: typer.Context) -> None:
    """Create the tables or bring them to the latest schema (safe to run any time)."""
    with open_ledger(ctx) as engine:
        revision = current_revision(engine)
        where = engine.url.render_as_string(hide_password=True)
    out().print(f"Database {where} is at schema revision {revision}.")


@app.command("rebuild-rollups")
def rebuild_rollups(ctx: typer.Context) -> None:
    """Recompute the daily rollups from the records (after a time-zone change, or to check them)."""
    settings = settings_of(ctx)
    with open_ledger(ctx) as engine, engine.begin() as conn:
        counts = rebuild(conn, tz=settings.tz)
    table = Table("Rollup", "Rows", title=f"Rollups rebuilt (days in {settings.timezone})")
    for name, rows in counts.items():
        table.add_row(name, f"{rows:,}")
    print_table(table)


def worker(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="Sync the due sources once, then stop.")] = False,
    poll: Annotated[float, typer.Option(min=1, help="Seconds between checks for due sources.")] = 60,
) -> None:
    """Run the sync scheduler without the web server (any number may run on one database)."""
    import contextlib
    import logging
    import threading

    from spendledger.scheduler import run_due, run_forever
    from spendledger.sync import default_owner

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = settings_of(ctx)
    with open_ledger(ctx) as engine:
        if once:
            outcomes = run_due(engine, settings, owner=default_owner())
            if any(o.error and not o.skipped for o in outcomes):
                raise typer.Exit(1)
            return
        out().print("spendledger worker: syncing sources on their intervals; Ctrl+C stops it.")
        with contextlib.suppress(KeyboardInterrupt):
            run_forever(engine, settings, stop=threading.Event(), poll=poll)


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on; 0.0.0.0 exposes it to the network.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Server processes; one per core lets ingest parse and price batches in parallel "
            "(bench/ingest.py: 2 workers on 2 cores ~1.7x the events/s of one).",
        ),
    ] = 1,
    sync: Annotated[
        bool, typer.Option("--sync/--no-sync", help="Also sync every source on its interval (the scheduler).")
    ] = True,
) -> None:
    """Serve the web app and the API (upgrades the database first); syncs sources on schedule."""
    import os

    import uvicorn

    from spendledger.web import create_app  # imported here: the CLI starts without the web stack
    from spendledger.web.app import freeze_startup_objects

    settings = settings_of(ctx)
    with open_ledger(ctx):
        pass
    out().print(f"spendledger on http://{host}:{port} (API docs at /docs); Ctrl+C stops it.")
    if sync:
        from spendledger.scheduler import start_in_thread
        from spendledger.store import make_engine

        start_in_thread(make_engine(settings.resolved_database_url), settings)
    if workers == 1:
        app = create_app(settings)
        freeze_startup_objects()
        uvicorn.run(app, host=host, port=port)
        return
    # worker processes build their app from the environment: hand them these settings
    os.environ["SPENDLEDGER_DATABASE_URL"] = settings.resolved_database_url
    os.environ["SPENDLEDGER_DATA_DIR"] = str(settings.data_dir)
    os.environ["SPENDLEDGER_TIMEZONE"] = settings.timezone
    uvicorn.run("spendledger.web.app:app_from_env", factory=True, host=host, port=port, workers=workers)
