"""Checksums and formats of Chinese identifiers (test vectors in shared/reference/FACTS.md).

A passing checksum is not verification: it only catches typing mistakes.

Every normaliser first applies Unicode NFKC, which turns full-width (１２３Ｘ) and other
compatibility forms of digits and letters into ASCII, and every check accepts ASCII
only. Python's regex digit class and int() accept any Unicode digit (٣, ३, ...):
without this, one identity typed in two scripts would get two different blind
indexes, and so two accounts. Digits that NFKC leaves non-ASCII (Arabic-Indic,
Devanagari, ...) are refused. (Whitespace is still stripped in any script: removing
more characters can only make two spellings meet, never split one identity in two.)
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_RESIDENT_ID = re.compile(r"[0-9]{17}[0-9X]")
_STUDENT_NO = re.compile(r"[A-Z0-9]{4,20}")
_IMEI = re.compile(r"[0-9]{15}")
_VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def nfkc(value: str | None) -> str:
    """Unicode NFKC: full-width and other compatibility forms become their plain (ASCII) form."""
    return unicodedata.normalize("NFKC", value or "")


def _upper_ascii(value: str) -> str:
    # str.upper() would turn some non-ASCII letters into ASCII ones (ı → I, ſ → S).
    return "".join(c.upper() if c.isascii() else c for c in value)


def normalise_resident_id(value: str) -> str:
    """NFKC, strip spaces and upper-case a trailing x."""
    return _upper_ascii(re.sub(r"\s+", "", nfkc(value)))


def resident_id_check_char(first17: str) -> str:
    """The GB 11643 (ISO 7064 MOD 11-2) check character for 17 digits."""
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def resident_id_birth_date(value: str) -> date | None:
    """The birth date encoded in positions 7–14, or None if it is not a real date."""
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return None
    if born.year < 1900 or born > date.today():
        return None
    return born


def resident_id_error(value: str) -> str | None:
    """Why a normalised resident ID is invalid ("format", "date", "checksum"), or None if valid."""
    if not _RESIDENT_ID.fullmatch(value):
        return "format"
    if resident_id_birth_date(value) is None:
        return "date"
    if resident_id_check_char(value[:17]) != value[17]:
        return "checksum"
    return None


def is_valid_resident_id(value: str) -> bool:
    """Whether `value` is a well-formed resident ID with a real birth date and a right check digit."""
    return resident_id_error(normalise_resident_id(value)) is None


def normalise_mobile(value: str) -> str:
    """NFKC, remove spaces, dashes and a leading +86 / 0086."""
    digits = re.sub(r"[\s-]", "", nfkc(value))
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix) :]
    return digits


def is_valid_mobile(value: str) -> bool:
    """A mainland mobile number: 1[3-9] and nine more digits (carrier prefixes not hard-coded)."""
    return bool(_MOBILE.fullmatch(normalise_mobile(value)))


def normalise_credit_code(value: str) -> str:
    """NFKC, strip spaces and upper-case."""
    return _upper_ascii(re.sub(r"\s+", "", nfkc(value)))


def normalise_student_no(value: str | None) -> str:
    """NFKC, strip surrounding spaces and upper-case."""
    return _upper_ascii(nfkc(value).strip())


def is_valid_student_no(value: str | None) -> bool:
    """4–20 ASCII letters or digits (after normalising)."""
    return bool(_STUDENT_NO.fullmatch(normalise_student_no(value)))


def is_valid_credit_code(value: str) -> bool:
    """GB 32100 unified social credit code: 18 characters and a right check character."""
    code = normalise_credit_code(value)
    if len(code) != 18 or any(c not in _USCC_ALPHABET for c in code):
        return False
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(code[:17], _USCC_WEIGHTS, strict=True))
    check = (31 - total % 31) % 31
    return _USCC_ALPHABET[check] == code[17]


def is_valid_imei(value: str) -> bool:
    """15 digits with a right Luhn check digit."""
    if not _IMEI.fullmatch(value or ""):
        return False
    total = 0
    for i, c in enumerate(reversed(value)):
        d = int(c)
        if i % 2 == 1:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return total % 10 == 0


def is_valid_vin(value: str) -> bool:
    """17 characters without I, O, Q, with the ISO 3779 check character in position 9."""
    vin = (value or "").strip().upper()
    if not re.fullmatch(r"[0-9A-HJ-NPR-Z]{17}", vin):
        return False
    total = sum(_VIN_VALUES[c] * w for c, w in zip(vin, _VIN_WEIGHTS, strict=True))
    check = total % 11
    return vin[8] == ("X" if check == 10 else str(check))
