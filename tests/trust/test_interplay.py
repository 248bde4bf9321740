"""How decisions, black-list entries and appeals act on each other: the cases a second reading found."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from marketplace.errors import Forbidden
from marketplace.listings import service as listings
from marketplace.moderation import appeals, decisions
from marketplace.moderation.flagged import flagged
from marketplace.trust import service as trust
from marketplace.trust.models import BlacklistEntry

REASON = "描述与实物一致，有购买凭证和照片可以证明。"
NOTE = "复核后认定原决定有误，予以撤销。"


def _entries(db, user) -> list[tuple[str, str]]:
    rows = db.session.execute(
        sa.select(BlacklistEntry.reason, BlacklistEntry.status)
        .where(BlacklistEntry.user_id == user.id)
        .order_by(BlacklistEntry.id)
    )
    return [tuple(r) for r in rows]


def test_a_seller_appeal_is_not_decided_by_the_reporter_nor_by_the_seller_of_the_listing(
    db, seller, make_listing, verified_user, report, decide, moderator, moderator2
):
    # A moderator who reported the listing: they may not judge the seller's appeal of it.
    listing = make_listing()
    decision = decide(moderator, report(moderator2, listing))
    appeal = appeals.file(seller, decision.id, REASON)
    db.session.commit()
    assert appeals.why_not_decide(moderator2, appeal) is not None
    assert appeal not in appeals.pending(moderator2)
    with pytest.raises(Forbidden):
        appeals.decide(moderator2, appeal.id, "upheld", NOTE)


def test_a_reporters_appeal_of_a_malicious_finding_is_not_decided_by_the_seller(
    db, verified_user, make_listing, reporters, report, decide, moderator, moderator2
):
    # The listing is a moderator's own: they may not judge the appeal of the person who reported them.
    listing = make_listing(user=moderator2)
    decision = decide(moderator, report(reporters[0], listing), "malicious", note="无中生有，恶意举报。")
    appeal = appeals.file(reporters[0], decision.id, REASON)
    db.session.commit()
    with pytest.raises(Forbidden):
        appeals.decide(moderator2, appeal.id, "upheld", NOTE)


def test_a_co_reporter_decides_no_outcome_of_a_listing_they_reported(db, make_listing, reporters, report, moderator):
    listing = make_listing()
    report(moderator, listing)
    other = report(reporters[0], listing)
    for outcome in ("dismissed", "malicious", "confirmed"):
        with pytest.raises(Forbidden):
            decisions.decide(moderator, other.id, outcome, "exaggeration", "理由写在这里。")


def test_a_counterfeit_turns_a_pending_entry_into_a_counterfeit_one(
    db, seller, make_listing, reporters, report, decide, moderator, supervisor
):
    # Listed before any decision: once suspended, the seller lists nothing more.
    items = [make_listing(title=f"商品{i}") for i in range(4)]
    for item in items[:3]:
        third = decide(moderator, report(reporters[0], item, reason="exaggeration"), "confirmed", "exaggeration")
    assert _entries(db, seller) == [("repeat_violations", "pending")]
    counterfeit = decide(moderator, report(reporters[1], items[3], reason="counterfeit"), "confirmed", "counterfeit")
    assert _entries(db, seller) == [("counterfeit", "pending")]
    assert decisions.entries_of(counterfeit) and not decisions.entries_of(third)
    entry = trust.confirm(supervisor, counterfeit.blacklist_entry.id)
    db.session.commit()
    assert entry.ends_at == trust.add_months(entry.starts_at, trust.rule()["counterfeit_months"])


def test_a_counterfeit_after_an_active_entry_is_proposed_beside_it_and_supersedes_it(db, seller, violate, supervisor):
    for _ in range(3):
        third = violate("exaggeration")
    trust.confirm(supervisor, third.blacklist_entry.id)
    db.session.commit()
    # A counterfeit confirmed now (on a listing sold before the entry, say) proposes the longer entry.
    entry = trust.propose(seller, reason="counterfeit", proposer=third.decider, decision_id=None)
    db.session.commit()
    assert entry is not None and entry.status == "pending"
    trust.confirm(supervisor, entry.id)
    db.session.commit()
    assert _entries(db, seller) == [("repeat_violations", "superseded"), ("counterfeit", "active")]
    assert [row.id for row in trust.board()] == [entry.id]


def test_overturning_an_earlier_violation_revokes_the_entry_that_rested_on_it(
    db, seller, violate, moderator2, supervisor
):
    first = violate("exaggeration")
    violate("exaggeration")
    third = violate("exaggeration")
    trust.confirm(supervisor, third.blacklist_entry.id)
    db.session.commit()
    appeal = appeals.file(seller, first.id, REASON)
    appeals.decide(moderator2, appeal.id, "overturned", NOTE)
    db.session.commit()
    # Two violations stand: the third was no longer the third.
    assert _entries(db, seller) == [("repeat_violations", "revoked")]
    assert trust.in_force(seller.id) is None


def test_a_withdrawn_listing_comes_back_withdrawn_and_nothing_goes_on_sale_while_trading_is_suspended(
    db, seller, make_listing, reporters, report, decide, moderator, moderator2, supervisor
):
    withdrawn, on_sale, fake = (make_listing(title=t) for t in ("已下架的旧手机", "在售的旧手机", "高仿耳机"))
    quiet_report = report(reporters[0], withdrawn)
    listings.withdraw(seller, withdrawn)
    db.session.commit()
    quiet = decide(moderator, quiet_report)
    loud = decide(moderator, report(reporters[1], on_sale))
    assert quiet.took_down_from == "withdrawn" and loud.took_down_from == "active"
    counterfeit = decide(moderator, report(reporters[2], fake, reason="counterfeit"), "confirmed", "counterfeit")
    trust.confirm(supervisor, counterfeit.blacklist_entry.id)
    db.session.commit()
    for decision in (quiet, loud):
        appeals.decide(moderator2, appeals.file(seller, decision.id, REASON).id, "overturned", NOTE)
    db.session.commit()
    db.session.refresh(withdrawn)
    db.session.refresh(on_sale)
    # Still black-listed for the counterfeit: neither goes back on sale; both are the seller's to relist later.
    assert (withdrawn.status, on_sale.status) == ("withdrawn", "withdrawn")


def test_a_score_under_the_black_list_line_without_an_entry_is_flagged(db, seller, moderator, supervisor):
    from marketplace.credit import service as credit

    credit.adjust(supervisor, seller, -200, "多次违约后的人工扣分")
    credit.adjust(supervisor, seller, -(seller.credit_score - 250), "多次违约后的人工扣分")
    db.session.commit()
    (row,) = [f for f in flagged(moderator) if f.user.id == seller.id]
    assert "low_score" in row.reasons
