"""Database plumbing: the declarative base, naming convention, UTC datetimes, SQLite tuning."""

from __future__ import annotations

import contextvars
import functools
from datetime import UTC, datetime

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator):
    """A datetime stored as UTC and always returned timezone-aware."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use aware UTC datetimes")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Whether the current unit of work intends to write. SQLite's deferred
# transactions that read then write fail under concurrency even with a busy
# timeout (FACTS.md), so writing requests take the write lock at BEGIN.
write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("write_intent", default=True)


class read_only:
    """Run a block or a view without SQLite's write lock (BEGIN instead of BEGIN IMMEDIATE).

    For work that only reads but takes long, such as checking a password with scrypt.
    As a context manager it ends the read transaction on the way out, so what follows
    starts a fresh (writing) one.
    """

    def __init__(self, view=None):
        self.view = view
        if view is not None:
            functools.update_wrapper(self, view)

    def __call__(self, *args, **kwargs):
        with read_only():
            return self.view(*args, **kwargs)

    def __enter__(self):
        self._token = write_intent.set(False)
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                db.session.commit()
        finally:
            write_intent.reset(self._token)
        return False


# How long a writer waits for SQLite's write lock. Each write request holds it from its first query
# (BEGIN IMMEDIATE) to its commit, and SQLite's busy handler is not first come first served: in a
# burst of 50 writers on a busy two-core machine the unluckiest queued 16 s
# (tests/reliability/test_races.py; 10 s answered some of them 500). Kept below gunicorn's 30 s
# worker timeout, so a sync worker still answers before it would be killed.
SQLITE_BUSY_TIMEOUT_MS = 25_000


def _on_sqlite_connect(dbapi_conn, _record):
    # Let SQLAlchemy emit BEGIN itself (see _on_begin) instead of pysqlite.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _on_begin(conn):
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")


def configure_engine(engine: sa.Engine) -> None:
    """Apply per-dialect connection settings to a freshly created engine."""
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _on_sqlite_connect)
        sa.event.listen(engine, "begin", _on_begin)
