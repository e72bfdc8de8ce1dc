"""Allocation rules: how a shared cost is split among the groups of a showback.

A rule names a pool (`what`: seat subscriptions, a provider's non-token line items, or
the spend no group carries), the dimension of the groups (`by`: team, project or
customer) and how it is split (`even`, or `proportional` to each group's own spend).
The rules are applied when the showback is read (spendledger/showback.py), never written
into the ledger. One rule per pool and dimension; adding the same rule again changes
nothing; every change is written to the audit log in its transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, delete, insert, or_, select

from spendledger.errors import SpendledgerError
from spendledger.store import audit
from spendledger.store.aliases import text
from spendledger.store.tables import allocation_rules

POOLS: tuple[str, ...] = ("subscriptions", "non-token", "unattributed")
SPLITS: tuple[str, ...] = ("even", "proportional")
RULE_DIMENSIONS: tuple[str, ...] = ("team", "project", "customer")


class RuleError(SpendledgerError, ValueError):
    """A rule that cannot be stored or found; the message says what to do."""


@dataclass(frozen=True)
class AllocationRule:
    name: str
    what: str  # one of POOLS
    by: str  # one of RULE_DIMENSIONS
    split: str  # one of SPLITS
    id: int | None = None
    created_at: datetime | None = None


def _one_of(field: str, value: str, allowed: tuple[str, ...]) -> str:
    cleaned = value.strip().lower()
    if cleaned not in allowed:
        shown = value if len(value) <= 40 else value[:37] + "..."
        raise RuleError(f"{field}: {shown!r} is not one of {', '.join(allowed)}", field=field)
    return cleaned


def checked(rule: AllocationRule) -> AllocationRule:
    return AllocationRule(
        name=text("name", rule.name),
        what=_one_of("what", rule.what, POOLS),
        by=_one_of("by", rule.by, RULE_DIMENSIONS),
        split=_one_of("split", rule.split, SPLITS),
    )


def add_rule(
    conn: Connection, rule: AllocationRule, *, actor: str, now: datetime | None = None
) -> tuple[AllocationRule, str]:
    """Store a rule; returns it and `added` or `unchanged`. Raises RuleError."""
    rule = checked(rule)
    clash = conn.execute(
        select(allocation_rules).where(
            or_(
                allocation_rules.c.name == rule.name,
                (allocation_rules.c.what == rule.what) & (allocation_rules.c.by == rule.by),
            )
        )
    ).first()
    if clash is not None:
        stored = _rule_of(clash)
        if (stored.name, stored.what, stored.by, stored.split) == (rule.name, rule.what, rule.by, rule.split):
            return stored, "unchanged"
        if stored.name == rule.name:
            raise RuleError(
                f"name: a rule {rule.name!r} exists already ({_words(stored)}); remove it first "
                f"(`spendledger allocate rule remove {rule.name}`) or pick another name",
                field="name",
            )
        raise RuleError(
            f"what: the rule {stored.name!r} splits {rule.what} by {rule.by} already ({_words(stored)}); "
            f"remove it first (`spendledger allocate rule remove {stored.name}`)",
            field="what",
        )
    at = now or datetime.now(UTC)
    key = conn.execute(
        insert(allocation_rules).values(
            name=rule.name, what=rule.what, by=rule.by, split=rule.split, created_at=at
        )
    ).inserted_primary_key
    stored = AllocationRule(rule.name, rule.what, rule.by, rule.split, int(key[0]) if key else None, at)
    audit.record(conn, actor=actor, action="allocation_rule.add", what=_what(stored), at=at)
    return stored, "added"


def remove_rule(conn: Connection, *, name: str, actor: str) -> AllocationRule:
    name = text("name", name)
    found = conn.execute(select(allocation_rules).where(allocation_rules.c.name == name)).first()
    if found is None:
        raise RuleError(f"no rule named {name!r}: `spendledger allocate rule list` shows them", field="name")
    stored = _rule_of(found)
    conn.execute(delete(allocation_rules).where(allocation_rules.c.id == stored.id))
    audit.record(conn, actor=actor, action="allocation_rule.remove", what=_what(stored))
    return stored


def list_rules(conn: Connection) -> list[AllocationRule]:
    rows = conn.execute(select(allocation_rules).order_by(allocation_rules.c.by, allocation_rules.c.name))
    return [_rule_of(r) for r in rows]


def _rule_of(row: object) -> AllocationRule:
    m = row._mapping  # type: ignore[attr-defined]
    return AllocationRule(m["name"], m["what"], m["by"], m["split"], m["id"], m["created_at"])


def _words(rule: AllocationRule) -> str:
    return f"{rule.what} by {rule.by}, {rule.split}"


def _what(rule: AllocationRule) -> dict[str, object]:
    return {"id": rule.id, "name": rule.name, "what": rule.what, "by": rule.by, "split": rule.split}
