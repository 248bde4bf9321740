"""Masking personal data for display: the only form in which it leaves the identity feature."""

from __future__ import annotations

import re
import unicodedata


def mask_keep_ends(value: str | None) -> str | None:
    """Keep the first and the last character, star the rest: 1****************X."""
    if not value:
        return None
    if len(value) <= 2:
        return "*" * len(value)
    return value[0] + "*" * (len(value) - 2) + value[-1]


def mask_id_number(value: str | None) -> str | None:
    """A resident ID shown as 1****************X."""
    return mask_keep_ends(value)


def mask_phone(value: str | None) -> str | None:
    """A mobile number shown as 138****5678 (first three and last four digits)."""
    if not value:
        return None
    if len(value) < 8:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str | None) -> str | None:
    """A real name shown as 张* (two characters) or 张*三 / 欧**锋 (three or more)."""
    name = (value or "").strip()
    if not name:
        return None
    if len(name) == 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


# What people put between the digits of a number: spaces, dashes, dots, middle dots, slashes,
# brackets (after NFKC, so the full-width forms are among them); up to three in a row.
_SEPARATORS = re.compile(r"(?<=[0-9])[\s\-\u2010-\u2015\u2212.\u00b7\u2022\u30fb_/()]{1,3}(?=[0-9Xx])")
# Runs of digits long enough to be an ID number (18) or a phone number (11).
_LONG_NUMBER = re.compile(r"[0-9]{10,}[0-9Xx]")


def _flatten(text: str) -> str:
    """NFKC, every decimal digit of any script as ASCII, separators between digits removed."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(str(unicodedata.decimal(c)) if c.isdecimal() and not c.isascii() else c for c in text)
    return _SEPARATORS.sub("", text)


def looks_like_pii(text: str | None) -> bool:
    """Whether free text (a reason, a purpose) seems to carry an ID or phone number.

    Also when it is written 139.1234.5678, 139 1234  5678, in full-width or in another
    script's digits.
    """
    return bool(text and _LONG_NUMBER.search(_flatten(text)))
