"""`spendledger db ...` and `spendledger serve`: the schema, the rollups and the web app."""

from __future__ import annotations

import errno
import os
import socket
from typing import Annotated

import typer
from rich.table import Table

from spendledger.cli.context import fail, open_ledger, out, print_table, progress_bar, settings_of
from spendledger.store.engine import current_revision
from spendledger.store.folder import fold_all
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
    with (
        open_ledger(ctx) as engine,
        progress_bar("Rebuilding the rollups") as progress,  # steps: staging, then each table
        engine.begin() as conn,
    ):
        counts = rebuild(conn, tz=settings.tz, progress=progress)
    table = Table("Rollup", "Rows", title=f"Rollups rebuilt (days in {settings.timezone})")
    for name, rows in counts.items():
        table.add_row(name, f"{rows:,}")
    print_table(table)


@app.command("fold")
def fold(ctx: typer.Context) -> None:
    """Sum the rollups' journal into the rollups now (`serve` and `worker` run a folder
    process that does it within a second of each write)."""
    with open_ledger(ctx) as engine:
        folded = fold_all(engine)
    if folded is None:
        out().print("Another folder holds the lease and is folding the journal; nothing done here.")
        return
    out().print(f"Folded {folded:,} journal rows into the rollups.")


def worker(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="Sync the due sources once, then stop.")] = False,
    poll: Annotated[float, typer.Option(min=1, help="Seconds between checks for due sources.")] = 60,
) -> None:
    """Run the sync scheduler and the rollups' folder without the web server (any number may
    run on one database; one folds at a time)."""
    import contextlib
    import logging
    import threading

    from spendledger.scheduler import run_due, run_forever
    from spendledger.store import folder_process
    from spendledger.sync import default_owner

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = settings_of(ctx)
    with open_ledger(ctx) as engine:
        if once:
            outcomes = run_due(engine, settings, owner=default_owner())
            fold_all(engine)
            if any(o.error and not o.skipped for o in outcomes):
                raise typer.Exit(1)
            return
        out().print("spendledger worker: syncing sources on their intervals; Ctrl+C stops it.")
        folding = folder_process.start(settings.resolved_database_url)
        try:
            with contextlib.suppress(KeyboardInterrupt):
                run_forever(engine, settings, stop=threading.Event(), poll=poll)
        finally:
            folding.stop()


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
            help="Server processes. Measured by bench/ingest.py on 2 cores (README, Performance): "
            "29,705 events/s with 1 worker, 34,664 events/s with 2; the writes are serialised, "
            "the parsing and pricing are not.",
        ),
    ] = 1,
    sync: Annotated[
        bool, typer.Option("--sync/--no-sync", help="Also sync every source on its interval (the scheduler).")
    ] = True,
) -> None:
    """Serve the web app and the API (upgrades the database first); syncs sources on schedule
    and folds the rollups' journal."""

    import uvicorn

    from spendledger.web import create_app  # imported here: the CLI starts without the web stack
    from spendledger.web.app import freeze_startup_objects

    settings = settings_of(ctx)
    check_port(host, port)
    with open_ledger(ctx) as engine:
        where = engine.url.render_as_string(hide_password=True)
    out().print(f"spendledger on http://{host}:{port} (API docs at /docs), ledger {where}; Ctrl+C stops it.")
    from spendledger.store import folder_process, make_engine

    background = [folder_process.start(settings.resolved_database_url)]
    try:
        if sync:
            from spendledger.scheduler import start_in_thread

            background.append(start_in_thread(make_engine(settings.resolved_database_url), settings))
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
    finally:  # the server stopped: no fold or sync after it (their last round ends first)
        for running in background:
            running.stop()


def check_port(host: str, port: int) -> None:
    """Fail naming the port and how to choose another when it cannot be listened on, before
    anything starts (uvicorn would only log a raw "[Errno 98]")."""
    try:
        _listen(host, port).close()
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            fail(f"cannot listen on {host}:{port}: {reason}; check --host and --port")
        other = next((p for p in range(port + 1, min(port + 50, 65536)) if _free(host, p)), 8123)
        fail(
            f"port {port} on {host} is in use (another spendledger, or another program); choose "
            f"another with `spendledger serve --port {other}`, or `make run PORT={other}`"
        )


def _listen(host: str, port: int) -> socket.socket:
    """Bind as uvicorn does (SO_REUSEADDR, so a port in TIME_WAIT counts as free)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family)


def _free(host: str, port: int) -> bool:
    try:
        _listen(host, port).close()
    except OSError:
        return False
    return True
