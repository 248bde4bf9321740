"""`flask backup` and `flask restore`: verified copies, restored into a fresh instance, refusals.

On SQLite the backup is SQLite's online backup; with TEST_DATABASE_URL the same tests take the
pg_dump / pg_restore path (skipped, with the reason, where those programs are missing or older
than the server).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from marketplace import backup as bk
from marketplace.audit.service import record, verify_chain

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
sqlite_only = pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="the SQLite backup API path")
_names = itertools.count(1)


@pytest.fixture
def world(db, completed_order, make_listing, buyer, make_order):
    """A populated database: verified users (encrypted identities), listings, orders, audit entries."""
    second = make_listing(title="二手自行车 捷安特 ATX 山地车", category="other", grading=None, price_fen=45000)
    make_order(listing=second, buyer_user=buyer, status="accepted")
    record("test.world", data={"note": "backup test"})
    db.session.commit()
    return completed_order


@pytest.fixture
def pg_tools(app):
    """Skip unless pg_dump and pg_restore are installed and not older than the server."""
    from marketplace.db import db

    if not TEST_DATABASE_URL:
        return
    with db.engine.connect() as conn:
        for tool in ("pg_dump", "pg_restore"):
            try:
                bk._check_tool(tool, conn)
            except bk.BackupError as exc:
                pytest.skip(f"PostgreSQL client programs unusable here: {exc}")


def counts(engine) -> dict[str, int]:
    return bk.contents(engine).counts


@contextlib.contextmanager
def fresh_app(tmp_path, *, keys_from: Path | None = None):
    """An app on a fresh instance folder and an empty database (no SQLite file yet; a new PostgreSQL database)."""
    from marketplace import create_app
    from marketplace.db import db

    instance = tmp_path / f"fresh-{next(_names)}"
    instance.mkdir()
    if keys_from is not None:
        for name in ("identity.key", "identity_index.key"):
            shutil.copy2(keys_from / name, instance / name)
    drop = None
    if TEST_DATABASE_URL:
        root = sa.make_url(TEST_DATABASE_URL).set(drivername="postgresql+psycopg")
        name = f"{root.database}_restore_{os.environ.get('PYTEST_XDIST_WORKER', 'gw0')}_{next(_names)}"
        admin = sa.create_engine(
            root.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
        )
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = root.set(database=name).render_as_string(hide_password=False)

        def drop():
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()
    else:
        url = f"sqlite:///{instance / 'marketplace.db'}"
    app = create_app(
        {
            "INSTANCE_PATH": str(instance),
            "TESTING": True,
            "SECRET_KEY": "fresh",
            "SQLALCHEMY_DATABASE_URI": url,
            "RATELIMIT_ENABLED": False,
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if drop:
            drop()


def invoke(app, *args: str):
    from marketplace.db import db

    db.session.commit()  # the test's own session holds no lock while the command runs
    with app.app_context():  # the command's app, not the test's (whose context is pushed)
        return app.test_cli_runner().invoke(args=list(args))


@sqlite_only
def test_the_copy_is_one_snapshot_while_another_connection_writes(app, db, world, tmp_path):
    source = Path(db.engine.url.database)
    before = counts(db.engine)
    written = []

    def write_meanwhile(done, total):
        # Committed by another connection between two steps of the copy: the copy must not see it,
        # and must not have restarted to take it in.
        if not written and done < total:
            written.append(record("test.during_backup").seq)
            db.session.commit()

    target = tmp_path / "snapshot.db"
    found = bk.backup_sqlite(source, target, progress=write_meanwhile, step_pages=8)
    assert written, "the copy ended in one step: nothing was written during it"
    after = counts(db.engine)
    assert after["audit_log"] == before["audit_log"] + 1
    copy = bk.sqlite_engine(target)
    try:
        assert counts(copy) == before == found.counts
    finally:
        copy.dispose()
    with sqlite3.connect(target) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert not list(tmp_path.glob(".snapshot.db.*")), "the temporary file was left behind"
    chain = bk.verify_sqlite_chain(target)
    assert chain.ok and chain.entries == before["audit_log"]


def test_backup_then_restore_into_a_fresh_instance(app, db, world, tmp_path, pg_tools):
    target = tmp_path / "nightly.backup"
    result = invoke(app, "backup", str(target))
    assert result.exit_code == 0, result.output
    source = counts(db.engine)
    assert f"backed up: {sum(source.values())} rows in {len(source)} tables" in result.output
    assert "NOT IN THE BACKUP: the identity keys identity.key, identity_index.key" in result.stderr
    if not TEST_DATABASE_URL:
        assert "integrity_check: ok" in result.output
        assert f"audit chain: ok {source['audit_log']} entries" in result.output

    instance = Path(app.instance_path)
    with fresh_app(tmp_path, keys_from=instance) as fresh:
        result = invoke(fresh, "restore", str(target))
        assert result.exit_code == 0, result.output
        assert f"audit chain: ok {source['audit_log']} entries" in result.output
        assert "decrypt and index the restored real-name data" in result.output
        with fresh.app_context():
            from marketplace.db import db as fresh_db

            assert counts(fresh_db.engine) == source
            report = verify_chain()
            assert report.ok and report.entries == source["audit_log"]
            title = fresh_db.session.scalar(sa.text("SELECT title FROM listings ORDER BY id LIMIT 1"))
            assert title == "华为 Mate 60 手机 256GB 雅丹黑"
            fresh_db.session.remove()
        # The restored database serves: a page that reads users, listings and orders.
        client = fresh.test_client()
        assert client.get("/api/v1/listings").status_code == 200


@sqlite_only
def test_a_restore_with_other_identity_keys_is_reported(app, db, world, tmp_path):
    from marketplace.identity.crypto import IdentityCrypto

    target = tmp_path / "b.db"
    assert invoke(app, "backup", str(target)).exit_code == 0
    with fresh_app(tmp_path) as fresh:
        IdentityCrypto.from_instance(fresh.instance_path, data_exists=lambda: False)  # new, unrelated keys
        result = invoke(fresh, "restore", str(target))
        assert result.exit_code == 1
        assert "identity.key in" in result.output and "does not decrypt the restored real-name data" in result.output
        assert "the identity keys do not fit the data" in result.output
    with fresh_app(tmp_path) as fresh:
        result = invoke(fresh, "restore", str(target))  # no key files at all: restored, with the warning
        assert result.exit_code == 0, result.output
        assert "identity.key, identity_index.key are missing from" in result.stderr


def test_refusals_to_overwrite_a_file_or_a_database(app, db, world, tmp_path, pg_tools):
    target = tmp_path / "b.backup"
    target.write_bytes(b"an older backup")
    result = invoke(app, "backup", str(target))
    assert result.exit_code == 1
    assert "exists already: choose another name, or --force to replace it" in result.output
    assert target.read_bytes() == b"an older backup"
    result = invoke(app, "backup", "--force", str(target))
    assert result.exit_code == 0, result.output
    assert target.read_bytes() != b"an older backup"

    before = counts(db.engine)
    record("test.after_backup")
    db.session.commit()
    result = invoke(app, "restore", str(target))
    assert result.exit_code == 1
    assert "the configured database is not empty" in result.output and "--force replaces them all" in result.output
    assert counts(db.engine)["audit_log"] == before["audit_log"] + 1
    assert "Traceback" not in result.output

    result = invoke(app, "restore", "--force", str(target))
    assert result.exit_code == 0, result.output
    assert "replacing what the configured database holds" in result.output
    db.session.remove()
    db.engine.dispose()
    assert counts(db.engine) == before  # the entry written after the backup is gone with the restore


def test_a_backup_that_cannot_be_written_says_so(app, db, world, tmp_path, pg_tools, monkeypatch):
    from marketplace import backup

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(backup, "_put_in_place", full_disk)
    target = tmp_path / "b.backup"
    result = invoke(app, "backup", str(target))
    assert result.exit_code == 1
    assert f"could not write {target}: No space left on device" in result.output
    assert "Traceback" not in result.output and not target.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("b.backup")] == []  # no temporary file left


def test_damaged_or_foreign_backups_are_refused_with_a_clear_message(app, db, world, tmp_path, pg_tools):
    good = tmp_path / "good.backup"
    assert invoke(app, "backup", str(good)).exit_code == 0
    data = good.read_bytes()
    cases = {"garbage": (b"hello, not a backup at all", "not a")}
    if TEST_DATABASE_URL:
        cases["truncated"] = (data[: len(data) // 2], "pg_restore")
        cases["sqlite"] = (
            b"SQLite format 3\x00" + bytes(200),
            "is a SQLite database: the configured database is PostgreSQL",
        )
    else:
        cases["truncated"] = (data[: len(data) // 2], "is truncated")
        damaged = bytearray(data)
        damaged[4096 * 3 : 4096 * 6] = b"\x5a" * (4096 * 3)  # three pages of the copy overwritten
        cases["damaged"] = (bytes(damaged), "damaged")
        cases["pg_dump"] = (b"PGDMP" + bytes(200), "is a PostgreSQL dump (pg_dump): the configured database is SQLite")
    before = counts(db.engine)
    failures = []
    for name, (content, message) in cases.items():
        path = tmp_path / f"{name}.backup"
        path.write_bytes(content)
        result = invoke(app, "restore", "--force", str(path))
        if result.exit_code != 1 or message not in result.output or not isinstance(result.exception, SystemExit):
            failures.append(f"{name}: exit {result.exit_code}, {result.exception!r}: {result.output[-500:]}")
    assert not failures, "\n".join(failures)
    assert counts(db.engine) == before


@sqlite_only
def test_a_backup_whose_audit_chain_was_altered_is_refused(app, db, world, tmp_path):
    target = tmp_path / "b.db"
    assert invoke(app, "backup", str(target)).exit_code == 0
    with sqlite3.connect(target) as conn:
        conn.execute("DROP TRIGGER audit_log_no_update")
        conn.execute("UPDATE audit_log SET data = '{\"forged\": true}' WHERE seq = 2")
    with fresh_app(tmp_path) as fresh:
        result = invoke(fresh, "restore", str(target))
        assert result.exit_code == 1
        assert "the backup's audit chain is broken at entry 2" in result.output
        with fresh.app_context():
            from marketplace.db import db as fresh_db

            assert counts(fresh_db.engine) == {}  # nothing restored
            fresh_db.engine.dispose()
        result = invoke(fresh, "restore", "--allow-broken-chain", str(target))
        assert result.exit_code == 1
        assert "restored, but the audit chain is broken at entry 2" in result.output


def test_postgresql_client_programs_missing_or_too_old(monkeypatch):
    monkeypatch.setattr(bk.shutil, "which", lambda name: None)
    with pytest.raises(bk.BackupError, match="pg_dump is not installed"):
        bk._tool("pg_dump")
    monkeypatch.setattr(bk, "_tool", lambda name: (f"/usr/lib/postgresql/13/bin/{name}", 13))
    monkeypatch.setattr(bk, "_server_major", lambda conn: 16)
    with pytest.raises(bk.BackupError, match=r"pg_dump is version 13, older than the server \(PostgreSQL 16\)"):
        bk._check_tool("pg_dump", None)


def test_the_password_travels_in_the_environment_only():
    url = sa.make_url("postgresql+psycopg://market:s3cret@db.example:5433/marketplace?sslmode=require")
    conninfo, env = bk.libpq_args(url)
    assert "s3cret" not in conninfo
    assert conninfo == "postgresql://market@db.example:5433/marketplace?sslmode=require"
    assert env["PGPASSWORD"] == "s3cret"
