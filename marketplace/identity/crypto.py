"""Encryption at rest and the blind index for personal data.

Two keys live in the instance folder, never in the database, each created on first
use with mode 0600:

- `identity.key`: Fernet keys, one per line. The first encrypts; all of them decrypt,
  so a new key can be put on top and old rows re-encrypted at leisure.
- `identity_index.key`: the HMAC-SHA256 key of the blind index. Changing it means
  recomputing every index, so it is never rotated by hand.

Losing either file makes the stored data unreadable, so back them up apart from
the database.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app

ENCRYPTION_KEY_FILE = "identity.key"
INDEX_KEY_FILE = "identity_index.key"


class KeyFileError(RuntimeError):
    """A key file is missing, unreadable or does not decrypt the stored data."""


def _read_or_create(path: Path, make) -> str:
    """Read a key file, creating it atomically (0600) if it does not exist yet."""
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            os.chmod(tmp, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(make() + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            # link() fails if another process won the race: then its key is the key.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    text = path.read_text().strip()
    if not text:
        raise KeyFileError(f"key file {path.name} is empty")
    return text


class IdentityCrypto:
    """Encrypts and decrypts personal data and computes blind indexes."""

    def __init__(self, encryption_keys: list[bytes], index_key: bytes):
        self._fernet = MultiFernet([Fernet(k) for k in encryption_keys])
        self._index_key = index_key

    @classmethod
    def from_instance(cls, instance_path: str) -> IdentityCrypto:
        """Load (or create) the keys kept in the instance folder."""
        folder = Path(instance_path)
        folder.mkdir(parents=True, exist_ok=True)
        enc = _read_or_create(folder / ENCRYPTION_KEY_FILE, lambda: Fernet.generate_key().decode())
        idx = _read_or_create(folder / INDEX_KEY_FILE, lambda: secrets.token_hex(32))
        keys = [line.strip().encode() for line in enc.splitlines() if line.strip()]
        try:
            index_key = bytes.fromhex(idx)
        except ValueError:
            raise KeyFileError(f"key file {INDEX_KEY_FILE} is not hex") from None
        if len(index_key) < 32:
            raise KeyFileError(f"key file {INDEX_KEY_FILE} holds fewer than 32 bytes")
        try:
            return cls(keys, index_key)
        except ValueError:
            raise KeyFileError(f"key file {ENCRYPTION_KEY_FILE} holds a malformed key") from None

    def encrypt(self, value: str | None) -> str | None:
        """The Fernet token of `value` (None stays None)."""
        if value is None:
            return None
        return self._fernet.encrypt(value.encode()).decode("ascii")

    def decrypt(self, token: str | None) -> str | None:
        """The plain value of a Fernet token (None stays None)."""
        if token is None:
            return None
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except InvalidToken:
            raise KeyFileError(f"stored data does not decrypt with the keys in {ENCRYPTION_KEY_FILE}") from None

    def blind_index(self, kind: str, normalised: str) -> str:
        """HMAC-SHA256 of an already normalised value, separated by kind ("id", "phone")."""
        message = kind.encode() + b"\x00" + normalised.encode()
        return hmac.new(self._index_key, message, hashlib.sha256).hexdigest()


def crypto() -> IdentityCrypto:
    """The app's IdentityCrypto, keys loaded (or created) on first use."""
    ext = current_app.extensions
    if "identity_crypto" not in ext:
        ext["identity_crypto"] = IdentityCrypto.from_instance(current_app.instance_path)
    return ext["identity_crypto"]
