"""Races between buyers, the seller's devices and the two parties: one winner, no crash, nothing half done.

Each thread has its own app context, session and transaction, as two requests would.
Run on PostgreSQL too: TEST_DATABASE_URL=postgresql://postgres@localhost/postgres.
"""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.listings.models import Listing
from marketplace.notices.models import Notice
from marketplace.orders import service
from marketplace.orders.models import HOLDING, Order
from marketplace.ratings import service as ratings
from marketplace.ratings.models import Rating
from tests.races import JOIN, in_thread, race

BUYER_SCORES = {"accuracy": 5, "communication": 5, "punctuality": 5}
SELLER_SCORES = {"punctuality": 4, "communication": 5}


def _pause_on(monkeypatch, module, name: str):
    """Make module.name wait (once) until released; returns (reached, release) events."""
    reached, release = threading.Event(), threading.Event()
    original = getattr(module, name)

    def paused(*args, **kwargs):
        if not reached.is_set():
            reached.set()
            assert release.wait(JOIN)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, paused)
    return reached, release


def _holding(db, listing_id: int) -> list[Order]:
    return list(db.session.scalars(sa.select(Order).where(Order.listing_id == listing_id, Order.status.in_(HOLDING))))


def _accept(order_id: int, seller_id: int):
    return lambda s: service.accept(s.get(User, seller_id), s.get(Order, order_id))


def _complete(order_id: int, buyer_id: int):
    return lambda s: service.complete(s.get(User, buyer_id), s.get(Order, order_id))


def _cancel(order_id: int, user_id: int):
    return lambda s: service.cancel(s.get(User, user_id), s.get(Order, order_id), "临时不卖了")


def test_fifty_buyers_ask_for_the_same_listing_at_once(app, db, phone, make_user):
    buyer_ids = [make_user(f"rush{n}").id for n in range(50)]
    listing_id, seller_id = phone.id, phone.seller_id

    def ask(buyer_id):
        return lambda s: service.request(s.get(User, buyer_id), listing_id, "还在吗？我马上可以过来")

    outcome = race(app, db, {buyer_id: ask(buyer_id) for buyer_id in buyer_ids})
    assert outcome == dict.fromkeys(buyer_ids, "ok")
    orders = db.session.scalars(sa.select(Order).where(Order.listing_id == listing_id)).all()
    assert len(orders) == 50 and {o.buyer_id for o in orders} == set(buyer_ids)
    assert {o.status for o in orders} == {"requested"}
    notices = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Notice)
        .where(Notice.user_id == seller_id, Notice.kind == "order.requested")
    )
    assert notices == 50

    # Then the seller's phone and laptop accept two of them at the same moment.
    first, second = orders[0].id, orders[1].id
    outcome = race(app, db, {"phone": _accept(first, seller_id), "laptop": _accept(second, seller_id)})
    assert sorted(outcome.values()) == ["Conflict", "ok"], outcome
    (held,) = _holding(db, listing_id)
    assert held.id == (first if outcome["phone"] == "ok" else second)
    assert db.session.get(Listing, listing_id).status == "reserved"
    others = db.session.scalars(sa.select(Order.status).where(Order.listing_id == listing_id, Order.id != held.id))
    assert set(others) == {"requested"}


@pytest.mark.parametrize("rounds", [3])
def test_two_devices_accepting_the_same_order_at_once(app, db, make_listing, make_order, rounds):
    for n in range(rounds):
        listing = make_listing(title=f"二手手机 {n}")
        order = make_order(listing)
        outcome = race(app, db, {d: _accept(order.id, listing.seller_id) for d in ("phone", "laptop")})
        assert sorted(outcome.values()) == ["Conflict", "ok"], outcome
        assert [o.id for o in _holding(db, listing.id)] == [order.id]
        assert db.session.get(Listing, listing.id).status == "reserved"
        events = db.session.scalars(sa.select(Order).where(Order.id == order.id)).one().events
        assert [e.kind for e in events] == ["requested", "accepted"]


def test_an_accept_waits_for_the_other_device_and_then_finds_the_listing_taken(
    app, db, phone, make_order, verified_user, monkeypatch
):
    first, second = make_order().id, make_order(buyer_user=verified_user("buyer2")).id
    listing_id, seller_id = phone.id, phone.seller_id
    db.session.commit()  # and touch nothing until the threads are done: SQLite would lock them out
    # The first device has reserved the listing and stops before moving its order.
    reached, release = _pause_on(monkeypatch, service, "_move")
    outcome: dict = {}
    one = in_thread(app, _accept(first, seller_id), outcome, "first")
    assert reached.wait(20), outcome
    two = in_thread(app, _accept(second, seller_id), outcome, "second")
    time.sleep(0.5)
    assert "second" not in outcome  # it waits for the first transaction
    release.set()
    one.join(JOIN)
    two.join(JOIN)
    assert outcome == {"first": "ok", "second": "Conflict"}
    db.session.expire_all()
    assert [o.id for o in _holding(db, listing_id)] == [first]
    assert db.session.get(Order, second).status == "requested"


@pytest.mark.parametrize("rounds", [3])
def test_both_parties_rating_at_the_same_moment_reveal_both(app, db, make_listing, make_order, rounds):
    for n in range(rounds):
        order = make_order(make_listing(title=f"二手手机 {n}"), status="completed")
        ids = (order.id, order.buyer_id, order.seller_id)

        def rate(user_id, scores, order_id=ids[0]):
            return lambda s: ratings.rate(s.get(User, user_id), s.get(Order, order_id), scores, "顺利")

        outcome = race(app, db, {"buyer": rate(ids[1], BUYER_SCORES), "seller": rate(ids[2], SELLER_SCORES)})
        assert outcome == {"buyer": "ok", "seller": "ok"}
        both = db.session.scalars(sa.select(Rating).where(Rating.order_id == order.id)).all()
        assert len(both) == 2 and all(r.is_visible() for r in both), [r.visible_from for r in both]
        assert len(ratings.revealed_of(order.seller_id)) == len(ratings.revealed_of(order.buyer_id)) == n + 1


def test_the_second_rater_waits_for_the_first_and_reveals_both(app, db, completed_order, monkeypatch):
    ids = (completed_order.id, completed_order.buyer_id, completed_order.seller_id)
    db.session.commit()
    # The buyer holds the order's lock and has not yet written the rating.
    reached, release = _pause_on(monkeypatch, ratings, "rating_by_other")
    outcome: dict = {}

    def rate(user_id, scores):
        return lambda s: ratings.rate(s.get(User, user_id), s.get(Order, ids[0]), scores)

    first = in_thread(app, rate(ids[1], BUYER_SCORES), outcome, "buyer")
    assert reached.wait(20), outcome
    second = in_thread(app, rate(ids[2], SELLER_SCORES), outcome, "seller")
    time.sleep(0.5)
    assert "seller" not in outcome
    release.set()
    first.join(JOIN)
    second.join(JOIN)
    assert outcome == {"buyer": "ok", "seller": "ok"}
    db.session.expire_all()
    both = db.session.scalars(sa.select(Rating).where(Rating.order_id == ids[0])).all()
    assert len(both) == 2 and all(r.is_visible() for r in both)


@pytest.mark.parametrize("rounds", [3])
def test_a_confirmation_racing_the_sellers_cancel_has_one_winner(app, db, make_listing, make_order, rounds):
    for n in range(rounds):
        listing = make_listing(title=f"二手手机 {n}")
        order = make_order(listing, status="accepted")
        order_id, buyer_id, seller_id = order.id, order.buyer_id, order.seller_id
        outcome = race(app, db, {"complete": _complete(order_id, buyer_id), "cancel": _cancel(order_id, seller_id)})
        assert sorted(outcome.values()) == ["Conflict", "ok"], outcome
        order = db.session.get(Order, order_id)
        listing = db.session.get(Listing, listing.id)
        if outcome["complete"] == "ok":
            assert (order.status, order.breach, listing.status) == ("completed", False, "sold")
        else:
            assert (order.status, order.breach, listing.status) == ("cancelled", True, "active")


def test_a_confirmation_survives_another_buyer_withdrawing_their_request_meanwhile(
    app, db, phone, make_order, verified_user, monkeypatch
):
    held, other = make_order(), make_order(buyer_user=verified_user("buyer2"))
    service.accept(phone.seller, held)
    ids = {"held": held.id, "other": other.id, "buyer": held.buyer_id, "other_buyer": other.buyer_id}
    db.session.commit()
    # The confirmation has listed the open requests to decline and stops before declining them.
    reached, release = threading.Event(), threading.Event()
    original = service._move

    def paused(order, to, *args, **kwargs):
        if to == "declined" and not reached.is_set():
            reached.set()
            assert release.wait(JOIN)
        return original(order, to, *args, **kwargs)

    monkeypatch.setattr(service, "_move", paused)
    outcome: dict = {}
    confirming = in_thread(app, _complete(ids["held"], ids["buyer"]), outcome, "complete")
    assert reached.wait(20), outcome
    withdrawing = in_thread(app, _cancel(ids["other"], ids["other_buyer"]), outcome, "withdraw")
    time.sleep(0.5)  # PostgreSQL: the withdrawal commits now; SQLite: it waits for the write lock
    release.set()
    confirming.join(JOIN)
    withdrawing.join(JOIN)
    assert outcome["complete"] == "ok", outcome
    assert outcome["withdraw"] in ("ok", "Conflict"), outcome
    db.session.expire_all()
    assert db.session.get(Order, ids["held"]).status == "completed"
    assert db.session.get(Order, ids["other"]).status == ("cancelled" if outcome["withdraw"] == "ok" else "declined")
    assert db.session.get(Listing, phone.id).status == "sold"
