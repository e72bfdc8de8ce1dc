"""API tokens for the ingest and JSON APIs: created by the CLI, checked on every request.

Only a token's SHA-256 is stored (a token is 256 random bits, so a fast unsalted hash
is enough: there is nothing to brute-force), with its last characters as a hint to tell
tokens apart in `tokens list`. A name is unique among all rows; a revoked token's name
can be reused, which deletes the revoked row; an active token's name only when asked
to replace it (`replace=True`), which deletes the old token in the same transaction.
`verify_token` runs on the hot path, so it writes `last_used_at` at most once a minute
per token rather than on every request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from spendledger.errors import SpendledgerError
from spendledger.records import as_utc
from spendledger.store.tables import DIM, api_tokens

PREFIX = "sl_"
HINT_CHARS = 4
TOUCH_EVERY = timedelta(minutes=1)


class TokenError(SpendledgerError, ValueError):
    """A token operation the caller got wrong; the message says what to do instead."""


class TokenExistsError(TokenError):
    """An active token already has the name; the caller may replace it or pick another."""

    def __init__(self, name: str) -> None:
        super().__init__(f"a token named {name!r} exists; revoke it first or pick another name")
        self.name = name


@dataclass(frozen=True, slots=True)
class TokenInfo:
    name: str
    hint: str  # the token's last characters, e.g. "…x7Qa"
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(conn: Connection, *, name: str, now: datetime | None = None, replace: bool = False) -> str:
    """Create a token called `name` and return it; it is shown once and never stored.
    An active token of that name is an error, or with `replace` is revoked by deletion."""
    name = name.strip()
    if not name or len(name) > DIM:
        raise TokenError(f"a token name must have 1 to {DIM} characters, got {len(name)}")
    existing = conn.execute(select(api_tokens.c.revoked_at).where(api_tokens.c.name == name)).first()
    if existing is not None and existing.revoked_at is None and not replace:
        raise TokenExistsError(name)
    if existing is not None:
        conn.execute(delete(api_tokens).where(api_tokens.c.name == name))
    token = PREFIX + secrets.token_urlsafe(32)
    try:
        conn.execute(
            insert(api_tokens).values(
                name=name,
                token_hash=hash_token(token),
                hint=token[-HINT_CHARS:],
                created_at=as_utc(now) if now else datetime.now(UTC),
            )
        )
    except IntegrityError as exc:  # another process created the same name meanwhile
        raise TokenExistsError(name) from exc
    return token


def list_tokens(conn: Connection) -> list[TokenInfo]:
    """Every token, active and revoked, oldest first."""
    rows = conn.execute(select(api_tokens).order_by(api_tokens.c.created_at, api_tokens.c.id))
    return [
        TokenInfo(
            name=r.name,
            hint=r.hint,
            created_at=as_utc(r.created_at),
            last_used_at=None if r.last_used_at is None else as_utc(r.last_used_at),
            revoked_at=None if r.revoked_at is None else as_utc(r.revoked_at),
        )
        for r in rows
    ]


def revoke_token(conn: Connection, *, name: str, now: datetime | None = None) -> bool:
    """Revoke the active token called `name`; False when there is none."""
    result = conn.execute(
        update(api_tokens)
        .where(api_tokens.c.name == name.strip(), api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=as_utc(now) if now else datetime.now(UTC))
    )
    return bool(result.rowcount)


def verify_token(conn: Connection, token: str, *, now: datetime | None = None) -> str | None:
    """The name of `token` when it is valid and not revoked, else None."""
    if not token.startswith(PREFIX):
        return None
    digest = hash_token(token)
    row = conn.execute(
        select(api_tokens.c.name, api_tokens.c.last_used_at).where(
            api_tokens.c.token_hash == digest, api_tokens.c.revoked_at.is_(None)
        )
    ).first()
    if row is None:
        return None
    now = as_utc(now) if now else datetime.now(UTC)
    if row.last_used_at is None or now - as_utc(row.last_used_at) >= TOUCH_EVERY:
        conn.execute(
            update(api_tokens)
            .where(
                api_tokens.c.token_hash == digest,
                or_(api_tokens.c.last_used_at.is_(None), api_tokens.c.last_used_at < now - TOUCH_EVERY),
            )
            .values(last_used_at=now)
        )
    return str(row.name)
