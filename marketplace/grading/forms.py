"""Reading a checklist from a submitted form (the sell form and the inspectors' form share it).

The fields are rendered by templates/grading/_checklist.html and named `grading-<key>`.
Nothing is validated here: the engine's `assess` reports every problem by field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from marketplace.grading.standard import NUMBER_TEXT, Standard

PREFIX = "grading-"
_INT = re.compile(r"[+-]?[0-9]{1,15}")


def field_name(key: str) -> str:
    """The form field name of a gate or item."""
    return PREFIX + key


def _number(text: str) -> Any:
    """An int or float when the text is one, else the text as typed (so assess can say what is wrong)."""
    cleaned = text.replace(",", "")
    if _INT.fullmatch(cleaned):
        return int(cleaned)
    try:
        value = float(cleaned)
    except ValueError:
        return text
    # float() also reads "nan", "inf", "1_0", "1e3" and other scripts' digits: leave those for assess
    # (which reads full-width digits after NFKC and refuses the rest).
    return value if NUMBER_TEXT.fullmatch(cleaned) else text


def parse_form(standard: Standard, form: Mapping[str, str]) -> dict:
    """The answers in a submitted form: gates "yes"/"no" → True/False, numbers → int/float, the rest as text.

    Fields left empty are left out, so a required one is reported as missing.
    """
    answers: dict[str, Any] = {}
    for gate in standard.gates:
        raw = (form.get(field_name(gate.key)) or "").strip()
        if raw:
            answers[gate.key] = {"yes": True, "no": False}.get(raw, raw)
    for item in standard.items:
        raw = (form.get(field_name(item.key)) or "").strip()
        if not raw:
            continue
        answers[item.key] = _number(raw) if item.type == "number" else raw
    return answers
