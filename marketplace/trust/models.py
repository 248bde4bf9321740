"""The public lists: black-list entries (proposed, confirmed by a second person, expiring) and red-list editions."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import User
from marketplace.db import UTCDateTime, db, utcnow

# Why an entry was proposed (DESIGN.md: a confirmed counterfeit, a score below 300, the third
# confirmed violation within 365 days).
BLACKLIST_REASONS = ("counterfeit", "low_score", "repeat_violations")
# pending → active (a supervisor other than the proposer confirms) | rejected; active → expired
# (its end passed) | revoked (an appeal overturned its decision); pending → revoked likewise.
# superseded: a later, longer entry (a counterfeit) was confirmed while this one was active.
BLACKLIST_STATUSES = ("pending", "active", "rejected", "revoked", "expired", "superseded")


class BlacklistEntry(db.Model):
    """One black-list entry of a user, with who proposed, confirmed and closed it."""

    __tablename__ = "blacklist_entries"
    __table_args__ = (
        sa.CheckConstraint(f"reason IN {BLACKLIST_REASONS!r}", name="reason"),
        sa.CheckConstraint(f"status IN {BLACKLIST_STATUSES!r}", name="status"),
        sa.Index("ix_blacklist_entries_user_status", "user_id", "status"),
        sa.Index("ix_blacklist_entries_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    # The moderator's decision that proposed it (an overturned appeal of it revokes the entry).
    decision_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("decisions.id", ondelete="RESTRICT"), default=None, index=True
    )
    reason: Mapped[str] = mapped_column(sa.String(24))
    status: Mapped[str] = mapped_column(sa.String(16), default="pending", server_default="pending")
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    proposed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    decision_note: Mapped[str | None] = mapped_column(sa.Text, default=None)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Revoked (by an appeal) or expired: when, and by whom (None when it expired by itself).
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    closed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), default=None)
    # Listings taken down when it was confirmed (put back on sale if it is revoked).
    taken_down: Mapped[list] = mapped_column(sa.JSON, default=list)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    proposed_by: Mapped[User | None] = relationship(foreign_keys=[proposed_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])

    def in_force(self, now: datetime) -> bool:
        """Whether it keeps the user from trading now: pending, or active and not yet ended."""
        if self.status == "pending":
            return True
        return self.status == "active" and self.ends_at is not None and self.ends_at > now

    def state(self, now: datetime) -> str:
        """The status as it stands now: an active entry past its end reads as expired before maintenance marks it."""
        if self.status == "active" and self.ends_at is not None and self.ends_at <= now:
            return "expired"
        return self.status


class RedListEdition(db.Model):
    """One published edition of the red list (monthly, or computed on demand by a supervisor)."""

    __tablename__ = "red_list_editions"

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(sa.String(7), index=True)  # YYYY-MM
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    computed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), default=None)
    # The rule's numbers as they were applied (from the policy file).
    rule: Mapped[dict] = mapped_column(sa.JSON, default=dict)

    entries: Mapped[list[RedListEntry]] = relationship(
        back_populates="edition", order_by="RedListEntry.position", lazy="selectin"
    )


class RedListEntry(db.Model):
    """A seller on an edition, with the figures that put them there; withdrawn at once on a violation."""

    __tablename__ = "red_list_entries"
    __table_args__ = (sa.UniqueConstraint("edition_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    edition_id: Mapped[int] = mapped_column(sa.ForeignKey("red_list_editions.id", ondelete="RESTRICT"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    position: Mapped[int] = mapped_column()
    score: Mapped[int] = mapped_column()
    sales: Mapped[int] = mapped_column()
    ratings: Mapped[int] = mapped_column()
    # Average seller rating in hundredths (4.85 → 485): exact on both databases.
    average_centi: Mapped[int] = mapped_column()
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    withdrawn_reason: Mapped[str | None] = mapped_column(sa.Text, default=None)

    edition: Mapped[RedListEdition] = relationship(back_populates="entries")
    user: Mapped[User] = relationship(lazy="selectin")
