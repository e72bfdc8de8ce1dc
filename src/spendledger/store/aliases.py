"""Aliases and teams: the names reports give what the sources name differently.

An alias says that a name found in the records ("Support bot" in the OpenAI bills, the
Anthropic workspace "Support") is, in reports, another one ("support-bot"); a team
mapping says which team a project (as reports name it) belongs to. Both are applied when
spend is read (store/mapped.py), never written into the records: adding or removing one
changes every past and future figure at once, and the ledger keeps what each source sent.

Invariants:
- an alias is unique on (dimension, found in, provider, account, name); adding it again
  changes nothing (`unchanged`), adding it with another canonical name is refused;
- no chains: a canonical name is never itself an alias's name in its dimension, so a
  name maps in one step, whatever the order aliases were added in;
- every change is written to the audit log in its own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Connection, and_, delete, insert, select, update

from spendledger.errors import SpendledgerError
from spendledger.store import audit
from spendledger.store.tables import DIM, aliases, project_teams

# the dimensions an alias may rename: not the provider, basis or currency, which decide
# how figures are counted ("best available" is per provider and account)
ALIAS_DIMENSIONS: tuple[str, ...] = (
    "account",
    "workspace",
    "project",
    "api_key_id",
    "model",
    "user",
    "feature",
    "customer",
)
# where a dimension's name may be found besides the dimension itself: a project may be
# named by a workspace (Anthropic bills workspaces, whose records have no project)
FOUND_IN: dict[str, tuple[str, ...]] = {"project": ("workspace",)}


class AliasError(SpendledgerError, ValueError):
    """An alias or team mapping that cannot be stored; the message says what to send instead."""


@dataclass(frozen=True)
class Alias:
    dimension: str  # where `canonical` is reported
    name: str  # the name as the records have it
    canonical: str
    found_in: str = ""  # the record field `name` is in; '' or `dimension`: the dimension itself
    provider: str = ""  # '' any
    account: str = ""  # '' any
    id: int | None = None
    created_at: datetime | None = None

    @property
    def field(self) -> str:
        return self.found_in or self.dimension

    def describe(self) -> str:
        """The alias in words, as messages and the audit log name it."""
        where = f"{self.field} {self.name!r}"
        scope = "".join(
            f" of {label} {value!r}"
            for label, value in (("provider", self.provider), ("account", self.account))
            if value
        )
        return f"{where}{scope} → {self.dimension} {self.canonical!r}"


@dataclass(frozen=True)
class TeamOf:
    project: str
    team: str
    created_at: datetime | None = None


def text(field: str, value: str, *, required: bool = True) -> str:
    """A name as stored: stripped, at most DIM characters, no control characters."""
    cleaned = value.strip()
    if required and not cleaned:
        raise AliasError(f"{field}: give a name (it is empty)", field=field)
    if len(cleaned) > DIM:
        raise AliasError(f"{field}: at most {DIM} characters, not {len(cleaned)}", field=field)
    if any(ord(c) < 32 or ord(c) == 127 for c in cleaned):
        raise AliasError(
            f"{field}: contains a control character (a NUL, a tab or a line break); remove it", field=field
        )
    if not cleaned.isascii():
        try:
            cleaned.encode("utf-8")
        except UnicodeEncodeError:
            raise AliasError(
                f"{field}: holds half of a UTF-16 surrogate pair; send whole characters", field=field
            ) from None
    return cleaned


def checked(alias: Alias, *, with_canonical: bool = True) -> Alias:
    """The alias with its names cleaned, or AliasError naming what to fix (its canonical
    name too unless `with_canonical` is False: a removal names the alias by its key)."""
    if alias.dimension not in ALIAS_DIMENSIONS:
        raise AliasError(
            f"dimension: {alias.dimension!r} cannot have aliases; use one of {', '.join(ALIAS_DIMENSIONS)}",
            field="dimension",
        )
    found_in = alias.found_in.strip()
    if found_in in ("", alias.dimension):
        found_in = alias.dimension
    elif found_in not in FOUND_IN.get(alias.dimension, ()):
        allowed = ", ".join((alias.dimension, *FOUND_IN.get(alias.dimension, ())))
        raise AliasError(
            f"from: a {alias.dimension} name is found in {allowed}, not {found_in!r}", field="from"
        )
    if alias.account.strip() and alias.dimension == "account":
        raise AliasError(
            "account: an account alias is narrowed by --provider, not by --account", field="account"
        )
    cleaned = Alias(
        dimension=alias.dimension,
        name=text("name", alias.name),
        canonical=text("canonical", alias.canonical) if with_canonical else "",
        found_in=found_in,
        provider=text("provider", alias.provider.lower(), required=False),
        account=text("account", alias.account, required=False),
    )
    if with_canonical and cleaned.name == cleaned.canonical and found_in == alias.dimension:
        raise AliasError(
            f"canonical: {cleaned.name!r} is already its own name; give another name", field="canonical"
        )
    return cleaned


def add_alias(
    conn: Connection, alias: Alias, *, actor: str, now: datetime | None = None
) -> tuple[Alias, str]:
    """Store an alias; returns it as stored and `added` or `unchanged`. Raises AliasError."""
    alias = checked(alias)
    same = _key_is(alias)
    found = conn.execute(select(aliases).where(same)).first()
    if found is not None:
        stored = _alias_of(found)
        if stored.canonical == alias.canonical:
            return stored, "unchanged"
        raise AliasError(
            f"{stored.describe()} exists already; remove it first (`spendledger aliases remove` "
            f"{_cli_args(stored)})",
            field="name",
        )
    own = alias.dimension
    chained = conn.execute(
        select(aliases.c.canonical).where(
            aliases.c.dimension == own, aliases.c.found_in == own, aliases.c.name == alias.canonical
        )
    ).first()
    if chained is not None:
        raise AliasError(
            f"canonical: {alias.canonical!r} is itself an alias of {own} {chained.canonical!r}; "
            f"map {alias.name!r} to {chained.canonical!r} instead",
            field="canonical",
        )
    if alias.found_in == own:
        targets = conn.execute(
            select(aliases.c.name)
            .where(aliases.c.dimension == own, aliases.c.canonical == alias.name)
            .limit(1)
        ).first()
        if targets is not None:
            raise AliasError(
                f"name: {alias.name!r} is the name other aliases map to (e.g. {targets.name!r}); "
                f"map those to {alias.canonical!r} first, or remove them",
                field="name",
            )
    at = now or datetime.now(UTC)
    new_id = conn.execute(
        insert(aliases).values(
            dimension=own,
            found_in=alias.found_in,
            provider=alias.provider,
            account=alias.account,
            name=alias.name,
            canonical=alias.canonical,
            created_at=at,
        )
    ).inserted_primary_key
    stored = Alias(**{**alias.__dict__, "id": int(new_id[0]) if new_id else None, "created_at": at})
    audit.record(conn, actor=actor, action="alias.add", what=_what(stored), at=at)
    return stored, "added"


def remove_alias(conn: Connection, alias: Alias | int, *, actor: str) -> Alias:
    """Remove an alias, named by its id or its key (dimension, found in, scope, name); a key
    that names a canonical name too must name the alias's."""
    reported_as = ""
    if isinstance(alias, int):
        row = conn.execute(select(aliases).where(aliases.c.id == alias)).first()
        missing = f"no alias with id {alias}: `spendledger aliases list` shows them"
    else:
        reported_as = alias.canonical.strip()
        alias = checked(alias, with_canonical=False)
        row = conn.execute(select(aliases).where(_key_is(alias))).first()
        missing = (
            f"no alias for {alias.field} {alias.name!r} in that scope: `spendledger aliases list` shows them"
        )
    if row is None:
        raise AliasError(missing, field="name")
    stored = _alias_of(row)
    if reported_as and reported_as != stored.canonical:
        raise AliasError(
            f"canonical: {stored.field} {stored.name!r} is reported as {stored.canonical!r}, not "
            f"{reported_as!r}; name the alias as `spendledger aliases list` shows it",
            field="canonical",
        )
    conn.execute(delete(aliases).where(aliases.c.id == stored.id))
    audit.record(conn, actor=actor, action="alias.remove", what=_what(stored))
    return stored


def list_aliases(conn: Connection) -> list[Alias]:
    rows = conn.execute(
        select(aliases).order_by(aliases.c.dimension, aliases.c.canonical, aliases.c.name, aliases.c.id)
    )
    return [_alias_of(r) for r in rows]


def _key_is(alias: Alias) -> ColumnElement[bool]:
    return and_(
        aliases.c.dimension == alias.dimension,
        aliases.c.found_in == alias.field,
        aliases.c.provider == alias.provider,
        aliases.c.account == alias.account,
        aliases.c.name == alias.name,
    )


def _alias_of(row: object) -> Alias:
    m = row._mapping  # type: ignore[attr-defined]
    return Alias(
        dimension=m["dimension"],
        name=m["name"],
        canonical=m["canonical"],
        found_in=m["found_in"],
        provider=m["provider"],
        account=m["account"],
        id=m["id"],
        created_at=m["created_at"],
    )


def _what(alias: Alias) -> dict[str, object]:
    return {
        "id": alias.id,
        "dimension": alias.dimension,
        "found_in": alias.field,
        "name": alias.name,
        "canonical": alias.canonical,
        "provider": alias.provider or None,
        "account": alias.account or None,
    }


def _cli_args(alias: Alias) -> str:
    options = [f"--provider {alias.provider}"] if alias.provider else []
    options += [f"--account {alias.account!r}"] if alias.account else []
    options += [f"--from {alias.field}"] if alias.field != alias.dimension else []
    return " ".join([alias.dimension, repr(alias.name), *options])


# ---- teams --------------------------------------------------------------------------------------


def set_team(
    conn: Connection, *, project: str, team: str, actor: str, now: datetime | None = None
) -> tuple[TeamOf, str]:
    """Put a project (as reports name it) in a team; `added`, `changed` or `unchanged`."""
    project, team = text("project", project), text("team", team)
    at = now or datetime.now(UTC)
    found = conn.execute(select(project_teams).where(project_teams.c.project == project)).first()
    if found is not None and found.team == team:
        return TeamOf(project, team, found.created_at), "unchanged"
    if found is None:
        conn.execute(insert(project_teams).values(project=project, team=team, created_at=at))
        outcome = "added"
    else:
        conn.execute(update(project_teams).where(project_teams.c.project == project).values(team=team))
        outcome = "changed"
    what: dict[str, object] = {"project": project, "team": team}
    if found is not None:
        what["was"] = found.team
    audit.record(conn, actor=actor, action="team.set", what=what, at=at)
    return TeamOf(project, team, at), outcome


def remove_team(conn: Connection, *, project: str, actor: str) -> TeamOf:
    """Take a project out of its team (its spend reads as no team)."""
    project = text("project", project)
    found = conn.execute(select(project_teams).where(project_teams.c.project == project)).first()
    if found is None:
        raise AliasError(
            f"project {project!r} is in no team: `spendledger teams list` shows them", field="project"
        )
    conn.execute(delete(project_teams).where(project_teams.c.project == project))
    audit.record(conn, actor=actor, action="team.remove", what={"project": project, "team": found.team})
    return TeamOf(project, found.team, found.created_at)


def list_teams(conn: Connection) -> list[TeamOf]:
    rows = conn.execute(select(project_teams).order_by(project_teams.c.team, project_teams.c.project))
    return [TeamOf(r.project, r.team, r.created_at) for r in rows]


def account_of_source(conn: Connection, source: str) -> str:
    """The account a billing source's records carry: its `account` option, else its name
    (every source type names its account so), for `aliases add --source`."""
    from spendledger.store.sources import get_source

    found = get_source(conn, source.strip())
    return found.options.get("account") or found.name
