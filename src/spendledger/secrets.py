"""Provider credentials at rest: Fernet encryption under the ledger's secret key.

The key is `SPENDLEDGER_SECRET_KEY` when set, else a key file (`secret.key` in the data
dir) created on first use with mode 0600. Only ciphertext reaches the database; only
the masked form (`sk-admin…a1b2`) reaches logs, the CLI and pages. Rotation re-encrypts
every stored credential under a new key (see `rotate_key_file`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from spendledger.config import Settings, make_private_dir
from spendledger.errors import SpendledgerError

KEY_FILE = "secret.key"


class SecretError(SpendledgerError, RuntimeError):
    """The secret key is missing, malformed or not the one the credentials were sealed with."""


@dataclass(frozen=True)
class Vault:
    """Seals and opens credentials with one Fernet key."""

    key: bytes

    def __post_init__(self) -> None:
        try:
            Fernet(self.key)
        except (ValueError, TypeError):
            raise SecretError(
                "the secret key is not a Fernet key (32 url-safe base64 bytes); generate one with "
                '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`'
            ) from None

    def seal(self, secret: str) -> str:
        return Fernet(self.key).encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return Fernet(self.key).decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise SecretError(
                "a stored credential cannot be decrypted with the current secret key: restore the key "
                "it was saved under (SPENDLEDGER_SECRET_KEY or secret.key in the data dir), or add the "
                "source again"
            ) from None


def key_path(settings: Settings) -> Path:
    return settings.data_dir / KEY_FILE


def load_vault(settings: Settings, *, create: bool = True) -> Vault:
    """The vault for `settings`: the environment's key, else the key file (made if missing)."""
    if settings.secret_key:
        return Vault(settings.secret_key.encode())
    path = key_path(settings)
    if path.exists():
        return Vault(path.read_bytes().strip())
    if not create:
        raise SecretError(f"no secret key: set SPENDLEDGER_SECRET_KEY or restore {path}")
    key = Fernet.generate_key()
    _write_private(path, key)
    return Vault(key)


def new_vault() -> Vault:
    return Vault(Fernet.generate_key())


def save_key_file(settings: Settings, vault: Vault) -> Path:
    """Replace the key file with `vault`'s key (atomically, mode 0600)."""
    path = key_path(settings)
    _write_private(path, vault.key)
    return path


def _write_private(path: Path, data: bytes) -> None:
    make_private_dir(path.parent)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def mask(secret: str) -> str:
    """A credential as it may be shown: its kind prefix and last four characters; a JSON key
    file (a Google service account's) by its account's name and its key id's last four
    ("spendledger-reader@…9f3c"). At most 40 characters (the stored hint's column)."""
    if secret.startswith("{") and (shown := _mask_key_file(secret)):
        return shown
    if len(secret) < 12:
        return "…" + secret[-2:] if len(secret) > 4 else "…"
    parts = secret.split("-")
    prefix = "-".join(parts[:2]) if len(parts) > 2 and len(parts[1]) <= 8 else secret[:3]
    return f"{prefix}…{secret[-4:]}"


def _mask_key_file(secret: str) -> str | None:
    try:
        info = json.loads(secret)
    except ValueError:
        return None
    if not isinstance(info, dict) or not isinstance(email := info.get("client_email"), str):
        return None
    key_id = info.get("private_key_id")
    tail = key_id[-4:] if isinstance(key_id, str) else ""
    return f"{email.split('@')[0][:30]}@…{tail}"
