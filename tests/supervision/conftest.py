"""Fixtures for the supervision tests: people in every role, and black-list entries made through the services."""

from __future__ import annotations

import pytest


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
def supervisor2(verified_user):
    return verified_user("sup2", roles=("supervisor",), real_name="吴监")


@pytest.fixture
def report(db):
    """report(reporter, listing, reason="hidden_defect") → a committed open report."""
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
def propose(make_listing, report, decide, reporters, moderator):
    """propose(user=seller, violation="counterfeit", title=...) → the pending entry a confirmed counterfeit proposes."""

    def make(user=None, violation="counterfeit", title="华为 Mate 60 手机 256GB 雅丹黑"):
        listing = make_listing(user=user, title=title)
        decision = decide(moderator, report(reporters[0], listing, reason=violation), "confirmed", violation)
        assert decision.blacklist_entry is not None
        return decision.blacklist_entry

    return make


@pytest.fixture
def confirm(db):
    """confirm(supervisor, entry, note=None) → the entry, confirmed and committed."""
    from marketplace.trust import service as trust

    def make(actor, entry, note=None):
        confirmed = trust.confirm(actor, entry.id, note)
        db.session.commit()
        return confirmed

    return make


@pytest.fixture
def sellers(verified_user):
    """Two more verified sellers, for entries about different people."""
    return [verified_user("seller2", real_name="王五"), verified_user("seller3", real_name="陈六")]
