"""Where credit events come from: a seller's breach, revealed good ratings, identity approval, the demo data."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.audit.models import AuditEntry
from marketplace.credit import service as credit
from marketplace.db import utcnow
from marketplace.identity import service as identity
from marketplace.orders import service as orders
from marketplace.ratings import service as ratings
from marketplace.ratings.models import Rating

GOOD_BY_BUYER = {"accuracy": 5, "communication": 5, "punctuality": 4}
GOOD_BY_SELLER = {"punctuality": 5, "communication": 4}
REASON = "临时有事，不能交易了"


def _score(db, user: User) -> int | None:
    db.session.expire_all()
    return db.session.get(User, user.id).credit_score


def _codes(user: User) -> list[str]:
    return [e.code for e in credit.ledger(user)]


def _rate(db, rater, order, scores) -> Rating:
    rating = ratings.rate(rater, order, scores, "交易顺利")
    db.session.commit()
    return rating


def _reveal(db, rating: Rating) -> None:
    """The rating window closed a minute ago (ratings are not append-only)."""
    past = utcnow() - timedelta(minutes=1)
    db.session.execute(sa.update(Rating).where(Rating.id == rating.id).values(visible_from=past))
    db.session.commit()


# --- orders -----------------------------------------------------------------------------------------------------


def test_a_seller_cancelling_an_accepted_order_loses_the_breach_points(db, make_order, seller, buyer):
    order = make_order(status="accepted")
    orders.cancel(seller, order, REASON)
    db.session.commit()
    breach = credit.ledger(seller)[-1]
    assert (breach.code, breach.points, breach.multiplier, breach.source, breach.source_id, breach.ages) == (
        "breach",
        -15,
        1,
        "order",
        order.id,
        True,
    )
    assert f"#{order.id}" in breach.reason
    assert (_score(db, seller), _score(db, buyer)) == (585, 600)
    assert _codes(buyer) == ["verification"]


def test_a_buyer_cancelling_an_accepted_order_costs_nobody_credit(db, make_order, seller, buyer):
    order = make_order(status="accepted")
    orders.cancel(buyer, order, REASON)
    db.session.commit()
    assert _codes(seller) == _codes(buyer) == ["verification"]
    assert (_score(db, seller), _score(db, buyer)) == (600, 600)


def test_a_seller_cancelling_a_request_not_yet_accepted_is_no_breach(db, make_order, seller):
    orders.cancel(seller, make_order(status="requested"), REASON)
    db.session.commit()
    assert _codes(seller) == ["verification"] and _score(db, seller) == 600


# --- ratings ----------------------------------------------------------------------------------------------------


def test_good_ratings_are_rewarded_only_when_revealed(db, completed_order, seller, buyer):
    first = _rate(db, buyer, completed_order, GOOD_BY_BUYER)
    # Double-blind: a credit change now would tell the seller how they were rated.
    assert (_score(db, seller), _score(db, buyer)) == (600, 600)
    assert _codes(seller) == _codes(buyer) == ["verification"]
    second = _rate(db, seller, completed_order, GOOD_BY_SELLER)
    assert (_score(db, seller), _score(db, buyer)) == (603, 603)
    by_source = {(e.user_id, e.source, e.source_id): e.points for e in credit.ledger(seller) + credit.ledger(buyer)}
    assert by_source[(seller.id, "rating", first.id)] == 3
    assert by_source[(buyer.id, "rating", second.id)] == 3


def test_a_rating_below_an_average_of_4_earns_nothing(db, completed_order, seller, buyer):
    _rate(db, buyer, completed_order, {"accuracy": 4, "communication": 4, "punctuality": 3})
    # An average of exactly 4 is good.
    _rate(db, seller, completed_order, {"punctuality": 5, "communication": 3})
    assert (_score(db, seller), _score(db, buyer)) == (600, 603)
    assert "good_rating" not in _codes(seller)


def test_a_folded_rating_is_never_rewarded(db, cli, completed_order, seller, buyer, moderator):
    lone = _rate(db, buyer, completed_order, GOOD_BY_BUYER)
    ratings.fold(moderator, lone, "含有辱骂内容")
    db.session.commit()
    _reveal(db, lone)
    assert ratings.unrewarded_revealed() == []
    result = cli("maintenance")
    assert result.exit_code == 0, result.output
    assert "rewards for revealed ratings: 0" in result.output
    assert _score(db, seller) == 600 and _codes(seller) == ["verification"]


def test_a_folded_rating_is_not_rewarded_when_the_other_party_reveals_it(db, completed_order, seller, buyer, moderator):
    first = _rate(db, buyer, completed_order, GOOD_BY_BUYER)
    ratings.fold(moderator, first, "含有辱骂内容")
    db.session.commit()
    _rate(db, seller, completed_order, GOOD_BY_SELLER)
    assert (_score(db, seller), _score(db, buyer)) == (600, 603)


def test_the_good_rating_cap_holds_over_eleven_good_orders(db, cli, make_listing, make_order, seller, buyer):
    for n in range(11):
        order = make_order(listing=make_listing(title=f"九成新 二手手机 第{n + 1}台"), status="completed")
        _rate(db, buyer, order, GOOD_BY_BUYER)
        _rate(db, seller, order, GOOD_BY_SELLER)
    assert _score(db, seller) == _score(db, buyer) == 630
    assert [e.points for e in credit.ledger(seller) if e.code == "good_rating"] == [3] * 10
    # The eleventh is revealed and unpaid; the maintenance command does not pay it within the period either.
    result = cli("maintenance")
    assert result.exit_code == 0 and "rewards for revealed ratings: 0" in result.output
    assert _score(db, seller) == 630
    # Nor later, once the cap's period has passed: the reward was refused at the reveal, not postponed.
    from unittest import mock

    later = credit.utcnow() + timedelta(days=31)
    with mock.patch("marketplace.credit.service.utcnow", return_value=later):
        result = cli("maintenance")
    assert "rewards for revealed ratings: 0" in result.output and _score(db, seller) == 630


# --- identity -------------------------------------------------------------------------------------------------


def test_approval_opens_the_ledger_with_600(db, make_user, moderator, submit_request):
    user = make_user("applicant")
    req = submit_request(user)
    assert _score(db, user) is None and credit.ledger(user) == []
    identity.approve(moderator, req.id)
    db.session.commit()
    (event,) = credit.ledger(user)
    assert (event.code, event.points, event.source, event.source_id) == ("verification", 600, "verification", req.id)
    assert _score(db, user) == 600
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "identity.approved"))
    assert json.loads(entry.data)["initial_score"] == 600


def test_an_instantly_verified_user_has_the_same_opening_event(db, verified_user):
    user = verified_user("instant")
    assert [(e.code, e.points) for e in credit.ledger(user)] == [("verification", 600)]


def test_a_rejected_request_opens_nothing(db, make_user, moderator, submit_request):
    user = make_user("applicant")
    identity.reject(moderator, submit_request(user).id, "照片不清晰，请重新提交")
    db.session.commit()
    assert credit.ledger(user) == [] and _score(db, user) is None


# --- demo data -------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("cheap_password_hashing")
def test_the_demo_data_passes_the_recompute_check(cli, db):
    assert cli("seed-demo").exit_code == 0
    result = cli("credit", "recompute", "--check")
    assert result.exit_code == 0, result.output
    assert "0 of the kept scores differ" in result.output
