"""Ratings the two parties of a completed order give each other."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import User
from marketplace.db import UTCDateTime, db, utcnow
from marketplace.orders.models import Order

# Who rates: the buyer rates the seller, the seller rates the buyer.
RATER_ROLES = ("buyer", "seller")
DIMENSIONS = {
    "buyer": ("accuracy", "communication", "punctuality"),
    "seller": ("punctuality", "communication"),
}


def _score(name: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"{name} IS NULL OR ({name} BETWEEN 1 AND 5)", name=f"{name}_range")


class Rating(db.Model):
    """One party's rating of the other; hidden from everyone until `visible_from`.

    `visible_from` is the end of the rating window when the rating is given, and is
    moved to the moment the second party rates: a rating is revealed when both have
    rated or the window has closed, whichever comes first (double-blind).
    """

    __tablename__ = "ratings"
    __table_args__ = (
        sa.UniqueConstraint("order_id", "rater_id", name="uq_ratings_order_rater"),
        sa.CheckConstraint(f"rater_role IN {RATER_ROLES!r}", name="rater_role"),
        sa.CheckConstraint("rater_id <> ratee_id", name="two_parties"),
        # The buyer rates description accuracy; the seller does not.
        sa.CheckConstraint(
            "(rater_role = 'buyer' AND accuracy IS NOT NULL) OR (rater_role = 'seller' AND accuracy IS NULL)",
            name="accuracy_by_buyer",
        ),
        _score("accuracy"),
        _score("communication"),
        _score("punctuality"),
        sa.Index("ix_ratings_ratee_visible", "ratee_id", "visible_from"),
        sa.Index("ix_ratings_rater_id", "rater_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id", ondelete="RESTRICT"))
    rater_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    ratee_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    rater_role: Mapped[str] = mapped_column(sa.String(8))
    accuracy: Mapped[int | None] = mapped_column(sa.SmallInteger, default=None)
    communication: Mapped[int] = mapped_column(sa.SmallInteger)
    punctuality: Mapped[int] = mapped_column(sa.SmallInteger)
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    visible_from: Mapped[datetime] = mapped_column(UTCDateTime)
    # The rated party's one public reply.
    reply: Mapped[str | None] = mapped_column(sa.Text, default=None)
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Folded by a moderator (abusive): shown collapsed with the reason, left out of summaries, never deleted.
    folded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    folded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), default=None)
    fold_reason: Mapped[str | None] = mapped_column(sa.Text, default=None)

    order: Mapped[Order] = relationship(lazy="joined", innerjoin=True)
    rater: Mapped[User] = relationship(foreign_keys=[rater_id], lazy="joined", innerjoin=True)

    @property
    def scores(self) -> dict[str, int]:
        """The dimensions this rating has, with their scores."""
        return {name: getattr(self, name) for name in DIMENSIONS[self.rater_role]}

    def is_visible(self, now: datetime | None = None) -> bool:
        """Whether the rating is revealed (both rated, or the window closed)."""
        return self.visible_from <= (now or utcnow())


# Loaded with the feature: the reputation joins everyone's public profile, the ratings their data export.
from marketplace.ratings import export as _export  # noqa: E402, F401
from marketplace.ratings import summary as _summary  # noqa: E402, F401
