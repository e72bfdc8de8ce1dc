"""What every command shares: settings built once per command, the ledger's engine, the
way errors and progress are shown.

Nothing is built at import time: `--database-url` is read by the root callback, and the
settings and engine are built the first time a command asks for them. Errors the user
can fix are printed in red on stderr with what to do, and end the command with a
non-zero code, never a traceback: 2 for a bad parameter, 1 for everything else.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.measure import Measurement
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from spendledger.config import SETTINGS_FILE, Settings, find_settings_file, get_settings
from spendledger.errors import SpendledgerError
from spendledger.queries import QueryError
from spendledger.store import Engine, make_engine, upgrade
from spendledger.store.engine import DatabaseError, database_errors, new_sqlite_file

USAGE_ERROR = 2  # what click uses for a bad option; `report` uses it for a bad parameter


@dataclass
class CliState:
    """The root options, stored on the click context by the callback."""

    database_url: str | None = None
    _settings: Settings | None = None

    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = get_settings(database_url=self.database_url)
            except ValidationError as exc:
                problems = "; ".join(
                    f"SPENDLEDGER_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
                    for e in exc.errors()
                )
                fail(f"invalid settings: {problems}")
        return self._settings


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    if not isinstance(obj, CliState):  # a command invoked without the root callback
        obj = ctx.find_root().obj = CliState()
    return obj


def settings_of(ctx: typer.Context) -> Settings:
    return state(ctx).settings()


def out(*, width: int | None = None) -> Console:
    """The console for results (stdout); built per use so it sees the current stream."""
    return Console(highlight=False, soft_wrap=True, width=width)


def err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def print_table(table: Table) -> None:
    """Print a table; piped or redirected, as wide as it needs rather than Rich's 80 columns."""
    console = out()
    if not console.is_terminal:
        wide = Measurement.get(console, console.options.update(max_width=10_000), table).maximum
        console = out(width=max(console.width, wide))
    console.print(table)


def fail(message: str, *, code: int = 1) -> NoReturn:
    """Print `message` in red on stderr and end the command with `code`."""
    err().print(Text(message, style="red"))
    raise typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the library's user errors (every `SpendledgerError`) into a message and an exit code:
    2 for a query parameter, 1 for the rest."""
    try:
        yield
    except QueryError as exc:
        fail(str(exc), code=USAGE_ERROR)
    except SpendledgerError as exc:
        fail(str(exc))


@contextmanager
def open_ledger(ctx: typer.Context, *, migrate: bool = True) -> Iterator[Engine]:
    """The ledger's engine, its schema brought up to date (idempotent, ~ms when current)."""
    settings = settings_of(ctx)
    try:
        with database_errors():
            new_file = new_sqlite_file(settings.resolved_database_url)
            engine = make_engine(settings.resolved_database_url)
    except DatabaseError as exc:
        fail(f"{exc}; check --database-url or SPENDLEDGER_DATABASE_URL")
    try:
        with database_errors(engine), user_errors():
            if migrate:
                upgrade(engine)
            if new_file is not None and new_file.exists():
                say_new_ledger(new_file, settings)
            yield engine
    except DatabaseError as exc:
        fail(f"{exc}; check --database-url or SPENDLEDGER_DATABASE_URL")
    finally:
        engine.dispose()


def say_new_ledger(path: Path, settings: Settings) -> None:
    """Say on stderr that a new, empty ledger was created, where, and how to pick another:
    a command meant for an existing ledger must never silently start a second one."""
    found = find_settings_file()
    if settings.database_url or (found and "SPENDLEDGER_DATA_DIR" not in os.environ):
        # named on purpose (a URL, or the settings file `make run` writes): only say it is new
        origin = f" (the data dir set in {found})" if not settings.database_url else ""
        err().print(Text(f"Created a new, empty ledger at {path}{origin}.", style="yellow"))
        return
    if "SPENDLEDGER_DATA_DIR" in os.environ:
        origin = "SPENDLEDGER_DATA_DIR"
    else:
        origin = f"the default data dir: no {SETTINGS_FILE} in this folder or above"
    err().print(
        Text(
            f"Created a new, empty ledger at {path} ({origin}). For the ledger `make run` serves, "
            f"run spendledger in its repository folder, where `make run` writes {SETTINGS_FILE}; "
            "--database-url or SPENDLEDGER_DATA_DIR choose another.",
            style="yellow",
        )
    )


def cli_actor() -> str:
    """Who runs the command, for the audit log: `cli:` and the login name."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name (a container's uid with no passwd entry)
        return "cli"


def parse_day(option: str, value: str | None) -> date | None:
    """A YYYY-MM-DD option, or a usage error naming the option."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        fail(f"{option}: {value!r} is not a date (YYYY-MM-DD)", code=USAGE_ERROR)


def today_in(settings: Settings) -> date:
    """Today in the configured zone: the day reports and the demo end on."""
    return datetime.now(settings.tz).date()


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A Rich progress bar on stderr; yields the `progress(done, total)` callback."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err(),
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update
