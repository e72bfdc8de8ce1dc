"""Password hashing (argon2id) and the random tokens sessions and CSRF use.

Hashes carry their own parameters, so `needs_rehash` can upgrade them at the next login.
"""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from spendledger.errors import SpendledgerError

_hasher = PasswordHasher()  # argon2id, the library's recommended parameters

MIN_LENGTH = 10


class PasswordError(SpendledgerError, ValueError):
    """A password that does not meet the rules; the message says which."""


def check_strength(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordError(f"the password must be at least {MIN_LENGTH} characters long")
    if password.strip() != password:
        raise PasswordError("the password must not start or end with spaces")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def new_token() -> str:
    """A random URL-safe token (256 bits)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What is stored of a session token: its SHA-256 (the token is high-entropy)."""
    return hashlib.sha256(token.encode()).hexdigest()
