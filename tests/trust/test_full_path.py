"""The full path of the issue, through the services: reports, confirmation, black list, appeal, restoration."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from marketplace.audit.models import AuditEntry
from marketplace.audit.service import verify_chain
from marketplace.credit import service as credit
from marketplace.credit.policy import policy
from marketplace.errors import Forbidden
from marketplace.listings import search
from marketplace.moderation import appeals
from marketplace.trust import service as trust


def _actions(db, since_seq: int) -> list[str]:
    return list(db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.seq > since_seq)))


def test_false_listing_to_black_list_and_back(
    db, seller, make_listing, reporters, report, decide, violate, moderator, moderator2, supervisor
):
    start = db.session.scalar(sa.select(sa.func.max(AuditEntry.seq))) or 0
    before = seller.credit_score
    listing = make_listing(title="九成新 iPhone 13 无划痕")
    made = [report(r, listing) for r in reporters]

    first = decide(moderator, made[0], "confirmed", "hidden_defect")
    # One decision closes the three reports; the penalty is the policy's, once.
    assert {r.status for r in made if db.session.refresh(r) is None} == {"confirmed"}
    assert seller.credit_score == before - policy()["penalties"]["hidden_defect"]
    assert listing.status == "removed"
    assert first.blacklist_entry is None

    violate("exaggeration")
    third = violate("exaggeration")
    entry = third.blacklist_entry
    assert entry is not None and entry.status == "pending" and entry.reason == "repeat_violations"
    # Suspended from trading at once.
    with pytest.raises(Forbidden):
        make_listing()

    with pytest.raises(Forbidden):
        trust.confirm(moderator, entry.id)
    version = seller.session_version
    trust.confirm(supervisor, entry.id, "三次违规属实")
    db.session.commit()
    assert entry.status == "active"
    assert seller.session_version == version + 1
    assert trust.public_rows([entry])[0]["display_name"] != seller.display_name
    assert [row.id for row in trust.board()] == [entry.id]

    appeal = appeals.file(seller, third.id, "第三件商品的描述与实物一致，举报人误会了成色等级的含义。")
    db.session.commit()
    with pytest.raises(Forbidden):
        appeals.decide(moderator, appeal.id, "overturned", "复核后描述属实")
    appeals.decide(moderator2, appeal.id, "overturned", "复核后描述属实")
    db.session.commit()
    db.session.refresh(entry)
    assert entry.status == "revoked"
    assert third.listing.status == "active"
    assert trust.board() == []
    assert credit.replay_differences() == []
    actions = _actions(db, start)
    for action in (
        "report.decided",
        "blacklist.proposed",
        "blacklist.confirmed",
        "appeal.filed",
        "appeal.decided",
        "blacklist.revoked",
        "listing.restored",
    ):
        assert action in actions
    assert verify_chain().ok
    assert search  # the search index is exercised by the HTTP tests
