"""Public pages kept for anonymous visitors, invalidated by the tables they were made from.

How it works (the shape of a CDN with surrogate keys, as Warehouse does with purges, but inside
the app and transactional):

- Every SQL statement the app runs is looked at once (the answer is memoised per statement text):
  the tables an INSERT, UPDATE or DELETE writes are noted on its connection, and when that
  connection commits, a new random token is written for each of those tables into
  `cache_versions` *in the same transaction* — so a change and its invalidation become visible
  together, whichever process, server or CLI command made it (Core UPDATEs, text() SQL and the
  ORM alike). A rolled-back transaction invalidates nothing.
- A view marked `@public_page` is served from the cache to a visitor who is not signed in (no
  login in the session, no remember-me cookie, no bearer token) and has no flash message waiting.
  On a miss the view runs while every table its queries name is recorded, and the page is kept
  with the tokens those tables had *before* it was made; a page is served only while every one of
  those tokens is unchanged (one query reads them all) and it is younger than PAGE_CACHE_SECONDS,
  which bounds what changes with the clock alone (an event that has started, "5 minutes ago").
- A page that touched the session (a CSRF token, a flash) or answered anything but 200 is not kept.
  The key is the host, scheme, locale and full path with its query string.

The store is per process (an LRU bounded by PAGE_CACHE_MAX_BYTES); validity is decided by the
database, so workers and servers never serve a page older than the last committed change to what
it shows. Set MARKETPLACE_PAGE_CACHE=false to turn it off.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import os
import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace

import sqlalchemy as sa
from flask import Flask, current_app, g, has_request_context, make_response, request, session
from flask_babel import get_locale

from marketplace.db import db, utcnow

VERSIONS_TABLE = "cache_versions"

# One row per table that has been written: a random token, new at every commit that wrote it.
cache_versions = sa.Table(
    VERSIONS_TABLE,
    db.metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("token", sa.BigInteger, nullable=False),
)

# The tables the view being recorded has read from (None: not recording).
_reading: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar("pagecache_reading", default=None)

_WRITE = re.compile(r'^\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM)\s+"?(\w+)', re.I)


@dataclass(slots=True)
class Entry:
    body: bytes
    status: int
    headers: list[tuple[str, str]]
    tokens: dict[str, int]
    etag: str
    expires: float


class StatementTables:
    """Which known tables a statement reads and which one it writes (memoised per statement text)."""

    def __init__(self, names: list[str]):
        names = sorted(names, key=len, reverse=True)
        self._any = re.compile(r'\b"?(' + "|".join(re.escape(n) for n in names) + r')"?\b')
        self._known = set(names)
        self.classify = functools.lru_cache(maxsize=4096)(self._classify)

    def _classify(self, statement: str) -> tuple[frozenset[str], str | None]:
        write = _WRITE.match(statement)
        written = write.group(1) if write and write.group(1) in self._known else None
        return frozenset(self._any.findall(statement)), written


# --- invalidation: every commit that wrote a table gives it a new token -----------------------------

UPSERT = (
    "INSERT INTO cache_versions (name, token) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET token = excluded.token"
)


def listen(engine: sa.Engine) -> StatementTables:
    """Watch every statement on `engine`: note the tables written, record those a kept page reads,
    and give each written table a new token when its transaction commits."""
    names = [t for t in sa.inspect(engine).get_table_names() if t not in (VERSIONS_TABLE, "alembic_version")]
    tables = StatementTables(names)
    classify = tables.classify
    upsert = UPSERT if engine.dialect.paramstyle == "qmark" else UPSERT.replace("?", "%s")

    @sa.event.listens_for(engine, "after_cursor_execute")
    def _seen(conn, cursor, statement, _parameters, _context, _executemany):
        if "pagecache_skip" in conn.info:
            return
        reads, written = classify(statement)
        # A write that changed no row (an UPDATE ... WHERE that matched nothing) invalidates nothing.
        # With RETURNING, sqlite3 counts the rows only once they are fetched: a description means rows.
        if written is not None and (cursor.rowcount != 0 or cursor.description is not None):
            conn.info.setdefault("pagecache_written", set()).add(written)
        recording = _reading.get()
        if recording is not None:
            recording.update(reads)

    @sa.event.listens_for(engine, "commit")
    def _commit(conn):
        if conn.invalidated:
            return
        written = conn.info.pop("pagecache_written", None)
        if written:
            cursor = conn.connection.cursor()
            try:
                cursor.executemany(upsert, [(name, secrets.randbits(62)) for name in sorted(written)])
            finally:
                cursor.close()

    @sa.event.listens_for(engine, "rollback")
    def _rollback(conn):
        if not conn.invalidated:
            conn.info.pop("pagecache_written", None)

    return tables


def note_written(conn: sa.Connection, *tables: str) -> None:
    """Writes the statement watch cannot see (PostgreSQL's COPY through the driver): count them in."""
    conn.info.setdefault("pagecache_written", set()).update(tables)


class PageCache:
    def __init__(self, app: Flask, engine: sa.Engine, tables: StatementTables):
        self.seconds = float(app.config["PAGE_CACHE_SECONDS"])
        self.max_bytes = int(app.config["PAGE_CACHE_MAX_BYTES"])
        self.remember_cookie = app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
        self._entries: OrderedDict[tuple, Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.tables = tables
        # PostgreSQL: the process reads the tokens on one connection it keeps in autocommit (one
        # round trip; a pooled connection costs a ping, a BEGIN and a ROLLBACK more), from an engine
        # without a pool (_reader_engine): never handed to a request. One per process, not per
        # thread (a development server starts a thread per request), used under a lock.
        self._reader = SimpleNamespace(conn=None, pid=None) if engine.dialect.name == "postgresql" else None
        self._reader_lock = threading.Lock()
        self._orphans: list = []  # readers inherited through a fork: never used, never closed here

    # --- serving -----------------------------------------------------------------------------

    def eligible(self) -> bool:
        """Whether this request may be served from, and stored in, the cache: anonymous, nothing pending."""
        if request.method not in ("GET", "HEAD") or "Authorization" in request.headers:
            return False
        if self.remember_cookie in request.cookies:
            return False
        return "_user_id" not in session and "_flashes" not in session

    def key(self) -> tuple:
        return (request.scheme, request.host, str(get_locale()), request.full_path)

    def tokens(self) -> dict[str, int]:
        """Every table's token, read before the page (a change committed meanwhile only makes it stale).

        On a pooled connection of its own, through the driver's cursor: a hit's only query, ~20 µs
        instead of ~170 µs through the session (measured on SQLite).
        """
        if self._reader is not None:
            return self._tokens_autocommit()
        with db.engine.connect() as conn:
            cursor = conn.connection.cursor()
            try:
                cursor.execute("SELECT name, token FROM cache_versions")
                return dict(cursor.fetchall())
            finally:
                cursor.close()

    def _reader_engine(self) -> sa.Engine:
        """This process's engine for the token reader: outside the app's pool (the reader is held
        for good, in autocommit, and must never be handed to a request), no pool of its own."""
        made = getattr(self, "_readers_engine", None)
        if made is None or made[0] != os.getpid():
            made = (os.getpid(), sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool))
            self._readers_engine = made
        return made[1]

    def _tokens_autocommit(self) -> dict[str, int]:
        with self._reader_lock:
            return self._read_tokens()

    def _read_tokens(self) -> dict[str, int]:
        engine = self._reader_engine()
        lost = (engine.dialect.loaded_dbapi.OperationalError, engine.dialect.loaded_dbapi.InterfaceError)
        for attempt in (1, 2):
            conn = self._reader.conn
            if conn is not None and self._reader.pid != os.getpid():
                # Made before a fork: the parent's socket. Keep the object (so that collecting it
                # closes nothing) and open this process's own.
                self._orphans.append(conn)
                conn = None
            if conn is None:
                conn = engine.raw_connection()
                conn.driver_connection.autocommit = True
                self._reader.conn, self._reader.pid = conn, os.getpid()
            try:
                cursor = conn.cursor()
                try:
                    cursor.execute("SELECT name, token FROM cache_versions")
                    return dict(cursor.fetchall())
                finally:
                    cursor.close()
            except lost:
                # The server restarted or dropped the connection: forget it, try once with a new one.
                self._reader.conn = None
                conn.invalidate()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def lookup(self, key: tuple, tokens: dict[str, int]) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.expires > time.monotonic() and all(tokens.get(n, 0) == t for n, t in entry.tokens.items()):
                self._entries.move_to_end(key)
                return entry
            self._drop(key)
            return None

    def store(self, key: tuple, response, reads: set[str], tokens: dict[str, int]) -> None:
        body = response.get_data()
        if len(body) * 4 > self.max_bytes:
            return
        headers = [(k, v) for k, v in response.headers.items() if k.lower() not in ("content-length", "set-cookie")]
        entry = Entry(
            body=body,
            status=response.status_code,
            headers=headers,
            tokens={name: tokens.get(name, 0) for name in reads},
            etag=hashlib.blake2b(body, digest_size=12).hexdigest(),
            expires=time.monotonic() + self._lifetime(),
        )
        with self._lock:
            if key in self._entries:
                self._drop(key)
            self._entries[key] = entry
            self._bytes += len(body)
            while self._bytes > self.max_bytes and self._entries:
                self._drop(next(iter(self._entries)))

    def _lifetime(self) -> float:
        until = g.get("page_cache_until")
        if until is None:
            return self.seconds
        return max(0.0, min(self.seconds, (until - utcnow()).total_seconds()))

    def _drop(self, key: tuple) -> None:
        entry = self._entries.pop(key)
        self._bytes -= len(entry.body)

    def serve(self, view, args, kwargs):
        if not self.eligible():
            return view(*args, **kwargs)
        key = self.key()
        tokens = self.tokens()
        entry = self.lookup(key, tokens)
        if entry is not None:
            response = current_app.response_class(entry.body, status=entry.status, headers=entry.headers)
            response.headers["X-Page-Cache"] = "hit"
            response.set_etag(entry.etag)
            return response.make_conditional(request)
        reads: set[str] = set()
        token = _reading.set(reads)
        try:
            response = make_response(view(*args, **kwargs))
        finally:
            _reading.reset(token)
        if response.status_code == 200 and not session.modified and "csrf_token" not in g and not response.is_streamed:
            self.store(key, response, reads, tokens)
            response.headers["X-Page-Cache"] = "miss"
        return response


def keep_until(when: datetime) -> None:
    """The page being made shows something due at `when` (a deadline): keep it no longer than that."""
    if has_request_context():
        g.page_cache_until = min(when, g.get("page_cache_until", when))


def public_page(view):
    """Serve this view's page from the page cache to anonymous visitors (see the module's docstring)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        cache: PageCache | None = current_app.extensions.get("page_cache")
        if cache is None:
            return view(*args, **kwargs)
        return cache.serve(view, args, kwargs)

    return wrapper


def init_app(app: Flask) -> None:
    """Watch the database's writes whenever it has the versions table (a process that serves no
    kept pages, a CLI command or a server with PAGE_CACHE off, still invalidates the others'),
    and serve kept pages when PAGE_CACHE is on."""
    with app.app_context():
        engine = db.engine
        if not sa.inspect(engine).has_table(VERSIONS_TABLE):
            # Not migrated yet (this process may be the one running the migrations): nothing to do.
            return
        tables = listen(engine)
        if app.config["PAGE_CACHE"]:
            app.extensions["page_cache"] = PageCache(app, engine, tables)
