"""Which provider account a metered record belongs to, when it does not say.

A billed record names its account and, often, a project and an API key; those projects
and keys belong to that account (a billing source lists its own). A metered record with
no account whose project (or, failing that, API key) belongs to exactly one account of
its provider is attributed to that account, so that the account's bill covers it and a
second, unsynced organisation's calls are never swallowed by another's bill. What is
learnt later applies to the records already stored: they are moved, rollups included.
A project or key seen in two accounts is ambiguous and attributes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, and_, select, update

from spendledger.store import bulk
from spendledger.store.tables import account_members, usage

DIMENSIONS: tuple[str, ...] = ("project", "api_key_id")  # in the order they attribute

Member = tuple[str, str, str, str]  # (provider, dimension, value, account)
AccountOf = Callable[[str, str, str], str]  # (provider, project, api_key_id) -> account or ""


def members_of(rows: Iterable[Mapping[str, Any]]) -> set[Member]:
    """The projects and keys the billed rows among `rows` show to belong to their account."""
    found: set[Member] = set()
    for row in rows:
        if row["basis"] != "billed" or not row["account"]:
            continue
        for dim in DIMENSIONS:
            if row[dim]:
                found.add((row["provider"], dim, row[dim], row["account"]))
    return found


def learn(conn: Connection, members: set[Member]) -> set[Member]:
    """Store `members`; returns those not known before."""
    if not members:
        return set()
    t = account_members
    rows = [dict(zip(("provider", "dimension", "value", "account"), m, strict=True)) for m in sorted(members)]
    inserted = bulk.upsert(
        conn, t, rows, conflict=("provider", "dimension", "value", "account"), returning=t.c.keys()
    )
    return {(r[0], r[1], r[2], r[3]) for r in inserted}


def account_of(conn: Connection, providers: Iterable[str]) -> AccountOf:
    """A look-up of the one account a project or key of these providers belongs to."""
    wanted = sorted(set(providers))
    owners: dict[tuple[str, str, str], set[str]] = {}
    if wanted:
        t = account_members
        for row in conn.execute(select(t).where(t.c.provider.in_(wanted))):
            owners.setdefault((row.provider, row.dimension, row.value), set()).add(row.account)
    unique = {k: next(iter(v)) for k, v in owners.items() if len(v) == 1}

    def lookup(provider: str, project: str, api_key_id: str) -> str:
        if not unique:
            return ""
        return (
            (project and unique.get((provider, "project", project)))
            or (api_key_id and unique.get((provider, "api_key_id", api_key_id)))
            or ""
        )

    return lookup


def attribute(conn: Connection, rows: Iterable[dict[str, Any]]) -> None:
    """Give the metered rows with no account the account their project or key belongs to."""
    pending = [r for r in rows if r["basis"] == "metered" and not r["account"]]
    if not pending:
        return
    lookup = account_of(conn, {r["provider"] for r in pending})
    for row in pending:
        row["account"] = lookup(row["provider"], row["project"], row["api_key_id"])


def stored_to_move(conn: Connection, learnt: set[Member]) -> list[tuple[Any, str]]:
    """For members just learnt: (condition, account) selecting the stored metered records
    with no account that now belong to an account."""
    if not learnt:
        return []
    lookup = account_of(conn, {m[0] for m in learnt})
    moves: list[tuple[Any, str]] = []
    for provider, dim, value, _ in sorted(learnt):
        project, key = (value, "") if dim == "project" else ("", value)
        account = lookup(provider, project, key)
        if not account:
            continue
        condition = and_(
            usage.c.basis == "metered",
            usage.c.provider == provider,
            usage.c.account == "",
            usage.c[dim] == value,
        )
        moves.append((condition, account))
    return moves


def move(conn: Connection, condition: Any, account: str) -> int:
    """Set the account of the records matching `condition` (the caller moves the rollups)."""
    return int(conn.execute(update(usage).where(condition).values(account=account)).rowcount or 0)
