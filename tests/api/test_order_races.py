"""The issue's race, over real HTTP: 50 buyers request and the seller's two devices accept one listing at once.

The app is served by a threaded WSGI server on loopback (one thread per request, each
with its own database session), and every client is its own thread with its own
bearer token. A barrier releases them together. Runs on SQLite and, with
TEST_DATABASE_URL set, on PostgreSQL.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from marketplace.listings.models import Listing
from marketplace.orders.models import Order

BUYERS = 50
LOCKED = "database is locked"


@dataclass
class Call:
    who: str
    order_id: int | None
    status: int
    body: str
    started: float
    ended: float


@contextmanager
def _serving(app):
    """The app on a free loopback port, in a thread; the test thread only reads meanwhile."""
    from werkzeug.serving import make_server

    from marketplace.db import db, write_intent

    db.session.commit()
    # The test thread must not take SQLite's write lock (BEGIN IMMEDIATE) while the server writes.
    token = write_intent.set(False)
    server_name = app.config["SERVER_NAME"]
    app.config["SERVER_NAME"] = None
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/api/v1"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        app.config["SERVER_NAME"] = server_name
        db.session.rollback()
        write_intent.reset(token)


@contextmanager
def _captured_logs():
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Keep(level=logging.WARNING)
    logging.getLogger().addHandler(handler)
    try:
        yield records
    finally:
        logging.getLogger().removeHandler(handler)


def _post(url: str, token: str, body: dict, who: str, order_id: int | None) -> Call:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            status, text = resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode()
    return Call(who, order_id, status, text, started, time.monotonic())


def test_fifty_buyers_and_two_devices_at_once(app, db, phone, seller, make_user, make_order):
    from marketplace.accounts.service import issue_token

    # Two requests are waiting; tokens are made beforehand (no password hashing in the race).
    pending = [make_order(buyer_user=make_user(f"early{n}")).id for n in (1, 2)]
    buyer_tokens = [issue_token(make_user(f"racer{n}"), timedelta(hours=1))[0] for n in range(BUYERS)]
    device_tokens = [issue_token(seller, timedelta(hours=1))[0] for _ in range(2)]
    db.session.commit()
    # Plain values only in the client threads (ORM objects belong to the test thread's session).
    listing_id = phone.id

    barrier = threading.Barrier(BUYERS + 2, timeout=30)
    lock = threading.Lock()
    requests: list[Call] = []
    accepts: list[Call] = []
    created: list[int] = []
    finished: list[int] = []
    buyers_done = threading.Event()

    with _captured_logs() as records, _serving(app) as base:

        def buy(n: int) -> None:
            try:
                barrier.wait()
                call = _post(f"{base}/listings/{listing_id}/orders", buyer_tokens[n], {}, f"buyer{n}", None)
                with lock:
                    requests.append(call)
                    if call.status == 201:
                        created.append(json.loads(call.body)["id"])
            finally:
                with lock:
                    finished.append(n)
                    if len(finished) == BUYERS:
                        buyers_done.set()

        def device(n: int) -> None:
            # Device 1 accepts the first request, device 2 the second; then each tries every other order.
            tried: list[int] = []

            def accept(order_id: int) -> None:
                tried.append(order_id)
                call = _post(f"{base}/orders/{order_id}/accept", device_tokens[n], {}, f"device{n + 1}", order_id)
                with lock:
                    accepts.append(call)

            barrier.wait()
            accept(pending[n])
            accept(pending[1 - n])
            while True:
                done = buyers_done.is_set()
                with lock:
                    todo = [order_id for order_id in created if order_id not in tried]
                for order_id in todo:
                    accept(order_id)
                if done and not todo:
                    break
                time.sleep(0.005)

        threads = [threading.Thread(target=buy, args=(n,)) for n in range(BUYERS)]
        threads += [threading.Thread(target=device, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads), "a client thread hung"

    calls = requests + accepts
    assert len(requests) == BUYERS and len(accepts) == 2 * (2 + len(created))
    assert [c for c in calls if c.status >= 500] == []
    assert not [c for c in calls if LOCKED in c.body]
    assert not [r.getMessage() for r in records if LOCKED in r.getMessage() or r.levelno >= logging.ERROR]

    # Exactly one accept won, on one of the two waiting requests; every other attempt is a 409.
    winners = [c for c in accepts if c.status == 200]
    assert len(winners) == 1, [(c.who, c.order_id, c.status) for c in accepts]
    [winner] = winners
    assert winner.order_id in pending
    assert all(c.status == 409 for c in accepts if c is not winner), {(c.who, c.status) for c in accepts}

    # Buyers got 201, or 409 because the listing was already reserved.
    assert {c.status for c in requests} <= {201, 409}
    for call in requests:
        if call.status == 409:
            assert "已预订" in json.loads(call.body)["detail"], call.body
            assert call.ended >= winner.started

    db.session.expire_all()
    held = db.session.scalars(
        sa.select(Order).where(Order.listing_id == phone.id, Order.status.in_(("accepted", "disputed")))
    ).all()
    assert [o.id for o in held] == [winner.order_id]
    assert db.session.get(Listing, phone.id).status == "reserved"
    requested = db.session.scalars(
        sa.select(Order.id).where(Order.listing_id == phone.id, Order.status == "requested")
    ).all()
    assert sorted(requested) == sorted([*created, *(set(pending) - {winner.order_id})])
