"""Flea markets, swap events and book-sharing days; registrations, check-ins and swap offers."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import User
from marketplace.db import UTCDateTime, db, utcnow
from marketplace.listings.models import Listing

EVENT_KINDS = ("campus_flea", "community_swap", "book_share")
EVENT_STATUSES = ("open", "closed", "cancelled")
# Who may register: anyone verified; verified students of `campus`; residents of `district`.
RESTRICTIONS = ("none", "campus", "district")
REGISTRATION_ROLES = ("stall", "visitor")
REGISTRATION_STATUSES = ("registered", "waitlisted", "cancelled")
SWAP_STATUSES = ("pending", "accepted", "declined", "withdrawn", "void")
NO_SHOW_APPEAL_STATUSES = ("pending", "excused", "upheld")


class Event(db.Model):
    __tablename__ = "events"
    __table_args__ = (
        sa.CheckConstraint(f"kind IN {EVENT_KINDS!r}", name="kind"),
        sa.CheckConstraint(f"status IN {EVENT_STATUSES!r}", name="status"),
        sa.CheckConstraint(f"restriction IN {RESTRICTIONS!r}", name="restriction"),
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        sa.CheckConstraint("registration_deadline <= starts_at", name="deadline_before_start"),
        sa.CheckConstraint("stalls >= 0 AND stalls <= 2000", name="stalls_range"),
        # The conditional UPDATE that takes a stall checks this too; the database keeps it.
        sa.CheckConstraint("stalls_taken >= 0 AND stalls_taken <= stalls", name="stalls_taken_range"),
        sa.Index("ix_events_starts_at", "starts_at", "id"),
        sa.Index("ix_events_organiser_id", "organiser_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organiser_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(sa.String(16))
    title: Mapped[str] = mapped_column(sa.String(80))
    # Plain text, shown with line breaks.
    description: Mapped[str] = mapped_column(sa.Text, default="")
    venue: Mapped[str] = mapped_column(sa.String(120))
    district: Mapped[str] = mapped_column(sa.String(16))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    registration_deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    stalls: Mapped[int] = mapped_column()
    # Stallholders registered (not waitlisted): moved only by conditional UPDATEs.
    stalls_taken: Mapped[int] = mapped_column(default=0, server_default="0")
    restriction: Mapped[str] = mapped_column(sa.String(16), default="none", server_default="none")
    # The campus code when restriction is "campus" (or the campus hosting a campus market).
    campus: Mapped[str | None] = mapped_column(sa.String(16), default=None)
    status: Mapped[str] = mapped_column(sa.String(16), default="open", server_default="open")
    cancel_reason: Mapped[str | None] = mapped_column(sa.Text, default=None)
    # When no-shows were settled and check-ins counted, after the event ended (once).
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    organiser: Mapped[User] = relationship(lazy="joined", innerjoin=True)


class Registration(db.Model):
    __tablename__ = "event_registrations"
    __table_args__ = (
        sa.CheckConstraint(f"role IN {REGISTRATION_ROLES!r}", name="role"),
        sa.CheckConstraint(f"status IN {REGISTRATION_STATUSES!r}", name="status"),
        sa.CheckConstraint(
            f"appeal_status IS NULL OR appeal_status IN {NO_SHOW_APPEAL_STATUSES!r}", name="appeal_status"
        ),
        # One live registration per person and event (a cancelled one may be followed by another).
        sa.Index(
            "uq_event_registrations_live",
            "event_id",
            "user_id",
            unique=True,
            sqlite_where=sa.text("status <> 'cancelled'"),
            postgresql_where=sa.text("status <> 'cancelled'"),
        ),
        sa.Index("ix_event_registrations_event_status", "event_id", "status", "id"),
        sa.Index("ix_event_registrations_user_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="RESTRICT"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    role: Mapped[str] = mapped_column(sa.String(8))
    status: Mapped[str] = mapped_column(sa.String(16))
    # Random, unguessable, shown as text and as a QR code; the organiser types or scans it.
    checkin_code: Mapped[str] = mapped_column(sa.String(16), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A waitlisted stallholder moved up: when (the list is ordered by id, first come first served).
    promoted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # A stall given up less than 24 hours before the start (counts as a no-show when settled).
    late_cancellation: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    checked_in_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), default=None)
    # Settled after the event: a stallholder who neither cancelled 24 hours ahead nor checked in.
    no_show: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # The stallholder's one appeal of a no-show, decided by the organiser or a moderator.
    appeal_reason: Mapped[str | None] = mapped_column(sa.Text, default=None)
    appeal_status: Mapped[str | None] = mapped_column(sa.String(16), default=None)
    appeal_filed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    appeal_decided_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), default=None)
    appeal_note: Mapped[str | None] = mapped_column(sa.Text, default=None)

    event: Mapped[Event] = relationship(lazy="joined", innerjoin=True)
    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined", innerjoin=True)


class SwapOffer(db.Model):
    """One participant's listing(s) offered for another's listing at an event."""

    __tablename__ = "swap_offers"
    __table_args__ = (
        sa.CheckConstraint(f"status IN {SWAP_STATUSES!r}", name="status"),
        sa.CheckConstraint("offerer_id <> owner_id", name="two_parties"),
        sa.Index("ix_swap_offers_event_id", "event_id", "id"),
        sa.Index("ix_swap_offers_owner_status", "owner_id", "status"),
        sa.Index("ix_swap_offers_offerer_status", "offerer_id", "status"),
        sa.Index("ix_swap_offers_want_listing", "want_listing_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="RESTRICT"))
    offerer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    # The owner of the wanted listing, who accepts or declines.
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    want_listing_id: Mapped[int] = mapped_column(sa.ForeignKey("listings.id", ondelete="RESTRICT"))
    message: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(16), default="pending", server_default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    event: Mapped[Event] = relationship()
    offerer: Mapped[User] = relationship(foreign_keys=[offerer_id])
    owner: Mapped[User] = relationship(foreign_keys=[owner_id])
    want_listing: Mapped[Listing] = relationship()
    items: Mapped[list[SwapItem]] = relationship(
        back_populates="offer", order_by="SwapItem.listing_id", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def offered_listings(self) -> list[Listing]:
        """The offerer's listings in this offer."""
        return [item.listing for item in self.items]


class SwapItem(db.Model):
    """A listing the offerer gives in a swap offer (one or several per offer)."""

    __tablename__ = "swap_items"

    offer_id: Mapped[int] = mapped_column(sa.ForeignKey("swap_offers.id", ondelete="CASCADE"), primary_key=True)
    listing_id: Mapped[int] = mapped_column(sa.ForeignKey("listings.id", ondelete="RESTRICT"), primary_key=True)

    offer: Mapped[SwapOffer] = relationship(back_populates="items")
    listing: Mapped[Listing] = relationship(lazy="joined", innerjoin=True)


# What a person's data export holds about events (registered with the identity feature).
from marketplace.events import export as _export  # noqa: E402, F401
