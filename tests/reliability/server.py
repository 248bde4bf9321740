"""Real processes for the reliability suite: a database of the test's own and gunicorn serving it.

`LiveDatabase` is a fresh SQLite file or PostgreSQL database (TEST_DATABASE_URL, as the rest of the
suite) with the schema built; `database.app()` gives an in-process app on it for seeding and for
checking what the server wrote. `LiveServer` runs gunicorn with gunicorn.conf.py, as `make serve`
does (preloaded app, sync workers), on a free loopback port, in a process group of its own so
that `kill()` can take the master and every worker down with SIGKILL, as a crash would.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "reliability-" + secrets.token_hex(8)
_names = itertools.count(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def _pg_url(url: str) -> sa.URL:
    return sa.make_url(url).set(drivername="postgresql+psycopg")


@dataclass
class LiveDatabase:
    """A database of one test's own, with the schema built (SQLite file, or a PostgreSQL database)."""

    url: str
    instance: Path
    dialect: str
    _drop: object = field(default=None, repr=False)
    _apps: list = field(default_factory=list, repr=False)

    @property
    def path(self) -> Path:
        """The SQLite file (SQLite only)."""
        return Path(sa.make_url(self.url).database)

    def config(self, **extra) -> dict:
        """What every app on this database gets: the same secret key as the server, limits off."""
        return {
            "SQLALCHEMY_DATABASE_URI": self.url,
            "INSTANCE_PATH": str(self.instance),
            "SECRET_KEY": SECRET_KEY,
            "RATELIMIT_ENABLED": False,
            "RATELIMIT_STORAGE_URI": "memory://",
            "TESTING": True,
        } | extra

    def app(self, **extra):
        """An in-process app on this database (for seeding and for reading what the server wrote)."""
        from marketplace import create_app

        app = create_app(self.config(**extra))
        self._apps.append(app)
        return app

    def close(self) -> None:
        from marketplace.db import db

        for app in self._apps:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
        self._apps.clear()
        if self._drop:
            self._drop()


def make_database(tmp_path: Path) -> LiveDatabase:
    """A fresh database with the schema built: PostgreSQL when TEST_DATABASE_URL is set, else SQLite."""
    from marketplace.db import db
    from marketplace.schema import build_database

    instance = tmp_path / f"instance-{next(_names)}"
    instance.mkdir()
    base = os.environ.get("TEST_DATABASE_URL")
    drop = None
    if base:
        root = _pg_url(base)
        worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
        name = f"{root.database}_live_{worker}_{os.getpid()}_{next(_names)}"
        admin = sa.create_engine(
            root.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
        )
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = root.set(database=name).render_as_string(hide_password=False)

        def drop() -> None:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()

        dialect = "postgresql"
    else:
        url = f"sqlite:///{instance / 'marketplace.db'}"
        dialect = "sqlite"
    database = LiveDatabase(url=url, instance=instance, dialect=dialect, _drop=drop)
    app = database.app()
    with app.app_context():
        build_database()
        db.session.remove()
        db.engine.dispose()
    return database


class LiveServer:
    """gunicorn (gunicorn.conf.py, wsgi:app) on a free loopback port, serving `database`.

    `env` adds or overrides environment variables (MARKETPLACE_* settings, REDIS_URL, GUNICORN_*).
    Rate limits are off unless env turns them on (MARKETPLACE_RATELIMIT_ENABLED=true).
    """

    def __init__(self, database: LiveDatabase, log: Path, *, workers: int = 2, env: dict | None = None):
        self.database = database
        self.workers = workers
        self.log = log
        self.port = free_port()
        self.env = env or {}
        self.proc: subprocess.Popen | None = None
        self._log = None

    def environment(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MARKETPLACE_", "GUNICORN_"))}
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
        env |= {
            "DATABASE_URL": self.database.url,
            "MARKETPLACE_INSTANCE_PATH": str(self.database.instance),
            "MARKETPLACE_SECRET_KEY": SECRET_KEY,
            "MARKETPLACE_SESSION_COOKIE_SECURE": "false",
            "MARKETPLACE_REMEMBER_COOKIE_SECURE": "false",
            "MARKETPLACE_RATELIMIT_ENABLED": "false",
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_WORKERS": str(self.workers),
            "GUNICORN_ACCESS_LOG": "",
            "GUNICORN_LOG_LEVEL": "warning",
            "GUNICORN_TIMEOUT": "60",
            "PYTHONUNBUFFERED": "1",
        }
        return env | self.env

    def start(self, timeout: float = 60) -> LiveServer:
        gunicorn = Path(sys.executable).with_name("gunicorn")
        cmd = [str(gunicorn), "--config", str(ROOT / "gunicorn.conf.py"), "--chdir", str(ROOT)]
        cmd += ["--backlog", "2048", "wsgi:app"]
        self._log = self.log.open("ab")
        self.proc = subprocess.Popen(
            cmd, env=self.environment(), stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._close_log()
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                with urllib.request.urlopen(self.url("/healthz"), timeout=5) as response:
                    response.read()
                if len(self.worker_pids()) >= self.workers:
                    return self
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"gunicorn did not answer within {timeout} s:\n{self.log_text()}")

    def stop(self, timeout: float = 30) -> None:
        """A graceful stop (SIGTERM: workers finish their requests)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_log()

    def kill(self) -> None:
        """SIGKILL to the master and every worker at once, as a power cut or the OOM killer would."""
        if self.proc:
            workers = self.worker_pids()
            # The whole group, even if the master is gone already: no worker may outlive it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)
            deadline = time.monotonic() + 30
            while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
                time.sleep(0.05)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_text(self, tail: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def worker_pids(self) -> list[int]:
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            return []
        return [int(pid) for pid in children]

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def make_users(app, count: int, *, prefix: str, roles=("resident",), verified: bool = False) -> list[dict]:
    """`count` committed users with API tokens: [{"id", "username", "token", "headers"}].

    The password hash is scrypt with a small work factor (as the suite's factories), so that many
    users cost little; tokens are issued directly, not through the login endpoint (whose scrypt at
    production cost and rate limits are not what these tests measure). `verified` gives each a
    verified identity with a fresh (fake, checksum-valid) ID number and phone.
    """
    from werkzeug.security import generate_password_hash

    from marketplace.accounts.models import User, UserRole
    from marketplace.accounts.service import issue_token
    from marketplace.db import db

    password_hash = generate_password_hash("Lvse-Xunhuan-2026", method="scrypt:1024:8:1")
    made = []
    with app.app_context():
        for n in range(count):
            user = User(username=f"{prefix}{n}", display_name=f"{prefix}{n}", password_hash=password_hash)
            for role in dict.fromkeys(("resident", *roles)):
                user.role_rows.append(UserRole(role=role))
            db.session.add(user)
            db.session.flush()
            if verified:
                _verify(user)
            raw, _token = issue_token(user, app.config["API_TOKEN_TTL"])
            made.append({"id": user.id, "username": user.username, "token": raw})
        db.session.commit()
    for user in made:
        user["headers"] = {"Authorization": f"Bearer {user['token']}"}
    return made


def _verify(user) -> None:
    from marketplace.identity import service
    from marketplace.identity.verifiers import InstantVerifier
    from tests.identity.factories import make_id_number, make_phone

    data = {"real_name": "张小三", "id_number": make_id_number(), "phone": make_phone(), "kind": "resident"}
    service.submit(user, service.VerificationInput(**data), verifier=InstantVerifier())
