"""Secrets kept in files of the instance folder, created once, race-free.

Several gunicorn workers start at once, and each may find a secret missing. A new
file is written in full under a temporary name (mode 0600, fsync'ed) and then
hard-linked into place: link() fails if the name already exists, so exactly one
process creates the file, and every process, the winner included, reads the file
that is in place. A reader never sees a half-written file.

Where the filesystem has no hard links, creation falls back to O_CREAT | O_EXCL
with one write(); a reader that finds the file still empty waits a moment for it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# How long a reader waits for a file that another process has created but not yet written.
_EMPTY_WAIT_SECONDS = 2.0
_NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK, errno.EXDEV}


class KeyFileError(RuntimeError):
    """A key file is missing, unreadable, empty or malformed."""


def read_key_file(path: Path) -> str | None:
    """The stripped content of `path`, or None if it does not exist; KeyFileError if it stays empty."""
    deadline = time.monotonic() + _EMPTY_WAIT_SECONDS
    while True:
        try:
            text = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise KeyFileError(f"key file {path} cannot be read: {exc}") from None
        if text:
            return text
        if time.monotonic() >= deadline:
            raise KeyFileError(f"key file {path} is empty")
        time.sleep(0.05)


def _create_by_link(path: Path, content: str) -> bool:
    """Put `content` in place by link(); False if hard links are not supported here."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won the race: its file is the file
        except OSError as exc:
            if exc.errno in _NO_HARD_LINKS:
                return False
            raise
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _create_exclusive(path: Path, content: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process won the race; read_key_file waits for its content
    try:
        os.write(fd, content.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)


def read_or_create(path: Path, make: Callable[[], str]) -> str:
    """Read the secret in `path`, creating it with `make()` (mode 0600) if it does not exist.

    Of several processes doing this at once, all return the same secret.
    """
    text = read_key_file(path)
    if text is not None:
        return text
    content = make().strip() + "\n"
    if not _create_by_link(path, content):
        _create_exclusive(path, content)
    text = read_key_file(path)
    if text is None:
        raise KeyFileError(f"key file {path} vanished right after it was created")
    return text
