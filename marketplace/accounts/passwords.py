"""Password policy: length, not among the commonest, not the username."""

from __future__ import annotations

import gzip
import itertools
from functools import lru_cache
from importlib.resources import files

from flask_babel import gettext as _
from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 8
MAX_LENGTH = 128


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The commonest passwords, lower-cased.

    common-passwords.txt.gz is the 20,000-entry list Django ships (BSD licence);
    common_passwords.txt adds those most used in China.
    """
    here = files("marketplace.accounts")
    text = gzip.decompress(here.joinpath("common-passwords.txt.gz").read_bytes()).decode()
    text += "\n" + here.joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def _is_trivial(password: str) -> bool:
    if len(set(password)) <= 2:
        return True
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(password)}
    return steps in ({1}, {-1})


def password_problems(password: str, username: str = "") -> list[str]:
    """Reasons, in the user's language, why `password` is not acceptable (empty if fine)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(_("密码至少 %(n)d 个字符", n=MIN_LENGTH))
    elif len(password) > MAX_LENGTH:
        problems.append(_("密码最多 %(n)d 个字符", n=MAX_LENGTH))
    elif password.lower() in common_passwords() or _is_trivial(password):
        problems.append(_("这个密码太常见，很容易被猜到，请换一个"))
    elif username and username.lower() in password.lower():
        problems.append(_("密码不能包含用户名"))
    return problems


def hash_password(password: str) -> str:
    """Hash with scrypt (Werkzeug's default, memory-hard)."""
    return generate_password_hash(password, method="scrypt")


def verify_password(password_hash: str, password: str) -> bool:
    """Check a password against its stored hash."""
    return check_password_hash(password_hash, password)
