"""Dimensions as reports see them: aliases, teams and tags, applied as spend is read.

A report's dimension is a column of the table it reads, or an expression over columns:
- an aliased dimension: `CASE WHEN project = 'Support bot' AND provider = 'openai' THEN
  'support-bot' ... ELSE project END`, the most specific alias first (provider and
  account, then account, then provider, then none);
- `team`: the team of the (aliased) project, '' for a project in none;
- `tag:KEY`: the text of a record's tag KEY ('' when absent), read from `usage` only,
  since the rollups sum measures, not tags.

Grouping and filtering both use the expression, so a filter on a name matches exactly
the rows a group-by puts under it, and the figures of every rendering agree. The rollups
keep the names the sources sent: an alias is undone by removing it, and never rewrites
a record (README, "Allocation and showback").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, FromClause, String, and_, case, func, literal, literal_column, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from spendledger.store.aliases import ALIAS_DIMENSIONS, Alias, list_aliases
from spendledger.store.tables import project_teams, usage

TEAM = "team"
TAG_PREFIX = "tag:"
TAG_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
TAG_KEY_RULE = "a tag key of 1 to 64 letters, digits, '_', '.' or '-' (tag:team)"


@dataclass(frozen=True)
class Maps:
    """The aliases by dimension, most specific first, and each project's team."""

    aliases: Mapping[str, tuple[Alias, ...]] = field(default_factory=dict)
    teams: Mapping[str, str] = field(default_factory=dict)


NO_MAPS = Maps()


def is_tag(dim: str) -> bool:
    return dim.startswith(TAG_PREFIX)


def tag_key(dim: str) -> str:
    return dim[len(TAG_PREFIX) :]


def needs_maps(dims: Iterable[str]) -> bool:
    """Whether reading these dimensions needs the aliases and teams."""
    return any(d == TEAM or d in ALIAS_DIMENSIONS for d in dims)


def load_maps(conn: Connection) -> Maps:
    """The aliases and teams, read once per question (two small tables)."""
    by_dim: dict[str, list[Alias]] = {}
    for alias in list_aliases(conn):
        by_dim.setdefault(alias.dimension, []).append(alias)

    def specificity(a: Alias) -> tuple[int, int, str, str]:
        return (-(2 * bool(a.account) + bool(a.provider)), a.field != a.dimension, a.name, a.provider)

    teams = {r.project: r.team for r in conn.execute(select(project_teams.c.project, project_teams.c.team))}
    return Maps({d: tuple(sorted(found, key=specificity)) for d, found in by_dim.items()}, teams)


def recent_tag_keys(conn: Connection, *, records: int = 1000) -> list[str]:
    """The tag keys of the latest records (a `tag:KEY` dimension each), sorted: what a
    group-by can offer without reading every record's tags."""
    rows = conn.execute(select(usage.c.tags).order_by(usage.c.id.desc()).limit(records))
    keys = {k for (tags,) in rows if isinstance(tags, dict) for k in tags if TAG_KEY.fullmatch(k)}
    return sorted(keys, key=str.lower)


def columns_of(dim: str, maps: Maps) -> set[str]:
    """The columns of the records the dimension's expression reads."""
    if is_tag(dim):
        return {"tags"}
    if dim == TEAM:
        return columns_of("project", maps)
    return {dim, *(a.field for a in maps.aliases.get(dim, ()))}


def expression(table: FromClause, dim: str, maps: Maps) -> ColumnElement[Any]:
    """The dimension's value on a row of `table` (which holds `columns_of(dim)`)."""
    if is_tag(dim):
        return TagText(table.c.tags, tag_key(dim))
    if dim == TEAM:
        project = expression(table, "project", maps)
        if not maps.teams:
            return func.substr(table.c.project, 1, 0)  # '' on every row (PostgreSQL groups no constant)
        return case(dict(maps.teams), value=project, else_=literal("", String))
    found = maps.aliases.get(dim)
    column = table.c[dim]
    if not found:
        return column
    whens = []
    for alias in found:
        conditions = [table.c[alias.field] == alias.name]
        if alias.field != dim:
            conditions.append(column == "")  # a workspace names the records with no project
        if alias.provider:
            conditions.append(table.c.provider == alias.provider)
        if alias.account:
            conditions.append(table.c.account == alias.account)
        whens.append((and_(*conditions), literal(alias.canonical, String)))
    return case(*whens, else_=column)


class TagText(FunctionElement[str]):
    """A tag's value as text ('' when the record has no such tag): strings as they are,
    numbers and booleans as JSON writes them, objects and lists as JSON text. The key is
    checked against TAG_KEY before it gets here, so it is written into the SQL as is."""

    type = String()
    inherit_cache = True

    def __init__(self, tags: Any, key: str) -> None:
        if not TAG_KEY.fullmatch(key):
            raise ValueError(f"not {TAG_KEY_RULE}: {key!r}")
        self.key = key
        # the key as a clause too: it is then part of the statement's cache key
        super().__init__(tags, literal_column(f"'{key}'"))


@compiles(TagText, "sqlite")
def _tag_sqlite(element: TagText, compiler: Any, **kw: Any) -> str:
    tags, path = compiler.process(element.clauses.clauses[0], **kw), f"'$.\"{element.key}\"'"
    return (
        f"COALESCE(CASE json_type({tags}, {path}) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
        f"WHEN 'null' THEN '' ELSE CAST(json_extract({tags}, {path}) AS TEXT) END, '')"
    )


@compiles(TagText, "postgresql")
def _tag_postgresql(element: TagText, compiler: Any, **kw: Any) -> str:
    return f"COALESCE(({compiler.process(element.clauses.clauses[0], **kw)} ->> '{element.key}'), '')"
