"""Adding, checking, counting and removing sources: one set of functions for CLI and web.

`spendledger sources ...` (cli/sources.py) and the /sources page (web/pages/sources.py)
both call these, so a source type declared in `sources/` (base.py's `SourceType`) is
added, tested and removed the same way everywhere, with the same messages. The key is
sealed here the moment it arrives, opened only to hand it to a connector, and never
returned. The page reaches source types only through this module (`web` never imports
`sources`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from spendledger.config import Settings
from spendledger.secrets import load_vault, mask
from spendledger.sources._http import RetryPolicy
from spendledger.sources.base import Connector, Option, SourceConfig, SourceError, SourceType
from spendledger.sources.base import source_type as _source_type
from spendledger.sources.base import source_types as _source_types
from spendledger.store import Engine, audit, deletions
from spendledger.store.balances import delete_readings
from spendledger.store.ledger import records_by_source
from spendledger.store.sources import SourceRow, add_source, get_source, remove_source

__all__ = [
    "Option",
    "SourceError",
    "SourceType",
    "add",
    "check",
    "check_options",
    "connect",
    "public_options",
    "record_counts",
    "remove",
    "source_type",
    "source_types",
    "unknown_type",
]

LIBRARY_ACTOR = "library"  # the audit log's actor of a direct call that names none


def source_types() -> list[SourceType]:
    """Every source type: built in, then from installed packages (`spendledger.sources`)."""
    return _source_types()


def unknown_type(name: str) -> str | None:
    """What is wrong with a type name (None: it is known), listing the known ones."""
    names = [t.name for t in source_types()]
    return None if name in names else f"unknown {name!r}; use one of {', '.join(names)}"


def source_type(name: str) -> SourceType:
    return _source_type(name)


def check_options(kind: SourceType, options: Mapping[str, str], key: str | None = None) -> dict[str, str]:
    """What is wrong with `options` (and `key`, when given) for a source of `kind`, by option name
    or "key" (empty: nothing)."""
    declared = {o.name: o for o in kind.all_options}
    errors: dict[str, str] = dict(kind.problems(key, options))
    for needed in kind.all_options:
        if needed.required and not (options.get(needed.name) or "").strip():
            errors.setdefault(
                needed.name, f"{needed.label} is required (--option {needed.name}=…): {needed.help}"
            )
    for name, value in options.items():
        option = declared.get(name)
        if option is None:
            errors[name] = f"{kind.label} takes no option {name!r}; it takes {', '.join(declared)}"
        elif option.kind == "url" and value and not value.startswith(("https://", "http://")):
            label = option.label.removesuffix(" (optional)")
            errors[name] = f"{label}: must start with https:// (leave it blank for the default)"
    return errors


def add(
    engine: Engine,
    settings: Settings,
    *,
    provider: str,
    name: str,
    key: str,
    options: Mapping[str, str],
    backfill_days: int = 90,
    interval_minutes: int = 60,
    actor: str = LIBRARY_ACTOR,
) -> SourceRow:
    """Check, seal the key and store the source (SourceExistsError when the name is taken);
    `actor` (who adds it: the CLI and the page pass theirs) goes to the audit log."""
    if problems := check_options(_source_type(provider), options, key):
        raise SourceError("config", "; ".join(problems.values()))
    credential = load_vault(settings).seal(key)
    with engine.begin() as conn:
        audit.record(conn, actor=actor, action="source.add", what={"name": name, "type": provider})
        return add_source(
            conn,
            name=name,
            provider=provider,
            credential=credential,
            key_hint=mask(key),
            options=options,
            now=datetime.now(UTC),
            backfill_days=backfill_days,
            interval_minutes=interval_minutes,
        )


def connect(settings: Settings, source: SourceRow, *, policy: RetryPolicy | None = None) -> Connector:
    """A connector for the stored source, its key opened and handed over, its client built."""
    key = load_vault(settings).open(source.credential)
    return _source_type(source.provider).open(SourceConfig(source.name, key, source.options), policy=policy)


def check(engine: Engine, settings: Settings, name: str) -> str:
    """One cheap authenticated call with the source's key: what it saw, or a SourceError."""
    with engine.connect() as conn:
        source = get_source(conn, name)
    connector = connect(settings, source)
    try:
        return connector.check()
    finally:
        connector.close()


def remove(engine: Engine, name: str, *, purge: bool, actor: str = LIBRARY_ACTOR) -> int | None:
    """Remove the source; with `purge` its records too (how many: returned), else None;
    both written to the audit log as `actor`'s."""
    with engine.begin() as conn:
        remove_source(conn, name)
        audit.record(conn, actor=actor, action="source.remove", what={"name": name, "purge": purge})
        if not purge:
            return None
        delete_readings(conn, source=name)
        return deletions.delete(conn, deletions.DeletionScope(source=name), actor=actor).records


def record_counts(engine: Engine, *, source: str | None = None) -> dict[str, int]:
    """Records per source (only `source`'s when given); a source with none is absent."""
    with engine.connect() as conn:
        return records_by_source(conn, source=source)


def public_options(options: Mapping[str, str]) -> dict[str, str]:
    """A source's options as they may be shown: no secret is an option (the key is sealed
    apart), but a URL may carry a password (`https://user:pass@proxy`), which is masked."""
    return {name: _without_password(value) for name, value in sorted(options.items())}


def _without_password(value: str) -> str:
    try:
        parts = urlsplit(value)
        password = parts.password
    except ValueError:  # not a URL (an invalid port, a stray bracket): nothing to mask
        return value
    if not password:
        return value
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:…@{host}"))
