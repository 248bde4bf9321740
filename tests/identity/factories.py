"""Identity fixtures, shared by tests/identity and tests/api (imported by both)."""

from __future__ import annotations

import itertools

import pytest

from marketplace.identity.validators import resident_id_check_char

# GB/T 2260 codes of Yinchuan's districts (兴庆区, 西夏区, 金凤区).
REGIONS = ("640104", "640105", "640106")
_numbers = itertools.count(101)


def make_id_number(region: str = "640104", birth: str = "19950612", seq: int | None = None) -> str:
    """A fake resident ID number with a valid check character."""
    seq = next(_numbers) % 1000 if seq is None else seq
    first17 = f"{region}{birth}{seq:03d}"
    return first17 + resident_id_check_char(first17)


def make_phone() -> str:
    """A fresh fake mainland mobile number."""
    return f"139{next(_numbers) % 10**8:08d}"


@pytest.fixture
def identity_data():
    """identity_data(**overrides) → the fields of a valid resident request, with a fresh ID and phone."""

    def make(**overrides) -> dict:
        data = {"real_name": "张小三", "id_number": make_id_number(), "phone": make_phone(), "kind": "resident"}
        data.update(overrides)
        return data

    return make


@pytest.fixture
def submit_request(db, identity_data):
    """submit_request(user, **fields) → a committed, pending request (the queue verifier)."""
    from marketplace.identity import service
    from marketplace.identity.verifiers import QueueVerifier

    def submit(user, **fields):
        req = service.submit(user, service.VerificationInput(**identity_data(**fields)), verifier=QueueVerifier())
        db.session.commit()
        return req

    return submit


@pytest.fixture
def verified_user(db, make_user, identity_data):
    """verified_user(username=None, roles=..., **fields) → a committed, verified user with the initial score."""
    from marketplace.identity import service
    from marketplace.identity.verifiers import InstantVerifier

    def make(username: str | None = None, *, roles=("resident",), **fields):
        user = make_user(username, roles=roles)
        service.submit(user, service.VerificationInput(**identity_data(**fields)), verifier=InstantVerifier())
        db.session.commit()
        return user

    return make
