"""The orders part of a person's data export (my data → download): their orders and the messages they sent."""

from __future__ import annotations

import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.db import db
from marketplace.orders.models import Order, OrderMessage


def _iso(value):
    return value.isoformat() if value is not None else None


def export_orders(user: User) -> list[dict]:
    """Every order the user took part in, with their side of it and the messages they wrote."""
    orders = db.session.scalars(
        sa.select(Order).where(sa.or_(Order.buyer_id == user.id, Order.seller_id == user.id)).order_by(Order.id)
    ).all()
    sent = db.session.execute(
        sa.select(OrderMessage.order_id, OrderMessage.body, OrderMessage.created_at)
        .where(OrderMessage.sender_id == user.id)
        .order_by(OrderMessage.id)
    ).all()
    by_order: dict[int, list[dict]] = {}
    for order_id, body, at in sent:
        by_order.setdefault(order_id, []).append({"at": _iso(at), "body": body})
    return [
        {
            "id": order.id,
            "role": order.party(user),
            "listing_id": order.listing_id,
            "listing_title": order.listing.title,
            "status": order.status,
            "price_fen": order.price_fen,
            "payment_method": order.payment_method,
            "message": order.message,
            "created_at": _iso(order.created_at),
            "accepted_at": _iso(order.accepted_at),
            "completed_at": _iso(order.completed_at),
            "cancelled_at": _iso(order.cancelled_at),
            "cancel_reason": order.cancel_reason,
            "breach": order.breach,
            "dispute_reason": order.dispute_reason,
            "messages_sent": by_order.get(order.id, []),
        }
        for order in orders
    ]


def _register() -> None:
    from marketplace.identity.privacy import register_export_section

    register_export_section("orders", export_orders)


_register()
