"""Random sequences of everything the parties, a stranger and a moderator may try, with the rules checked after each.

Each example gets a fresh listing (the users are shared across examples); each step calls
one service as a request would: commit on success, roll back on a domain error. Any
other exception fails the test. The clock is advanced by moving an order's stored
times back, so nothing is patched.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import sqlalchemy as sa
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from marketplace.accounts.models import User
from marketplace.db import utcnow
from marketplace.errors import DomainError
from marketplace.listings.models import Listing
from marketplace.orders import messages
from marketplace.orders import service as orders
from marketplace.orders.models import HOLDING, Order
from marketplace.ratings import service as ratings
from marketplace.ratings.models import DIMENSIONS, Rating

BUYERS = ("b1", "b2", "b3")
FINAL = ("completed", "cancelled", "declined")
NEXT = {
    "requested": {"requested", "accepted", "cancelled", "declined"},
    "accepted": {"accepted", "completed", "cancelled", "disputed"},
    "disputed": {"disputed", "completed", "cancelled"},
}
PHONE_TEXT = "加微信或打 13912345678"

# Who acts on an order: mostly its two parties, sometimes a stranger or a moderator.
ACTORS = st.sampled_from(["buyer", "seller", "buyer", "seller", "outsider", "mod"])
pick = st.integers(0, 50)
reasons = st.sampled_from(["临时有事", "临时有事", "", PHONE_TEXT])
score = st.one_of(st.integers(1, 5), st.sampled_from([0, 6, True, 4.5, "5", "x", None]))
# "valid": 1–5 on exactly the dimensions of the rater's role; or any mapping, mostly wrong.
scores = st.one_of(
    st.just("valid"),
    st.just("valid"),
    st.dictionaries(st.sampled_from(["accuracy", "communication", "punctuality", "speed"]), score, max_size=4),
)


def _score_ok(value) -> bool:
    if isinstance(value, str) and value.strip() in ("1", "2", "3", "4", "5"):
        value = int(value.strip())
    return type(value) is int and 1 <= value <= 5


def _scores_ok(role: str, given: dict) -> bool:
    return set(given) == set(DIMENSIONS[role]) and all(_score_ok(v) for v in given.values())


def test_orders_and_ratings_keep_their_rules(app, db, make_user, verified_user, moderator, make_listing):
    ids = {"outsider": make_user("outsider").id, "mod": moderator.id}
    ids |= {name: make_user(name).id for name in BUYERS}
    examples = itertools.count()

    def user(name: str) -> User:
        return db.session.get(User, ids[name])

    class Machine(RuleBasedStateMachine):
        @initialize(
            requests=st.integers(0, 3),
            stage=st.sampled_from(["requested", "accepted", "completed", "rated"]),
        )
        def fresh_listing(self, requests, stage):
            """A new listing for each example, often with requests, the first of them some way along."""
            db.session.rollback()
            # A seller per example: breaches cost credit, and a poor band would cap their listings.
            n = next(examples)
            ids["seller"] = verified_user(f"sm_seller{n}").id
            self.listing_id = make_listing(user=user("seller"), title=f"二手手机 {n}").id
            self.rating_ids: list[int] = []
            self.seen: dict[int, str] = {}
            made = [orders.request(user(name), self.listing_id, "还在吗？") for name in BUYERS[:requests]]
            self.order_ids = [order.id for order in made]
            if made and stage != "requested":
                first = made[0]
                orders.accept(user("seller"), first)
                if stage in ("completed", "rated"):
                    orders.complete(user("b1"), first)
                if stage == "rated":
                    low = {"accuracy": 2, "communication": 4, "punctuality": 5}
                    self.rating_ids.append(ratings.rate(user("b1"), first, low).id)
            db.session.commit()

        # --- plumbing -------------------------------------------------------------------

        @staticmethod
        def who(order: Order, actor: str) -> tuple[User, str | None]:
            """The acting user ("buyer", "seller" of the order, "outsider", "mod") and their party."""
            person = db.session.get(User, {"buyer": order.buyer_id, "seller": order.seller_id}.get(actor) or ids[actor])
            return person, order.party(person)

        def order(self, i: int) -> Order:
            return db.session.get(Order, self.order_ids[i % len(self.order_ids)])

        def rating(self, j: int) -> Rating:
            return db.session.get(Rating, self.rating_ids[j % len(self.rating_ids)])

        @staticmethod
        def attempt(call) -> object | None:
            """Run one service call as a request: the result on success, None on a domain error."""
            try:
                result = call()
            except DomainError:
                db.session.rollback()
                return None
            db.session.commit()
            return result

        def has_orders(self):
            return bool(self.order_ids)

        def has_ratings(self):
            return bool(self.rating_ids)

        # --- the life of an order --------------------------------------------------------

        @rule(
            actor=st.sampled_from((*BUYERS, *BUYERS, "seller")),
            message=st.sampled_from(["还在吗？", "还在吗？", "还在吗？", "", PHONE_TEXT]),
            price=st.sampled_from([None, None, None, "12.5", "x"]),
        )
        def request(self, actor, message, price):
            listing = db.session.get(Listing, self.listing_id)
            was_active = listing.status == "active"
            terms = orders.Terms(price=price)
            made = self.attempt(lambda: orders.request(user(actor), self.listing_id, message, terms))
            if made is not None:
                assert actor != "seller" and was_active and message != PHONE_TEXT and price != "x"
                self.order_ids.append(made.id)

        @precondition(has_orders)
        @rule(actor=ACTORS, i=pick)
        def accept(self, actor, i):
            order = self.order(i)
            (person, _), was = self.who(order, actor), order.status
            free = db.session.get(Listing, self.listing_id).status == "active"
            done = self.attempt(lambda: orders.accept(person, order))
            if done is not None:
                assert actor == "seller" and was == "requested" and free
            elif actor == "seller" and was == "requested" and free:
                raise AssertionError("the seller could not accept a request for a listing on sale")

        @precondition(has_orders)
        @rule(actor=ACTORS, i=pick)
        def complete(self, actor, i):
            order = self.order(i)
            (person, party), was = self.who(order, actor), order.status
            done = self.attempt(lambda: orders.complete(person, order))
            if done is not None:
                assert party == "buyer" and was == "accepted"
            elif party == "buyer" and was == "accepted":
                raise AssertionError("the buyer could not confirm an accepted order")

        @precondition(has_orders)
        @rule(actor=ACTORS, i=pick, reason=reasons)
        def cancel(self, actor, i, reason):
            order = self.order(i)
            (person, party), was, overdue = self.who(order, actor), order.status, orders.is_overdue(order)
            done = self.attempt(lambda: orders.cancel(person, order, reason))
            if done is not None:
                assert party and reason == "临时有事" and was in ("requested", "accepted") and not overdue
                assert done.breach == (party == "seller" and was == "accepted")

        @precondition(has_orders)
        @rule(actor=ACTORS, i=pick, reason=reasons)
        def dispute(self, actor, i, reason):
            order = self.order(i)
            (person, party), was = self.who(order, actor), order.status
            if self.attempt(lambda: orders.dispute(person, order, reason)) is not None:
                assert party and reason == "临时有事" and was == "accepted"

        @precondition(has_orders)
        @rule(
            actor=st.sampled_from(["mod", "mod", "outsider", "seller"]),
            i=pick,
            outcome=st.sampled_from(["completed", "cancelled", "refund"]),
            note=st.sampled_from(["", "核实聊天记录后处理"]),
        )
        def resolve(self, actor, i, outcome, note):
            order = self.order(i)
            (person, _), was = self.who(order, actor), order.status
            if self.attempt(lambda: orders.resolve(person, order, outcome, note)) is not None:
                assert actor == "mod" and was == "disputed" and outcome != "refund" and note

        @precondition(has_orders)
        @rule(actor=ACTORS, i=pick, body=st.sampled_from(["还在吗？", "", PHONE_TEXT, "响铃\x07"]))
        def message(self, actor, i, body):
            order = self.order(i)
            person, party = self.who(order, actor)
            if self.attempt(lambda: messages.post(person, order, body)) is not None:
                assert party and body == "还在吗？"

        @precondition(has_orders)
        @rule(i=pick, days=st.sampled_from([1, 3, 6, 8, 15]))
        def advance_clock(self, i, days):
            """Time passes for one order: every stored time of it and of its ratings moves back."""
            order, delta = self.order(i), timedelta(days=days)
            for name in ("created_at", "accepted_at", "completed_at", "cancelled_at", "disputed_at"):
                if getattr(order, name) is not None:
                    setattr(order, name, getattr(order, name) - delta)
            for rating in db.session.scalars(sa.select(Rating).where(Rating.order_id == order.id)):
                rating.created_at -= delta
                rating.visible_from -= delta
            db.session.commit()

        @rule()
        def settle(self):
            due = [i for i in orders.overdue_ids() if i in self.order_ids]
            assert orders.settle_ids(due) == len(due)
            db.session.commit()
            assert not [i for i in orders.overdue_ids() if i in self.order_ids]
            for order_id in due:
                order = db.session.get(Order, order_id)
                assert order.auto_completed and order.completed_at >= orders.due_at(order)

        # --- ratings ---------------------------------------------------------------------

        @precondition(has_orders)
        @rule(
            actor=ACTORS,
            i=pick,
            given=scores,
            level=st.integers(1, 5),
            comment=st.sampled_from(["", "顺利", PHONE_TEXT]),
        )
        def rate(self, actor, i, given, level, comment):
            order = self.order(i)
            (person, party), was, overdue = self.who(order, actor), order.status, orders.is_overdue(order)
            if given == "valid":
                given = dict.fromkeys(DIMENSIONS[party or "buyer"], level)
            rated = ratings.rating_by(order, person) is not None
            in_window = was == "completed" and utcnow() < ratings.deadline(order)
            valid = party is not None and _scores_ok(party, given) and comment != PHONE_TEXT
            made = self.attempt(lambda: ratings.rate(person, order, given, comment))
            if made is not None:
                assert valid and not rated and (was == "completed" or overdue)
                assert made.rater_role == party
                self.rating_ids.append(made.id)
            elif valid and in_window and not rated:
                raise AssertionError(f"a valid rating by the {party} was refused")

        @precondition(has_ratings)
        @rule(actor=ACTORS, j=pick, text=st.sampled_from(["谢谢评价", "谢谢评价", ""]))
        def reply(self, actor, j, text):
            rating = self.rating(j)
            (person, _), visible, replied = self.who(rating.order, actor), rating.is_visible(), rating.reply is not None
            if self.attempt(lambda: ratings.reply(person, rating, text)) is not None:
                assert person.id == rating.ratee_id and visible and not replied and text

        @precondition(has_ratings)
        @rule(actor=st.sampled_from(["mod", "mod", "outsider", "seller"]), j=pick, reason=st.sampled_from(["", "辱骂"]))
        def fold(self, actor, j, reason):
            rating = self.rating(j)
            (person, _), folded = self.who(rating.order, actor), rating.folded_at is not None
            if self.attempt(lambda: ratings.fold(person, rating, reason)) is not None:
                assert actor == "mod" and not folded and reason

        # --- the rules that always hold ----------------------------------------------------

        @invariant()
        def one_holder_and_the_listing_follows(self):
            listing = db.session.get(Listing, self.listing_id)
            mine = db.session.scalars(sa.select(Order).where(Order.listing_id == self.listing_id)).all()
            holding = [o for o in mine if o.status in HOLDING]
            completed = [o for o in mine if o.status == "completed"]
            assert len(holding) <= 1 and len(completed) <= 1
            assert not (holding and completed)
            expected = "reserved" if holding else "sold" if completed else "active"
            assert listing.status == expected, (listing.status, [(o.id, o.status) for o in mine])
            if completed:
                assert not [o for o in mine if o.status == "requested"]  # the others were declined

        @invariant()
        def orders_move_forward_only(self):
            for order in db.session.scalars(sa.select(Order).where(Order.listing_id == self.listing_id)):
                before = self.seen.get(order.id)
                if before in FINAL:
                    assert order.status == before, (order.id, before, order.status)
                elif before is not None:
                    assert order.status in NEXT[before], (order.id, before, order.status)
                self.seen[order.id] = order.status

        @invariant()
        def ratings_follow_the_rules(self):
            now = utcnow()
            rows = db.session.scalars(
                sa.select(Rating).join(Order, Rating.order_id == Order.id).where(Order.listing_id == self.listing_id)
            ).all()
            by_order: dict[int, list[Rating]] = {}
            for rating in rows:
                by_order.setdefault(rating.order_id, []).append(rating)
            for order_id, given in by_order.items():
                order = db.session.get(Order, order_id)
                assert order.status == "completed"
                assert len({r.rater_id for r in given}) == len(given) <= 2
                both = len(given) == 2
                for rating in given:
                    role = {order.buyer_id: "buyer", order.seller_id: "seller"}.get(rating.rater_id)
                    assert role == rating.rater_role and rating.ratee_id == order.counterparty_id(rating.rater)
                    if rating.is_visible(now):
                        assert both or now >= ratings.deadline(order), "a lone rating was revealed early"
                    if both:
                        assert rating.is_visible(now), "both rated but a rating is still hidden"

    run_state_machine_as_test(
        Machine, settings=settings(max_examples=40, stateful_step_count=25, deadline=None, print_blob=True)
    )
