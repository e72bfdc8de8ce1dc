"""`spendledger aliases ...` and `spendledger teams ...`: the names reports give what the
sources name differently, and the team each project belongs to.

Both apply to every figure at once, past and future (store/mapped.py reads them when
spend is read); each change is written to the audit log.
"""

from __future__ import annotations

import enum
import json
from typing import Annotated

import typer
from rich.table import Table

from spendledger.cli.context import cli_actor, open_ledger, out, print_table, user_errors
from spendledger.store.aliases import (
    ALIAS_DIMENSIONS,
    Alias,
    account_of_source,
    add_alias,
    list_aliases,
    list_teams,
    remove_alias,
    remove_team,
    set_team,
)

app = typer.Typer(
    help="Aliases: one name in reports for what the sources name differently.", no_args_is_help=True
)
teams_app = typer.Typer(
    help="Teams: which team each project belongs to (the `team` dimension).", no_args_is_help=True
)


class Format(enum.StrEnum):
    TABLE = "table"
    JSON = "json"


Provider = Annotated[str, typer.Option(help="Only the records of this provider (openai, anthropic...).")]
Account = Annotated[str, typer.Option(help="Only the records of this provider account.")]
Source = Annotated[
    str | None, typer.Option(help="Only the records of this billing source's account (`sources list`).")
]
FoundIn = Annotated[
    str,
    typer.Option("--from", help="The record field NAME is found in: a project may be named by a workspace."),
]


def _alias(
    ctx: typer.Context,
    dimension: str,
    name: str,
    canonical: str,
    *,
    provider: str,
    account: str,
    source: str | None,
    found_in: str,
) -> Alias:
    if source is not None:
        with open_ledger(ctx) as engine, engine.connect() as conn, user_errors():
            account = account_of_source(conn, source)
    return Alias(
        dimension=dimension.strip().lower().replace("-", "_"),
        name=name,
        canonical=canonical,
        found_in=found_in.strip().lower(),
        provider=provider,
        account=account,
    )


@app.command("add")
def add(
    ctx: typer.Context,
    dimension: Annotated[str, typer.Argument(help=f"One of {', '.join(ALIAS_DIMENSIONS)}.")],
    name: Annotated[str, typer.Argument(help="The name as a source has it, e.g. 'Support bot'.")],
    canonical: Annotated[str, typer.Argument(help="The name reports give it, e.g. support-bot.")],
    provider: Provider = "",
    account: Account = "",
    source: Source = None,
    found_in: FoundIn = "",
) -> None:
    """Report NAME as CANONICAL (in every figure, past and future)."""
    alias = _alias(
        ctx, dimension, name, canonical, provider=provider, account=account, source=source, found_in=found_in
    )
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        stored, outcome = add_alias(conn, alias, actor=cli_actor())
    if outcome == "unchanged":
        out().print(f"Unchanged: {stored.describe()} was there already.")
    else:
        out().print(f"Added alias {stored.id}: {stored.describe()}.")


@app.command("remove")
def remove(
    ctx: typer.Context,
    dimension: Annotated[str, typer.Argument(help="The alias's dimension, or its id alone.")],
    name: Annotated[str | None, typer.Argument(help="The name it maps (as given to `aliases add`).")] = None,
    canonical: Annotated[
        str | None, typer.Argument(help="Optional: the name it is reported as; checked before removing.")
    ] = None,
    provider: Provider = "",
    account: Account = "",
    source: Source = None,
    found_in: FoundIn = "",
) -> None:
    """Remove an alias, by its id (`aliases list`) or as it was added (DIMENSION NAME [CANONICAL]
    and its options)."""
    key: Alias | int
    if name is None and dimension.strip().isdigit():
        key = int(dimension.strip())
    else:
        key = _alias(
            ctx,
            dimension,
            name or "",
            canonical or "",
            provider=provider,
            account=account,
            source=source,
            found_in=found_in,
        )
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        gone = remove_alias(conn, key, actor=cli_actor())
    out().print(f"Removed alias {gone.id}: {gone.describe()}.")


@app.command("list")
def list_(
    ctx: typer.Context, fmt: Annotated[Format, typer.Option("--format", help="table or json.")] = Format.TABLE
) -> None:
    """Every alias, by dimension and canonical name."""
    with open_ledger(ctx) as engine, engine.connect() as conn:
        found = list_aliases(conn)
    if fmt is Format.JSON:
        rows = [
            {
                "id": a.id,
                "dimension": a.dimension,
                "from": a.field,
                "name": a.name,
                "canonical": a.canonical,
                "provider": a.provider or None,
                "account": a.account or None,
            }
            for a in found
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    if not found:
        out().print(
            'No aliases yet: `spendledger aliases add project "Support bot" support-bot --provider openai`.'
        )
        return
    table = Table("Id", "Dimension", "Name", "Found in", "Provider", "Account", "Reported as")
    for a in found:
        table.add_row(
            str(a.id), a.dimension, a.name, a.field, a.provider or "any", a.account or "any", a.canonical
        )
    print_table(table)


@teams_app.command("set")
def team_set(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="The project, as reports name it (after aliases).")],
    team: Annotated[str, typer.Argument(help="Its team.")],
) -> None:
    """Put PROJECT in TEAM: `report --by team` and the showback count its spend there."""
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        _, outcome = set_team(conn, project=project, team=team, actor=cli_actor())
    words = {"added": "Project {p!r} is in team {t!r}.", "changed": "Project {p!r} moved to team {t!r}."}
    out().print(
        words.get(outcome, "Unchanged: project {p!r} was in team {t!r} already.").format(
            p=project.strip(), t=team.strip()
        )
    )


@teams_app.command("remove")
def team_remove(ctx: typer.Context, project: str) -> None:
    """Take PROJECT out of its team (its spend then counts as no team's)."""
    with open_ledger(ctx) as engine, user_errors(), engine.begin() as conn:
        gone = remove_team(conn, project=project, actor=cli_actor())
    out().print(f"Project {gone.project!r} is in no team now (it was in {gone.team!r}).")


@teams_app.command("list")
def team_list(ctx: typer.Context) -> None:
    """Every project with a team, by team."""
    with open_ledger(ctx) as engine, engine.connect() as conn:
        found = list_teams(conn)
    if not found:
        out().print("No teams yet: `spendledger teams set PROJECT TEAM`.")
        return
    table = Table("Team", "Project")
    for t in found:
        table.add_row(t.team, t.project)
    print_table(table)
