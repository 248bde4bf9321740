"""The red list: its rule, each condition failing by one, monthly editions, withdrawal and overturned violations."""

from __future__ import annotations

from datetime import timedelta

import pytest

from marketplace.credit import service as credit_service
from marketplace.db import utcnow
from marketplace.moderation import appeals
from marketplace.trust import redlist
from marketplace.trust import service as trust

# Four ratings of 5 and one of 4.8 → 71 points over 15 scores (4.73): one point short of 4.8.
SHORT_RATINGS = ((5, 5, 5),) * 4 + ((4, 4, 3),)


def _listed() -> list[int]:
    return [c["user_id"] for c in redlist.candidates()]


def test_a_seller_meeting_every_condition_exactly_is_a_candidate(db, seller, qualify):
    qualify(seller)

    (row,) = redlist.candidates()
    assert row == {"user_id": seller.id, "score": 750, "sales": 10, "ratings": 5, "average_centi": 480}


@pytest.mark.parametrize(
    ("short", "record"),
    [
        ("score", {"score": 749}),
        ("sales", {"sales": 9}),
        ("ratings", {"ratings": ((5, 5, 5),) * 4}),
        ("average", {"ratings": SHORT_RATINGS}),
    ],
)
def test_a_seller_short_by_one_is_not_a_candidate(db, seller, qualify, short, record):
    qualify(seller, **record)

    assert _listed() == []


def test_an_unverified_seller_is_not_a_candidate(db, make_user, qualify):
    # A score kept without a verified identity (say, one later revoked) does not put anyone on the list.
    unverified = make_user("plain", credit_score=800)
    qualify(unverified, score=800)

    assert _listed() == []


def test_hidden_and_folded_ratings_do_not_count(db, seller, qualify, moderator):
    from marketplace.ratings.models import Rating

    qualify(seller)
    rating = db.session.query(Rating).filter_by(ratee_id=seller.id).first()
    rating.visible_from = utcnow() + timedelta(days=3)
    db.session.commit()
    assert _listed() == []

    rating.visible_from = utcnow() - timedelta(days=1)
    rating.folded_at, rating.folded_by_id, rating.fold_reason = utcnow(), moderator.id, "含辱骂内容"
    db.session.commit()
    assert _listed() == []


@pytest.mark.parametrize(("days_ago", "listed"), [(179, False), (181, True)])
def test_a_violation_keeps_a_seller_off_for_180_days(db, seller, qualify, violate, monkeypatch, days_ago, listed):
    then = utcnow() - timedelta(days=days_ago)
    with monkeypatch.context() as frozen:
        # The penalty is recorded as of `days_ago` (the ledger cannot be edited afterwards).
        frozen.setattr(credit_service, "utcnow", lambda: then)
        violate("exaggeration")
    qualify(seller)

    assert (_listed() == [seller.id]) is listed


def test_a_seller_proposed_for_the_black_list_is_not_a_candidate(db, seller, qualify, moderator, supervisor):
    qualify(seller)
    entry = trust.propose(seller, reason="low_score", proposer=moderator, decision_id=None)
    db.session.commit()
    assert _listed() == []

    trust.reject(supervisor, entry.id, "信用分已恢复，不予列入")
    db.session.commit()
    assert _listed() == [seller.id]


def test_an_overturned_violation_counts_no_more(db, seller, qualify, violate, moderator2):
    decision = violate("hidden_defect")
    qualify(seller)
    assert _listed() == []

    appeal = appeals.file(seller, decision.id, "描述与实物一致，举报人误会了成色等级的含义。")
    appeals.decide(moderator2, appeal.id, "overturned", "复核后描述属实。")
    db.session.commit()
    assert _listed() == [seller.id]


def test_candidates_are_ranked_by_score(db, seller, buyer, qualify):
    qualify(seller, score=760)
    qualify(buyer, score=800)

    assert _listed() == [buyer.id, seller.id]


# --- editions ---------------------------------------------------------------------------------------------------


def test_an_edition_is_computed_once_a_month_unless_forced(db, seller, qualify, supervisor, audit):
    qualify(seller)
    now = utcnow()
    period = now.strftime("%Y-%m")

    first, created = redlist.compute_edition(now=now)
    db.session.commit()
    assert created and first.period == period
    assert [e.user_id for e in first.entries] == [seller.id]
    again, created = redlist.compute_edition(now=now.replace(day=28 if now.day < 28 else 1))
    assert (again.id, created) == (first.id, False)

    forced, created = redlist.compute_edition(actor=supervisor, now=now, force=True)
    db.session.commit()
    assert created and forced.id != first.id and forced.computed_by_id == supervisor.id
    assert forced.period == period and redlist.current().id == forced.id
    next_month = trust.add_months(now, 1)
    following, created = redlist.compute_edition(now=next_month)
    assert created and following.period == next_month.strftime("%Y-%m")
    assert [a["subject_id"] for a in audit("redlist.published")] == [first.id, forced.id, following.id]


def test_an_edition_records_the_rule_it_applied(db, seller, qualify):
    qualify(seller)

    edition, _ = redlist.compute_edition()
    assert edition.rule == redlist.rule()
    (entry,) = redlist.standing(edition)
    assert (entry.position, entry.score, entry.sales, entry.ratings, entry.average_centi) == (1, 750, 10, 5, 480)


def test_a_withdrawn_seller_leaves_the_current_edition_at_once(db, seller, buyer, qualify, supervisor, audit):
    qualify(seller)
    qualify(buyer, score=800)
    edition, _ = redlist.compute_edition()
    db.session.commit()
    assert redlist.on_current(seller.id)

    entry = redlist.withdraw(seller.id, actor=supervisor, reason="经核实存在刷单嫌疑")
    db.session.commit()
    assert entry.withdrawn_at is not None and entry.withdrawn_reason == "经核实存在刷单嫌疑"
    assert not redlist.on_current(seller.id) and redlist.on_current(buyer.id)
    assert [e.user_id for e in redlist.standing(edition)] == [buyer.id]
    assert redlist.withdraw(seller.id, actor=supervisor, reason="再次撤下") is None
    assert [a["user_id"] for a in audit("redlist.withdrawn")] == [seller.id]


def test_there_is_nothing_to_withdraw_before_the_first_edition(db, seller):
    assert redlist.current() is None
    assert redlist.withdraw(seller.id, actor=None, reason="确认违规") is None
    assert not redlist.on_current(seller.id)
