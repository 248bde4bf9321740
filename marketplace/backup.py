"""Backups and restores of the database: `flask --app wsgi backup PATH` and `restore PATH`.

SQLite: an online copy with SQLite's backup API, page by page inside one read transaction, so
it is a consistent snapshot while the server keeps writing (WAL mode: readers never block the
writer, and the writer never restarts the copy). The copy is written under a temporary name
next to PATH, switched out of WAL mode (one self-contained file), checked with
`PRAGMA integrity_check`, fsync'ed and then put in place; an existing PATH is replaced only
with --force. A restore checks the file first (a SQLite database, integrity_check, a schema
this code knows, the audit chain), then copies it into the configured database with the same
API (never a file copy over a live WAL database).

PostgreSQL: `pg_dump --format=custom` from a snapshot exported by a REPEATABLE READ transaction
(the row counts printed are the dump's own), read back in full by `pg_restore` before it is put
in place; a restore is one `pg_restore --single-transaction --clean --if-exists`, so a failure
leaves the database as it was. The password travels in PGPASSWORD, never on a command line.

What a backup does not hold: the key files of the instance folder (`identity.key`,
`identity_index.key`, `secret_key`: kept apart from database backups on purpose, so that a
stolen backup reveals no real-name data) and the listing photos under `uploads/`. The
commands say so, and a restore checks that the instance folder's keys read the restored data.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
# Tables the migrations fill themselves: rows there do not make a database "hold data".
BOOKKEEPING_TABLES = frozenset({"alembic_version", "cache_versions"})

Progress = Callable[[int, int], None]  # (pages done, pages in all)


class BackupError(Exception):
    """A backup or restore refused or failed; the message is for the operator."""


@dataclass
class Contents:
    """What a database (or a backup of one) holds."""

    counts: dict[str, int]
    revision: str | None = None
    integrity: str = "ok"
    notes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(self.counts.values())

    @property
    def data_rows(self) -> int:
        """Rows outside the tables the migrations fill: 0 for a database fresh from `db upgrade`."""
        return sum(n for name, n in self.counts.items() if name not in BOOKKEEPING_TABLES)


@dataclass
class ChainResult:
    ok: bool
    entries: int
    first_bad: int | None


# --- inspecting databases ---------------------------------------------------------------------------


def _sqlite_creator(path: Path, *, read_only: bool) -> Callable[[], sqlite3.Connection]:
    uri = path.resolve().as_uri() + ("?mode=ro" if read_only else "")

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False)

    return connect


def sqlite_engine(path: Path) -> sa.Engine:
    """A read-only engine on a SQLite file (nothing is created or written)."""
    return sa.create_engine("sqlite://", creator=_sqlite_creator(path, read_only=True), poolclass=sa.pool.NullPool)


def _shadow_tables(conn: sa.Connection, names: list[str]) -> set[str]:
    """SQLite's FTS5 shadow tables (`<virtual>_data`, `_idx`, ...): counted through their virtual table."""
    if conn.dialect.name != "sqlite":
        return set()
    virtual = conn.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'"
    ).scalars()
    prefixes = tuple(f"{name}_" for name in virtual)
    return {name for name in names if prefixes and name.startswith(prefixes)}


def table_counts(conn: sa.Connection) -> dict[str, int]:
    """Rows per table (SQLite's internal and FTS shadow tables left out), by name."""
    names = sorted(sa.inspect(conn).get_table_names())
    shadows = _shadow_tables(conn, names)
    preparer = conn.dialect.identifier_preparer
    counts = {}
    for name in names:
        if name in shadows or name.startswith("sqlite_"):
            continue
        # The name comes from the database's own catalogue, quoted as an identifier.
        counts[name] = conn.exec_driver_sql(f"SELECT count(*) FROM {preparer.quote(name)}").scalar_one()  # noqa: S608
    return counts


def _revision(conn: sa.Connection) -> str | None:
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def contents(engine: sa.Engine) -> Contents:
    """Row counts and schema revision of the database behind `engine`."""
    with engine.connect() as conn:
        return Contents(table_counts(conn), _revision(conn))


def schema_note(revision: str | None) -> str | None:
    """None if `revision` is this code's newest migration; else what the operator should do.

    BackupError if this code does not know the revision at all (a backup from a newer release).
    """
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from marketplace import ROOT

    script = ScriptDirectory(str(ROOT / "migrations"))
    heads = script.get_heads()
    if revision is None:
        raise BackupError("the file holds no schema revision (no alembic_version table): not a marketplace database")
    if revision in heads:
        return None
    try:
        script.get_revision(revision)
    except CommandError:
        raise BackupError(
            f"the backup's schema revision {revision} is unknown to this release (newest: {', '.join(heads)}): "
            "restore it with the release that wrote it"
        ) from None
    return (
        f"schema revision {revision} is older than this release's newest ({', '.join(heads)}): "
        "run `flask --app wsgi db upgrade` after the restore"
    )


def verify_chain_at(url: str | sa.URL, creator: Callable | None = None) -> ChainResult:
    """Verify the audit chain of any database with the code `flask audit verify` uses.

    A bare Flask app of its own carries the engine (Flask-SQLAlchemy allows one extension on
    several apps): none of the marketplace's hooks run, nothing is written.
    """
    from flask import Flask

    from marketplace.audit.service import verify_chain
    from marketplace.db import db

    app = Flask("marketplace.backup")
    options: dict = {"poolclass": sa.pool.NullPool}
    if creator is not None:
        options = {"creator": creator}
    app.config.update(SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS=options)
    db.init_app(app)
    with app.app_context():
        try:
            report = verify_chain()
        finally:
            db.session.remove()
            db.engine.dispose()
    return ChainResult(report.ok, report.entries, report.first_bad)


def verify_sqlite_chain(path: Path) -> ChainResult:
    return verify_chain_at("sqlite://", creator=_sqlite_creator(path, read_only=True))


# --- writing files ---------------------------------------------------------------------------------


def _temporary_next_to(target: Path) -> Path:
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")


def check_target(target: Path, *, force: bool) -> None:
    """Refuse early what would be refused at the end: an existing PATH without --force, a missing folder."""
    if target.is_dir():
        raise BackupError(f"{target} is a directory: give the backup's file name")
    if not target.parent.is_dir():
        raise BackupError(f"the folder {target.parent} does not exist")
    if target.exists() and not force:
        raise BackupError(f"{target} exists already: choose another name, or --force to replace it")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _put_in_place(tmp: Path, target: Path, *, force: bool) -> None:
    """Make the fsync'ed `tmp` appear as `target` at once; without `force` never over an existing file."""
    _fsync(tmp)
    if force:
        os.replace(tmp, target)
    else:
        try:
            os.link(tmp, target)  # fails if target appeared meanwhile: nothing is overwritten
        except FileExistsError:
            raise BackupError(f"{target} exists already: choose another name, or --force to replace it") from None
        except OSError:
            if target.exists():
                raise BackupError(f"{target} exists already: choose another name, or --force to replace it") from None
            os.replace(tmp, target)  # no hard links on this file system
        else:
            tmp.unlink()
    with contextlib.suppress(OSError):  # the rename itself made durable
        _fsync(target.parent)


# --- SQLite -------------------------------------------------------------------------------------------


def _integrity(conn: sqlite3.Connection) -> str:
    rows = [row[0] for row in conn.execute("PRAGMA integrity_check").fetchall()]
    return "ok" if rows == ["ok"] else "; ".join(rows[:5]) + (f" (and {len(rows) - 5} more)" if len(rows) > 5 else "")


def _steps(total_pages: int) -> int:
    return max(64, total_pages // 100)


def backup_sqlite(
    source: Path, target: Path, *, force: bool = False, progress: Progress | None = None, step_pages: int | None = None
) -> Contents:
    """Copy the live SQLite database `source` to `target` (see the module's docstring).

    `step_pages` pages are copied per step (default: a hundredth of the database, at least 64).
    """
    check_target(target, force=force)
    if not source.exists():
        raise BackupError(f"the database {source} does not exist")
    if target.resolve() == source.resolve():
        raise BackupError("the backup cannot replace the database itself")
    tmp = _temporary_next_to(target)
    try:
        src = sqlite3.connect(source, timeout=30, isolation_level=None)
        try:
            src.execute("PRAGMA query_only = ON")
            # One read transaction across every step: the copy is this snapshot, whatever the
            # server commits meanwhile (otherwise each write would restart the copy).
            src.execute("BEGIN")
            src.execute("SELECT count(*) FROM sqlite_master").fetchone()
            pages = src.execute("PRAGMA page_count").fetchone()[0]
            dst = sqlite3.connect(tmp, isolation_level=None)
            try:
                src.backup(dst, pages=step_pages or _steps(pages), progress=_page_progress(progress))
                src.execute("COMMIT")
                dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal beside it
                integrity = _integrity(dst)
            finally:
                dst.close()
        finally:
            src.close()
        if integrity != "ok":
            raise BackupError(f"the copy failed PRAGMA integrity_check: {integrity} (the live database may be damaged)")
        _put_in_place(tmp, target, force=force)
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite could not copy {source}: {exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    engine = sqlite_engine(target)
    try:
        return contents(engine)
    finally:
        engine.dispose()


def _page_progress(progress: Progress | None):
    if progress is None:
        return None

    def report(_status, remaining, total):
        progress(total - remaining, total)

    return report


def check_sqlite_file(path: Path) -> Contents:
    """What a SQLite backup holds, after proving it sound; BackupError naming the fault otherwise."""
    with path.open("rb") as fh:
        head = fh.read(100)
    if head.startswith(PG_DUMP_MAGIC):
        raise BackupError(f"{path} is a PostgreSQL dump (pg_dump): the configured database is SQLite")
    if not head.startswith(SQLITE_MAGIC):
        raise BackupError(f"{path} is not a SQLite database")
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(head[28:32], "big")
    size = path.stat().st_size
    if len(head) < 100 or (pages and page_size and size < pages * page_size):
        raise BackupError(f"{path} is truncated: {size} bytes, its header promises {pages * page_size}")
    try:
        conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
        try:
            integrity = _integrity(conn)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise BackupError(f"{path} is damaged: {exc}") from None
    if integrity != "ok":
        raise BackupError(f"{path} failed PRAGMA integrity_check: {integrity}")
    engine = sqlite_engine(path)
    try:
        found = contents(engine)
    except sa.exc.SQLAlchemyError as exc:
        raise BackupError(f"{path} cannot be read: {exc.orig or exc}") from None
    finally:
        engine.dispose()
    if "audit_log" not in found.counts:
        raise BackupError(f"{path} is a SQLite database but not the marketplace's (no audit_log table)")
    return found


def restore_sqlite(backup: Path, target: Path, *, progress: Progress | None = None) -> None:
    """Copy the checked SQLite backup into the database file `target` (created if missing)."""
    try:
        src = sqlite3.connect(backup.resolve().as_uri() + "?mode=ro", uri=True)
        try:
            pages = src.execute("PRAGMA page_count").fetchone()[0]
            dst = sqlite3.connect(target, timeout=30, isolation_level=None)
            try:
                src.backup(dst, pages=_steps(pages), progress=_page_progress(progress))
                dst.execute("PRAGMA journal_mode = WAL")
                integrity = _integrity(dst)
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise BackupError(
            f"SQLite could not write {target}: {exc} (is the server still running? stop it first)"
        ) from None
    if integrity != "ok":
        raise BackupError(f"the restored database failed PRAGMA integrity_check: {integrity}")


# --- PostgreSQL -------------------------------------------------------------------------------------


def _tool(name: str) -> tuple[str, int]:
    """The path of a PostgreSQL client program and its major version."""
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} is not installed (or not on PATH): install the PostgreSQL client of the server's major "
            "version (Debian: apt-get install postgresql-client-<version>)"
        )
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=False).stdout  # noqa: S603
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    if match is None:
        raise BackupError(f"could not tell the version of {path} from {out.strip()!r}")
    return path, int(match.group(1))


def _server_major(conn: sa.Connection) -> int:
    return int(conn.exec_driver_sql("SHOW server_version_num").scalar_one()) // 10000


def _check_tool(name: str, conn: sa.Connection) -> str:
    path, major = _tool(name)
    server = _server_major(conn)
    if major < server:
        raise BackupError(
            f"{name} is version {major}, older than the server (PostgreSQL {server}): it cannot work with it. "
            f"Install the PostgreSQL {server} client programs (Debian: postgresql-client-{server})"
        )
    return path


def libpq_args(url: sa.URL) -> tuple[str, dict[str, str]]:
    """A libpq connection URI without the password, and the environment that carries the password."""
    # (URL.set(password=None) would keep the password: None means "unchanged" there.)
    bare = sa.URL.create(
        "postgresql", username=url.username, host=url.host, port=url.port, database=url.database, query=url.query
    ).render_as_string(hide_password=False)
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    return bare, env


def _run(cmd: list[str], env: dict[str, str], what: str) -> subprocess.CompletedProcess:
    # No shell: a list of arguments (the PostgreSQL tool found on PATH, our options, the operator's path).
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        message = (result.stderr or result.stdout).strip()[-2000:]
        raise BackupError(f"{what} failed (exit status {result.returncode}): {message}")
    return result


def backup_postgresql(url: sa.URL, target: Path, *, force: bool = False) -> Contents:
    """pg_dump the database at `url` to `target` (custom format), verified by reading it back in full."""
    check_target(target, force=force)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    tmp = _temporary_next_to(target)
    try:
        with engine.connect() as plain:
            pg_dump = _check_tool("pg_dump", plain)
            pg_restore = _check_tool("pg_restore", plain)
        conninfo, env = libpq_args(url)
        snapshot_conn = engine.connect().execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with snapshot_conn as conn:
            # The counts and the dump see one snapshot: the transaction stays open while pg_dump runs.
            snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
            found = Contents(table_counts(conn), _revision(conn))
            cmd = [pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={tmp}", f"--dbname={conninfo}"]
            _run(cmd, env, "pg_dump")
            conn.rollback()
        check_pg_archive(tmp, pg_restore=pg_restore)
        _put_in_place(tmp, target, force=force)
    except sa.exc.SQLAlchemyError as exc:
        raise BackupError(f"could not read the database: {exc.orig or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
        engine.dispose()
    return found


def check_pg_archive(path: Path, *, pg_restore: str | None = None) -> None:
    """Read a pg_dump archive in full (pg_restore to /dev/null): a truncated or damaged one fails."""
    with path.open("rb") as fh:
        head = fh.read(16)
    if head.startswith(SQLITE_MAGIC):
        raise BackupError(f"{path} is a SQLite database: the configured database is PostgreSQL")
    if not head.startswith(PG_DUMP_MAGIC):
        raise BackupError(f"{path} is not a pg_dump archive in custom format")
    pg_restore = pg_restore or _tool("pg_restore")[0]
    env = dict(os.environ)
    _run([pg_restore, "--list", str(path)], env, f"pg_restore --list {path}")
    _run([pg_restore, "--file=/dev/null", str(path)], env, f"reading {path} in full")


def pg_archive_revision(path: Path) -> str | None:
    """The schema revision stored in a pg_dump archive (its alembic_version row), read without restoring."""
    pg_restore = _tool("pg_restore")[0]
    cmd = [pg_restore, "--data-only", "--table=alembic_version", "--file=-", str(path)]
    out = _run(cmd, dict(os.environ), f"reading the schema revision of {path}").stdout
    match = re.search(r"^COPY [^\n]*alembic_version[^\n]*FROM stdin;\n([^\n\\]+)\n", out, re.M)
    return match.group(1).strip() if match else None


def restore_postgresql(url: sa.URL, backup: Path) -> None:
    """Replace the database at `url` with the archive `backup`, in one transaction."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            pg_restore = _check_tool("pg_restore", conn)
    finally:
        engine.dispose()
    conninfo, env = libpq_args(url)
    cmd = [pg_restore, "--clean", "--if-exists", "--single-transaction", "--exit-on-error"]
    cmd += ["--no-owner", "--no-privileges", f"--dbname={conninfo}", str(backup)]
    _run(cmd, env, "pg_restore (nothing was changed)")


# --- what a backup leaves out -------------------------------------------------------------------------


def identity_data_in(engine: sa.Engine) -> bool:
    from marketplace.identity.crypto import identity_data_exists

    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("identity_verifications"):
            return False
        return identity_data_exists(conn)


def photo_files(instance: Path) -> int:
    folder = instance / "uploads" / "listings"
    if not folder.is_dir():
        return 0
    return sum(1 for p in folder.iterdir() if p.is_file() and not p.name.endswith(".tmp"))


def keys_match(instance: Path, engine: sa.Engine) -> tuple[bool | None, str]:
    """Whether the instance folder's keys read the database's real-name data.

    (None, why) when no check applies or the key files are missing; (False, why) when they are
    there but wrong; (True, what was checked). One stored value is decrypted and its blind index
    recomputed: that proves both keys. Nothing personal is returned or printed.
    """
    from marketplace.identity.crypto import KEY_FILES, IdentityCrypto, KeyFileError
    from marketplace.identity.models import IdentityVerification as IV

    if not identity_data_in(engine):
        return None, "the database holds no real-name data: it needs no identity keys"
    try:
        keys = IdentityCrypto.from_existing(str(instance))
    except KeyFileError as exc:
        return False, f"the identity key files in {instance} are unusable: {exc}"
    if keys is None:
        missing = [name for name in KEY_FILES if not (instance / name).exists()]
        return None, (
            f"the database holds real-name data, but the key files {', '.join(missing)} are missing from "
            f"{instance}: copy them from their own backup there (mode 0600); until then identity pages answer 503"
        )
    with engine.connect() as conn:
        for kind, enc, index in (("id", IV.id_number_enc, IV.id_index), ("phone", IV.phone_enc, IV.phone_index)):
            row = conn.execute(sa.select(enc, index).where(enc.is_not(None), index.is_not(None)).limit(1)).first()
            if row is None:
                continue
            try:
                plain = keys.decrypt(row[0])
            except KeyFileError:
                return False, f"identity.key in {instance} does not decrypt the restored real-name data: wrong key file"
            if keys.blind_index(kind, plain) != row[1]:
                return False, f"identity_index.key in {instance} does not match the restored data's blind index"
            return True, f"the identity keys in {instance} decrypt and index the restored real-name data"
    return None, "no stored value to check the identity keys against"
