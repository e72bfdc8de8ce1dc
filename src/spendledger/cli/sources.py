"""`spendledger sources ...`, `spendledger sync` and `spendledger secrets rotate`.

Keys are read from an environment variable or stdin, never from the command line (it
would land in the shell history and `ps`), sealed at once and shown only masked.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from spendledger import sources_admin
from spendledger.cli.context import (
    cli_actor,
    err,
    fail,
    open_ledger,
    out,
    parse_day,
    print_table,
    settings_of,
    user_errors,
)
from spendledger.secrets import load_vault, mask, new_vault, save_key_file
from spendledger.sources.base import Page
from spendledger.sources_admin import SourceError
from spendledger.store.sources import list_sources, set_credential
from spendledger.sync import SyncOutcome, sync_source

app = typer.Typer(help="Provider accounts the ledger syncs billing data from.", no_args_is_help=True)
secrets_app = typer.Typer(help="The secret key that seals stored credentials.", no_args_is_help=True)


@app.command("add")
def add(
    ctx: typer.Context,
    provider: Annotated[str, typer.Argument(help="The source type (`spendledger sources types`).")],
    name: Annotated[str, typer.Option("--name", help="What to call this account, e.g. the organisation.")],
    key_env: Annotated[
        str | None, typer.Option("--key-env", help="Read the admin key from this environment variable.")
    ] = None,
    key_stdin: Annotated[bool, typer.Option("--key-stdin", help="Read the admin key from stdin.")] = False,
    option: Annotated[
        list[str] | None,
        typer.Option("--option", help="KEY=VALUE, an option of the type (`spendledger sources types`)."),
    ] = None,
    backfill_days: Annotated[
        int, typer.Option(min=1, max=3650, help="Days the first sync reaches back.")
    ] = 90,
    interval_minutes: Annotated[int, typer.Option(min=5, help="How often `serve`/`worker` sync it.")] = 60,
) -> None:
    """Add a source: a provider account whose admin key can read its usage and costs."""
    if problem := sources_admin.unknown_type(provider):
        fail(f"unknown provider {problem.removeprefix('unknown ')}", code=2)
    if bool(key_env) == key_stdin:
        fail("give the key with exactly one of --key-env VAR or --key-stdin", code=2)
    if key_env:
        key = os.environ.get(key_env, "").strip()
        if not key:
            fail(f"the environment variable {key_env} is empty or not set")
    else:
        key = sys.stdin.readline().strip()
        if key.startswith("{"):  # a JSON key file (Google's service accounts): the whole of it
            key = (key + sys.stdin.read()).strip()
        if not key:
            fail(
                "no key on stdin: pipe it in, e.g. `printenv OPENAI_ADMIN_KEY | spendledger sources add ...`"
            )
    options: dict[str, str] = {}
    for item in option or []:
        k, sep, v = item.partition("=")
        if not sep or not k.strip():
            fail(f"--option {item!r} is not KEY=VALUE", code=2)
        options[k.strip()] = v.strip()
    if problems := sources_admin.check_options(sources_admin.source_type(provider), options):
        fail("\n".join(f"--option: {problem}" for problem in problems.values()), code=2)
    settings = settings_of(ctx)
    with open_ledger(ctx) as engine, user_errors():
        sources_admin.add(
            engine,
            settings,
            provider=provider,
            name=name,
            key=key,
            options=options,
            backfill_days=backfill_days,
            interval_minutes=interval_minutes,
            actor=cli_actor(),
        )
    out().print(
        f"Added {provider} source {name!r} (key {mask(key)}). `spendledger sources test {name}` checks "
        f"the key; `spendledger sync {name}` pulls the last {backfill_days} days."
    )


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """The sources with their key (masked), last sync, status and last error."""
    with open_ledger(ctx) as engine:
        with engine.connect() as conn:
            rows = list_sources(conn)
        counts = sources_admin.record_counts(engine)
    if not rows:
        out().print("No sources yet: `spendledger sources add openai --name ORG --key-env OPENAI_ADMIN_KEY`.")
        return
    table = Table("Name", "Provider", "Key", "Synced through", "Last run", "Status", "Records", "Last error")
    for s in rows:
        table.add_row(
            s.name,
            s.provider,
            s.key_hint,
            s.synced_until.date().isoformat() if s.synced_until else "—",
            s.last_run_at.strftime("%Y-%m-%d %H:%M UTC") if s.last_run_at else "never",
            s.last_status or "—",
            f"{counts.get(s.name, 0):,}",
            (s.last_error or "")[:120],
        )
    print_table(table)


@app.command("test")
def test(ctx: typer.Context, name: str) -> None:
    """One cheap authenticated call with the source's key; says what to fix when it fails."""
    settings = settings_of(ctx)
    with open_ledger(ctx) as engine, user_errors():
        try:
            seen = sources_admin.check(engine, settings, name)
        except SourceError as exc:
            fail(str(exc))
    out().print(f"OK: {seen}")


@app.command("remove")
def remove(
    ctx: typer.Context,
    name: str,
    purge: Annotated[bool, typer.Option("--purge", help="Also delete the records it synced.")] = False,
) -> None:
    """Remove a source; its records stay in the ledger unless --purge."""
    with open_ledger(ctx) as engine, user_errors():
        deleted = sources_admin.remove(engine, name, purge=purge, actor=cli_actor()) or 0
    kept = "" if purge else " Its records stay in the ledger (--purge deletes them)."
    out().print(f"Removed source {name!r}" + (f" and {deleted:,} records." if purge else ".") + kept)


@app.command("types")
def types() -> None:
    """The source types `sources add` takes, with their options."""
    table = Table("Type", "Provider", "Key", "Options (--option KEY=VALUE)")
    for kind in sources_admin.source_types():
        options = "\n".join(f"{o.name}: {o.help}" for o in kind.all_options)
        table.add_row(kind.name, kind.label, kind.key_help, options)
    print_table(table)


def sync(
    ctx: typer.Context,
    names: Annotated[list[str] | None, typer.Argument(help="Sources to sync (default: all).")] = None,
    since: Annotated[str | None, typer.Option("--since", help="First day (YYYY-MM-DD, UTC).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Last day (YYYY-MM-DD, UTC).")] = None,
) -> None:
    """Pull billed costs and usage from the providers into the ledger."""
    settings = settings_of(ctx)
    first, last = parse_day("--since", since), parse_day("--until", until)
    with open_ledger(ctx) as engine:
        with engine.connect() as conn:
            known = [s.name for s in list_sources(conn)]
        wanted = names or known
        if not wanted:
            fail("no sources yet: `spendledger sources add openai --name ORG --key-env OPENAI_ADMIN_KEY`")
        for name in wanted:
            if name not in known:
                fail(f"no source named {name!r} (sources: {', '.join(known) or 'none'})")
        outcomes: list[SyncOutcome] = []
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.fields[pages]} pages, {task.fields[days]} days"),
            TextColumn("{task.fields[records]:,} records"),
            TimeElapsedColumn(),
            console=err(),
            transient=False,
        ) as progress:
            tasks = {n: progress.add_task(n, total=None, pages=0, days=0, records=0) for n in wanted}
            counts = {n: [0, 0] for n in wanted}
            days: dict[str, set[object]] = {n: set() for n in wanted}

            def on_page(name: str, page: Page) -> None:
                counts[name][0] += 1
                counts[name][1] += len(page.records)
                days[name].update(start.date() for start, _ in page.buckets)
                progress.update(
                    tasks[name],
                    description=f"{name}: {page.endpoint}",
                    pages=counts[name][0],
                    days=len(days[name]),
                    records=counts[name][1],
                )

            for name in wanted:
                outcome = sync_source(engine, settings, name, since=first, until=last, on_page=on_page)
                state = "done" if outcome.ok else ("skipped" if outcome.skipped else "FAILED")
                progress.update(tasks[name], description=f"{name}: {state}", total=1, completed=1)
                outcomes.append(outcome)
    failed = [o for o in outcomes if not o.ok]
    for o in outcomes:
        span = f"{o.start.date()}..{(o.end - timedelta(days=1)).date()}"
        if o.ok:
            out().print(f"{o.source}: {o.pages} pages, {o.records:,} records ({span})")
    for o in failed:
        err().print(f"[red]{o.source}: {o.error}[/red]")
    if failed:
        raise typer.Exit(1)


@secrets_app.command("rotate")
def rotate(ctx: typer.Context) -> None:
    """Re-encrypt every stored credential under a new secret key."""
    settings = settings_of(ctx)
    with open_ledger(ctx) as engine, user_errors():
        old = load_vault(settings)
        new = new_vault()
        with engine.begin() as conn:
            rows = list_sources(conn)
            for s in rows:
                set_credential(conn, s.name, credential=new.seal(old.open(s.credential)))
            if settings.secret_key:
                # the key lives in the environment: the user must swap it; nothing is
                # committed until they have it, so print it and ask for confirmation
                err().print(
                    "SPENDLEDGER_SECRET_KEY is set, so the new key cannot be saved for you. Set it to:\n"
                )
                typer.echo(new.key.decode())
                if not typer.confirm("\nHave you stored the new key?", err=True):
                    conn.rollback()
                    fail("nothing changed: the credentials stay under the old key")
            else:
                path = save_key_file(settings, new)
    where = "SPENDLEDGER_SECRET_KEY" if settings.secret_key else str(path)
    out().print(f"Re-encrypted {len(rows)} credential(s) under a new key ({where}).")


__all__ = ["app", "secrets_app", "sync"]
