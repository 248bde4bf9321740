"""Swap offers at an event: accepting swaps every listing in it and completes an order per listing, or nothing."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.events import service, swaps
from marketplace.events.models import SwapOffer
from marketplace.listings import service as listings
from marketplace.listings.search import SearchParams, search_listings
from marketplace.orders.models import Order
from marketplace.ratings import service as ratings
from tests.races import JOIN, in_thread, race


def _orders(db) -> list[Order]:
    return list(db.session.scalars(sa.select(Order).order_by(Order.id)))


def _statuses(db, *rows) -> list[str]:
    for row in rows:
        db.session.refresh(row)
    return [row.status for row in rows]


def _at_event(event) -> set[int]:
    return {listing.id for listing in search_listings(SearchParams(event_id=event.id)).items}


@pytest.fixture
def fair(make_event):
    """A community swap with room for everyone."""
    return make_event("community_swap", stalls=10)


@pytest.fixture
def stallholders(db, fair, make_resident, register):
    """Four residents with a stall each at `fair`."""
    people = [make_resident(username=f"stall{n}") for n in range(1, 5)]
    for person in people:
        register(person, fair)
    return people


@pytest.fixture
def offer(db, fair, stallholders, bring):
    """a offers two listings for b's one; returns (offer, [a1, a2], b1)."""
    a, b = stallholders[:2]
    given = bring(a, fair, 2)
    (wanted,) = bring(b, fair)
    made = swaps.make_offer(a, fair, wanted.id, [listing.id for listing in given], "两台换你一台，可以吗？")
    db.session.commit()
    return made, given, wanted


# --- offering ------------------------------------------------------------------------------------


def test_an_offer_waits_for_the_owner_who_is_told(db, fair, stallholders, offer, notices_of):
    made, given, wanted = offer
    a, b = stallholders[:2]
    assert (made.status, made.offerer_id, made.owner_id, made.want_listing_id) == ("pending", a.id, b.id, wanted.id)
    assert [listing.id for listing in made.offered_listings] == sorted(listing.id for listing in given)
    assert notices_of(b)[-1] == ("swap.offered", "swap", made.id)
    assert swaps.for_user(b, fair)["received"] == [made]
    assert swaps.for_user(a)["sent"] == [made]


def test_someone_who_is_not_a_stallholder_or_visitor_may_not_offer(
    db, fair, stallholders, bring, make_resident, make_listing_for, register
):
    b = stallholders[1]
    (wanted,) = bring(b, fair)
    outsider = make_resident()
    mine = make_listing_for(outsider)
    with pytest.raises(Forbidden):
        swaps.make_offer(outsider, fair, wanted.id, [mine.id])
    db.session.rollback()
    # Waiting for a stall is not taking part either.
    full = service.get(fair.id)
    full.stalls = full.stalls_taken
    db.session.commit()
    waiting = register(outsider, fair)
    assert waiting.status == "waitlisted"
    with pytest.raises(Forbidden):
        swaps.make_offer(outsider, fair, wanted.id, [mine.id])


def test_a_visitor_may_offer_a_listing_of_their_own(
    db, fair, stallholders, bring, make_resident, make_listing_for, register
):
    (wanted,) = bring(stallholders[1], fair)
    visitor = make_resident()
    register(visitor, fair, "visitor")
    mine = make_listing_for(visitor)
    made = swaps.make_offer(visitor, fair, wanted.id, [mine.id])
    assert made.status == "pending"


def test_an_offer_for_ones_own_listing_is_invalid(db, fair, stallholders, bring):
    a = stallholders[0]
    mine, other = bring(a, fair, 2)
    with pytest.raises(Invalid) as exc:
        swaps.make_offer(a, fair, mine.id, [other.id])
    assert list(exc.value.errors) == ["want_listing_id"]


def test_offers_name_listings_at_the_event_and_ones_own_on_sale(
    db, fair, stallholders, bring, make_listing_for, make_event, register
):
    a, b, c = stallholders[:3]
    (wanted,) = bring(b, fair)
    mine = make_listing_for(a)
    not_here = make_listing_for(b)
    (theirs,) = bring(c, fair)
    cases = [
        (not_here.id, [mine.id], "want_listing_id"),
        (wanted.id, [], "offer_listing_ids"),
        (wanted.id, [theirs.id], "offer_listing_ids"),
        (wanted.id, [mine.id, 99999], "offer_listing_ids"),
    ]
    for want_id, offered, field in cases:
        with pytest.raises(Invalid) as exc:
            swaps.make_offer(a, fair, want_id, offered)
        assert list(exc.value.errors) == [field], (want_id, offered, exc.value.errors)
        db.session.rollback()
    listings.mark_sold(a, mine)
    db.session.commit()
    with pytest.raises(Invalid) as exc:
        swaps.make_offer(a, fair, wanted.id, [mine.id])
    assert list(exc.value.errors) == ["offer_listing_ids"]


def test_a_second_pending_offer_for_the_same_listing_is_a_conflict(db, fair, stallholders, offer, make_listing_for):
    _made, _given, wanted = offer
    with pytest.raises(Conflict):
        swaps.make_offer(stallholders[0], fair, wanted.id, [make_listing_for(stallholders[0]).id])


def test_no_offers_once_the_event_is_over_or_cancelled(db, organiser, fair, stallholders, offer, make_past):
    made, _given, wanted = offer
    make_past(fair)
    with pytest.raises(Conflict):
        swaps.make_offer(stallholders[2], fair, wanted.id, [])
    with pytest.raises(Conflict):
        swaps.accept(stallholders[1], made)
    db.session.rollback()
    assert _statuses(db, made, wanted) == ["pending", "active"]


# --- accepting ---------------------------------------------------------------------------------------


def test_accepting_swaps_every_listing_and_completes_an_order_for_each(db, fair, stallholders, offer, notices_of):
    made, (a1, a2), b1 = offer
    a, b = stallholders[:2]
    assert {a1.id, a2.id, b1.id} <= _at_event(fair)

    orders = swaps.accept(b, made)
    db.session.commit()

    assert _statuses(db, made, a1, a2, b1) == ["accepted", "swapped", "swapped", "swapped"]
    assert made.decided_at is not None
    assert orders == _orders(db) == swaps.orders_of(made)
    moved = {(o.listing_id, o.buyer_id, o.seller_id) for o in orders}
    assert moved == {(b1.id, a.id, b.id), (a1.id, b.id, a.id), (a2.id, b.id, a.id)}
    for order in orders:
        assert (order.status, order.price_fen, order.swap_offer_id) == ("completed", 0, made.id)
        assert order.completed_at is not None
        assert ratings.can_rate(a, order) and ratings.can_rate(b, order)
    # Searches (the event's page among them) no longer find them.
    assert _at_event(fair).isdisjoint({a1.id, a2.id, b1.id})
    found = {listing.id for listing in search_listings(SearchParams(q="华为")).items}
    assert found.isdisjoint({a1.id, a2.id, b1.id})
    assert ("swap.accepted", "order", orders[0].id) in notices_of(a)
    assert {("swap.accepted", "order", o.id) for o in orders[1:]} <= set(notices_of(b))


def test_both_parties_rate_the_swap_orders(db, stallholders, offer):
    made, _given, _wanted = offer
    a, b = stallholders[:2]
    orders = swaps.accept(b, made)
    db.session.commit()
    for order in orders:
        ratings.rate(db.session.get(User, order.buyer_id), order, {"accuracy": 5, "communication": 5, "punctuality": 5})
        ratings.rate(db.session.get(User, order.seller_id), order, {"punctuality": 5, "communication": 5})
    db.session.commit()
    assert not any(ratings.can_rate(who, order) for who in (a, b) for order in orders)


def test_a_listing_sold_meanwhile_stops_the_whole_swap(db, stallholders, offer, notices_of):
    made, (a1, a2), b1 = offer
    a, b = stallholders[:2]
    listings.mark_sold(a, a2)
    db.session.commit()
    before = notices_of(a)

    with pytest.raises(Conflict):
        swaps.accept(b, made)
    db.session.rollback()  # as the request would

    assert _statuses(db, made, a1, a2, b1) == ["pending", "active", "sold", "active"]
    assert made.decided_at is None
    assert _orders(db) == []
    assert notices_of(a) == before


def test_accepting_voids_the_other_pending_offers_on_those_listings(db, fair, stallholders, offer, bring, notices_of):
    made, (a1, a2), b1 = offer
    a, b, c, d = stallholders
    c1, c2 = bring(c, fair, 2)
    (d1,) = bring(d, fair)
    wants_the_same = swaps.make_offer(c, fair, b1.id, [c1.id])
    wants_a_given_one = swaps.make_offer(d, fair, a1.id, [d1.id])
    gives_a_given_one = swaps.make_offer(a, fair, c2.id, [a2.id])
    unrelated = swaps.make_offer(d, fair, c1.id, [d1.id])
    db.session.commit()

    swaps.accept(b, made)
    db.session.commit()

    assert _statuses(db, wants_the_same, wants_a_given_one, gives_a_given_one, unrelated) == [
        "void",
        "void",
        "void",
        "pending",
    ]
    assert ("swap.void", "swap", wants_the_same.id) in notices_of(c)
    assert ("swap.void", "swap", wants_a_given_one.id) in notices_of(d)
    assert ("swap.void", "swap", gives_a_given_one.id) in notices_of(a)
    assert ("swap.void", "swap", unrelated.id) not in notices_of(d)
    assert _statuses(db, c1, c2, d1) == ["active", "active", "active"]


def test_only_the_owner_accepts_or_declines_and_only_the_offerer_withdraws(db, organiser, stallholders, offer):
    made, _given, wanted = offer
    a, b, c = stallholders[:3]
    for who in (a, c, organiser):
        with pytest.raises(Forbidden):
            swaps.accept(who, made)
        with pytest.raises(Forbidden):
            swaps.decline(who, made)
    for who in (b, c):
        with pytest.raises(Forbidden):
            swaps.withdraw(who, made)
    db.session.rollback()
    assert _statuses(db, made, wanted) == ["pending", "active"]
    assert _orders(db) == []


def test_only_the_parties_and_the_organiser_see_an_offer(db, organiser, stallholders, offer):
    made, _given, _wanted = offer
    a, b, c = stallholders[:3]
    for who in (a, b, organiser):
        assert swaps.get(who, made.id).id == made.id
    with pytest.raises(NotFound):
        swaps.get(c, made.id)
    with pytest.raises(NotFound):
        swaps.get(a, 99999)


def test_a_declined_offer_is_told_and_can_no_longer_be_accepted(db, stallholders, offer, notices_of):
    made, given, wanted = offer
    a, b = stallholders[:2]
    swaps.decline(b, made)
    db.session.commit()
    assert _statuses(db, made) == ["declined"]
    assert notices_of(a)[-1] == ("swap.declined", "swap", made.id)
    for step in (lambda: swaps.accept(b, made), lambda: swaps.decline(b, made), lambda: swaps.withdraw(a, made)):
        with pytest.raises(Conflict):
            step()
        db.session.rollback()
    assert _statuses(db, made, wanted, *given) == ["declined", "active", "active", "active"]
    assert _orders(db) == []


def test_a_withdrawn_offer_can_no_longer_be_accepted(db, stallholders, offer):
    made, _given, wanted = offer
    a, b = stallholders[:2]
    swaps.withdraw(a, made)
    db.session.commit()
    assert _statuses(db, made) == ["withdrawn"]
    with pytest.raises(Conflict):
        swaps.accept(b, made)
    db.session.rollback()
    assert _statuses(db, made, wanted) == ["withdrawn", "active"]
    assert _orders(db) == []


@pytest.mark.parametrize("leaving", ["owner", "offerer"])
def test_a_swap_cannot_complete_once_a_party_has_left_the_event(db, fair, stallholders, offer, leaving):
    made, (a1, a2), b1 = offer
    a, b = stallholders[:2]
    who = {"owner": b, "offerer": a}[leaving]
    service.cancel_registration(who, service.registration_of(who, fair))
    db.session.commit()
    with pytest.raises(Conflict):
        swaps.accept(b, made)
    db.session.rollback()
    assert _statuses(db, a1, a2, b1) == ["active", "active", "active"]
    assert _orders(db) == []


def test_a_swap_cannot_complete_with_an_offerer_suspended_meanwhile(db, stallholders, offer, moderator):
    from marketplace.errors import DomainError
    from marketplace.trust import service as trust

    made, (a1, _a2), b1 = offer
    a, b = stallholders[:2]
    trust.propose(a, reason="low_score", proposer=moderator, decision_id=None)
    db.session.commit()
    with pytest.raises(DomainError):
        swaps.accept(b, made)
    db.session.rollback()
    assert _statuses(db, made, a1, b1) == ["pending", "active", "active"]
    assert _orders(db) == []


# --- at the same moment -------------------------------------------------------------------------------


def _accept(owner_id: int, offer_id: int):
    return lambda s: swaps.accept(s.get(User, owner_id), s.get(SwapOffer, offer_id))


@pytest.mark.parametrize("rounds", [3])
def test_two_owners_accepting_offers_of_the_same_listing_at_once_have_one_winner(
    app, db, fair, stallholders, bring, rounds
):
    a, b, c = stallholders[:3]
    for _ in range(rounds):
        (a1,) = bring(a, fair)
        (b1,) = bring(b, fair)
        (c1,) = bring(c, fair)
        to_b = swaps.make_offer(a, fair, b1.id, [a1.id])
        to_c = swaps.make_offer(a, fair, c1.id, [a1.id])
        db.session.commit()
        ids = {"b": (b.id, to_b.id), "c": (c.id, to_c.id)}

        outcome = race(app, db, {who: _accept(*pair) for who, pair in ids.items()})

        assert sorted(outcome.values()) == ["Conflict", "ok"], outcome
        winner, loser = (to_b, to_c) if outcome["b"] == "ok" else (to_c, to_b)
        assert _statuses(db, winner, loser) == ["accepted", "void"]
        assert _statuses(db, a1) == ["swapped"]
        won, lost = (b1, c1) if winner is to_b else (c1, b1)
        assert _statuses(db, won, lost) == ["swapped", "active"]
        orders = list(db.session.scalars(sa.select(Order).where(Order.listing_id.in_((a1.id, b1.id, c1.id)))))
        assert {o.swap_offer_id for o in orders} == {winner.id} and len(orders) == 2


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


def _meanwhile(app, db, first, second, reached, release) -> dict:
    """Run `first` until it reaches its pause, start `second`, let it get as far as it can, then finish both."""
    db.session.commit()  # and touch nothing until the threads are done: SQLite would lock them out
    outcome: dict = {}
    one = in_thread(app, first, outcome, "first")
    assert reached.wait(20), outcome
    two = in_thread(app, second, outcome, "second")
    time.sleep(0.5)  # PostgreSQL: the second takes the locks it can; SQLite: it waits for the write lock
    release.set()
    one.join(JOIN)
    two.join(JOIN)
    db.session.expire_all()
    return outcome


def test_an_accept_that_finds_the_listing_being_swapped_is_told_so(app, db, fair, stallholders, bring, monkeypatch):
    a, b, c = stallholders[:3]
    (a1,) = bring(a, fair)
    (b1,) = bring(b, fair)
    (c1,) = bring(c, fair)
    to_b = swaps.make_offer(a, fair, b1.id, [a1.id])
    to_c = swaps.make_offer(a, fair, c1.id, [a1.id])
    # b's accept has swapped the listings and stops before voiding the other offers.
    reached, release = _pause_on(monkeypatch, swaps, "_void_others")

    outcome = _meanwhile(app, db, _accept(b.id, to_b.id), _accept(c.id, to_c.id), reached, release)

    assert outcome == {"first": "ok", "second": "Conflict"}
    assert _statuses(db, to_b, to_c, a1, b1, c1) == ["accepted", "void", "swapped", "swapped", "active"]
    assert {o.swap_offer_id for o in _orders(db)} == {to_b.id}


def test_an_accept_racing_the_events_cancellation_is_all_or_nothing(
    app, db, organiser, fair, stallholders, bring, monkeypatch
):
    a, b = stallholders[:2]
    (a1,) = bring(a, fair)
    (b1,) = bring(b, fair)
    made = swaps.make_offer(a, fair, b1.id, [a1.id])
    ids = (b.id, made.id, organiser.id, fair.id)
    # The accept has taken the offer and stops before swapping the listings.
    reached, release = _pause_on(monkeypatch, listings, "swap_away")

    def cancel(s):
        service.cancel(s.get(User, ids[2]), service.get(ids[3]), "场地临时被学校征用，改期另行通知")

    outcome = _meanwhile(app, db, _accept(ids[0], ids[1]), cancel, reached, release)

    assert outcome["second"] == "ok", outcome
    assert outcome["first"] in ("ok", "Conflict"), outcome
    assert service.get(fair.id).status == "cancelled"
    if outcome["first"] == "ok":
        assert _statuses(db, made, a1, b1) == ["accepted", "swapped", "swapped"]
        assert len(_orders(db)) == 2
    else:
        assert _statuses(db, made, a1, b1) == ["void", "active", "active"]
        assert _orders(db) == []
