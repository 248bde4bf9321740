"""Listings, their photos, inspectors' certifications and the search side-table."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import User
from marketplace.db import UTCDateTime, db, utcnow

CATEGORIES = ("phone", "appliance", "vehicle", "books", "clothing", "furniture", "bicycles", "baby", "other")
GRADED_CATEGORIES = ("phone", "appliance", "vehicle")
STATUSES = ("active", "reserved", "sold", "removed", "withdrawn", "swapped")
MAX_PHOTOS = 9


class Listing(db.Model):
    __tablename__ = "listings"
    __table_args__ = (
        sa.CheckConstraint(f"category IN {CATEGORIES!r}", name="category"),
        sa.CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        sa.CheckConstraint("price_fen >= 0 AND price_fen <= 100000000000", name="price_range"),
        # Keyset pages of active listings: newest first, and by price.
        sa.Index("ix_listings_status_id", "status", "id"),
        sa.Index("ix_listings_status_price", "status", "price_fen", "id"),
        sa.Index("ix_listings_seller_status", "seller_id", "status"),
        sa.Index("ix_listings_status_category_id", "status", "category", "id"),
        sa.Index("ix_listings_event_status", "event_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    category: Mapped[str] = mapped_column(sa.String(16))
    title: Mapped[str] = mapped_column(sa.String(80))
    # Sanitised HTML (nh3, a small allowed set); search.plain_text() gives its text.
    description: Mapped[str] = mapped_column(sa.Text, default="")
    price_fen: Mapped[int] = mapped_column(sa.BigInteger)
    district: Mapped[str] = mapped_column(sa.String(16), index=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="active", server_default="active")
    # The seller's checklist answers ({key: answer}) and the grade the engine computed from them.
    grading: Mapped[dict | None] = mapped_column(sa.JSON, default=None)
    grade: Mapped[str | None] = mapped_column(sa.String(8), default=None, index=True)
    standard_version: Mapped[str | None] = mapped_column(sa.String(32), default=None)
    # Appliances past their safe service life: a warning, and gas/water heaters for recycling only.
    safety_warning: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    recycle_only: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # The flea market or swap event the stallholder brings it to ("at the event").
    event_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("events.id", ondelete="RESTRICT", use_alter=True), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    seller: Mapped[User] = relationship(lazy="joined", innerjoin=True)
    photos: Mapped[list[ListingPhoto]] = relationship(
        back_populates="listing", order_by="ListingPhoto.position", cascade="all, delete-orphan", lazy="selectin"
    )
    certifications: Mapped[list[Certification]] = relationship(
        back_populates="listing", order_by="Certification.id", lazy="selectin"
    )

    @property
    def latest_certification(self) -> Certification | None:
        """The newest inspector's certification, current or not."""
        return self.certifications[-1] if self.certifications else None

    @property
    def certified(self) -> Certification | None:
        """The newest certification if it is still current: made after the seller's last edit; else None.

        An edit (`updated_at`) may change what the inspector checked, so an older
        certification no longer vouches for the listing (pages and the API read this).
        """
        cert = self.latest_certification
        if cert is None or cert.created_at is None:
            return None
        return cert if self.updated_at is None or cert.created_at >= self.updated_at else None

    @property
    def certified_before_edit(self) -> Certification | None:
        """The newest certification when the seller has edited the listing since (shown as such)."""
        cert = self.latest_certification
        return cert if cert is not None and self.certified is None else None


class ListingPhoto(db.Model):
    """A re-encoded photo without metadata, and its thumbnail, stored under instance/uploads/."""

    __tablename__ = "listing_photos"
    __table_args__ = (sa.UniqueConstraint("listing_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(sa.ForeignKey("listings.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column()
    # Random file stem; files are <stem>.jpg and <stem>.thumb.jpg.
    stem: Mapped[str] = mapped_column(sa.String(40), unique=True)
    width: Mapped[int] = mapped_column()
    height: Mapped[int] = mapped_column()

    listing: Mapped[Listing] = relationship(back_populates="photos")


class Certification(db.Model):
    """An inspector's own checklist for a listing and the grade it gives."""

    __tablename__ = "certifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(sa.ForeignKey("listings.id", ondelete="CASCADE"), index=True)
    inspector_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    grading: Mapped[dict] = mapped_column(sa.JSON)
    grade: Mapped[str] = mapped_column(sa.String(8))
    standard_version: Mapped[str] = mapped_column(sa.String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    listing: Mapped[Listing] = relationship(back_populates="certifications")
    inspector: Mapped[User] = relationship()


class ListingSearch(db.Model):
    """The search tokens of a listing, written in the same transaction as the listing.

    SQLite indexes `tokens` with FTS5 (an external-content table kept in step by
    triggers); PostgreSQL with a generated tsvector column under a GIN index. Both
    are created by the migration, so the application writes only this table.
    Only active listings have a row.
    """

    __tablename__ = "listing_search"

    listing_id: Mapped[int] = mapped_column(sa.ForeignKey("listings.id", ondelete="CASCADE"), primary_key=True)
    tokens: Mapped[str] = mapped_column(sa.Text)
