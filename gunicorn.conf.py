"""gunicorn settings for the marketplace, every one read from the environment.

gunicorn reads ./gunicorn.conf.py from its working directory; `make serve` runs
`gunicorn -c gunicorn.conf.py wsgi:app` from the repository root. docs/DEPLOY.md says
how these fit into a deployment. An invalid value stops gunicorn before it binds,
naming the variable ("GUNICORN_WORKERS must be a whole number >= 1, not 'abc'").
An empty variable counts as unset, except GUNICORN_ACCESS_LOG (empty = no access log).

variable                       default                meaning
GUNICORN_BIND                  127.0.0.1:8000         address(es) to listen on, comma-separated: host:port,
                                                      [::1]:port or unix:/path. Loopback: only the proxy on
                                                      this machine reaches the app.
PORT                           (unset)                when set and GUNICORN_BIND is not: 0.0.0.0:$PORT, the
                                                      convention of container platforms (as gunicorn does)
GUNICORN_WORKERS               cores available       worker processes. Sync workers serve one request at a
                                                      time each and the app's requests are CPU work (templates,
                                                      search tokenising, scrypt at login) on a local database,
                                                      not waits on the network: a worker per core keeps every
                                                      core busy; gunicorn's 2 x cores + 1 rule is for workers
                                                      that wait on I/O, and here it only adds memory, context
                                                      switches and writers queueing for SQLite's one write lock.
                                                      "Cores" are those this process may run on (CPU affinity,
                                                      e.g. docker --cpuset-cpus); a CPU quota (docker --cpus)
                                                      is not seen: set the number yourself there.
GUNICORN_WORKER_CLASS          sync                   sync, or gthread (threads in each worker)
GUNICORN_THREADS               1                      threads per worker; more than 1 makes gunicorn use gthread
GUNICORN_TIMEOUT               30                     seconds a worker may stay silent on a request before it
                                                      is killed and replaced (0 = never). On SQLite keep it
                                                      above the 25 s a writer may wait for the write lock
                                                      (marketplace/db.py): the app warns at start if it is not
GUNICORN_GRACEFUL_TIMEOUT      30                     seconds workers get to finish their requests on restart
                                                      or stop (HUP, TERM) before they are killed
GUNICORN_KEEPALIVE             2                      seconds an idle keep-alive connection stays open (gthread
                                                      only: sync workers close every connection after a reply)
GUNICORN_MAX_REQUESTS          0                      a worker is replaced after this many requests (0 = never),
GUNICORN_MAX_REQUESTS_JITTER   0                      plus a random 0..jitter so they do not all restart at once.
                                                      Off by default: what a worker keeps (compiled templates and
                                                      SQL, the page cache) is bounded and is its speed, and the
                                                      workers' memory was measured flat under `make bench`; set
                                                      it (say 100000 and 10000) if memory is seen to grow
GUNICORN_ACCESS_LOG            -                      access log file; "-" is stdout, empty turns it off
GUNICORN_LOG_LEVEL             info                   debug, info, warning, error or critical (gunicorn's log)
GUNICORN_FORWARDED_ALLOW_IPS   127.0.0.1,::1          addresses or networks of the proxies whose X-Forwarded-Proto
                                                      is believed (set it to the proxy's address when the proxy
                                                      runs on another machine; "*" trusts anyone: never)
GUNICORN_PRELOAD               true                   load the app once in the master, before forking: the code,
                                                      compiled templates and translations are shared copy-on-write
                                                      by every worker, a broken app fails at start, not in each
                                                      worker. Database connections are never shared: see post_fork.

The access log never contains a query string, nor the Referer (which holds the previous page's
query, e.g. a search for a phone number): only method, path, status, size, time and user agent.
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

from gunicorn.glogging import Logger


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _int(name: str, default: int, minimum: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = int(raw, 10)
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, not {raw!r}")
    return value


def _bool(name: str, default: bool) -> bool:
    raw = _env(name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false (1/0, yes/no, on/off), not {raw!r}")


def _choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = _env(name)
    if raw is None:
        return default
    if raw.lower() not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {raw!r}")
    return raw.lower()


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may use (Linux)
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _bind() -> list[str]:
    raw = _env("GUNICORN_BIND")
    if raw is not None:
        return [part.strip() for part in raw.split(",") if part.strip()]
    port = _env("PORT")
    if port is not None:
        if not (port.isdigit() and 0 < int(port) < 65536):
            raise ValueError(f"PORT must be a port number (1-65535), not {port!r}")
        return [f"0.0.0.0:{int(port)}"]
    return ["127.0.0.1:8000"]


bind = _bind()
workers = _int("GUNICORN_WORKERS", _cores(), 1)
worker_class = _choice("GUNICORN_WORKER_CLASS", "sync", ("sync", "gthread"))
threads = _int("GUNICORN_THREADS", 1, 1)
timeout = _int("GUNICORN_TIMEOUT", 30, 0)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30, 0)
keepalive = _int("GUNICORN_KEEPALIVE", 2, 0)
max_requests = _int("GUNICORN_MAX_REQUESTS", 0, 0)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 0, 0)
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-").strip() or None
loglevel = _choice("GUNICORN_LOG_LEVEL", "info", ("debug", "info", "warning", "error", "critical"))
forwarded_allow_ips = _env("GUNICORN_FORWARDED_ALLOW_IPS") or "127.0.0.1,::1"
preload_app = _bool("GUNICORN_PRELOAD", True)

# Common Log Format with the path only (%(U)s), not the request line (%(r)s, which carries the
# query string), no Referer, and the response time in milliseconds.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms "%(a)s"'

# Characters written as \xNN in the log: controls (a %0A in a path would start a forged line),
# the quote that closes a field, the backslash itself, and bytes that are not UTF-8.
_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f"\\\udc80-\udcff]')


def _escape(text: str) -> str:
    return _UNSAFE.sub(lambda m: f"\\x{ord(m.group()) & 0xFF:02x}", text)


class PrivateAccessLogger(Logger):
    """gunicorn's logger, with nothing of the query string in any access-log field.

    Whatever the format (it can be changed with GUNICORN_CMD_ARGS), %(r)s is rebuilt from the
    path, %(q)s is empty and the Referer is cut to its path; %(U)s and %(a)s are escaped.
    (With statsd_host set, add gunicorn's statsd logger yourself: this class replaces the default.)
    """

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        # PATH_INFO is the decoded path as Latin-1 (PEP 3333): show it as the UTF-8 it was sent as.
        path = (environ.get("PATH_INFO") or "").encode("latin-1", "replace").decode("utf-8", "surrogateescape")
        atoms["U"] = _escape(path)
        atoms["a"] = _escape(str(atoms.get("a", "-")))
        atoms["r"] = f"{atoms['m']} {atoms['U']} {atoms['H']}"
        atoms["q"] = "-"
        referer = urlsplit(environ.get("HTTP_REFERER", ""))
        atoms["f"] = _escape(f"{referer.scheme}://{referer.netloc}{referer.path}") if referer.netloc else "-"
        for key in ("{referer}i", "{query_string}e", "{raw_uri}e", "{http_referer}e", "{request_uri}e"):
            atoms.pop(key, None)
        return atoms


logger_class = PrivateAccessLogger


# --- database connections and fork --------------------------------------------------------------------
#
# With preload_app the master builds the app, and building it reads the database (the identity keys
# are checked against it), so the master's SQLAlchemy pool holds a connection. A connection must never
# be used by two processes: a forked worker would share the master's socket (PostgreSQL) or file
# handle and locks (SQLite). SQLAlchemy's documented remedy ("Using Connection Pools with
# Multiprocessing or os.fork()"): in the child, before it touches the database, call
# Engine.dispose(close=False), which gives the child a new, empty pool and leaves the inherited
# connections alone (closing them would close them for the master too). The master also drops its
# own connections once the app is loaded, before the first fork: it never serves a request.


def _dispose_engines(server, close: bool) -> None:
    app = getattr(server.app, "callable", None)  # the preloaded app; None until a worker loads its own
    if app is None or not hasattr(app, "app_context"):
        return
    from marketplace.db import db

    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=close)


def when_ready(server):
    """In the master, after the app is loaded and before any worker is forked."""
    _dispose_engines(server, close=True)
    app = getattr(server.app, "callable", None)
    if app is not None and hasattr(app, "jinja_env"):
        # Compile every template once here: the workers share the compiled code instead of each
        # compiling its own on its first requests.
        from marketplace import compile_templates

        compile_templates(app)
        _check_timeout(server, app)


def _check_timeout(server, app) -> None:
    """Warn when a sync worker would be killed while its request still waits for SQLite's write lock."""
    from marketplace.db import SQLITE_BUSY_TIMEOUT_MS

    uri = str(app.config.get("SQLALCHEMY_DATABASE_URI", ""))
    if uri.startswith("sqlite") and 0 < server.cfg.timeout <= SQLITE_BUSY_TIMEOUT_MS / 1000 + 2:
        server.log.warning(
            "GUNICORN_TIMEOUT=%s is not above the %s s a write may wait for SQLite's lock: under a burst of "
            "writes a worker could be killed mid-request (set it to 30 or more)",
            server.cfg.timeout,
            SQLITE_BUSY_TIMEOUT_MS // 1000,
        )


def post_fork(server, worker):
    """In each new worker, first thing after the fork."""
    _dispose_engines(server, close=False)
