"""gunicorn.conf.py: settings from the environment, refused when invalid, an access log without query
strings, database pools never shared across fork; and one real gunicorn serving the app."""

from __future__ import annotations

import os
import re
import runpy
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from marketplace import ROOT

CONF = ROOT / "gunicorn.conf.py"
PHONE = "13812345678"


@pytest.fixture
def load_conf(monkeypatch):
    """load_conf(VAR=value, ...) → the settings gunicorn.conf.py defines under exactly that environment."""

    def load(**env: str) -> dict:
        for name in list(os.environ):
            if name.startswith("GUNICORN_") or name == "PORT":
                monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return runpy.run_path(str(CONF))

    return load


def _gunicorn_config(settings: dict) -> Config:
    """The settings as gunicorn takes them from the file: each one through gunicorn's own validator."""
    cfg = Config()
    for name, value in settings.items():
        if name in cfg.settings:
            cfg.set(name, value)
    return cfg


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# --- values ----------------------------------------------------------------------------------------


def test_defaults(load_conf):
    conf = load_conf()
    assert conf["bind"] == ["127.0.0.1:8000"]
    assert conf["workers"] == _cores()
    assert (conf["worker_class"], conf["threads"]) == ("sync", 1)
    assert (conf["timeout"], conf["graceful_timeout"], conf["keepalive"]) == (30, 30, 2)
    assert (conf["max_requests"], conf["max_requests_jitter"]) == (0, 0)
    assert (conf["accesslog"], conf["loglevel"]) == ("-", "info")
    assert conf["forwarded_allow_ips"] == "127.0.0.1,::1"
    assert conf["preload_app"] is True
    cfg = _gunicorn_config(conf)
    assert cfg.address and cfg.workers == _cores() and cfg.preload_app
    assert cfg.logger_class is conf["PrivateAccessLogger"]


def test_every_setting_from_the_environment(load_conf):
    conf = load_conf(
        GUNICORN_BIND="10.0.0.5:9000, unix:/run/marketplace.sock",
        GUNICORN_WORKERS="7",
        GUNICORN_WORKER_CLASS="gthread",
        GUNICORN_THREADS="4",
        GUNICORN_TIMEOUT="60",
        GUNICORN_GRACEFUL_TIMEOUT="20",
        GUNICORN_KEEPALIVE="75",
        GUNICORN_MAX_REQUESTS="100000",
        GUNICORN_MAX_REQUESTS_JITTER="10000",
        GUNICORN_ACCESS_LOG="/var/log/marketplace/access.log",
        GUNICORN_LOG_LEVEL="WARNING",
        GUNICORN_FORWARDED_ALLOW_IPS="10.0.0.2,10.0.1.0/24",
        GUNICORN_PRELOAD="false",
    )
    assert conf["bind"] == ["10.0.0.5:9000", "unix:/run/marketplace.sock"]
    assert (conf["workers"], conf["worker_class"], conf["threads"]) == (7, "gthread", 4)
    assert (conf["timeout"], conf["graceful_timeout"], conf["keepalive"]) == (60, 20, 75)
    assert (conf["max_requests"], conf["max_requests_jitter"]) == (100000, 10000)
    assert (conf["accesslog"], conf["loglevel"]) == ("/var/log/marketplace/access.log", "warning")
    assert conf["preload_app"] is False
    cfg = _gunicorn_config(conf)
    assert cfg.forwarded_allow_ips == ["10.0.0.2", "10.0.1.0/24"]
    assert (cfg.workers, cfg.threads, cfg.keepalive, cfg.loglevel) == (7, 4, 75, "warning")


def test_port_is_honoured_only_without_gunicorn_bind(load_conf):
    assert load_conf(PORT="9100")["bind"] == ["0.0.0.0:9100"]
    assert load_conf(PORT="9100", GUNICORN_BIND="127.0.0.1:9200")["bind"] == ["127.0.0.1:9200"]


def test_empty_values_mean_the_default_but_an_empty_access_log_turns_it_off(load_conf):
    conf = load_conf(GUNICORN_WORKERS="", GUNICORN_BIND=" ", GUNICORN_PRELOAD="", GUNICORN_ACCESS_LOG="")
    assert (conf["workers"], conf["bind"], conf["preload_app"]) == (_cores(), ["127.0.0.1:8000"], True)
    assert conf["accesslog"] is None
    assert _gunicorn_config(conf).accesslog is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GUNICORN_WORKERS", "abc"),
        ("GUNICORN_WORKERS", "0"),
        ("GUNICORN_WORKERS", "2.5"),
        ("GUNICORN_THREADS", "-1"),
        ("GUNICORN_TIMEOUT", "thirty"),
        ("GUNICORN_MAX_REQUESTS", "-5"),
        ("GUNICORN_PRELOAD", "maybe"),
        ("GUNICORN_WORKER_CLASS", "gevent"),
        ("GUNICORN_LOG_LEVEL", "loud"),
        ("PORT", "http"),
        ("PORT", "70000"),
    ],
)
def test_invalid_values_fail_naming_the_variable(load_conf, name, value):
    with pytest.raises(ValueError, match=rf"^{name} must .*{re.escape(repr(value))}"):
        load_conf(**{name: value})


def test_gunicorn_refuses_to_start_on_an_invalid_value(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUNICORN_")}
    env |= {"GUNICORN_WORKERS": "abc", "MARKETPLACE_INSTANCE_PATH": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path)}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "gunicorn"), "--check-config", "wsgi:app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "GUNICORN_WORKERS must be a whole number >= 1, not 'abc'" in result.stderr


# --- the access log -----------------------------------------------------------------------------------


def test_access_log_format_has_the_path_and_no_query_or_referer(load_conf):
    fmt = load_conf()["access_log_format"]
    assert "%(U)s" in fmt
    for atom in ("%(r)s", "%(q)s", "%(f)s", "{referer}i", "{query_string}e", "{raw_uri}e"):
        assert atom not in fmt


def _logged(conf: dict, fmt: str, path: str, query: str, referer: str) -> str:
    """One access-log line as the config's logger writes it, in the format `fmt`."""
    cfg = _gunicorn_config(conf | {"access_log_format": fmt, "accesslog": None})
    logger = cfg.logger_class(cfg)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"{path}?{query}",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_REFERER": referer,
        "HTTP_USER_AGENT": 'curl/8 "x"',
    }
    req = SimpleNamespace(headers=[("REFERER", referer), ("USER-AGENT", 'curl/8 "x"')])
    resp = SimpleNamespace(status="200 OK", sent=42, headers=[("Content-Type", "text/html")])
    atoms = logger.atoms(resp, req, environ, timedelta(milliseconds=5))
    return fmt % logger.atoms_wrapper_class(atoms)


def test_no_format_can_log_the_query_string(load_conf):
    conf = load_conf()
    everything = '%(r)s|%(q)s|%(f)s|%(U)s|%({referer}i)s|%({query_string}e)s|%({raw_uri}e)s|%({http_referer}e)s|"%(a)s"'
    for fmt in (conf["access_log_format"], Config().access_log_format, everything):
        line = _logged(conf, fmt, "/search", f"q={PHONE}", f"https://example.cn/search?q={PHONE}")
        assert PHONE not in line, line
    line = _logged(conf, everything, "/search", f"q={PHONE}", f"https://example.cn/search?q={PHONE}")
    assert line.startswith("GET /search HTTP/1.1|-|https://example.cn/search|/search|-|-|-|-|")
    assert line.endswith('"curl/8 \\x22x\\x22"')


def test_paths_are_escaped_so_no_line_can_be_forged(load_conf):
    conf = load_conf()
    # What gunicorn puts in PATH_INFO for /a%0A1.2.3.4%20-%20%22GET%20/admin%22/%E6%90%9C%FF: decoded, as Latin-1.
    path = b'/a\n1.2.3.4 - "GET /admin"/\xe6\x90\x9c\xff'.decode("latin-1")
    line = _logged(conf, conf["access_log_format"], path, "", "")
    assert "\n" not in line
    assert '"GET /a\\x0a1.2.3.4 - \\x22GET /admin\\x22/搜\\xff HTTP/1.1" 200 42 5ms' in line


# --- database pools and fork --------------------------------------------------------------------------


def _pooled_dbapi_connection(db):
    """Use the engine once; the DBAPI connection it used stays in the pool."""
    with db.engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
        return conn.connection.dbapi_connection


def _usable(dbapi_connection) -> bool:
    try:
        dbapi_connection.execute("SELECT 1")
    except Exception:
        return False
    return True


def test_post_fork_gives_the_worker_a_new_pool_and_leaves_the_masters_connections_alone(app, db, load_conf):
    conf = load_conf()
    inherited = _pooled_dbapi_connection(db)
    pool = db.engine.pool
    conf["post_fork"](SimpleNamespace(app=SimpleNamespace(callable=app)), SimpleNamespace())
    assert db.engine.pool is not pool
    assert _pooled_dbapi_connection(db) is not inherited
    assert _usable(inherited)  # close=False: closing it would close it under the master too
    inherited.close()


def test_the_master_closes_its_connections_before_forking(app, db, load_conf):
    conf = load_conf()
    held = _pooled_dbapi_connection(db)
    server = SimpleNamespace(app=SimpleNamespace(callable=app), cfg=SimpleNamespace(timeout=30), log=None)
    conf["when_ready"](server)
    assert not _usable(held)


def test_hooks_leave_loading_to_the_workers_when_the_app_is_not_preloaded(load_conf):
    conf = load_conf(GUNICORN_PRELOAD="false")
    server = SimpleNamespace(app=SimpleNamespace(callable=None, wsgi=lambda: pytest.fail("a hook loaded the app")))
    conf["when_ready"](server)
    conf["post_fork"](server, SimpleNamespace())


# --- a real gunicorn -----------------------------------------------------------------------------------


def _wait_for(predicate, what: str, proc: subprocess.Popen, logs: Path, limit: float = 60):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    pytest.fail(f"{what}; gunicorn said:\n{logs.read_text()}")


def _get(url: str, **headers) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read().decode()


def _database_files_open(pid: int, database: str) -> list[str]:
    names = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            names.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            continue
    return [name for name in names if name.startswith(database)]


def test_real_gunicorn_serves_the_app_and_logs_paths_without_queries(app, make_user, tmp_path_factory):
    # No identity data and no key files yet: the master reads the database while it loads the app
    # (create_app checks the keys against it), so it has a connection it must not hand to the workers.
    resident = make_user("laowang", display_name="旧物回收站老王")
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    runtime = tmp_path_factory.mktemp("ctl")  # gunicorn's control socket, away from $HOME (and short)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GUNICORN_", "MARKETPLACE_"))
        and k not in ("PORT", "DATABASE_URL", "REDIS_URL", "FORWARDED_ALLOW_IPS")
    }
    env |= {
        "DATABASE_URL": uri,
        "MARKETPLACE_INSTANCE_PATH": app.instance_path,
        "XDG_RUNTIME_DIR": str(runtime),
        "GUNICORN_BIND": "127.0.0.1:0",  # gunicorn takes a free port and says which
        "GUNICORN_WORKERS": "2",
        "GUNICORN_GRACEFUL_TIMEOUT": "5",
    }
    access, errors = runtime / "access.log", runtime / "error.log"
    with access.open("w") as out, errors.open("w") as err:
        # No -c: gunicorn finds ./gunicorn.conf.py in its working directory by itself.
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    try:
        listening = _wait_for(
            lambda: re.search(r"Listening at: (http://127\.0\.0\.1:\d+) \((\d+)\)", errors.read_text()),
            "gunicorn did not start listening",
            proc,
            errors,
        )
        base, master = listening.group(1), int(listening.group(2))
        assert _get(f"{base}/healthz") == (200, '{"status":"ok"}\n')
        status, page = _get(f"{base}/users/{resident.id}")
        assert status == 200 and "旧物回收站老王" in page  # the workers read the database after the fork
        status, _page = _get(f"{base}/search?q={PHONE}&sort=newest", Referer=f"{base}/search?q={PHONE}")
        assert status == 200
        # Each worker writes its line after its reply: two workers may write them in either order.
        log = _wait_for(
            lambda: (text := access.read_text()).count("\n") == 3 and text,
            "the access log did not get its three lines",
            proc,
            errors,
        )
        line = r'^127\.0\.0\.1 - - \[[^]]+\] "GET {path} HTTP/1\.1" 200 \d+ \d+ms "Python-urllib/[\d.]+"$'
        for path in ("/healthz", f"/users/{resident.id}", "/search"):
            assert re.search(line.format(path=re.escape(path)), log, re.MULTILINE), log
        everything = access.read_text() + errors.read_text()
        assert PHONE not in everything and "q=" not in everything
        if uri.startswith("sqlite:///") and os.path.isdir(f"/proc/{master}/fd"):
            # The master loaded the app (preload) but holds no database file: nothing for workers to share.
            assert _database_files_open(master, uri.removeprefix("sqlite:///")) == []
    finally:
        if proc.poll() is None:
            proc.terminate()  # SIGTERM: the master stops its workers and exits
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)


@pytest.mark.parametrize(("timeout", "warned"), [(30, False), (0, False), (20, True)])
def test_a_timeout_shorter_than_sqlites_lock_wait_is_warned_about(app, load_conf, timeout, warned):
    conf = load_conf()
    said = []
    server = SimpleNamespace(
        cfg=SimpleNamespace(timeout=timeout), log=SimpleNamespace(warning=lambda *args: said.append(args))
    )
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:////tmp/x.db"
    conf["_check_timeout"](server, app)
    assert bool(said) is warned
    app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://db/x"
    said.clear()
    conf["_check_timeout"](server, app)
    assert said == []  # PostgreSQL waits on row locks, not a database-wide one
