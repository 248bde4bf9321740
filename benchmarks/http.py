"""HTTP benchmark: the pages people use most, as a share of a hello-world route served by the same app and server.

    make bench                                   # SQLite at 200k listings, then PostgreSQL beside it
    make bench BENCH_ROWS=1000000                # 1M listings (or --million)
    .venv/bin/python benchmarks/http.py --rows 200000 --postgresql-url none      # SQLite only

For each database it seeds a fresh one (the demo data of `seed-demo`, then N listings with the code
behind `seed-bulk`), starts gunicorn with sync workers = cores on a free loopback port, checks every
URL answers 200 with the page it should, warms every worker up, then measures each URL with wrk
for --duration seconds, in --rounds rounds, each page right after a hello-world measurement of its
own (hello, home, hello, search, ...), so that the shared machine's noise falls on both figures of a
ratio alike. A page's ratio is its requests per second over that hello-world figure; the table
shows the median over the rounds and p50/p95/p99 latency, checks the targets, reports every
worker's memory after the run, and writes everything to benchmarks/results/http-<timestamp>.json.
Exit status 1 if a SQLite target is missed, a request failed, or a worker is over the memory limit.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named http.py: its folder must not stand first on sys.path, or `import http`
# (werkzeug, urllib) would find this file instead of the standard library's package.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sqlite3  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from urllib.parse import quote, urlencode  # noqa: E402

import click  # noqa: E402
import sqlalchemy as sa  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
HELLO = "hello"
MEMORY_LIMIT_MB = 150

# wrk prints this line when it is done: requests, errors and latency percentiles in microseconds.
WRK_SCRIPT = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\"requests\": %d, \"duration_us\": %d, \"connect\": %d, \"read\": %d, \"write\": %d, " ..
    "\"status\": %d, \"timeout\": %d, \"p50\": %d, \"p95\": %d, \"p99\": %d, \"max\": %d}\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


@dataclass
class Page:
    name: str
    path: str
    target: float | None  # least ratio to hello-world
    expect: str  # text the answer must contain (checked once before measuring)
    rounds: list[dict] = field(default_factory=list)
    # The hello-world figure taken just before each of this page's rounds.
    baseline: list[dict] = field(default_factory=list)


@dataclass
class Run:
    database: str
    listings: int
    pages: list[Page]
    memory: list[dict]
    seed_seconds: float
    errors: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(url: str, instance: Path, rows: int) -> tuple[int, float, dict]:
    """Build the schema, seed the demo data and `rows` bulk listings; return what the pages will show."""
    from marketplace import create_app

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "INSTANCE_PATH": str(instance),
            "RATELIMIT_ENABLED": False,
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    started = time.perf_counter()
    with app.app_context():
        from marketplace.db import db
        from marketplace.listings.bulk import bulk_insert
        from marketplace.schema import build_database
        from marketplace.seed import seed_demo

        build_database()
        seed_demo(echo=lambda _line: None)
        with click.progressbar(length=rows, label=f"seeding {rows:,} listings") as bar:
            bulk_insert(rows, 0, progress=bar.update)
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("VACUUM ANALYZE"))
        else:
            db.session.execute(sa.text("ANALYZE"))
            db.session.commit()
        targets = pick_targets(db)
        total = db.session.scalar(sa.text("SELECT count(*) FROM listings"))
        db.session.remove()
        db.engine.dispose()
    return total, time.perf_counter() - started, targets


def pick_targets(db) -> dict:
    """The listing and the seller the pages show: the demo's most photographed listing, its most rated seller."""
    listing = db.session.execute(
        sa.text(
            "SELECT l.id, l.title FROM listings l JOIN users u ON u.id = l.seller_id "
            "LEFT JOIN listing_photos p ON p.listing_id = l.id "
            "WHERE l.status = 'active' AND u.username NOT LIKE 'bulk\\_seller\\_%' ESCAPE '\\' "
            "GROUP BY l.id, l.title ORDER BY count(p.id) DESC, l.id LIMIT 1"
        )
    ).one()
    seller = db.session.execute(
        sa.text(
            "SELECT u.id, u.display_name FROM users u JOIN ratings r ON r.ratee_id = u.id "
            "WHERE u.status = 'active' GROUP BY u.id, u.display_name ORDER BY count(*) DESC, u.id LIMIT 1"
        )
    ).one()
    return {
        "listing": listing.id,
        "listing_title": listing.title,
        "seller": seller.id,
        "seller_name": seller.display_name,
    }


def pages(targets: dict) -> list[Page]:
    filtered = urlencode(
        {"q": "冰箱", "category": "appliance", "district": "jinfeng", "min_price": "500", "max_price": "3000"}
    )
    return [
        Page(HELLO, "/__bench/hello", None, "Hello, World!"),
        Page("home", "/", 0.60, "</html>"),
        Page("search 手机", "/search?q=" + quote("手机"), 0.45, "/listings/"),
        Page("search filtered", "/search?" + filtered, 0.45, "/listings/"),
        Page("listing", f"/listings/{targets['listing']}", 0.50, _html_text(targets["listing_title"])),
        Page("seller profile", f"/users/{targets['seller']}", 0.50, _html_text(targets["seller_name"])),
        Page("red board", "/red", 0.60, "</html>"),
        Page("black board", "/black", 0.60, "</html>"),
        Page("API search", "/api/v1/listings?q=" + quote("手机"), 0.45, '"items"'),
    ]


def _html_text(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


class Server:
    """gunicorn serving benchmarks/bench_wsgi.py on a free port, sync workers = cores."""

    def __init__(self, env: dict, workers: int, log: Path):
        self.port = free_port()
        self.workers = workers
        self.log = log
        self.env = env
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        # The settings `make serve` uses (gunicorn.conf.py: preloaded app, engine pools disposed
        # at fork), with sync workers = cores on a free port and no access log.
        gunicorn = Path(sys.executable).with_name("gunicorn")
        cmd = [str(gunicorn), "--config", str(ROOT / "gunicorn.conf.py"), "--chdir", str(ROOT)]
        cmd += ["--backlog", "2048", "benchmarks.bench_wsgi:app"]
        env = self.env | {
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_WORKERS": str(self.workers),
            "GUNICORN_WORKER_CLASS": "sync",
            "GUNICORN_THREADS": "1",
            "GUNICORN_ACCESS_LOG": "",
            "GUNICORN_LOG_LEVEL": "warning",
        }
        self._log = self.log.open("wb")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.__exit__()
                raise SystemExit(f"gunicorn exited with {self.proc.returncode}; see {self.log}")
            try:
                urllib.request.urlopen(self.url("/healthz"), timeout=2).read()
                if len(self.worker_pids()) == self.workers:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.__exit__()  # `with` calls __exit__ only when __enter__ returned: stop the server here
        raise SystemExit(f"gunicorn did not answer within 60 s; see {self.log}")

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def worker_pids(self) -> list[int]:
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            return []
        return [int(pid) for pid in children]

    def memory(self) -> list[dict]:
        """Each worker's resident memory and its proportional share (PSS counts pages shared with the others once)."""
        found = []
        for pid in self.worker_pids():
            values = {}
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                key, _, rest = line.partition(":")
                if key in ("Rss", "Pss"):
                    values[key.lower()] = round(int(rest.split()[0]) / 1024, 1)
            found.append({"pid": pid, "rss_mb": values.get("rss"), "pss_mb": values.get("pss")})
        return found


def check(server: Server, page: Page) -> str | None:
    """Fetch the page once: None if it is the page it should be, else what went wrong."""
    try:
        with urllib.request.urlopen(server.url(page.path), timeout=30) as response:
            body = response.read().decode("utf-8", "replace")
            if response.status != 200:
                return f"{page.name}: HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"{page.name}: HTTP {exc.code}"
    if page.expect not in body:
        return f"{page.name}: the answer does not contain {page.expect!r}"
    return None


def wrk(wrk_bin: str, script: Path, url: str, seconds: float, connections: int, threads: int) -> dict:
    cmd = [wrk_bin, f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s", "-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("WRKJSON "))
    stats = json.loads(line.removeprefix("WRKJSON "))
    stats["rps"] = stats["requests"] / (stats["duration_us"] / 1e6)
    stats["failed"] = sum(stats[k] for k in ("connect", "read", "write", "status", "timeout"))
    return stats


def measure(url: str, rows: int, args, wrk_bin: str, label: str) -> Run:
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        tmp_path = Path(tmp)
        instance = tmp_path / "instance"
        db_url = url or f"sqlite:///{instance}/marketplace.db"
        instance.mkdir()
        click.echo(f"\n== {label}: seeding the demo data and {rows:,} listings")
        total, seed_seconds, targets = seed(db_url, instance, rows)
        click.echo(f"   {total:,} listings in {seed_seconds:.0f} s")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MARKETPLACE_", "GUNICORN_"))}
        env |= {"MARKETPLACE_INSTANCE_PATH": str(instance), "PYTHONPATH": str(ROOT)}
        env.pop("DATABASE_URL", None)
        if url:
            env["DATABASE_URL"] = url
        # The limiter would answer 429 to a load test from one address; the benchmark measures pages.
        env["MARKETPLACE_RATELIMIT_ENABLED"] = "false"
        if args.no_page_cache:
            env["MARKETPLACE_PAGE_CACHE"] = "false"
        script = tmp_path / "report.lua"
        script.write_text(WRK_SCRIPT)
        run = Run(label, total, pages(targets), [], round(seed_seconds, 1))
        with Server(env, args.workers, tmp_path / "gunicorn.log") as server:
            run.errors += [e for e in (check(server, page) for page in run.pages) if e]
            if run.errors:
                click.echo("\n".join(run.errors))
                click.echo((tmp_path / "gunicorn.log").read_text()[-3000:])
                return run
            click.echo(f"   warming up {args.workers} workers ...")
            for page in run.pages:
                wrk(wrk_bin, script, server.url(page.path), args.warmup, args.connections, args.threads)
            hello, others = run.pages[0], run.pages[1:]
            for n in range(args.rounds):
                click.echo(f"   round {n + 1}/{args.rounds}: ", nl=False)
                # Each round starts one page further on, so that no page is always first or last.
                for page in others[n % len(others) :] + others[: n % len(others)]:
                    # Each page right after a hello-world measurement of its own: its ratio compares
                    # two figures taken seconds apart, whatever the shared machine does meanwhile.
                    for measured in (hello, page):
                        stats = wrk(
                            wrk_bin, script, server.url(measured.path), args.duration, args.connections, args.threads
                        )
                        measured.rounds.append(stats)
                    page.baseline.append(hello.rounds[-1])
                    click.echo(f"{page.name} {stats['rps'] / hello.rounds[-1]['rps']:.0%}  ", nl=False)
                click.echo("")
            run.memory = server.memory()
            failed = sum(s["failed"] for page in run.pages for s in page.rounds)
            if failed:
                run.errors.append(f"{failed} requests failed or answered non-2xx")
    return run


def summarise(run: Run) -> list[dict]:
    hello = run.pages[0]
    rows = []
    for page in run.pages:
        paired = zip(page.rounds, page.baseline, strict=True) if page is not hello else ()
        ratios = [s["rps"] / h["rps"] for s, h in paired]
        ratio = statistics.median(ratios) if ratios else (1.0 if page is hello else None)
        rows.append(
            {
                "page": page.name,
                "path": page.path,
                "rps": statistics.median(s["rps"] for s in page.rounds) if page.rounds else None,
                "ratio": ratio,
                "ratios": ratios,
                "target": page.target,
                "pass": None if page.target is None or ratio is None else ratio >= page.target,
                **{
                    k: statistics.median(s[k] / 1000 for s in page.rounds) if page.rounds else None
                    for k in ("p50", "p95", "p99")
                },
                "failed": sum(s["failed"] for s in page.rounds),
            }
        )
    return rows


def show(runs: list[Run], tables: list[list[dict]], args) -> None:
    click.echo("")
    for run in runs:
        click.echo(
            f"{run.database} · {run.listings:,} listings · {args.workers} sync workers · "
            f"wrk -c{args.connections} · {args.rounds}×{args.duration:g} s per page"
            + ("" if args.no_page_cache is False else " · page cache OFF")
        )
    head = f"{'page':<16} {'target':>7}"
    for run in runs:
        short = run.database.split()[0]
        head += f" | {short + ' req/s':>15} {'ratio':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'':>4}"
    click.echo(head)
    click.echo("-" * len(head))
    for i, first in enumerate(tables[0]):
        target = f"≥{first['target']:.0%}" if first["target"] else "ceiling"
        line = f"{first['page']:<16} {target:>7}"
        for rows in tables:
            r = rows[i]
            if r["rps"] is None:
                line += f" | {'-':>15} {'':>6} {'':>7} {'':>7} {'':>7} {'':>4}"
                continue
            verdict = "" if r["pass"] is None else ("ok" if r["pass"] else "LOW")
            line += (
                f" | {r['rps']:>15.0f} {r['ratio']:>6.0%} {r['p50']:>7.1f} {r['p95']:>7.1f} "
                f"{r['p99']:>7.1f} {verdict:>4}"
            )
        click.echo(line)
    for run in runs:
        if run.memory:
            worst = max(m["rss_mb"] for m in run.memory)
            mems = ", ".join(f"{m['rss_mb']:.0f} MB (PSS {m['pss_mb']:.0f})" for m in run.memory)
            verdict = "ok" if worst < MEMORY_LIMIT_MB else f"OVER {MEMORY_LIMIT_MB} MB"
            click.echo(f"worker memory after the run, {run.database.split()[0]}: RSS {mems}: {verdict}")
        for error in run.errors:
            click.echo(f"ERROR ({run.database.split()[0]}): {error}")


def postgres_database(url: str | None) -> str | None:
    """A fresh, empty PostgreSQL database for the run (dropped and created again), or None if unreachable."""
    from marketplace.config import database_url

    if url in (None, "none", ""):
        return None
    full = sa.make_url(database_url(url, "."))
    admin = sa.create_engine(full.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{full.database}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{full.database}"'))
    except sa.exc.OperationalError as exc:
        click.echo(f"PostgreSQL at {full.host} is not reachable, its row is left out: {exc.orig}")
        return None
    finally:
        admin.dispose()
    return full.render_as_string(hide_password=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="bulk listings to seed (default 200000)")
    parser.add_argument("--million", action="store_true", help="seed 1,000,000 listings")
    parser.add_argument(
        "--postgresql-url",
        default=os.environ.get("BENCH_POSTGRESQL_URL", "postgresql://postgres@localhost/mp_bench_http"),
        help="a PostgreSQL database to drop, create and measure beside SQLite ('none' to skip)",
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="gunicorn sync workers (cores)")
    parser.add_argument("--duration", type=float, default=5, help="seconds per page per round (default 5)")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds (default 4)")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per page")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1: leave the cores to the server)")
    parser.add_argument(
        "--no-page-cache", action="store_true", help="serve every page from scratch (the figures before the cache)"
    )
    parser.add_argument("--output", type=Path, help="JSON file (default benchmarks/results/http-<timestamp>.json)")
    args = parser.parse_args()
    rows = 1_000_000 if args.million else args.rows
    wrk_bin = shutil.which("wrk")
    if not wrk_bin:
        raise SystemExit("wrk is not installed: apt-get install wrk (make bench installs it when it can)")

    runs = [measure("", rows, args, wrk_bin, f"SQLite {sqlite3.sqlite_version}")]
    pg = postgres_database(args.postgresql_url)
    if pg:
        runs.append(measure(pg, rows, args, wrk_bin, "PostgreSQL"))
    tables = [summarise(run) for run in runs]
    show(runs, tables, args)

    out = args.output or RESULTS / f"http-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "page_cache": not args.no_page_cache,
        "rows": rows,
        "workers": args.workers,
        "connections": args.connections,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    report = {
        "meta": meta,
        "runs": [
            {
                "database": r.database,
                "listings": r.listings,
                "seed_seconds": r.seed_seconds,
                "pages": t,
                "rounds": {p.name: p.rounds for p in r.pages},
                "memory": r.memory,
                "errors": r.errors,
            }
            for r, t in zip(runs, tables, strict=True)
        ],
    }
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    click.echo(f"\nwrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    sqlite_ok = all(r["pass"] is not False for r in tables[0])
    memory_ok = all(m["rss_mb"] < MEMORY_LIMIT_MB for run in runs for m in run.memory)
    return 0 if sqlite_ok and memory_ok and not any(run.errors for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
