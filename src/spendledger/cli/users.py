"""`spendledger users ...`: the people who log in to the dashboard and their roles.

Passwords are read from a prompt (typed twice, hidden) or `--password-stdin`; with
`--generate` a random one is printed once. Only an argon2 hash is stored.
"""

from __future__ import annotations

import secrets
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from spendledger.cli.context import fail, open_ledger, out, print_table, user_errors
from spendledger.passwords import PasswordError, check_strength, hash_password
from spendledger.store.tables import ROLES
from spendledger.store.users import (
    create_user,
    end_user_sessions,
    find_user,
    grant,
    list_users,
    remove_user,
    set_password,
    set_role,
)

app = typer.Typer(help="Dashboard users: admin, member or viewer.", no_args_is_help=True)


def _read_password(stdin: bool, generate: bool) -> str:
    if generate:
        return secrets.token_urlsafe(12)
    if stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        check_strength(password)
    except PasswordError as exc:
        fail(str(exc))
    return password


@app.command("create")
def create(
    ctx: typer.Context,
    email: str,
    role: Annotated[str, typer.Option(help=f"One of {', '.join(ROLES)}.")] = "member",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
    generate: Annotated[
        bool, typer.Option("--generate", help="Make up a password and print it once.")
    ] = False,
) -> None:
    """Create a user who can log in to the dashboard."""
    password = _read_password(password_stdin, generate)
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        user = create_user(
            conn, email=email, password_hash=hash_password(password), role=role, now=datetime.now(UTC)
        )
    out().print(f"Created {user.role} {user.email}.")
    if generate:
        typer.echo(f"Password (shown once): {password}")


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """The users, their roles and grants."""
    with open_ledger(ctx) as engine, engine.connect() as conn:
        rows = list_users(conn)
    if not rows:
        out().print(
            "No users yet: `spendledger users create EMAIL --role admin`, or open the dashboard's /setup."
        )
        return
    table = Table("Email", "Role", "Sees")
    for u in rows:
        sees = ", ".join(f"{d} {v}" for d, v in u.grants) if u.role == "member" else "everything"
        table.add_row(u.email, u.role, sees or f"own spend (user {u.email})")
    print_table(table)


@app.command("passwd")
def passwd(
    ctx: typer.Context,
    email: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    generate: Annotated[bool, typer.Option("--generate")] = False,
) -> None:
    """Set a user's password (and log them out everywhere)."""
    password = _read_password(password_stdin, generate)
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        user = find_user(conn, email)
        if user is None:
            fail(f"no user {email}; `spendledger users list` shows them")
        set_password(conn, user.id, password_hash=hash_password(password), now=datetime.now(UTC))
        end_user_sessions(conn, user.id)
    out().print(f"Set the password of {user.email}.")
    if generate:
        typer.echo(f"Password (shown once): {password}")


@app.command("set-role")
def set_role_(ctx: typer.Context, email: str, role: str) -> None:
    """Change a user's role."""
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        set_role(conn, email, role)
    out().print(f"{email} is now {role}.")


@app.command("grant")
def grant_(
    ctx: typer.Context,
    email: str,
    project: Annotated[
        list[str] | None, typer.Option("--project", help="A project the member may see.")
    ] = None,
    user: Annotated[
        list[str] | None, typer.Option("--user", help="A user whose spend the member may see.")
    ] = None,
) -> None:
    """Let a member see the spend of projects or users (without grants: only their own)."""
    if not project and not user:
        fail("name at least one --project or --user", code=2)
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        for value in project or []:
            grant(conn, email, dimension="project", value=value)
        for value in user or []:
            grant(conn, email, dimension="user", value=value)
    out().print(
        f"Granted {email}: "
        + ", ".join([*(f"project {p}" for p in project or []), *(f"user {u}" for u in user or [])])
    )


@app.command("remove")
def remove(ctx: typer.Context, email: str) -> None:
    """Remove a user (their sessions end at once)."""
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        remove_user(conn, email)
    out().print(f"Removed {email}.")


DEMO_EMAIL, DEMO_PASSWORD = "admin@demo.local", "spendledger-demo"


@app.command("demo-admin")
def demo_admin(ctx: typer.Context) -> None:
    """For `make run`: create the demo admin when no user exists, and print its login."""
    from spendledger.passwords import verify_password
    from spendledger.store.users import count_users

    with open_ledger(ctx) as engine, engine.begin() as conn:
        if count_users(conn) == 0:
            create_user(
                conn,
                email=DEMO_EMAIL,
                password_hash=hash_password(DEMO_PASSWORD),
                role="admin",
                now=datetime.now(UTC),
            )
        user = find_user(conn, DEMO_EMAIL)
        demo = user is not None and verify_password(user.password_hash, DEMO_PASSWORD)
    if demo:
        out().print(
            f"Log in as {DEMO_EMAIL} with the password {DEMO_PASSWORD} (a demo login: change it with "
            f"`spendledger users passwd {DEMO_EMAIL}` or remove it once you have your own admin)."
        )
