"""With REDIS_URL set, a rate limit holds across gunicorn workers: exactly the limit gets through.

gunicorn runs 3 sync workers; every request goes on a fresh connection, so the kernel hands them to
the workers in turn. Which worker answered each request is read from gunicorn's access log (the
worker's pid, and a User-Agent naming the request), so the test knows how each worker would have
counted on its own: with in-memory storage (no REDIS_URL) each worker lets its first `limit`
requests through, Σ min(limit, requests it served), which the second test checks really happens
(and which is more than the limit: the first test would fail without shared storage).

Two limits: a failed-login limit per username (sequential attempts: it counts failures after the
answer, so only a sequence is exact) and a signed-in one, order requests per account with an API
token, sent in one burst of concurrent requests (counted before the view: exact under concurrency).
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.reliability.server import make_users

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
WORKERS = 3
LOGIN_LIMIT = 3
ORDER_LIMIT = 4
ATTEMPTS = 12


@pytest.fixture
def redis_store():
    """The Redis of REDIS_URL (db 14 unless TEST_REDIS_URL says otherwise); skips when none answers."""
    try:
        import redis

        store = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        store.ping()
    except Exception as exc:  # no server, refused, wrong URL: nothing to test against
        pytest.skip(f"no Redis at {REDIS_URL} ({exc.__class__.__name__}); set TEST_REDIS_URL to run this test")
    yield store
    store.close()


def _world(app) -> dict:
    """A login target, a verified buyer with a token, and ATTEMPTS books on sale by a verified seller."""
    from marketplace.accounts.models import User
    from marketplace.db import db
    from marketplace.listings import service as listings

    [target] = make_users(app, 1, prefix="target")
    [seller] = make_users(app, 1, prefix="seller", verified=True)
    [buyer] = make_users(app, 1, prefix="buyer", verified=True)
    with app.app_context():
        owner = db.session.get(User, seller["id"])
        ids = []
        for n in range(ATTEMPTS):
            data = listings.ListingInput(
                title=f"旧书第 {n + 1} 套",
                description="书脊完好，无笔记。",
                category="books",
                price_fen=3500,
                district="xingqing",
            )
            ids.append(listings.create(owner, data).id)
        db.session.commit()
    return {"target": target["username"], "buyer": buyer, "listings": ids}


def _start(live_server, tmp_path, name: str, extra: dict) -> tuple:
    log = tmp_path / f"access-{name}.log"
    env = {
        "MARKETPLACE_RATELIMIT_ENABLED": "true",
        "MARKETPLACE_LOGIN_RATE_LIMIT_USERNAME": f"{LOGIN_LIMIT} per minute",
        "MARKETPLACE_LOGIN_RATE_LIMIT_IP": "1000 per minute",
        "MARKETPLACE_ORDER_RATE_LIMIT": f"{ORDER_LIMIT} per minute",
        "GUNICORN_ACCESS_LOG": str(log),
        # The worker's pid and the User-Agent (which names the request) for every answer.
        "GUNICORN_CMD_ARGS": "--access-logformat '%(p)s %(a)s %(s)s'",
    } | extra
    return live_server(workers=WORKERS, env=env), log


def _fresh(method: str, url: str, name: str, **kwargs) -> int:
    """One request on a connection of its own (no session, Connection: close)."""
    headers = {"Connection": "close", "User-Agent": name} | kwargs.pop("headers", {})
    return requests.request(method, url, headers=headers, timeout=60, **kwargs).status_code


def _logins(server, username: str, tag: str) -> list[int]:
    body = {"username": username, "password": "wrong-password-x"}
    url = server.url("/api/v1/auth/token")
    return [_fresh("POST", url, f"{tag}-login-{n}", json=body) for n in range(ATTEMPTS)]


def _orders(server, world: dict, tag: str) -> list[int]:
    barrier = threading.Barrier(ATTEMPTS)

    def send(n: int) -> int:
        url = server.url(f"/api/v1/listings/{world['listings'][n]}/orders")
        barrier.wait()
        return _fresh("POST", url, f"{tag}-order-{n}", json={"message": "还在吗？"}, headers=world["buyer"]["headers"])

    with ThreadPoolExecutor(ATTEMPTS) as pool:
        return list(pool.map(send, range(ATTEMPTS)))


def _workers(server, log, tag: str) -> dict[str, Counter]:
    """After a graceful stop: for each kind of request, how many each worker (pid) answered."""
    server.stop()
    served: dict[str, Counter] = {"login": Counter(), "order": Counter()}
    for line in log.read_text().splitlines():
        match = re.fullmatch(rf"<(\d+)> {re.escape(tag)}-(login|order)-\d+ \d+", line.strip())
        if match:
            served[match.group(2)][match.group(1)] += 1
    return served


def _orders_of(app, buyer_id: int) -> int:
    import sqlalchemy as sa

    from marketplace.db import db
    from marketplace.orders.models import Order

    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(Order).where(Order.buyer_id == buyer_id))
        db.session.remove()
        return count


def _report(capsys, line: str) -> None:
    with capsys.disabled():
        print("\n" + line)


def test_with_redis_the_limits_hold_across_workers(live_database, live_server, tmp_path, redis_store, capsys):
    app = live_database.app()
    world = _world(app)
    prefix = f"h4-{uuid.uuid4().hex[:10]}"
    server, log = _start(
        live_server, tmp_path, "redis", {"REDIS_URL": REDIS_URL, "MARKETPLACE_RATELIMIT_KEY_PREFIX": prefix}
    )
    try:
        logins = _logins(server, world["target"], prefix)
        orders = _orders(server, world, prefix)
        served = _workers(server, log, prefix)
        keys = list(redis_store.scan_iter(match=f"*{prefix}*"))
    finally:
        for key in redis_store.scan_iter(match=f"*{prefix}*"):
            redis_store.delete(key)

    assert keys, "nothing was counted in Redis"
    assert set(logins) <= {422, 429} and set(orders) <= {201, 429}, (logins, orders)
    assert logins == [422] * LOGIN_LIMIT + [429] * (ATTEMPTS - LOGIN_LIMIT)
    assert orders.count(201) == ORDER_LIMIT, orders
    assert _orders_of(app, world["buyer"]["id"]) == ORDER_LIMIT
    # The requests were spread: counted alone, the workers would have let more through. The burst of
    # orders always spreads; the logins, one after another, may all land on the idle worker, and
    # then show only that the limit holds there.
    for kind, limit in (("login", LOGIN_LIMIT), ("order", ORDER_LIMIT)):
        assert sum(served[kind].values()) == ATTEMPTS, served
        if kind == "login" and len(served[kind]) == 1:
            continue
        assert len(served[kind]) >= 2, f"every {kind} request went to one worker: {served[kind]}"
        alone = sum(min(limit, n) for n in served[kind].values())
        assert alone > limit, f"{kind}: the workers alone would also have allowed only {alone}"
    _report(
        capsys,
        f"rate limits across {WORKERS} workers with Redis: failed logins {logins.count(422)}/{ATTEMPTS} allowed "
        f"(limit {LOGIN_LIMIT}; per worker {sorted(served['login'].values())}), order requests in one burst "
        f"{orders.count(201)}/{ATTEMPTS} (limit {ORDER_LIMIT}; per worker {sorted(served['order'].values())})",
    )


def test_without_shared_storage_each_worker_counts_alone(live_database, live_server, tmp_path, capsys):
    """The control: in memory, each worker lets its own `limit` through, so more than the limit gets in."""
    app = live_database.app()
    world = _world(app)
    tag = f"mem-{uuid.uuid4().hex[:8]}"
    server, log = _start(live_server, tmp_path, "memory", {})
    logins = _logins(server, world["target"], tag)
    orders = _orders(server, world, tag)
    served = _workers(server, log, tag)

    assert "rate limits are kept in memory" in server.log_text()
    for kind, statuses, allowed, limit in (
        ("login", logins, 422, LOGIN_LIMIT),
        ("order", orders, 201, ORDER_LIMIT),
    ):
        assert sum(served[kind].values()) == ATTEMPTS, served
        expected = sum(min(limit, n) for n in served[kind].values())
        assert statuses.count(allowed) == expected, (kind, statuses, served[kind])
        assert statuses.count(allowed) + statuses.count(429) == ATTEMPTS, statuses
    # The order requests come in one burst, which spreads over the workers: more than the limit gets in.
    # The logins go one after another and may all land on one worker (the idle one accepts first):
    # they show it only when they did spread.
    assert orders.count(201) > ORDER_LIMIT, (orders, served)
    if len(served["login"]) > 1:
        assert logins.count(422) > LOGIN_LIMIT, (logins, served)
    assert _orders_of(app, world["buyer"]["id"]) == orders.count(201)
    _report(
        capsys,
        f"rate limits across {WORKERS} workers in memory (control): failed logins {logins.count(422)}/{ATTEMPTS} "
        f"allowed (limit {LOGIN_LIMIT}), order requests {orders.count(201)}/{ATTEMPTS} (limit {ORDER_LIMIT})",
    )
