"""Glue between domain errors and WTForms: field errors go beside the field at fault."""

from __future__ import annotations

import re

from flask import flash
from flask_wtf import FlaskForm

from marketplace.errors import DomainError


def apply_domain_error(form: FlaskForm, exc: DomainError, *, free_text: tuple[str, ...] = ()) -> None:
    """Attach a domain error's field messages to the form; the rest becomes a flash message.

    `free_text` names the fields of text people write to each other: what was typed goes
    back into them with long numbers starred (a phone or ID number is never sent back).
    """
    for name in free_text:
        field = getattr(form, name, None)
        if field is not None:
            field.data = mask_numbers(field.data)
    unplaced = []
    for name, messages in exc.errors.items():
        field = getattr(form, name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors or []) + list(messages)
        else:
            unplaced.extend(messages)
    flash(str(exc.message), "error")
    for message in unplaced:
        flash(str(message), "error")


# Digits with what people put between them; a run holding 11 or more digits may be a phone or ID number.
# \d is any script's decimal digit (str patterns are Unicode): Arabic-Indic or full-width digits too.
_NUMBER_RUN = re.compile(r"\d[\d\s\-‐-―−.·•・_/()（）]*[\dXx]")


def mask_numbers(text: str | None) -> str:
    """Typed text to show again after a refusal, with long numbers starred (the rest kept as typed).

    A text refused for holding a phone or ID number goes back into the form for the
    writer to fix; the number itself is not sent back in full.
    """

    def star(match: re.Match) -> str:
        run = match.group(0)
        digits = [i for i, c in enumerate(run) if c.isdecimal() or c in "Xx"]
        if len(digits) < 11:
            return run
        hide = set(digits[3:-4])
        return "".join("*" if i in hide else c for i, c in enumerate(run))

    return _NUMBER_RUN.sub(star, text or "")
