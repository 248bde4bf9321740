"""Counting the SQL statements a block of code sends to the database."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import sqlalchemy as sa

# Transaction control and connection set-up say nothing about the work a page does.
_PLUMBING = re.compile(r"\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|PRAGMA)\b", re.IGNORECASE)


@contextlib.contextmanager
def count_statements(engine: sa.Engine) -> Iterator[list[str]]:
    """Within the block, the list fills with every statement executed on `engine` (transaction control left out)."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if not _PLUMBING.match(statement):
            seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
