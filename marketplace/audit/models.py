"""The hash-chained audit log."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import UTCDateTime, db, utcnow


class AuditEntry(db.Model):
    """One append-only entry: hash = SHA-256(prev_hash ‖ canonical JSON of the entry)."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    subject_type: Mapped[str | None] = mapped_column(sa.String(32))
    subject_id: Mapped[int | None] = mapped_column()
    data: Mapped[str] = mapped_column(sa.Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)


# Database-level guards: the log can only grow. Migrations create the same objects.
SQLITE_GUARDS = [
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
]
POSTGRES_GUARDS = [
    "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$",
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS audit_log_no_update", "DROP TRIGGER IF EXISTS audit_log_no_delete"]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS audit_log_no_update ON audit_log",
    "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
    "DROP FUNCTION IF EXISTS audit_log_append_only()",
]


def guard_statements(dialect: str, drop: bool = False) -> list[str]:
    """The SQL that installs (or removes) the append-only guards for a dialect."""
    if dialect == "postgresql":
        return POSTGRES_DROP if drop else POSTGRES_GUARDS
    return SQLITE_DROP if drop else SQLITE_GUARDS
