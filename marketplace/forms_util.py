"""Glue between domain errors and WTForms: field errors go beside the field at fault."""

from __future__ import annotations

from flask import flash
from flask_wtf import FlaskForm

from marketplace.errors import DomainError


def apply_domain_error(form: FlaskForm, exc: DomainError) -> None:
    """Attach a domain error's field messages to the form; the rest becomes a flash message."""
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
