"""Crash safety: SIGKILL the whole server in the middle of a write load, restart it, lose nothing.

Several client threads create listings, order requests and order messages through the API with
bearer tokens and record every write the server acknowledged (2xx, with its id). The server's
master and workers are killed at once, as a power cut or the OOM killer would, while the load
runs. Afterwards: SQLite's `PRAGMA integrity_check` is ok, the audit chain verifies, every
acknowledged write is there with its content, and the restarted server serves and accepts writes.
Then `flask --app wsgi backup` copies the database, `restore` puts it into a fresh instance folder
and database, and the copy has the same row counts and a verified chain.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import requests
import sqlalchemy as sa

from marketplace.backup import contents
from tests.reliability.server import ROOT, make_database, make_users

SELLERS = 3
BUYERS = 3
WORKERS = 3
# The kill comes once this many writes are acknowledged (or after KILL_AFTER_SECONDS), load still running.
KILL_AT_ACKNOWLEDGED = 60
KILL_AFTER_SECONDS = 15.0


class Load:
    """The write load: client threads, what the server acknowledged, what failed."""

    def __init__(self, server, sellers, buyers):
        self.server = server
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked: list[tuple[str, int, dict]] = []
        self.listings: list[int] = []
        self.server_errors: list[str] = []
        self.refused = Counter()
        self.unanswered = 0
        self.in_flight = 0
        self.threads = [threading.Thread(target=self._seller, args=(u,), daemon=True) for u in sellers]
        self.threads += [threading.Thread(target=self._buyer, args=(u,), daemon=True) for u in buyers]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)

    def count(self) -> int:
        with self.lock:
            return len(self.acked)

    def _post(self, http: requests.Session, path: str, user: dict, body: dict) -> dict | None:
        """POST; the JSON body if the server acknowledged it (2xx), else None (and why is counted)."""
        with self.lock:
            self.in_flight += 1
        try:
            response = http.post(self.server.url(path), json=body, headers=user["headers"], timeout=60)
        except requests.RequestException:
            with self.lock:
                self.unanswered += 1  # cut by the kill: written or not, it was never acknowledged
            return None
        finally:
            with self.lock:
                self.in_flight -= 1
        if 200 <= response.status_code < 300:
            return response.json()
        with self.lock:
            if response.status_code >= 500:
                self.server_errors.append(f"{response.status_code} POST {path}: {response.text[:300]}")
            else:
                self.refused[f"{response.status_code} {path.split('/')[-1]}"] += 1
        return None

    def _seller(self, user: dict) -> None:
        http = requests.Session()
        n = 0
        while not self.stop.is_set():
            n += 1
            title = f"崩溃测试 {user['username']} 第{n}件 台灯"
            body = {
                "title": title,
                "description": "九成新，功能正常，自提。",
                "category": "other",
                "price_fen": 1000 + n,
                "district": "xingqing",
            }
            made = self._post(http, "/api/v1/listings", user, body)
            if made is not None:
                with self.lock:
                    self.acked.append(("listing", made["id"], {"title": title, "seller_id": user["id"]}))
                    self.listings.append(made["id"])

    def _buyer(self, user: dict) -> None:
        http = requests.Session()
        done = 0  # this buyer asks for every acknowledged listing once, in order
        while not self.stop.is_set():
            with self.lock:
                listing_id = self.listings[done] if done < len(self.listings) else None
            if listing_id is None:
                time.sleep(0.02)
                continue
            done += 1
            made = self._post(http, f"/api/v1/listings/{listing_id}/orders", user, {"message": "还在吗？想要"})
            if made is None:
                continue
            with self.lock:
                self.acked.append(("order", made["id"], {"listing_id": listing_id, "buyer_id": user["id"]}))
            text = f"今晚七点来取，单号 {made['id']}，买家 {user['username']}"
            sent = self._post(http, f"/api/v1/orders/{made['id']}/messages", user, {"body": text})
            if sent is not None:
                with self.lock:
                    self.acked.append(("message", sent["id"], {"order_id": made["id"], "body": text}))


def missing_writes(app, acked) -> list[str]:
    """Every acknowledged write that is not in the database as acknowledged."""
    from marketplace.db import db

    queries = {
        "listing": ("SELECT id, title, seller_id FROM listings WHERE id = :id", ("title", "seller_id")),
        "order": ("SELECT id, listing_id, buyer_id FROM orders WHERE id = :id", ("listing_id", "buyer_id")),
        "message": ("SELECT id, order_id, body FROM order_messages WHERE id = :id", ("order_id", "body")),
    }
    missing = []
    with app.app_context():
        for kind, ident, expected in acked:
            sql, fields = queries[kind]
            row = db.session.execute(sa.text(sql), {"id": ident}).mappings().first()
            if row is None:
                missing.append(f"{kind} {ident}: absent")
            elif {f: row[f] for f in fields} != expected:
                missing.append(f"{kind} {ident}: {dict(row)} != {expected}")
        db.session.remove()
    return missing


def chain_and_counts(app) -> tuple[object, dict[str, int]]:
    from marketplace.audit.service import verify_chain
    from marketplace.db import db, read_only

    with app.app_context(), read_only():  # two connections at once: neither may take SQLite's write lock
        report = verify_chain()
        counts = contents(db.engine).counts
    return report, counts


def flask_command(env: dict, *args: str) -> subprocess.CompletedProcess:
    """`flask --app wsgi ARGS` as an operator runs it (the virtual environment's flask, another process)."""
    flask = str(Path(sys.executable).with_name("flask"))
    return subprocess.run(
        [flask, "--app", "wsgi", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )


def test_sigkill_in_the_middle_of_a_write_load_loses_no_acknowledged_write(
    live_database, live_server, tmp_path, capsys
):
    app = live_database.app()
    sellers = make_users(app, SELLERS, prefix="crash_seller", verified=True)
    buyers = make_users(app, BUYERS, prefix="crash_buyer", verified=True)
    server = live_server(workers=WORKERS)

    load = Load(server, sellers, buyers)
    started = time.monotonic()
    load.start()
    while load.count() < KILL_AT_ACKNOWLEDGED and time.monotonic() - started < KILL_AFTER_SECONDS:
        time.sleep(0.01)
    load.stop.set()  # no new requests; those under way meet the kill
    with load.lock:
        in_flight_at_kill = load.in_flight
    killed_at = time.monotonic() - started
    server.kill()  # master and every worker at once, mid-load
    load.finish()
    acked = list(load.acked)
    assert acked, f"no write was acknowledged before the kill: {load.refused}, {load.server_errors[:3]}"

    if live_database.dialect == "sqlite":
        # The file as the crash left it (SQLite recovers its WAL on open).
        with sqlite3.connect(live_database.path) as conn:
            integrity = conn.execute("PRAGMA integrity_check").fetchall()
        assert integrity == [("ok",)], integrity

    check = live_database.app()
    report, _ = chain_and_counts(check)
    assert report.ok, f"audit chain broken at entry {report.first_bad} after the crash"
    missing = missing_writes(check, acked)
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged writes lost:\n" + "\n".join(missing[:20])

    # The restarted server serves the data written before the crash and takes new writes.
    server.start()
    seller, buyer = sellers[0], buyers[0]
    last_listing = next(data for kind, _id, data in reversed(acked) if kind == "listing")
    last_listing_id = next(ident for kind, ident, _data in reversed(acked) if kind == "listing")
    shown = requests.get(server.url(f"/api/v1/listings/{last_listing_id}"), timeout=60)
    assert shown.status_code == 200 and shown.json()["title"] == last_listing["title"]
    body = {
        "title": "重启之后 台灯",
        "description": "全新。",
        "category": "other",
        "price_fen": 500,
        "district": "xingqing",
    }
    made = requests.post(server.url("/api/v1/listings"), json=body, headers=seller["headers"], timeout=60)
    assert made.status_code == 201, made.text
    ordered = requests.post(
        server.url(f"/api/v1/listings/{made.json()['id']}/orders"), json={}, headers=buyer["headers"], timeout=60
    )
    assert ordered.status_code == 201, ordered.text
    assert not load.server_errors, "5xx during the load:\n" + "\n".join(load.server_errors[:10])

    # A backup taken with the command while the server runs, restored into a fresh folder and database.
    env = server.environment()
    backup = tmp_path / "after-crash.backup"
    began = time.monotonic()
    result = flask_command(env, "backup", str(backup))
    backup_seconds = time.monotonic() - began
    assert result.returncode == 0, result.stdout + result.stderr
    report, live_counts = chain_and_counts(check)
    assert report.ok
    fresh = make_database(tmp_path)
    try:
        for name in ("identity.key", "identity_index.key"):
            shutil.copy2(live_database.instance / name, fresh.instance / name)
        restore_env = env | {"DATABASE_URL": fresh.url, "MARKETPLACE_INSTANCE_PATH": str(fresh.instance)}
        began = time.monotonic()
        result = flask_command(restore_env, "restore", str(backup))
        restore_seconds = time.monotonic() - began
        assert result.returncode == 0, result.stdout + result.stderr
        assert "decrypt and index the restored real-name data" in result.stdout
        restored_report, restored_counts = chain_and_counts(fresh.app())
        assert restored_report.ok and restored_report.entries == report.entries
        assert restored_counts == live_counts
        assert not missing_writes(fresh.app(), acked)
    finally:
        fresh.close()

    kinds = Counter(kind for kind, _id, _data in acked)
    figures = {
        "test": "crash",
        "database": live_database.dialect,
        "workers": WORKERS,
        "clients": SELLERS + BUYERS,
        "killed_at_s": round(killed_at, 2),
        "in_flight_at_kill": in_flight_at_kill,
        "writes_acknowledged": len(acked),
        "by_kind": dict(kinds),
        "writes_found": len(acked) - len(missing),
        "unanswered_at_kill": load.unanswered,
        "refused": dict(load.refused),
        "server_errors": len(load.server_errors),
        "audit_entries": report.entries,
        "backup_bytes": backup.stat().st_size,
        "backup_command_s": round(backup_seconds, 1),
        "restore_command_s": round(restore_seconds, 1),
        "rows_restored": sum(restored_counts.values()),
    }
    with capsys.disabled():
        print("\n" + json.dumps(figures, ensure_ascii=False))
