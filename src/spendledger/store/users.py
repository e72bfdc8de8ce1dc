"""People who log in to the dashboard: users, roles, grants, sessions, failed logins.

Only hashes are stored: argon2 for passwords (passwords.py), SHA-256 for session
tokens. Roles: admin (everything), member (the spend of granted projects or users, or
only their own), viewer (read-only, everything).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, insert, select, update

from spendledger.errors import SpendledgerError
from spendledger.records import as_utc
from spendledger.store.tables import ROLES, login_failures, user_grants, users, web_sessions


class UserError(SpendledgerError, ValueError):
    """A user operation that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class User:
    id: int
    email: str
    role: str
    password_hash: str
    grants: tuple[tuple[str, str], ...] = ()  # (dimension, value)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or email.startswith("@") or email.endswith("@") or len(email) > 320:
        raise UserError(f"{email!r} is not an email address")
    return email


def count_users(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(users)).scalar_one())


def create_user(conn: Connection, *, email: str, password_hash: str, role: str, now: datetime) -> User:
    email = normalise_email(email)
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    if conn.execute(select(users.c.id).where(users.c.email == email)).first():
        raise UserError(f"a user {email} exists already")
    conn.execute(
        insert(users).values(
            email=email, password_hash=password_hash, role=role, created_at=now, password_changed_at=now
        )
    )
    user = find_user(conn, email)
    assert user is not None
    return user


def find_user(conn: Connection, email: str) -> User | None:
    row = conn.execute(select(users).where(users.c.email == email.strip().lower())).first()
    return None if row is None else _user(conn, row)


def get_user(conn: Connection, user_id: int) -> User | None:
    row = conn.execute(select(users).where(users.c.id == user_id)).first()
    return None if row is None else _user(conn, row)


def _user(conn: Connection, row: object) -> User:
    m = row._mapping  # type: ignore[attr-defined]
    grants = conn.execute(
        select(user_grants.c.dimension, user_grants.c.value)
        .where(user_grants.c.user_id == m["id"])
        .order_by(user_grants.c.dimension, user_grants.c.value)
    ).all()
    return User(m["id"], m["email"], m["role"], m["password_hash"], tuple((d, v) for d, v in grants))


def list_users(conn: Connection) -> list[User]:
    return [_user(conn, r) for r in conn.execute(select(users).order_by(users.c.email))]


def set_password(conn: Connection, user_id: int, *, password_hash: str, now: datetime) -> None:
    conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(password_hash=password_hash, password_changed_at=now)
    )


def set_role(conn: Connection, email: str, role: str) -> None:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    user = _require(conn, email)
    if user.is_admin and role != "admin" and _admins(conn) == 1:
        raise UserError("this is the last admin: make another user admin first")
    conn.execute(update(users).where(users.c.id == user.id).values(role=role))


def remove_user(conn: Connection, email: str) -> None:
    user = _require(conn, email)
    if user.is_admin and _admins(conn) == 1:
        raise UserError("this is the last admin: make another user admin first")
    conn.execute(delete(web_sessions).where(web_sessions.c.user_id == user.id))
    conn.execute(delete(user_grants).where(user_grants.c.user_id == user.id))
    conn.execute(delete(users).where(users.c.id == user.id))


def grant(conn: Connection, email: str, *, dimension: str, value: str) -> None:
    if dimension not in ("project", "user"):
        raise UserError(f"grants are on project or user, not {dimension!r}")
    user = _require(conn, email)
    conn.execute(delete(user_grants).where(
        user_grants.c.user_id == user.id, user_grants.c.dimension == dimension, user_grants.c.value == value
    ))  # fmt: skip
    conn.execute(insert(user_grants).values(user_id=user.id, dimension=dimension, value=value))


def _require(conn: Connection, email: str) -> User:
    user = find_user(conn, email)
    if user is None:
        raise UserError(f"no user {email.strip().lower()}; `spendledger users list` shows them")
    return user


def _admins(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).where(users.c.role == "admin")).scalar_one())


# ---- sessions ---------------------------------------------------------------------------------


def create_session(
    conn: Connection, *, user_id: int, token_hash: str, csrf_token: str, now: datetime, ttl: timedelta
) -> None:
    conn.execute(delete(web_sessions).where(web_sessions.c.expires_at < now))  # sweep
    conn.execute(
        insert(web_sessions).values(
            token_hash=token_hash,
            user_id=user_id,
            csrf_token=csrf_token,
            created_at=now,
            expires_at=now + ttl,
        )
    )


def session_user(conn: Connection, token_hash: str, *, now: datetime) -> tuple[User, str] | None:
    """The user and CSRF token of a live session, or None."""
    row = conn.execute(select(web_sessions).where(web_sessions.c.token_hash == token_hash)).first()
    if row is None or as_utc(row.expires_at) <= now:
        return None
    user = get_user(conn, row.user_id)
    return None if user is None else (user, row.csrf_token)


def end_session(conn: Connection, token_hash: str) -> None:
    conn.execute(delete(web_sessions).where(web_sessions.c.token_hash == token_hash))


def end_user_sessions(conn: Connection, user_id: int, *, keep: str | None = None) -> None:
    """Log a user out everywhere (but the session `keep`), e.g. after a password change."""
    query = delete(web_sessions).where(web_sessions.c.user_id == user_id)
    if keep is not None:
        query = query.where(web_sessions.c.token_hash != keep)
    conn.execute(query)


# ---- failed logins ----------------------------------------------------------------------------
#
# An attempt is recorded as a failure *before* its password is checked, and forgotten once
# the password proves right: parallel attempts then count each other, and at most `limit`
# passwords are checked in a window, however many requests arrive at once.

_LOGIN_LOCK = 7240519  # PostgreSQL advisory lock: one attempt claimed at a time


def claim_login_attempt(
    conn: Connection, *, email: str, client: str, now: datetime, since: datetime, limit: int
) -> int | None:
    """Record an attempt as a failure and return its id, or None (recording nothing) when
    this email or this client has `limit` failures since `since`.

    Counting and recording are one step: on PostgreSQL under an advisory lock, on SQLite
    because the first statement is a write, which takes the database's write lock. Call it
    in a transaction of its own, committed before the (slow) password check.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_LOGIN_LOCK})")
    conn.execute(delete(login_failures).where(login_failures.c.at < since - timedelta(days=1)))
    if recent_failures(conn, email=email, client=client, since=since) >= limit:
        return None
    return record_failure(conn, email=email, client=client, now=now)


def forget_login_attempt(conn: Connection, attempt: int) -> None:
    """The attempt's password was right: it is no failure."""
    conn.execute(delete(login_failures).where(login_failures.c.id == attempt))


def record_failure(conn: Connection, *, email: str, client: str, now: datetime) -> int:
    query = insert(login_failures).values(email=email.strip().lower()[:320], client=client[:100], at=now)
    return int(conn.execute(query.returning(login_failures.c.id)).scalar_one())


def recent_failures(conn: Connection, *, email: str, client: str, since: datetime) -> int:
    """Failures in the window for this email or this client, whichever is more."""
    by_email = conn.execute(
        select(func.count()).where(
            login_failures.c.email == email.strip().lower(), login_failures.c.at >= since
        )
    ).scalar_one()
    by_client = conn.execute(
        select(func.count()).where(login_failures.c.client == client, login_failures.c.at >= since)
    ).scalar_one()
    return int(max(by_email, by_client))
