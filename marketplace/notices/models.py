"""Notices: one row per thing a user should know about, read or not."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import UTCDateTime, db, utcnow


class Notice(db.Model):
    """A notice for one user; the text is rendered from `kind` and `params` in the reader's language."""

    __tablename__ = "notices"
    __table_args__ = (
        # The header's unread count and the notice centre's pages.
        sa.Index("ix_notices_user_unread", "user_id", "read_at"),
        sa.Index("ix_notices_user_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(32))
    # Values for the message template (order id, listing title, reason ...); never personal data.
    params: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    # What the notice is about, and so where it leads (the order page, the rating).
    subject_type: Mapped[str | None] = mapped_column(sa.String(16), default=None)
    subject_id: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
