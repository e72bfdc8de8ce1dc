"""Removing records an admin names: a scope, what it holds, and its deletion, audited.

`spendledger delete`, the /data page and POST /api/v1/deletions all go through here: a
`DeletionScope` parsed from what the user typed (`parse_scope`, every mistake named by
its field), `summarise` (what the scope holds: records per provider and basis, money per
currency, the days; a dry run and every confirmation show it) and `delete`, which
removes exactly the scope through `ledger.delete_records` (its removal from the rollups
journaled in the same transaction) and writes the audit log's entry in that transaction too, with the
summary of what went, counted in it. An empty scope is refused unless `everything` says
every record is meant. A billing source's records come back if it syncs the same days
again: remove the source, or delete only what no sync revisits.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, select, true

from spendledger.errors import SpendledgerError
from spendledger.model_names import canonical_provider
from spendledger.records import Basis, display_money, from_nanos
from spendledger.store import audit
from spendledger.store.ledger import delete_records, record_scope, records_by_source
from spendledger.store.rollups import current
from spendledger.store.tables import MONTHLY, rollups, usage

ACTION = "records.delete"
FIELDS: tuple[str, ...] = ("source", "provider", "account", "project", "basis")
NONE_VALUES = ("none", "-")  # account/project: the records with none


class DeletionError(SpendledgerError, ValueError):
    """A scope the user got wrong; `field` names the option ("from", "basis", "scope"...)."""


@dataclass(frozen=True)
class DeletionScope:
    """What to delete: the records matching every field given, between two local days
    (both included); `everything` with no field: every record."""

    source: str | None = None
    provider: str | None = None
    account: str | None = None  # '' for the records with no account
    project: str | None = None
    basis: str | None = None
    start: date | None = None
    end: date | None = None
    everything: bool = False

    def filters(self) -> dict[str, str]:
        """The fields given, by name (days as "from" and "to"), for the log and the forms."""
        named = {f: getattr(self, f) for f in FIELDS}
        out = {k: v for k, v in named.items() if v is not None}
        if self.start is not None:
            out["from"] = self.start.isoformat()
        if self.end is not None:
            out["to"] = self.end.isoformat()
        return out

    def describe(self) -> str:
        """The scope in words: "provider openai, project (none), days 2026-11-01 → 2026-11-30"."""
        parts = [f"{k} {v or '(none)'}" for k, v in self.filters().items() if k not in ("from", "to")]
        if self.start or self.end:
            parts.append(f"days {self.start or '…'} → {self.end or '…'}")
        return ", ".join(parts) or "every record"


def parse_scope(
    *,
    source: str | None = None,
    provider: str | None = None,
    account: str | None = None,
    project: str | None = None,
    basis: str | None = None,
    start: str | None = None,
    end: str | None = None,
    everything: bool = False,
) -> DeletionScope:
    """The scope of what a user typed (blank: not given); a DeletionError names a mistake."""

    def text(value: str | None) -> str | None:
        value = (value or "").strip()
        return value or None

    def none_or(value: str | None) -> str | None:
        value = text(value)
        return "" if value is not None and value.lower() in NONE_VALUES else value

    provider_name = text(provider)
    basis_name = text(basis)
    if basis_name is not None:
        basis_name = basis_name.lower()
        if basis_name not in {str(b) for b in Basis}:
            raise DeletionError(
                f"basis {basis_name!r} is not one; use one of {', '.join(str(b) for b in Basis)}",
                field="basis",
            )
    scope = DeletionScope(
        source=text(source),
        provider=None if provider_name is None else canonical_provider(provider_name),
        account=none_or(account),
        project=none_or(project),
        basis=basis_name,
        start=_day("from", start),
        end=_day("to", end),
        everything=everything,
    )
    if scope.start and scope.end and scope.start > scope.end:
        raise DeletionError(f"--from {scope.start} is after --to {scope.end}", field="from")
    if everything and scope.filters():
        raise DeletionError(
            "--all means every record: drop it to delete only the scope named, or drop the scope",
            field="all",
        )
    if not everything and not scope.filters():
        raise DeletionError(
            "name what to delete (--source, --provider, --account, --project, --basis, --from/--to), "
            "or --all for every record",
            field="scope",
        )
    return scope


def _day(option: str, value: str | None) -> date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DeletionError(f"--{option}: {value!r} is not a date (YYYY-MM-DD)", field=option) from None


@dataclass(frozen=True)
class Slice:
    """The records of one provider and basis in a scope."""

    provider: str
    basis: str
    records: int
    amounts: dict[str, Decimal]  # per currency


@dataclass(frozen=True)
class Summary:
    """What a scope holds: exactly what its deletion removes (or removed)."""

    scope: DeletionScope
    records: int = 0
    slices: list[Slice] = field(default_factory=list)  # by provider, then basis
    amounts: dict[str, Decimal] = field(default_factory=dict)  # per currency, in all
    first_day: date | None = None  # local days
    last_day: date | None = None
    days: int = 0  # the days holding records

    def money(self) -> str:
        """The amounts in words: "$12.50 USD + €3.00 EUR" ("nothing" for none)."""
        return " + ".join(display_money(a, c) for c, a in self.amounts.items()) or "nothing"

    def audit_what(self) -> dict[str, Any]:
        return {
            "scope": self.scope.filters() or {"all": True},
            "records": self.records,
            "first_day": self.first_day,
            "last_day": self.last_day,
            "days": self.days,
            "by_provider_basis": {f"{s.provider}/{s.basis}": s.records for s in self.slices},
        }


def summarise(conn: Connection, scope: DeletionScope) -> Summary:
    """What `scope` holds now: records per provider and basis, money per currency, the days."""
    condition = _condition(scope)
    rows = conn.execute(
        select(
            usage.c.provider,
            usage.c.basis,
            usage.c.currency,
            func.count().label("n"),
            func.sum(usage.c.cost_nanos).label("nanos"),
        )
        .where(condition)
        .group_by(usage.c.provider, usage.c.basis, usage.c.currency)
        .order_by(usage.c.provider, usage.c.basis, usage.c.currency)
    ).all()
    if not rows:
        return Summary(scope)
    first, last, days = conn.execute(
        select(func.min(usage.c.day), func.max(usage.c.day), func.count(usage.c.day.distinct())).where(
            condition
        )
    ).one()
    slices: dict[tuple[str, str], Slice] = {}
    amounts: dict[str, Decimal] = {}
    for row in rows:
        amount = from_nanos(int(row.nanos or 0))
        s = slices.setdefault((row.provider, row.basis), Slice(row.provider, row.basis, 0, {}))
        slices[(row.provider, row.basis)] = Slice(
            s.provider, s.basis, s.records + int(row.n), {**s.amounts, row.currency: amount}
        )
        amounts[row.currency] = amounts.get(row.currency, Decimal(0)) + amount
    return Summary(
        scope,
        records=sum(s.records for s in slices.values()),
        slices=list(slices.values()),
        amounts=dict(sorted(amounts.items())),
        first_day=date.fromisoformat(first),
        last_day=date.fromisoformat(last),
        days=int(days),
    )


def delete(conn: Connection, scope: DeletionScope, *, actor: str) -> Summary:
    """Delete the records of `scope` and log it (who, what, how much), in the caller's
    transaction (`engine.begin()`); returns what went. Nothing matched: nothing logged."""
    summary = summarise(conn, scope)
    if summary.records == 0:
        return summary
    delete_records(conn, **_fields(scope), everything=scope.everything)
    audit.record(conn, actor=actor, action=ACTION, what=summary.audit_what(), amount=summary.amounts)
    return summary


def _fields(scope: DeletionScope) -> dict[str, Any]:
    """The scope as `record_scope`'s and `delete_records`'s keywords."""
    return {k: v for k, v in asdict(scope).items() if k != "everything"}


def _condition(scope: DeletionScope) -> ColumnElement[bool]:
    condition = record_scope(**_fields(scope))
    return true() if condition is None else condition


def known_values(conn: Connection) -> dict[str, list[str]]:
    """The values the ledger holds of each scope field, for the form's suggestions: sources
    from the records, the rest from the smallest monthly rollup that has them."""
    monthly = current(rollups[MONTHLY["rollup_model"]])
    values = {"source": sorted(records_by_source(conn))}
    for name in ("provider", "account", "project", "basis"):
        column = monthly.c[name]
        query = select(column).group_by(column).having(func.sum(monthly.c.records) > 0).order_by(column)
        found = conn.execute(query).scalars()
        values[name] = [v for v in found if v]
    return values
