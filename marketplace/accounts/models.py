"""Users, their roles and their API tokens."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import UTCDateTime, db, utcnow

ROLES = ("resident", "organiser", "inspector", "moderator", "supervisor", "admin")
USER_STATUSES = ("active", "suspended", "closed")
ROLE_LABELS = {
    "resident": _l("居民"),
    "organiser": _l("活动组织者"),
    "inspector": _l("验货员"),
    "moderator": _l("审核员"),
    "supervisor": _l("市场监督员"),
    "admin": _l("管理员"),
}


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint(f"status IN {USER_STATUSES!r}", name="status"),
        sa.CheckConstraint("credit_score IS NULL OR (credit_score BETWEEN 0 AND 1000)", name="credit_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(32), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(40))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    # Bumped on logout, password change and suspension: older sessions stop working.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")
    status: Mapped[str] = mapped_column(sa.String(16), default="active", server_default="active")
    # Kept copy of the score derived from the credit ledger; None before verification.
    credit_score: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    role_rows: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def roles(self) -> list[str]:
        """The user's roles in the canonical order of ROLES."""
        held = {r.role for r in self.role_rows}
        return [r for r in ROLES if r in held]

    def has_role(self, *roles: str) -> bool:
        """Whether the user holds any of `roles`."""
        held = {r.role for r in self.role_rows}
        return any(r in held for r in roles)

    @property
    def is_active(self) -> bool:  # Flask-Login: suspended and closed accounts cannot log in
        return self.status == "active"

    def get_id(self) -> str:
        # Flask-Login's alternative id: a session is only valid for the current version.
        return f"{self.id}:{self.session_version}"


class UserRole(db.Model):
    __tablename__ = "user_roles"
    __table_args__ = (sa.CheckConstraint(f"role IN {ROLES!r}", name="role"),)

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="role_rows")


class ApiToken(db.Model):
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    user: Mapped[User] = relationship()
