"""Lists of orders: one's purchases and sales, a listing's requests, the disputes waiting for a moderator."""

from __future__ import annotations

import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.db import db
from marketplace.listings.models import Listing
from marketplace.orders.models import HOLDING, Order


def orders_of(
    user: User,
    role: str,
    *,
    status: str | tuple[str, ...] | None = None,
    before_id: int | None = None,
    limit: int = 20,
):
    """A page of `user`'s purchases (role "buyer") or sales ("seller"), newest first; keyset by id.

    `status` is one status or a tuple of them (the pages' "cancelled or declined" filter).
    """
    column = Order.buyer_id if role == "buyer" else Order.seller_id
    query = sa.select(Order).where(column == user.id)
    if isinstance(status, str):
        query = query.where(Order.status == status)
    elif status is not None:
        query = query.where(Order.status.in_(status))
    if before_id is not None:
        query = query.where(Order.id < before_id)
    return list(db.session.scalars(query.order_by(Order.id.desc()).limit(limit)))


def disputed(*, after_id: int | None = None, limit: int = 20) -> list[Order]:
    """A page of disputed orders for moderators, oldest order first (keyset: ids above `after_id`)."""
    query = sa.select(Order).where(Order.status == "disputed")
    if after_id is not None:
        query = query.where(Order.id > after_id)
    return list(db.session.scalars(query.order_by(Order.id).limit(limit)))


def requests_for(listing: Listing) -> list[Order]:
    """The open requests and the holding order of a listing, oldest first (for its seller)."""
    return list(
        db.session.scalars(
            sa.select(Order)
            .where(Order.listing_id == listing.id, Order.status.in_(("requested", *HOLDING)))
            .order_by(Order.id)
        )
    )


def open_request_by(buyer: User, listing_id: int) -> Order | None:
    """The buyer's order on the listing that is still going (requested, accepted or disputed), if any."""
    return db.session.scalar(
        sa.select(Order)
        .where(
            Order.listing_id == listing_id,
            Order.buyer_id == buyer.id,
            Order.status.in_(("requested", *HOLDING)),
        )
        .order_by(Order.id.desc())
        .limit(1)
    )
