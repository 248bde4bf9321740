"""Reports against listings (decisions on them come with the moderation work)."""

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

    listing: Mapped[Listing] = relationship()
    reporter: Mapped[User | None] = relationship()
