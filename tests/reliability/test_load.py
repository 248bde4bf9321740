"""Load held: browsing, searching, ordering and rating at once against gunicorn with several workers.

wrk drives the mix in tests/reliability/load.lua (60% browse, 20% search, 15% orders, 5% ratings)
for RELIABILITY_LOAD_SECONDS (default 10, at most 60) on loopback. The test fails on any 5xx, on
any answer other than the ones each request may have (200 for pages; 201 or 409 for orders and
ratings), on a connection that failed while the run went on, and on any lost write: every order
and rating acknowledged with 201 must be in the database afterwards as acknowledged, and every
row created must have been acknowledged (or be the answer to a request wrk left unanswered when
it stopped). It prints the figures (requests, rate, latency percentiles by request type, writes
acknowledged and found) and writes them to load.json in the test's directory; it never asserts
a latency, since the machine it runs on is shared.
"""

from __future__ import annotations

import json
import shutil
import time

import pytest

from tests.reliability.load import (
    ALLOWED,
    KINDS,
    build_world,
    check_writes,
    load_seconds,
    percentile,
    run_wrk,
    write_plan,
)

# Sync workers, gunicorn.conf.py's default and what `make serve` runs: one request at a time each.
WORKERS = 4
CONNECTIONS = 2 * WORKERS  # a request always waiting for each worker; wrk runs one thread per connection


def test_load_held_no_5xx_no_lost_writes(live_database, live_server, tmp_path, capsys):
    wrk = shutil.which("wrk")
    if wrk is None:
        pytest.skip("wrk is not installed (apt-get install wrk; .ci/run installs it): the load test needs it")
    seconds = load_seconds()
    app = live_database.app()
    started = time.perf_counter()
    world = build_world(app, seconds)
    seeded = time.perf_counter() - started
    server = live_server(workers=WORKERS, env={"GUNICORN_WORKER_CLASS": "sync", "GUNICORN_THREADS": "1"})
    plan = write_plan(world, tmp_path / "plan.tsv")
    run = run_wrk(wrk, server.url("/"), plan, tmp_path / "wrk-out.tsv", seconds, CONNECTIONS)
    server.stop()  # graceful: what the workers were still doing is finished before the database is read
    writes, failures = check_writes(app, run, world.before)

    total = {kind: sum(run.counts.get(kind, {}).values()) for kind in KINDS}
    statuses = {kind: dict(sorted(run.counts.get(kind, {}).items())) for kind in KINDS}
    server_errors = {k: {s: n for s, n in c.items() if s >= 500} for k, c in statuses.items()}
    server_errors = {k: v for k, v in server_errors.items() if v}
    socket = {k: run.summary[k] for k in ("connect", "read", "write", "timeout")}
    figures = {
        "database": live_database.dialect,
        "seconds": seconds,
        "server": f"{WORKERS} sync workers",
        "connections": CONNECTIONS,
        "seeded": {**world.counts, "seconds": round(seeded, 1)},
        "requests": run.summary["requests"],
        "rps": round(run.summary["requests"] / (run.summary["duration_us"] / 1e6), 1),
        "latency_ms": {k: round(v / 1000, 1) for k, v in run.latency.items()},
        "by_type": {
            kind: {
                "requests": total[kind],
                "statuses": statuses[kind],
                **{f"p{p}": percentile(run.samples.get(kind, []), p) for p in (50, 90, 99)},
                "max": percentile(run.samples.get(kind, []), 100),
            }
            for kind in KINDS
        },
        "writes": writes,
        "server_errors": server_errors,
        "socket_errors": socket,
        "lost_connections": len(run.lost),
    }
    (tmp_path / "load.json").write_text(json.dumps(figures, ensure_ascii=False, indent=2) + "\n")
    with capsys.disabled():
        print(report(figures))

    if server_errors:
        failures.append(f"5xx answers: {server_errors}; server log:\n{server.log_text()}")
    unexpected = {k: {s: n for s, n in c.items() if s not in ALLOWED[k]} for k, c in statuses.items()}
    unexpected = {k: v for k, v in unexpected.items() if v}
    if unexpected:
        failures.append(f"answers outside {ALLOWED}: {unexpected}, e.g. {run.odd[:10]}")
    # wrk drops the connections it has open when the time is up: at most one request each.
    if run.lost or sum(socket.values()) > CONNECTIONS:
        failures.append(f"connections failed during the run: {socket}, unanswered {run.lost[:10]}")
    for kind in KINDS:
        if not total[kind]:
            failures.append(f"no {kind} request was answered")
    for kind, acked in (("order", writes["orders_acked"]), ("rate", writes["ratings_acked"])):
        if total[kind] and not acked:
            failures.append(f"not one {kind} was acknowledged: {statuses[kind]}")
    if "Traceback" in server.log_text(tail=200_000):
        failures.append(f"the server logged a traceback:\n{server.log_text()}")
    assert not failures, "\n".join(failures[:50])


def report(f: dict) -> str:
    lat = f["latency_ms"]
    lines = [
        "",
        f"load held, {f['database']}: {f['seconds']} s, {f['connections']} connections, {f['server']}; "
        f"seeded {f['seeded']['listings']} listings, {f['seeded']['users']} users in {f['seeded']['seconds']} s",
        f"  {f['requests']} requests, {f['rps']} req/s; latency ms p50 {lat['p50']} p90 {lat['p90']} "
        f"p99 {lat['p99']} max {lat['max']}",
    ]
    for kind, t in f["by_type"].items():
        codes = " ".join(f"{s}:{n}" for s, n in t["statuses"].items())
        lines.append(
            f"  {kind:<7} {t['requests']:>6}  [{codes}]  p50 {t['p50']} p90 {t['p90']} p99 {t['p99']} max {t['max']} ms"
        )
    w = f["writes"]
    lines.append(
        f"  writes: orders acked {w['orders_acked']} / created {w['orders_created']}, ratings acked "
        f"{w['ratings_acked']} / created {w['ratings_created']}, unanswered at the end {w['unanswered_at_end']}; "
        f"5xx {sum(sum(v.values()) for v in f['server_errors'].values())}; socket errors {f['socket_errors']}"
    )
    return "\n".join(lines)


def test_the_checks_catch_a_lost_write_an_unacknowledged_row_and_a_dropped_request(live_database, tmp_path):
    """The load test's own checks fail when they should (a run that found nothing proves nothing otherwise)."""
    from marketplace.accounts.models import User
    from marketplace.db import db
    from marketplace.orders import service as orders
    from tests.reliability.load import Run, publish, read_thread
    from tests.reliability.server import make_users

    app = live_database.app()
    seller, buyer, other = make_users(app, 3, prefix="check_", verified=True)
    with app.app_context():
        listing, second = publish([db.session.get(User, seller["id"])], 2)
        kept = orders.request(db.session.get(User, buyer["id"]), listing).id
        unacked = orders.request(db.session.get(User, other["id"]), second).id
        db.session.commit()

    # A thread's record: an order acknowledged, one acknowledged but never written, a rating
    # request that got no answer while the run went on, and the request on the wire at the end.
    def body(order_id, buyer_id, listing_id):
        return json.dumps(
            {"id": order_id, "buyer": {"id": buyer_id}, "listing": {"id": listing_id}, "status": "requested"}
        )

    lines = [
        f"sent\t1\torder\t{buyer['id']}\t{listing}\t/api/v1/listings/{listing}/orders",
        f"answer\t1\torder\t201\t1500\t{body(kept, buyer['id'], listing)}",
        f"sent\t2\torder\t{other['id']}\t{listing}\t/api/v1/listings/{listing}/orders",
        f"answer\t2\torder\t201\t1500\t{body(kept + 100, other['id'], listing)}",
        "sent\t3\trate\t5\t9\t/api/v1/orders/9/ratings",
        "sent\t4\tbrowse\t\t\t/",
        "answer\t4\tbrowse\t502\t900",
        "sent\t5\tsearch\t\t\t/search?q=x",
    ]
    (tmp_path / "out.1").write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = Run(1, 1, {}, {}, {}, {}, [], [], [], [])
    read_thread(tmp_path / "out.1", run)
    assert [(r["kind"], r["target"]) for r in run.lost] == [("rate", 9)]
    assert [r["path"] for r in run.pending] == ["/search?q=x"]
    assert run.odd == ["browse 502 /"] and run.counts["browse"] == {502: 1}

    figures, failures = check_writes(app, run, {"order": 0, "rating": 0})
    assert figures["orders_acked"] == 2 and figures["orders_created"] == 2
    assert any(f.startswith(f"LOST WRITE: order {kept + 100} ") for f in failures), failures
    assert any(f.startswith(f"order {unacked} ") and "never acknowledged" in f for f in failures), failures
    assert len(failures) == 2, failures
