"""`spendledger tokens ...`: the API tokens apps send events with.

`tokens create` prints the token alone on its last line, so a script can capture it
with `spendledger tokens create NAME | tail -1`; it is shown once and never stored.
Creating a name that is in use fails and says so (on stderr, so a captured token is
never an error message); `--replace` revokes the old token and prints a new one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from spendledger.cli.context import fail, open_ledger, out, print_table, user_errors
from spendledger.store.tokens import TokenExistsError, create_token, list_tokens, revoke_token

app = typer.Typer(help="API tokens for the ingest and JSON APIs.", no_args_is_help=True)


@app.command("create")
def create(
    ctx: typer.Context,
    name: str,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="If a token called NAME exists, revoke it (apps sending it get 401) and make a new one.",
        ),
    ] = False,
) -> None:
    """Create a token called NAME and print it (the last line is the token alone)."""
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        replaced = replace and any(t.name == name.strip() and t.active for t in list_tokens(conn))
        try:
            token = create_token(conn, name=name, replace=replace)
        except TokenExistsError as exc:
            fail(
                f"a token named {exc.name!r} exists and its token cannot be shown again; "
                f"`spendledger tokens create {exc.name} --replace` revokes it and prints a new one "
                "(apps sending the old one get 401), or pick another name"
            )
    if replaced:
        typer.echo(f"Revoked the previous token {name.strip()!r}: apps sending it now get 401.")
    typer.echo(f"Created token {name!r}. Copy it now: it is not stored and cannot be shown again.")
    typer.echo("Send it as `Authorization: Bearer <token>`.")
    typer.echo(token)


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """The tokens, active and revoked (only a hint of each token is kept)."""
    with open_ledger(ctx) as engine, engine.connect() as conn:
        tokens = list_tokens(conn)
    if not tokens:
        out().print("No tokens yet: `spendledger tokens create NAME` makes one.")
        return
    table = Table("Name", "Token", "Created", "Last used", "Revoked")
    for t in tokens:
        table.add_row(
            t.name, f"sl_…{t.hint}", _when(t.created_at), _when(t.last_used_at), _when(t.revoked_at)
        )
    print_table(table)


@app.command("revoke")
def revoke(ctx: typer.Context, name: str) -> None:
    """Revoke the token called NAME: requests sending it are refused from now on."""
    with open_ledger(ctx) as engine, engine.begin() as conn:
        revoked = revoke_token(conn, name=name)
    if not revoked:
        fail(f"no active token named {name!r}; `spendledger tokens list` shows the tokens")
    out().print(f"Revoked token {name!r}.")


def _when(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")
