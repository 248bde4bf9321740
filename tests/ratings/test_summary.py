"""The reputation summary: averages per role, the positive share over 12 months, repeats and folds left out."""

from __future__ import annotations

from datetime import timedelta

import pytest

from marketplace.db import utcnow
from marketplace.identity.service import public_profile
from marketplace.orders.models import Order
from marketplace.ratings.models import Rating
from marketplace.ratings.summary import summary


@pytest.fixture
def rate(db, phone):
    """rate(rater, ratee, role, days_ago=1, **scores) → a revealed Rating on its own completed order.

    `role` is the rater's: "buyer" rates the ratee as a seller, "seller" rates them as a buyer.
    """

    def make(rater, ratee, role="buyer", days_ago=1.0, *, hidden=False, folded=False, **scores):
        at = utcnow() - timedelta(days=days_ago)
        buyer_id, seller_id = (rater.id, ratee.id) if role == "buyer" else (ratee.id, rater.id)
        order = Order(
            listing_id=phone.id,
            buyer_id=buyer_id,
            seller_id=seller_id,
            status="completed",
            price_fen=1000,
            created_at=at - timedelta(days=2),
            accepted_at=at - timedelta(days=1),
            completed_at=at,
        )
        db.session.add(order)
        db.session.flush()
        defaults = {"accuracy": 5, "communication": 5, "punctuality": 5} if role == "buyer" else {}
        defaults.update({"communication": 5, "punctuality": 5}, **scores)
        rating = Rating(
            order_id=order.id,
            rater_id=rater.id,
            ratee_id=ratee.id,
            rater_role=role,
            created_at=at,
            visible_from=at + timedelta(days=30) if hidden else at,
            folded_at=at if folded else None,
            fold_reason="辱骂" if folded else None,
            **defaults,
        )
        db.session.add(rating)
        db.session.commit()
        return rating

    return make


@pytest.fixture
def people(make_user):
    return [make_user(f"p{n}") for n in range(5)]


def test_nobody_rated_yet(db, seller):
    result = summary(seller)
    assert (result["count"], result["average"]) == (0, None)
    assert result["as_seller"] == {
        "count": 0,
        "averages": {"accuracy": None, "communication": None, "punctuality": None},
        "positive_share": None,
        "recent_count": 0,
    }
    assert result["as_buyer"]["averages"] == {"punctuality": None, "communication": None}


def test_averages_per_dimension_and_counts_per_role(db, rate, seller, people):
    a, b, c, d, _ = people
    rate(a, seller, accuracy=5, communication=5, punctuality=4)  # mean 4.67: positive
    rate(b, seller, accuracy=4, communication=5, punctuality=4)  # mean 4.33: positive
    rate(c, seller, accuracy=3, communication=2, punctuality=4)  # mean 3: not
    rate(d, seller, "seller", punctuality=5, communication=5)
    result = summary(seller)
    assert result["as_seller"] == {
        "count": 3,
        "averages": {"accuracy": 4.0, "communication": 4.0, "punctuality": 4.0},
        "positive_share": 0.667,
        "recent_count": 3,
    }
    assert result["as_buyer"] == {
        "count": 1,
        "averages": {"punctuality": 5.0, "communication": 5.0},
        "positive_share": 1.0,
        "recent_count": 1,
    }
    assert (result["count"], result["average"]) == (4, 4.25)
    # What the user gave others does not count for them.
    assert summary(a)["count"] == 0


def test_a_rating_older_than_a_year_counts_in_averages_but_not_in_the_positive_share(db, rate, seller, people):
    rate(people[0], seller, days_ago=400, accuracy=1, communication=1, punctuality=1)
    rate(people[1], seller, days_ago=10, accuracy=5, communication=5, punctuality=5)
    side = summary(seller)["as_seller"]
    assert side["count"] == 2 and side["averages"]["accuracy"] == 3.0
    assert (side["positive_share"], side["recent_count"]) == (1.0, 1)


def test_only_old_ratings_give_no_positive_share(db, rate, seller, people):
    rate(people[0], seller, days_ago=366)
    side = summary(seller)["as_seller"]
    assert (side["count"], side["positive_share"], side["recent_count"]) == (1, None, 0)


@pytest.mark.parametrize(("gap_days", "counted"), [(3, 1), (6.9, 1), (7, 2), (8, 2)])
def test_the_same_counterparty_counts_once_per_seven_days(db, rate, seller, people, gap_days, counted):
    friend = people[0]
    rate(friend, seller, days_ago=20, accuracy=5)
    rate(friend, seller, days_ago=20 - gap_days, accuracy=1)
    side = summary(seller)["as_seller"]
    assert side["count"] == counted
    # The first of a run is the one kept.
    assert side["averages"]["accuracy"] == (5.0 if counted == 1 else 3.0)


def test_a_friend_rating_every_day_counts_once_a_week(db, rate, seller, people):
    for day in range(15):  # days 20 .. 6 ago: kept on days 20, 13, 6
        rate(people[0], seller, days_ago=20 - day)
    rate(people[1], seller, days_ago=19)  # another rater is not held back by the friend
    assert summary(seller)["as_seller"]["count"] == 4


def test_folded_and_hidden_ratings_are_left_out(db, rate, seller, people):
    rate(people[0], seller, accuracy=1, communication=1, punctuality=1, folded=True)
    rate(people[1], seller, accuracy=1, communication=1, punctuality=1, hidden=True)
    rate(people[2], seller, accuracy=5, communication=4, punctuality=4)
    side = summary(seller)["as_seller"]
    assert side["count"] == 1
    assert side["averages"] == {"accuracy": 5.0, "communication": 4.0, "punctuality": 4.0}
    assert side["positive_share"] == 1.0


def test_the_public_profile_carries_the_summary(db, rate, seller, people):
    rate(people[0], seller, accuracy=4, communication=4, punctuality=4)
    profile = public_profile(seller.id)
    assert profile["ratings"] == summary(seller)
    assert profile["ratings"]["as_seller"]["averages"]["accuracy"] == 4.0
    assert public_profile(people[0].id)["ratings"]["count"] == 0
