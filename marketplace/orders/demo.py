"""Demo orders and ratings for seed-demo: deals in every state, made through the services.

Times are moved into the past afterwards, so the demo shows revealed ratings, an
order about to complete on its own, and sellers with a reputation. One seller
(张伟的闲置) has a dozen well-rated sales, one buyer is let down by a listing
(an accuracy of 2 opens a report), and one seller breaks an accepted order.
"""

from __future__ import annotations

import random
from datetime import timedelta

import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.db import db
from marketplace.listings.models import Listing
from marketplace.orders import messages
from marketplace.orders import service as orders
from marketplace.orders.models import Order, OrderEvent
from marketplace.ratings import service as ratings
from marketplace.ratings.models import Rating

GOOD_COMMENTS = (
    "东西和描述一致，卖家很守时，推荐！",
    "成色很好，当面验货没问题。",
    "沟通顺畅，价格公道。",
    "",
    "第二次在这位卖家这里买了，放心。",
)
BUYER_COMMENTS = ("买家很准时，爽快。", "", "沟通愉快。")
MESSAGES = (
    ("buyer", "你好，周六上午在小区门口交易可以吗？"),
    ("seller", "可以的，十点见，到了在群里说一声。"),
    ("buyer", "好的，我带现金。"),
)


def _shift(order: Order, days: float) -> None:
    """Move every time of an order (and its timeline) `days` into the past."""
    delta = timedelta(days=days)
    for column in ("created_at", "accepted_at", "completed_at", "cancelled_at", "disputed_at"):
        value = getattr(order, column)
        if value is not None:
            setattr(order, column, value - delta)
    db.session.flush()
    for event in db.session.scalars(sa.select(OrderEvent).where(OrderEvent.order_id == order.id)):
        event.at -= delta


def _rate(
    order: Order, buyer: User, seller: User, rng: random.Random, *, accuracy: int | None = None, star: bool = False
) -> None:
    high = (5, 5, 5, 5, 5, 5, 4) if star else (5, 5, 5, 4)
    ratings.rate(
        buyer,
        order,
        {
            "accuracy": accuracy or rng.choice(high),
            "communication": rng.choice(high),
            "punctuality": rng.choice(high),
        },
        rng.choice(GOOD_COMMENTS) if accuracy is None else "实物有明显划痕，描述里说的是无划痕，和描述不符。",
    )
    if accuracy is None or rng.random() < 0.5:
        ratings.rate(
            seller,
            order,
            {"communication": rng.choice(high), "punctuality": rng.choice(high)},
            rng.choice(BUYER_COMMENTS),
        )


def _age_ratings(order: Order, days: float) -> None:
    delta = timedelta(days=days)
    for rating in db.session.scalars(sa.select(Rating).where(Rating.order_id == order.id)):
        rating.created_at -= delta
        rating.visible_from -= delta


def seed_orders(users: dict[str, User], rng: random.Random) -> dict[str, int]:
    """Deals between the demo users on their active listings; returns the count per order status."""
    buyers = [u for name, u in users.items() if name in BUYERS]
    active = list(
        db.session.scalars(
            sa.select(Listing).where(Listing.status == "active", Listing.recycle_only.is_(False)).order_by(Listing.id)
        )
    )
    star = users["zhangwei"]
    starred = [listing for listing in active if listing.seller_id == star.id][:12]
    others = [listing for listing in active if listing.seller_id != star.id]
    rng.shuffle(others)
    plan = [(listing, "completed") for listing in starred]
    states = (
        ["completed"] * 14
        + ["accepted"] * 4
        + ["requested"] * 6
        + ["cancelled", "breach", "disputed", "overdue", "poor"]
    )
    plan += list(zip(others, states, strict=False))
    for i, (listing, state) in enumerate(plan):
        seller = listing.seller
        buyer = rng.choice([b for b in buyers if b.id != seller.id])
        order = orders.request(buyer, listing.id, rng.choice(("请问还在吗？", "周末可以看货吗？", "")))
        if state == "requested":
            continue
        orders.accept(seller, order)
        for who, text in MESSAGES[: rng.randint(0, 3)]:
            messages.post(buyer if who == "buyer" else seller, order, text)
        if state in ("completed", "poor"):
            orders.complete(buyer, order)
            _rate(order, buyer, seller, rng, accuracy=2 if state == "poor" else None, star=seller.id == star.id)
            # Spread the deals over the last months; the oldest ones' lone ratings are revealed by now.
            age = 3 + (i * 97 % 150)
            _shift(order, age)
            _age_ratings(order, age)
        elif state == "cancelled":
            orders.cancel(buyer, order, "临时有事去外地，暂时不需要了，抱歉。")
        elif state == "breach":
            orders.cancel(seller, order, "家里人说这个还要用，不卖了。")
        elif state == "disputed":
            orders.dispute(buyer, order, "约好的时间卖家没有来，电话也不接，商品一直被预留着。")
        elif state == "overdue":
            # Accepted six and a half days ago: completes on its own within a day.
            _shift(order, 6.5)
    db.session.flush()
    # Lone ratings whose window has closed by now are revealed: their rewards are due, as maintenance would pay.
    ratings.credit_revealed(ratings.unrewarded_revealed())
    counts = dict(db.session.execute(sa.select(Order.status, sa.func.count()).group_by(Order.status)).all())
    counts["ratings"] = db.session.scalar(sa.select(sa.func.count()).select_from(Rating))
    return counts


BUYERS = ("wangfang", "liuyang", "chenjing", "yangfan", "mahui", "nxu_lin", "nxu_he", "nmu_bai", "newbie", "visitor_li")
