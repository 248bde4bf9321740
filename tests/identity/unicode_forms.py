"""Other ways to type the same digits and letters: hypothesis strategies for the NFKC tests.

- LOOKALIKES: characters that NFKC turns into an ASCII digit or letter (full-width １ and Ｘ,
  mathematical 𝟏, superscript ¹, circled ①, ...). Typed anywhere in a number, they must
  normalise to the very same ASCII value: the same blind index, so the same identity.
- FOREIGN_DIGITS: decimal digits of other scripts that NFKC leaves alone (Arabic-Indic ١,
  Devanagari १, ...). Python's regex `\\d` and int() accept them; our checks must refuse them.
"""

from __future__ import annotations

import string
import unicodedata

from hypothesis import strategies as st

_ASCII = set(string.digits + string.ascii_letters)


def _tables() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    lookalikes: dict[str, list[str]] = {}
    foreign: dict[str, list[str]] = {}
    for cp in range(0x80, 0x110000):
        c = chr(cp)
        if not (c.isdecimal() or unicodedata.decomposition(c)):
            continue
        normal = unicodedata.normalize("NFKC", c)
        if len(normal) == 1 and normal in _ASCII:
            lookalikes.setdefault(normal, []).append(c)
        elif c.isdecimal() and not normal.isascii():
            foreign.setdefault(str(unicodedata.decimal(c)), []).append(c)
    return lookalikes, foreign


LOOKALIKES, FOREIGN_DIGITS = _tables()
FULL_WIDTH = {c: chr(ord(c) + 0xFEE0) for c in string.digits + string.ascii_letters}
ARABIC_INDIC = {str(d): chr(0x0660 + d) for d in range(10)}


# The strategies below draw the same shape of data whatever the characters of `text` are
# (only its length counts), so hypothesis can replay an example even when the test makes
# `text` afresh each time (fresh ID numbers from a counter, for instance).
_PICK = st.integers(min_value=0, max_value=1000)


def _pick(forms: list[str], k: int) -> str:
    return forms[k % len(forms)]


@st.composite
def spelled(draw, text: str, *, changed: bool = False) -> str:
    """`text` with any of its characters swapped for a lookalike; `changed`: at least one is."""
    chars = []
    for c in text:
        swap, k = draw(st.booleans()), draw(_PICK)
        chars.append(_pick(LOOKALIKES[c], k) if swap and c in LOOKALIKES else c)
    if changed:
        swappable = [i for i, c in enumerate(text) if c in LOOKALIKES]
        i = _pick(swappable, draw(_PICK))
        chars[i] = _pick(LOOKALIKES[text[i]], draw(_PICK))
    return "".join(chars)


@st.composite
def with_a_foreign_digit(draw, text: str) -> str:
    """`text` with at least one of its digits written in another script's digit of the same value."""
    digits = [i for i, c in enumerate(text) if c.isdigit()]
    chars = list(text)
    for k, f in draw(st.lists(st.tuples(_PICK, _PICK), min_size=1, max_size=3)):
        i = _pick(digits, k)
        chars[i] = _pick(FOREIGN_DIGITS[text[i]], f)
    return "".join(chars)
