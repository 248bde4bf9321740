"""Real-name verification requests, with their personal data encrypted at rest."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import User
from marketplace.db import UTCDateTime, db, utcnow

KINDS = ("resident", "student", "business")
# pending and verified requests hold their identity; rejected and withdrawn ones hold nothing.
STATUSES = ("pending", "verified", "rejected", "withdrawn")
HOLDING = ("pending", "verified")


class IdentityVerification(db.Model):
    """One submission of real-name data; the newest one of a user is their verification state.

    "One identity, one account" is the UNIQUE constraint on `id_index` (the keyed HMAC of
    the normalised ID number): it is set while the request is pending or verified and
    NULL otherwise, so a rejected request frees the identity. `holder_id` (the user's id
    while the request is pending or verified) is UNIQUE too: one open request per user.
    """

    __tablename__ = "identity_verifications"
    __table_args__ = (
        sa.CheckConstraint(f"kind IN {KINDS!r}", name="kind"),
        sa.CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        sa.CheckConstraint(
            f"(status IN {HOLDING!r} AND id_index IS NOT NULL AND holder_id = user_id)"
            f" OR (status NOT IN {HOLDING!r} AND id_index IS NULL AND holder_id IS NULL)",
            name="holds_identity",
        ),
        sa.CheckConstraint("status = 'pending' OR decided_at IS NOT NULL", name="decided"),
        sa.UniqueConstraint("id_index"),
        sa.UniqueConstraint("holder_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16), default="resident")
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")

    # Fernet tokens (see crypto.py); NULL once erased when the account is closed.
    real_name_enc: Mapped[str | None] = mapped_column(sa.Text)
    id_number_enc: Mapped[str | None] = mapped_column(sa.Text)
    phone_enc: Mapped[str | None] = mapped_column(sa.Text)
    student_no_enc: Mapped[str | None] = mapped_column(sa.Text)
    credit_code_enc: Mapped[str | None] = mapped_column(sa.Text)
    # The masked name is public (seller profiles, boards), so it is kept ready to show.
    real_name_masked: Mapped[str | None] = mapped_column(sa.String(64))
    campus: Mapped[str | None] = mapped_column(sa.String(16))

    id_index: Mapped[str | None] = mapped_column(sa.String(64))
    holder_id: Mapped[int | None] = mapped_column()
    # Not unique (numbers are reassigned by carriers): a risk signal for moderators.
    phone_index: Mapped[str | None] = mapped_column(sa.String(64), index=True)

    verifier: Mapped[str] = mapped_column(sa.String(32), default="queue")
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
