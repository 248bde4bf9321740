"""Encryption at rest and the blind index for personal data.

Two keys live in the instance folder, never in the database, each with mode 0600:

- `identity.key`: Fernet keys, one per line. The first encrypts; all of them decrypt,
  so a new key can be put on top and old rows re-encrypted at leisure.
- `identity_index.key`: the HMAC-SHA256 key of the blind index. Changing it means
  recomputing every index, so it is never rotated by hand.

Losing either file makes the stored data unreadable and "one identity, one account"
unenforceable, so back them up apart from the database. The keys are created on
first use only while the database holds no identity data (no encrypted field, no
blind index). Once it does, a missing key file is an error (KeyFileError) that
names the files to restore, never a silent new key: the app logs it at start-up,
and identity pages answer 503 until the files are back.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app

from marketplace.keyfiles import KeyFileError, read_key_file, read_or_create

__all__ = ["ENCRYPTION_KEY_FILE", "INDEX_KEY_FILE", "IdentityCrypto", "KeyFileError", "crypto", "identity_data_exists"]

ENCRYPTION_KEY_FILE = "identity.key"
INDEX_KEY_FILE = "identity_index.key"
KEY_FILES = (ENCRYPTION_KEY_FILE, INDEX_KEY_FILE)


def missing_keys_message(folder: Path, missing: list[str]) -> str:
    """The operator's explanation of missing key files (no personal data in it)."""
    return (
        f"identity key file(s) {', '.join(missing)} missing from {folder}, but the database holds real-name "
        "data encrypted or indexed with them. Restore the key files from your backup (they are kept apart "
        "from the database backup). New keys are NOT created: they could not decrypt the stored data and "
        "would silently break 'one identity, one account'."
    )


def identity_data_exists(executor=None) -> bool:
    """Whether any verification row holds data made with the keys: an encrypted field or a blind index.

    `executor` is a Session or Connection (default: the app's session).
    """
    from marketplace.db import db
    from marketplace.identity.models import IdentityVerification as IV

    columns = (
        IV.real_name_enc,
        IV.id_number_enc,
        IV.phone_enc,
        IV.student_no_enc,
        IV.credit_code_enc,
        IV.id_index,
        IV.phone_index,
    )
    query = sa.select(IV.id).where(sa.or_(*(c.is_not(None) for c in columns))).limit(1)
    return (executor or db.session).scalar(query) is not None


class IdentityCrypto:
    """Encrypts and decrypts personal data and computes blind indexes."""

    def __init__(self, encryption_keys: list[bytes], index_key: bytes):
        self._fernet = MultiFernet([Fernet(k) for k in encryption_keys])
        self._index_key = index_key

    @classmethod
    def from_instance(cls, instance_path: str, *, data_exists: Callable[[], bool]) -> IdentityCrypto:
        """Load the keys kept in the instance folder, creating them only if `data_exists()` is false.

        KeyFileError, naming the files, if one is missing while identity data exists.
        """
        folder = Path(instance_path)
        missing = [name for name in KEY_FILES if not (folder / name).exists()]
        if missing:
            if data_exists():
                raise KeyFileError(missing_keys_message(folder, missing))
            folder.mkdir(parents=True, exist_ok=True)
        enc = read_or_create(folder / ENCRYPTION_KEY_FILE, lambda: Fernet.generate_key().decode())
        idx = read_or_create(folder / INDEX_KEY_FILE, lambda: secrets.token_hex(32))
        return cls._from_texts(enc, idx)

    @classmethod
    def from_existing(cls, instance_path: str) -> IdentityCrypto | None:
        """Load the keys if both files exist (None if either is missing); never creates anything."""
        folder = Path(instance_path)
        enc, idx = (read_key_file(folder / name) for name in KEY_FILES)
        if enc is None or idx is None:
            return None
        return cls._from_texts(enc, idx)

    @classmethod
    def _from_texts(cls, enc: str, idx: str) -> IdentityCrypto:
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
            raise KeyFileError(
                f"stored data does not decrypt with the keys in {ENCRYPTION_KEY_FILE}: restore the right key file"
            ) from None

    def blind_index(self, kind: str, normalised: str) -> str:
        """HMAC-SHA256 of an already normalised value, separated by kind ("id", "phone")."""
        message = kind.encode() + b"\x00" + normalised.encode()
        return hmac.new(self._index_key, message, hashlib.sha256).hexdigest()


def crypto() -> IdentityCrypto:
    """The app's IdentityCrypto, keys loaded (or, while no identity data exists, created) on first use.

    A failure is not remembered: once the operator restores the key files, the next
    request finds them without a restart.
    """
    ext = current_app.extensions
    if "identity_crypto" not in ext:
        ext["identity_crypto"] = IdentityCrypto.from_instance(
            current_app.instance_path, data_exists=identity_data_exists
        )
    return ext["identity_crypto"]


def check_keys_at_startup(app) -> None:
    """Log a clear error when key files are missing although identity data exists (or are malformed).

    Called once from create_app (via the identity blueprint). It never creates keys and
    never stops the app: the rest of the marketplace keeps working, identity pages
    answer 503 until the key files are restored. A database without the table yet (a
    fresh install before migrations) or out of reach is not checked here.
    """
    from marketplace.db import db, write_intent

    folder = Path(app.instance_path)
    try:
        loaded = IdentityCrypto.from_existing(str(folder))
    except KeyFileError as exc:
        app.logger.critical("identity keys unusable: %s", exc)
        return
    if loaded is not None:
        app.extensions["identity_crypto"] = loaded
        return
    missing = [name for name in KEY_FILES if not (folder / name).exists()]
    token = write_intent.set(False)  # a read: no write lock on SQLite while every worker starts
    try:
        with app.app_context(), db.engine.connect() as conn:
            if not sa.inspect(conn).has_table("identity_verifications"):
                return
            exists = identity_data_exists(conn)
    except sa.exc.SQLAlchemyError as exc:
        app.logger.warning("could not check the identity key files against the database: %s", exc)
        return
    finally:
        write_intent.reset(token)
    if exists:
        app.logger.critical("%s", missing_keys_message(folder, missing))
