"""At the request boundary: completing overdue orders from a page or an API call that only reads.

Services only flush; this commits, so it belongs to the views and the API (both use it).
"""

from __future__ import annotations

from marketplace.db import db, write_intent
from marketplace.orders import service


def settle_overdue(ids: list[int]) -> None:
    """Complete the given accepted orders that are past their deadline, in a writing transaction of their own.

    A GET runs in a read transaction, and on SQLite a read transaction must not turn into a
    write (it fails under concurrency): it is ended first, and the next one takes the write
    lock at BEGIN.
    """
    if not ids:
        return
    db.session.commit()
    token = write_intent.set(True)
    try:
        service.settle_ids(ids)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    finally:
        write_intent.reset(token)
