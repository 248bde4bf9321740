"""Running service calls at the same moment in threads, each in its own app context and transaction.

Shared by the concurrency tests of orders and of decisions and lists; with TEST_DATABASE_URL on
PostgreSQL they race for real row locks, on SQLite for the database's write lock.
"""

from __future__ import annotations

import threading

from marketplace.errors import DomainError

JOIN = 60


def in_thread(app, work, outcome: dict, name, barrier: threading.Barrier | None = None) -> threading.Thread:
    """Run work(session) in its own app context and transaction; record "ok", a domain error or a crash."""

    def run():
        from marketplace.db import db as thread_db

        with app.app_context():
            try:
                if barrier is not None:
                    barrier.wait(JOIN)  # before touching the database: SQLite would hold its write lock
                work(thread_db.session)
                thread_db.session.commit()
                outcome[name] = "ok"
            except DomainError as exc:
                thread_db.session.rollback()
                outcome[name] = type(exc).__name__
            except Exception as exc:  # an IntegrityError or a deadlock would be a 500 in production
                thread_db.session.rollback()
                outcome[name] = repr(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def race(app, db, works: dict) -> dict:
    """Start every work at the same moment; the outcome of each."""
    db.session.commit()  # the test's session holds no lock while the threads run
    outcome: dict = {}
    barrier = threading.Barrier(len(works))
    threads = [in_thread(app, work, outcome, name, barrier) for name, work in works.items()]
    for thread in threads:
        thread.join(JOIN)
    db.session.expire_all()
    return outcome
