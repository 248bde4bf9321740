"""The credit ledger: an append-only list of explained events; a user's score is derived from it."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import UTCDateTime, db, utcnow

SOURCES = ("verification", "decision", "order", "rating", "event", "adjustment", "appeal")


class CreditEvent(db.Model):
    """One change of a user's credit, with its reason and where it came from.

    `points` is what the policy gave when the event was recorded (a repeat violation
    already multiplied); penalties (`ages`) weigh less once they are old, which the
    score works out when it is read. Rows are never updated or deleted (triggers);
    an overturned decision is answered by a compensating event (`compensates_id`).
    """

    __tablename__ = "credit_events"
    __table_args__ = (
        sa.CheckConstraint(f"source IN {SOURCES!r}", name="source"),
        sa.CheckConstraint("multiplier BETWEEN 1 AND 10", name="multiplier"),
        # One event of a kind per source object and user: a reward is never paid twice.
        sa.UniqueConstraint("user_id", "code", "source", "source_id", name="uq_credit_events_once"),
        sa.Index("ix_credit_events_user_at", "user_id", "at"),
        # An event is compensated at most once.
        sa.Index("uq_credit_events_compensates_id", "compensates_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # What happened, as the policy names it: verification, exaggeration, breach, good_rating, ...
    code: Mapped[str] = mapped_column(sa.String(32))
    points: Mapped[int] = mapped_column()
    multiplier: Mapped[int] = mapped_column(default=1, server_default="1")
    # Penalties count half once older than the policy's ageing period.
    ages: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    source: Mapped[str] = mapped_column(sa.String(16))
    source_id: Mapped[int | None] = mapped_column(default=None)
    # The explanation the user reads (Chinese, as recorded; the code gives the translated label).
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    policy_version: Mapped[str] = mapped_column(sa.String(32))
    compensates_id: Mapped[int | None] = mapped_column(sa.ForeignKey("credit_events.id", ondelete="RESTRICT"))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
