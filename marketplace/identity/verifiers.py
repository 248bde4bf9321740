"""Pluggable verifiers: who decides a real-name request once its format has been checked.

A checksum is not verification. The default verifier queues the request for a
moderator. `IDENTITY_VERIFIER` selects one by name ("queue", "instant") or as
"package.module:Class" for a verifier of one's own (a call to an official
identity service, say) with a `name` and a `submit(request)` method.
"""

from __future__ import annotations

import importlib
from typing import Protocol

from flask import current_app

from marketplace.identity.models import IdentityVerification


class Verifier(Protocol):
    name: str

    def submit(self, req: IdentityVerification) -> None:
        """Receive a freshly stored, pending request; it may decide at once or leave it pending."""


class QueueVerifier:
    """Leaves the request pending for a moderator's decision."""

    name = "queue"

    def submit(self, req: IdentityVerification) -> None:
        """Nothing to do: the moderators' queue lists every pending request."""


class InstantVerifier:
    """Approves at once on the format check alone: for tests and demos, never for production."""

    name = "instant"

    def submit(self, req: IdentityVerification) -> None:
        """Approve the request on the spot."""
        from marketplace.identity.service import approve_automatically

        approve_automatically(req, self.name)


VERIFIERS: dict[str, type] = {"queue": QueueVerifier, "instant": InstantVerifier}


def get_verifier(name: str | None = None) -> Verifier:
    """The verifier named by `name` or by the IDENTITY_VERIFIER setting."""
    name = name or current_app.config.get("IDENTITY_VERIFIER") or "queue"
    if name in VERIFIERS:
        return VERIFIERS[name]()
    module_name, sep, attr = name.partition(":")
    if not sep:
        raise RuntimeError(f"unknown IDENTITY_VERIFIER {name!r}: use one of {sorted(VERIFIERS)} or 'module:Class'")
    return getattr(importlib.import_module(module_name), attr)()
