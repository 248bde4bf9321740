"""Fixtures for the supervision tests: people in every role, and black-list entries made through the services."""

from __future__ import annotations

import pytest

from tests.trust.factories import *  # noqa: F403


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
