"""`spendledger tokens ...`: the API tokens apps send events with.

`tokens create` prints the token alone on its last line, so a script can capture it
with `spendledger tokens create NAME | tail -1`; it is shown once and never stored.
"""

from __future__ import annotations

from datetime import datetime

import typer
from rich.table import Table

from spendledger.cli.context import fail, open_ledger, out, print_table, user_errors
from spendledger.store.tokens import create_token, list_tokens, revoke_token

app = typer.Typer(help="API tokens for the ingest and JSON APIs.", no_args_is_help=True)


@app.command("create")
def create(ctx: typer.Context, name: str) -> None:
    """Create a token called NAME and print it (the last line is the token alone)."""
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        token = create_token(conn, name=name)
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
