"""Layered fixtures: database template → app → db → client, plus user factories.

Each test gets an empty database of its own (on SQLite a copy of a file built once
per run; on PostgreSQL the worker's database, emptied before the test), so tests
can commit, race and append to the audit log freely.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import shutil
import uuid

import jinja2
import jinja2.bccache
import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from hypothesis import settings

from tests.pii import PiiWatch


class _MemoryBytecodeCache(jinja2.BytecodeCache):
    """Compiled templates kept in memory for the whole run (keyed by name and source checksum)."""

    def __init__(self) -> None:
        self._store: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        data = self._store.get(bucket.key)
        if data is not None:
            bucket.bytecode_from_string(data)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self._store[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CACHE = _MemoryBytecodeCache()


def _memoise_url_builders() -> None:
    """Compile each URL rule's builder once per run, not once per test app.

    Every test makes its own app (create_app), and 95% of that was Werkzeug compiling a Python
    function per URL rule (two per rule: ~340 compiles, 0.18 s a test on the CI machine). The
    function depends only on the rule's parsed parts, its defaults' names and append_unknown (it
    reaches the converters through the rule it is bound to), so the same code serves every app.
    A rule with a default for one of its own variables folds that value in: those are not shared.
    """
    from werkzeug.routing.rules import Rule

    original = Rule._compile_builder
    built: dict = {}

    def compile_builder(self, append_unknown: bool = True):
        defaults = self.defaults or {}
        if any(name in self._converters for name in defaults):
            return original(self, append_unknown)
        key = (self.rule, tuple(self._trace), tuple(sorted(defaults)), append_unknown)
        func = built.get(key)
        if func is None:
            func = built[key] = original(self, append_unknown)
        return func

    Rule._compile_builder = compile_builder


_memoise_url_builders()

# Shared factories, available to every test: verified users, sellers, listings.
pytest_plugins = ("tests.identity.factories", "tests.listings.sellers", "tests.orders.factories")

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")

# In CI the property-based tests are derandomised, so a run can be repeated exactly: there they
# are a fixed sample that guards against regressions, and half of hypothesis' default 100 examples
# is enough for that (tests that set their own numbers keep them). On a developer's machine they
# explore 100 new examples every time.
settings.register_profile("ci", derandomize=True, print_blob=True, max_examples=50)
if os.environ.get("CI"):
    settings.load_profile("ci")


def _pg_url(url: str) -> sa.URL:
    parsed = sa.make_url(url)
    return parsed.set(drivername="postgresql+psycopg")


def _pg_admin_engine(url: sa.URL) -> sa.Engine:
    return sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def _build_schema(uri: str, instance_path: str) -> None:
    from marketplace import create_app
    from marketplace.schema import build_database

    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "template", "INSTANCE_PATH": instance_path}
    )
    with app.app_context():
        build_database()
        from marketplace.db import db

        db.engine.dispose()


def _pg_reset_script(engine: sa.Engine) -> str:
    """SQL that gives the database back as the migrations left it: connections left over
    from the last test ended, every row but alembic's deleted, every sequence restarted.
    Triggers (the append-only guards, foreign keys) are off for this session only."""
    with engine.connect() as conn:
        tables = conn.exec_driver_sql(
            "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version' ORDER BY tablename"
        ).scalars()
        deletes = [f"DELETE FROM {table};" for table in tables]
        sequences = conn.exec_driver_sql(
            "SELECT quote_ident(sequencename) FROM pg_sequences WHERE schemaname = 'public'"
        ).scalars()
        restarts = [f"ALTER SEQUENCE {sequence} RESTART;" for sequence in sequences]
    return "\n".join(
        [
            "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid();",
            "BEGIN;",
            "SET LOCAL session_replication_role = replica;",
            *deletes,
            *restarts,
            "COMMIT;",
        ]
    )


def pytest_collection_modifyitems(config, items):
    """On PostgreSQL, run only the tests that use a database, and not the browser journeys.

    A test that needs no database (validators, the grading engine, the catalogs, property tests of
    pure functions) gives the same answer on either; CI runs the whole suite on SQLite first and
    then again on PostgreSQL, where those would only repeat themselves. The browser journeys
    (tests/e2e) test what the browser sees and does; every request they make is also made by the
    request tests, which run on PostgreSQL. Tests marked `once` walk what every page shows (the XSS
    and privacy walks over rendered pages), which does not depend on the database either.
    """
    if not TEST_DATABASE_URL:
        return
    uses_database = {"database_template", "live_database"}
    keep, repeat = [], []
    for item in items:
        on_database = uses_database & set(getattr(item, "fixturenames", ()))
        once = item.get_closest_marker("e2e") or item.get_closest_marker("once")
        (keep if on_database and once is None else repeat).append(item)
    if repeat:
        config.hook.pytest_deselected(items=repeat)
        items[:] = keep


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    """Build the schema once; yields (make, drop): make gives a test an empty database."""
    base = tmp_path_factory.mktemp("db")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    if TEST_DATABASE_URL:
        # One database per worker, emptied before each test: making a database from a
        # template and dropping it cost more than most tests themselves on PostgreSQL.
        url = _pg_url(TEST_DATABASE_URL)
        name = f"{url.database}_{worker}"
        admin = _pg_admin_engine(url)
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        uri = url.set(database=name).render_as_string(hide_password=False)
        _build_schema(uri, str(base))
        owner = sa.create_engine(url.set(database=name), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        reset = _pg_reset_script(owner)

        def make(_tmp_path) -> str:
            with owner.connect() as conn:
                conn.exec_driver_sql(reset)
            return uri

        yield make, lambda uri: None
        owner.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
    else:
        template = base / "template.db"
        _build_schema(f"sqlite:///{template}", str(base))

        def make(tmp_path) -> str:
            target = tmp_path / f"test-{uuid.uuid4().hex[:8]}.db"
            shutil.copyfile(template, target)
            return f"sqlite:///{target}"

        yield make, lambda uri: None


class CsrfClient(FlaskClient):
    """A test client that sends the CSRF token with form posts, as a browser would."""

    def csrf_token(self) -> str:
        # Signed in, the layout's logout form has one; a visitor's public pages have none (they are
        # cached for everyone), so the login form gives it.
        for path in ("/", "/login"):
            html = self.get(path).get_data(as_text=True)
            match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
            if match:
                return match.group(1)
        raise AssertionError("no CSRF token found on the home page or the login page")

    def open(self, *args, **kwargs):
        method = (kwargs.get("method") or "GET").upper()
        data = kwargs.get("data")
        csrf = kwargs.pop("csrf", True)
        if method in ("POST", "PUT", "PATCH", "DELETE") and csrf and isinstance(data, dict) and "json" not in kwargs:
            data = dict(data)
            data.setdefault("csrf_token", self.csrf_token())
            kwargs["data"] = data
        from marketplace.db import db as _db

        # The test's own session commits first (the request must see the test's data and
        # must not wait on its lock) and after (so the test sees what the request wrote).
        _db.session.commit()
        # A fresh app context per request, as in production: `g` (CSRF token, logged-in
        # user) and the request's database session are not shared with the test's.
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        _db.session.commit()
        self.application.extensions["pii_watch"].check_response(response)
        return response


@pytest.fixture
def app_config(tmp_path):
    """Settings for the test app; override in a test module to change them."""
    return {}


@pytest.fixture
def app(database_template, tmp_path, app_config):
    """A fresh application on a fresh copy of the database."""
    from marketplace import create_app
    from marketplace.db import db as _db

    make, drop = database_template
    uri = make(tmp_path)
    instance = tmp_path / "instance"
    instance.mkdir()
    config = {
        "INSTANCE_PATH": str(instance),
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": uri,
        "RATELIMIT_ENABLED": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        "SERVER_NAME": "localhost",
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_SECURE": False,
    }
    config.update(app_config)
    application = create_app(config)
    application.test_client_class = CsrfClient
    # Every test has its own app: without a shared cache each one compiled every template again.
    application.jinja_env.bytecode_cache = TEMPLATE_CACHE
    watch = PiiWatch()
    application.extensions["pii_watch"] = watch
    handler = watch.log_handler()
    logging.getLogger().addHandler(handler)
    application.logger.addHandler(handler)
    with application.app_context():
        yield application
        _db.session.remove()
        _db.engine.dispose()
    logging.getLogger().removeHandler(handler)
    application.logger.removeHandler(handler)
    watch.assert_clean()
    drop(uri)


@pytest.fixture
def db(app):
    """The database session of the test app."""
    from marketplace.db import db as _db

    return _db


@pytest.fixture
def client(app):
    """A browser-like client (cookies, CSRF token on form posts)."""
    return app.test_client()


@pytest.fixture
def api(app):
    """A client for the JSON API."""
    return app.test_client()


@pytest.fixture
def cli(app):
    """cli("audit", "verify") runs a command in its own app context, as a separate process would."""
    from marketplace.db import db as _db

    def run(*args: str):
        _db.session.commit()
        with app.app_context():
            result = app.test_cli_runner().invoke(args=list(args))
        _db.session.commit()
        return result

    return run


# --- user factories -------------------------------------------------------


@pytest.fixture(scope="session")
def password():
    """The password every factory-made user has."""
    return "Lvse-Xunhuan-2026"


@pytest.fixture(scope="session")
def _password_hash(password):
    """The factory users' hash: scrypt as in production, with a smaller work factor.

    A login checks it with the parameters stored in the hash, so every login in the suite costs
    a few milliseconds instead of a quarter second (registration still hashes at the production cost).
    """
    from werkzeug.security import generate_password_hash

    return generate_password_hash(password, method="scrypt:1024:8:1")


@pytest.fixture
def cheap_password_hashing(monkeypatch):
    """Accounts made through the service (registration, the demo city) hash with the factories' small
    scrypt work factor: the demo's 30 users cost seconds at the production cost, for no test's sake."""
    from werkzeug.security import generate_password_hash

    monkeypatch.setattr(
        "marketplace.accounts.service.hash_password",
        lambda password: generate_password_hash(password, method="scrypt:1024:8:1"),
    )


@pytest.fixture
def make_user(db, _password_hash):
    """Factory: make_user(roles=("moderator",), username=..., status=...) → a committed User."""
    from marketplace.accounts.models import User, UserRole

    seq = itertools.count(1)

    def make(username: str | None = None, *, roles=("resident",), display_name: str | None = None, **fields):
        n = next(seq)
        username = username or f"user{n}"
        user = User(username=username, display_name=display_name or f"用户{n}", password_hash=_password_hash, **fields)
        for role in dict.fromkeys(("resident", *roles)):
            user.role_rows.append(UserRole(role=role))
        db.session.add(user)
        db.session.commit()
        return user

    return make


@pytest.fixture
def user(make_user):
    """A plain resident."""
    return make_user("alice")


@pytest.fixture
def moderator(make_user):
    return make_user("mod", roles=("moderator",))


@pytest.fixture
def login(client, password):
    """login(user) logs the browser client in as `user`."""

    def do(user, c=None):
        c = c or client
        resp = c.post("/login", data={"username": user.username, "password": password})
        assert resp.status_code == 302, resp.get_data(as_text=True)
        return c

    return do


@pytest.fixture
def token_for(api, password):
    """token_for(user) → headers with a bearer token for the API."""

    def do(user):
        resp = api.post("/api/v1/auth/token", json={"username": user.username, "password": password})
        assert resp.status_code == 200, resp.get_json()
        return {"Authorization": f"Bearer {resp.get_json()['token']}"}

    return do
