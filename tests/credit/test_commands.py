"""`flask credit recompute [--check]` and the credit part of `flask maintenance`."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.audit.models import AuditEntry
from marketplace.audit.service import verify_chain
from marketplace.credit import service as credit
from marketplace.credit.models import CreditEvent
from marketplace.db import utcnow
from marketplace.ratings import service as ratings
from marketplace.ratings.models import Rating

BUYER_SCORES = {"accuracy": 5, "communication": 5, "punctuality": 4}


def _audit(db, action: str) -> list[dict]:
    rows = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq))
    return [json.loads(r.data) for r in rows]


def _tamper(db, user: User, score: int | None) -> None:
    db.session.execute(sa.text("UPDATE users SET credit_score = :s WHERE id = :id"), {"s": score, "id": user.id})
    db.session.commit()
    db.session.expire_all()


def _kept(db, user: User) -> int | None:
    db.session.expire_all()
    return db.session.get(User, user.id).credit_score


@pytest.fixture
def members(db, verified_user, make_user):
    """Two verified users (one with a penalty and a reward) and one unverified user."""
    first, second = verified_user("first"), verified_user("second")
    credit.penalise(first, "breach", source="order", source_id=1, reason="违约")
    credit.reward(second, "checkin", source="event", source_id=1, reason="签到")
    db.session.commit()
    return first, second, make_user("unverified")


# --- credit recompute -----------------------------------------------------------------------------------------


def test_check_reports_nothing_on_a_consistent_database(cli, db, members):
    result = cli("credit", "recompute", "--check")
    assert result.exit_code == 0, result.output
    assert "0 of the kept scores differ" in result.output
    assert "user " not in result.output


def test_check_names_a_tampered_score_exits_1_and_changes_nothing(cli, db, members):
    first, second, unverified = members
    _tamper(db, first, 900)
    _tamper(db, unverified, 650)  # a score without a ledger
    result = cli("credit", "recompute", "--check")
    assert result.exit_code == 1
    assert f"user {first.id}: kept 900, ledger gives 585" in result.output
    assert f"user {unverified.id}: kept 650, ledger gives None" in result.output
    assert f"user {second.id}:" not in result.output
    assert "2 of the kept scores differ" in result.output
    assert (_kept(db, first), _kept(db, second), _kept(db, unverified)) == (900, 602, 650)
    assert _audit(db, "credit.recomputed") == []


def test_recompute_fixes_the_kept_scores_audits_it_and_check_is_clean_again(cli, db, members):
    first, second, unverified = members
    events = db.session.scalar(sa.select(sa.func.count()).select_from(CreditEvent))
    _tamper(db, first, 900)
    _tamper(db, unverified, 650)
    result = cli("credit", "recompute")
    assert result.exit_code == 0, result.output
    assert "kept scores fixed: 2" in result.output
    assert (_kept(db, first), _kept(db, second), _kept(db, unverified)) == (585, 602, None)
    assert _audit(db, "credit.recomputed") == [{"users": [first.id, unverified.id]}]
    # The ledger itself is never touched by a recompute.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CreditEvent)) == events
    again = cli("credit", "recompute", "--check")
    assert again.exit_code == 0 and "0 of the kept scores differ" in again.output
    # Nothing to fix: nothing audited.
    assert cli("credit", "recompute").exit_code == 0
    assert len(_audit(db, "credit.recomputed")) == 1
    assert verify_chain().ok


# --- maintenance -----------------------------------------------------------------------------------------------


def _reveal(db, rating) -> None:
    """The rating window closed a minute ago (ratings are not append-only)."""
    past = utcnow() - timedelta(minutes=1)
    db.session.execute(sa.update(Rating).where(Rating.id == rating.id).values(visible_from=past))
    db.session.commit()
    db.session.expire_all()


def _good_ratings(db, user) -> list[CreditEvent]:
    return [e for e in credit.ledger(user) if e.code == "good_rating"]


def test_maintenance_pays_a_lone_good_rating_once_its_window_has_closed_and_only_once(
    cli, db, completed_order, buyer, seller
):
    rating = ratings.rate(buyer, completed_order, BUYER_SCORES, "手机和描述一致")
    db.session.commit()
    result = cli("maintenance")
    assert result.exit_code == 0, result.output
    assert "rewards for revealed ratings: 0" in result.output
    assert _kept(db, seller) == 600  # still hidden: nothing may move
    _reveal(db, rating)
    result = cli("maintenance")
    assert result.exit_code == 0, result.output
    assert "rewards for revealed ratings: 1" in result.output
    assert _kept(db, seller) == 603 and _kept(db, buyer) == 600
    (event,) = _good_ratings(db, seller)
    assert (event.points, event.source, event.source_id) == (3, "rating", rating.id)
    second = cli("maintenance")
    assert second.exit_code == 0 and "rewards for revealed ratings: 0" in second.output
    assert _kept(db, seller) == 603 and len(_good_ratings(db, seller)) == 1


def test_maintenance_recomputes_a_user_whose_penalty_has_just_aged(cli, db, verified_user):
    offender, recent = verified_user("offender"), verified_user("recent")
    aged, young = utcnow() - timedelta(days=365, hours=1), utcnow() - timedelta(days=364)
    credit._add(offender, "hidden_defect", -60, "decision", 1, "隐瞒", ages=True, at=aged)
    credit._add(recent, "hidden_defect", -60, "decision", 2, "隐瞒", ages=True, at=young)
    db.session.commit()
    # Kept as it was the day before the penalty aged (the last time the score was computed).
    _tamper(db, offender, 540)
    assert _kept(db, recent) == 540
    result = cli("maintenance")
    assert result.exit_code == 0, result.output
    assert "credit scores updated for ageing penalties: 1" in result.output
    assert _kept(db, offender) == 570  # the penalty now counts half
    assert _kept(db, recent) == 540
    again = cli("maintenance")
    assert "credit scores updated for ageing penalties: 0" in again.output
    assert cli("credit", "recompute", "--check").exit_code == 0


def test_maintenance_leaves_lone_ratings_revealed_longer_than_a_reward_period_ago(
    cli, db, completed_order, buyer, seller
):
    rating = ratings.rate(buyer, completed_order, BUYER_SCORES, "手机和描述一致")
    db.session.commit()
    db.session.execute(
        sa.update(Rating).where(Rating.id == rating.id).values(visible_from=utcnow() - timedelta(days=40))
    )
    db.session.commit()
    result = cli("maintenance")
    assert "rewards for revealed ratings: 0" in result.output and _kept(db, seller) == 600
