"""Reports against listings, the moderators' decisions on them, and appeals of those decisions."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import User
from marketplace.db import UTCDateTime, db, utcnow
from marketplace.listings.models import Listing

REPORT_REASONS = ("exaggeration", "hidden_defect", "fake_transaction", "counterfeit", "prohibited", "other")
REPORT_SOURCES = ("user", "certification", "rating")
REPORT_STATUSES = ("open", "dismissed", "confirmed", "malicious")


class Report(db.Model):
    __tablename__ = "reports"
    __table_args__ = (
        sa.CheckConstraint(f"reason IN {REPORT_REASONS!r}", name="reason"),
        sa.CheckConstraint(f"source IN {REPORT_SOURCES!r}", name="source"),
        sa.CheckConstraint(f"status IN {REPORT_STATUSES!r}", name="status"),
        # One open report per reporter and listing (a partial unique index on both databases).
        sa.Index(
            "uq_reports_open_per_reporter",
            "listing_id",
            "reporter_id",
            unique=True,
            sqlite_where=sa.text("status = 'open' AND reporter_id IS NOT NULL"),
            postgresql_where=sa.text("status = 'open' AND reporter_id IS NOT NULL"),
        ),
        sa.Index("ix_reports_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(sa.ForeignKey("listings.id", ondelete="RESTRICT"), index=True)
    # None for reports the system opens itself (a certification downgrade, a low accuracy rating).
    reporter_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    reason: Mapped[str] = mapped_column(sa.String(24))
    detail: Mapped[str] = mapped_column(sa.Text, default="")
    source: Mapped[str] = mapped_column(sa.String(16), default="user")
    # What the moderator will see: checklists, the listing as reported, and so on.
    evidence: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    status: Mapped[str] = mapped_column(sa.String(16), default="open", server_default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The decision that closed it (a confirmation closes every open report on the listing).
    decision_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("decisions.id", ondelete="RESTRICT", use_alter=True), default=None, index=True
    )

    listing: Mapped[Listing] = relationship()
    reporter: Mapped[User | None] = relationship()


DECISION_OUTCOMES = ("dismissed", "confirmed", "malicious")
# What a confirmation names: the report reasons the credit policy penalises.
VIOLATIONS = ("exaggeration", "hidden_defect", "fake_transaction", "counterfeit", "prohibited")
APPEAL_STATUSES = ("pending", "upheld", "overturned")


class Decision(db.Model):
    """A moderator's decision on a report (a confirmation closes every open report on the listing).

    Never changed afterwards except by its appeal (the appeal row says how it ended).
    """

    __tablename__ = "decisions"
    __table_args__ = (
        sa.CheckConstraint(f"outcome IN {DECISION_OUTCOMES!r}", name="outcome"),
        sa.CheckConstraint(f"violation IS NULL OR violation IN {VIOLATIONS!r}", name="violation"),
        sa.Index("ix_decisions_penalised_id", "penalised_id"),
        sa.Index("ix_decisions_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(sa.ForeignKey("reports.id", ondelete="RESTRICT"), unique=True)
    listing_id: Mapped[int] = mapped_column(sa.ForeignKey("listings.id", ondelete="RESTRICT"), index=True)
    decider_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    outcome: Mapped[str] = mapped_column(sa.String(16))
    violation: Mapped[str | None] = mapped_column(sa.String(24), default=None)
    # The explanation the penalised person (and the reporters) read.
    note: Mapped[str] = mapped_column(sa.Text, default="")
    # The seller (confirmed) or the reporter (malicious); None for a dismissal.
    penalised_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), default=None)
    # Whether this decision took the listing down (an overturned appeal puts it back).
    took_down: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # The listing's status before (active, reserved or withdrawn): an overturn puts it back so.
    took_down_from: Mapped[str | None] = mapped_column(sa.String(16), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    report: Mapped[Report] = relationship(foreign_keys=[report_id])
    listing: Mapped[Listing] = relationship()
    decider: Mapped[User] = relationship(foreign_keys=[decider_id])
    penalised: Mapped[User | None] = relationship(foreign_keys=[penalised_id])
    appeal: Mapped[Appeal | None] = relationship(back_populates="decision", uselist=False)


class Appeal(db.Model):
    """The penalised user's appeal of a decision: once per decision, decided by someone else."""

    __tablename__ = "appeals"
    __table_args__ = (
        sa.CheckConstraint(f"status IN {APPEAL_STATUSES!r}", name="status"),
        sa.Index("ix_appeals_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(sa.ForeignKey("decisions.id", ondelete="RESTRICT"), unique=True)
    appellant_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    reason: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending", server_default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decider_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), default=None)
    note: Mapped[str | None] = mapped_column(sa.Text, default=None)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    decision: Mapped[Decision] = relationship(back_populates="appeal")
    appellant: Mapped[User] = relationship(foreign_keys=[appellant_id])
    decider: Mapped[User | None] = relationship(foreign_keys=[decider_id])
