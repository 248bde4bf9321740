"""Fixtures for the decisions, appeals and lists API tests (as tests/trust/conftest.py, which tests/api cannot see).

Import them with `from tests.api.trust_fixtures import *  # noqa: F403`.
"""

from __future__ import annotations

import pytest

__all__ = ["decide", "moderator", "moderator2", "report", "reporters", "supervisor", "violate"]


@pytest.fixture
def reporters(verified_user):
    """Three verified residents who report listings."""
    return [verified_user(f"reporter{i}", real_name=name) for i, name in enumerate(("赵一", "赵二", "赵三"), 1)]


@pytest.fixture
def moderator(verified_user):
    return verified_user("mod1", roles=("moderator",), real_name="钱审")


@pytest.fixture
def moderator2(verified_user):
    return verified_user("mod2", roles=("moderator",), real_name="孙审")


@pytest.fixture
def supervisor(verified_user):
    return verified_user("sup1", roles=("supervisor",), real_name="周监")


@pytest.fixture
def report(db):
    """report(reporter, listing, reason="hidden_defect", detail=...) → a committed open report."""
    from marketplace.moderation import service

    def make(reporter, listing, reason="hidden_defect", detail="实物屏幕有划痕，描述说无划痕。"):
        made = service.report_listing(reporter, listing.id, reason, detail)
        db.session.commit()
        return made

    return make


@pytest.fixture
def decide(db):
    """decide(moderator, report, outcome="confirmed", violation=None, note=...) → a committed decision."""
    from marketplace.moderation import decisions

    def make(actor, report, outcome="confirmed", violation=None, note="照片与实物不符，确认违规。"):
        decision = decisions.decide(actor, report.id, outcome, violation, note)
        db.session.commit()
        return decision

    return make


@pytest.fixture
def violate(make_listing, report, decide, reporters, moderator):
    """violate(violation="hidden_defect") → a confirmed decision against the seller on a fresh listing."""

    def make(violation="hidden_defect", actor=None):
        listing = make_listing()
        made = report(reporters[0], listing, reason=violation)
        return decide(actor or moderator, made, "confirmed", violation)

    return make
