"""Orders, their timeline and the message thread between the two parties."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import User
from marketplace.db import UTCDateTime, db, utcnow
from marketplace.listings.models import Listing

ORDER_STATUSES = ("requested", "accepted", "completed", "cancelled", "declined", "disputed")
# The states in which an order holds its listing (reserved): at most one per listing.
HOLDING = ("accepted", "disputed")
# Statuses in which the two parties may still write to each other.
MESSAGING = ("requested", "accepted", "disputed", "completed")
PAYMENT_METHODS = ("cash", "wechat", "alipay", "other")
PARTIES = ("buyer", "seller")
EVENT_KINDS = (
    "requested",
    "accepted",
    "completed",
    "auto_completed",
    "cancelled",
    "declined",
    "disputed",
    "resolved",
)


class Order(db.Model):
    """A buyer's request for a listing and what became of it; money changes hands offline."""

    __tablename__ = "orders"
    __table_args__ = (
        sa.CheckConstraint(f"status IN {ORDER_STATUSES!r}", name="status"),
        sa.CheckConstraint(f"payment_method IN {PAYMENT_METHODS!r}", name="payment_method"),
        sa.CheckConstraint("price_fen >= 0 AND price_fen <= 100000000000", name="price_range"),
        sa.CheckConstraint("buyer_id <> seller_id", name="two_parties"),
        sa.CheckConstraint(
            "cancelled_by IS NULL OR cancelled_by IN ('buyer', 'seller', 'moderator')", name="cancelled_by"
        ),
        # The conditional UPDATE of the listing decides who gets it; this index is the
        # database's own guarantee that no two orders ever hold one listing.
        sa.Index(
            "uq_orders_holding_listing",
            "listing_id",
            unique=True,
            sqlite_where=sa.text("status IN ('accepted', 'disputed')"),
            postgresql_where=sa.text("status IN ('accepted', 'disputed')"),
        ),
        # One open request per buyer and listing.
        sa.Index(
            "uq_orders_open_request",
            "listing_id",
            "buyer_id",
            unique=True,
            sqlite_where=sa.text("status = 'requested'"),
            postgresql_where=sa.text("status = 'requested'"),
        ),
        sa.Index("ix_orders_buyer_id", "buyer_id", "id"),
        sa.Index("ix_orders_seller_id", "seller_id", "id"),
        sa.Index("ix_orders_listing_status", "listing_id", "status"),
        # Accepted orders past the hand-over deadline complete on their own.
        sa.Index("ix_orders_status_accepted_at", "status", "accepted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(sa.ForeignKey("listings.id", ondelete="RESTRICT"))
    buyer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    # The listing's seller when the order was made (a listing never changes hands).
    seller_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(sa.String(16), default="requested", server_default="requested")
    # The buyer's note with the request (plain text).
    message: Mapped[str] = mapped_column(sa.Text, default="")
    # The agreed price and how it is paid, face to face: the platform holds no money.
    price_fen: Mapped[int] = mapped_column(sa.BigInteger)
    payment_method: Mapped[str] = mapped_column(sa.String(8), default="cash", server_default="cash")
    # A swap at an event: each side's listing changes hands in an order of its own, completed
    # at once (price 0); the two parties then rate each other as for any order.
    swap_offer_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("swap_offers.id", ondelete="RESTRICT", use_alter=True), default=None, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    auto_completed: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    cancelled_by: Mapped[str | None] = mapped_column(sa.String(16), default=None)
    cancel_reason: Mapped[str | None] = mapped_column(sa.Text, default=None)
    # A seller who cancels an order they accepted breaks their word (the credit ledger reads this).
    breach: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    disputed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    disputed_by: Mapped[str | None] = mapped_column(sa.String(8), default=None)
    dispute_reason: Mapped[str | None] = mapped_column(sa.Text, default=None)

    listing: Mapped[Listing] = relationship(lazy="joined", innerjoin=True)
    buyer: Mapped[User] = relationship(foreign_keys=[buyer_id], lazy="joined", innerjoin=True)
    seller: Mapped[User] = relationship(foreign_keys=[seller_id], lazy="joined", innerjoin=True)
    events: Mapped[list[OrderEvent]] = relationship(
        back_populates="order", order_by="OrderEvent.id", lazy="select", cascade="all, delete-orphan"
    )

    def party(self, user: User | None) -> str | None:
        """'buyer' or 'seller' when `user` is one of the two parties, else None."""
        if user is None:
            return None
        if user.id == self.buyer_id:
            return "buyer"
        if user.id == self.seller_id:
            return "seller"
        return None

    def counterparty_id(self, user: User) -> int:
        """The id of the other party."""
        return self.seller_id if user.id == self.buyer_id else self.buyer_id


class OrderEvent(db.Model):
    """One step of an order's timeline: who did what, when, and why."""

    __tablename__ = "order_events"
    __table_args__ = (sa.CheckConstraint(f"kind IN {EVENT_KINDS!r}", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    # None for what the system did itself (auto-completion, declining when the listing sold).
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(sa.String(16))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    order: Mapped[Order] = relationship(back_populates="events")


class OrderMessage(db.Model):
    """A message between the two parties of an order (plain text, shown escaped)."""

    __tablename__ = "order_messages"
    __table_args__ = (sa.Index("ix_order_messages_order_id", "order_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"))
    sender_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# Loaded with the feature: orders join the person's data export.
from marketplace.orders import export as _export  # noqa: E402, F401
