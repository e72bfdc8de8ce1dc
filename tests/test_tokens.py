"""API tokens: only the hash is stored, names are unique while active, use is recorded sparingly."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from spendledger.store.tables import api_tokens
from spendledger.store.tokens import TokenError, create_token, list_tokens, revoke_token, verify_token

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def test_tokens_create_stores_only_the_hash(engine: Engine) -> None:
    with engine.begin() as conn:
        token = create_token(conn, name="ci", now=T0)
    assert token.startswith("sl_") and len(token) == 3 + 43  # token_urlsafe(32): 43 characters
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(api_tokens))]
    assert len(rows) == 1
    assert rows[0]["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert rows[0]["hint"] == token[-4:]
    assert not any(token in str(value) for value in rows[0].values())


def test_tokens_verify_names_a_valid_token_only(engine: Engine) -> None:
    with engine.begin() as conn:
        token = create_token(conn, name="ci", now=T0)
    with engine.begin() as conn:
        assert verify_token(conn, token, now=T0) == "ci"
        assert verify_token(conn, token[:-1] + ("A" if token[-1] != "A" else "B"), now=T0) is None
        assert verify_token(conn, "not-a-token", now=T0) is None
        assert verify_token(conn, "", now=T0) is None


def test_tokens_duplicate_active_name_is_refused(engine: Engine) -> None:
    with engine.begin() as conn:
        create_token(conn, name="ci", now=T0)
    with engine.begin() as conn, pytest.raises(TokenError) as excinfo:
        create_token(conn, name="ci", now=T0)
    assert str(excinfo.value) == "a token named 'ci' exists; revoke it first or pick another name"


def test_tokens_revoked_token_fails_and_its_name_is_reusable(engine: Engine) -> None:
    with engine.begin() as conn:
        old = create_token(conn, name="ci", now=T0)
    with engine.begin() as conn:
        assert revoke_token(conn, name="ci", now=T0 + timedelta(hours=1)) is True
        assert revoke_token(conn, name="ci") is False  # already revoked
        assert revoke_token(conn, name="nobody") is False
    with engine.begin() as conn:
        assert verify_token(conn, old) is None
        new = create_token(conn, name="ci", now=T0 + timedelta(hours=2))
    with engine.begin() as conn:
        assert verify_token(conn, new) == "ci"
        assert verify_token(conn, old) is None


def test_tokens_list_shows_active_and_revoked(engine: Engine) -> None:
    with engine.begin() as conn:
        first = create_token(conn, name="laptop", now=T0)
        create_token(conn, name="ci", now=T0 + timedelta(minutes=5))
        revoke_token(conn, name="laptop", now=T0 + timedelta(hours=1))
    with engine.connect() as conn:
        tokens = list_tokens(conn)
    assert [(t.name, t.hint, t.created_at, t.revoked_at, t.active) for t in tokens] == [
        ("laptop", first[-4:], T0, T0 + timedelta(hours=1), False),
        ("ci", tokens[1].hint, T0 + timedelta(minutes=5), None, True),
    ]


def test_tokens_verify_records_use_at_most_once_a_minute(engine: Engine) -> None:
    with engine.begin() as conn:
        token = create_token(conn, name="ci", now=T0)

    def last_used() -> datetime | None:
        with engine.connect() as conn:
            (info,) = list_tokens(conn)
        return info.last_used_at

    assert last_used() is None
    for seconds, expected in ((0, T0), (30, T0), (59, T0), (61, T0 + timedelta(seconds=61))):
        with engine.begin() as conn:
            assert verify_token(conn, token, now=T0 + timedelta(seconds=seconds)) == "ci"
        assert last_used() == expected


def test_tokens_name_must_not_be_blank(engine: Engine) -> None:
    with engine.begin() as conn, pytest.raises(TokenError, match="1 to 200 characters"):
        create_token(conn, name="  ")
