"""Search benchmark: the full-text index against a LIKE '%…%' baseline on the same data, in one run.

    make bench-search                      # 200k listings in a fresh SQLite file in a temp dir
    make bench-search BENCH_ARGS="--rows 1000000"
    .venv/bin/python benchmarks/search.py --database-url postgresql://postgres@localhost/mp_bench

It seeds N listings with the code behind `flask seed-bulk`, then times each case
through `search_listings` (the code the pages and the API call) and through a
baseline that is the same ORM query with the text condition written as
`title LIKE '%q%' OR description LIKE '%q%'`. The baseline is the only LIKE scan in
the project; it exists here to be beaten. For the deep page the baseline is the
first page (and OFFSET, for contrast). It prints p50/p95 per case and PASS/FAIL per
target, and writes the numbers to benchmarks/results/search-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import click  # noqa: E402
import sqlalchemy as sa  # noqa: E402

DEPTH = 100_000
RESULTS = ROOT / "benchmarks" / "results"


@dataclass
class Case:
    name: str
    what: str
    params: dict
    ours: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    baseline_kind: str = "LIKE"
    hits_index: int | None = None
    hits_like: int | None = None
    same_hits: bool | None = None


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile of `values` (milliseconds)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def timed(fn: Callable[[], object], repeat: int, warmup: int = 2) -> list[float]:
    """Milliseconds per call; every call starts a fresh transaction and an empty session.

    The garbage collector is off during a call and runs between calls, as timeit does.
    """
    from marketplace.db import db

    samples = []
    for i in range(warmup + repeat):
        gc.collect()
        gc.disable()
        start = time.perf_counter()
        try:
            fn()
        finally:
            took = (time.perf_counter() - start) * 1000
            gc.enable()
        db.session.rollback()
        db.session.expunge_all()
        if i >= warmup:
            samples.append(took)
    return samples


def like_baseline(params: dict, *, offset: int | None = None):
    """The baseline: the same ORM query, text matched by a LIKE '%…%' scan (never do this in the app)."""
    from marketplace.db import db
    from marketplace.listings import search
    from marketplace.listings.models import Listing

    p = search.SearchParams(**params)
    values = search._filter_values(p)
    stmt = sa.select(Listing).where(*search._conditions(tuple(values))).params(values)
    order = [Listing.id.desc()]
    if p.q:
        pattern = "%" + p.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        like = sa.text(r"(listings.title LIKE :pattern ESCAPE '\' OR listings.description LIKE :pattern ESCAPE '\')")
        stmt = stmt.where(like.bindparams(pattern=pattern))
        if p.sort == "relevance":
            # LIKE cannot rank: title hits first, then newest (still a scan of every row).
            title_hit = sa.text(r"CASE WHEN listings.title LIKE :tpattern ESCAPE '\' THEN 0 ELSE 1 END")
            order = [title_hit.bindparams(tpattern=pattern), Listing.id.desc()]
    stmt = stmt.order_by(*order).limit(p.limit + 1)
    if offset:
        stmt = stmt.offset(offset)
    return list(db.session.scalars(stmt))


def like_ids(params: dict) -> set[int]:
    """Every id the LIKE baseline matches (for checking the index finds the same set)."""
    from marketplace.db import db
    from marketplace.listings import search
    from marketplace.listings.models import Listing

    p = search.SearchParams(**params)
    values = search._filter_values(p)
    like = sa.text("(listings.title LIKE :pattern OR listings.description LIKE :pattern)")
    stmt = sa.select(Listing.id).where(*search._conditions(tuple(values)), like)
    return set(db.session.scalars(stmt, {**values, "pattern": "%" + p.q + "%"}))


def index_ids(params: dict) -> set[int]:
    """Every id the search finds, walking the keyset pages to the end."""
    from marketplace.listings import search

    found: set[int] = set()
    cursor = None
    while True:
        page = search.search_listings(
            search.SearchParams(**{**params, "sort": "newest", "limit": 100, "cursor": cursor})
        )
        found.update(item.id for item in page.items)
        if not page.next_cursor:
            return found
        cursor = page.next_cursor


def build(app, rows: int, seed: int, reuse: bool) -> dict:
    from marketplace.db import db
    from marketplace.listings.bulk import bulk_insert
    from marketplace.listings.models import Listing
    from marketplace.schema import build_database

    with app.app_context():
        inspector = sa.inspect(db.engine)
        existing = 0
        if inspector.has_table("listings"):
            existing = db.session.scalar(sa.select(sa.func.count()).select_from(Listing)) or 0
            db.session.commit()  # the migration below uses a connection of its own
        if existing and not reuse:
            raise SystemExit(f"the database already has {existing} listings: give an empty one, or --reuse to use them")
        build_database()
        info = {"seeded": 0, "seed_seconds": None}
        if not existing:
            started = time.perf_counter()
            with click.progressbar(length=rows, label=f"seeding {rows} listings") as bar:
                bulk_insert(rows, seed, progress=bar.update)
            info = {"seeded": rows, "seed_seconds": round(time.perf_counter() - started, 1)}
            click.echo(f"seeded {rows} listings in {info['seed_seconds']} s")
        if db.engine.dialect.name == "postgresql":
            db.session.execute(sa.text("ANALYZE"))  # autovacuum would soon; plans need the statistics
            db.session.commit()
        info["listings"] = db.session.scalar(sa.select(sa.func.count()).select_from(Listing))
        return info


def run_cases(repeat: int, baseline_repeat: int) -> list[Case]:
    from marketplace.db import db, write_intent
    from marketplace.listings import search
    from marketplace.listings.models import Listing

    write_intent.set(False)  # reads only: plain BEGIN on SQLite, like a read-only page
    filtered = {"q": "冰箱", "category": "appliance", "district": "jinfeng"}
    filtered |= {"min_price_fen": 50_000, "max_price_fen": 300_000}
    cases = [
        Case("frequent", "常见词 手机, newest", {"q": "手机"}),
        Case("rare", "少见词 古筝, newest", {"q": "古筝"}),
        Case("zero-hit", "无结果 鲸鱼, newest", {"q": "鲸鱼"}),
        Case("filtered", "冰箱 + appliance + jinfeng + ¥500–3000", filtered),
        Case("relevance", "手机, relevance (top 1000 ranked)", {"q": "手机", "sort": "relevance"}),
    ]
    for case in cases:
        click.echo(f"  {case.name}: checking hits, timing ...")
        ours, like = index_ids(case.params), like_ids(case.params)
        case.hits_index, case.hits_like, case.same_hits = len(ours), len(like), ours == like
        db.session.rollback()
        case.ours = timed(lambda p=case.params: search.search_listings(search.SearchParams(**p)), repeat)
        case.baseline = timed(lambda p=case.params: like_baseline(p), baseline_repeat)

    # Deep pages: the cursor of the page that starts at row DEPTH, built from that row's key.
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Listing).where(Listing.status == "active"))
    depth = min(DEPTH, max(total - 40, 0))
    ordered = sa.select(Listing.id).where(Listing.status == "active").order_by(Listing.id.desc())
    before = db.session.scalar(ordered.offset(depth - 1).limit(1)) if depth else None
    cursor = search.encode_cursor("newest", [before]) if before else None
    db.session.rollback()
    first = Case("first page", "browse, newest, page 1", {}, baseline_kind="-")
    first.ours = timed(lambda: search.search_listings(search.SearchParams()), repeat)
    deep = Case("deep page", f"browse, newest, keyset at row {depth:,}", {"cursor": cursor}, baseline_kind="OFFSET")
    deep.ours = timed(lambda: search.search_listings(search.SearchParams(cursor=cursor)), repeat)
    deep.baseline = timed(lambda: like_baseline({}, offset=depth), baseline_repeat)
    return [*cases, first, deep]


TARGETS = (
    # (case, measure, of, factor, text)
    ("zero-hit", "p95", "baseline p50", 0.01, "zero-hit p95 ≤ 1% of LIKE p50"),
    ("filtered", "p95", "baseline p50", 0.05, "filtered p95 ≤ 5% of LIKE p50"),
    ("relevance", "p95", "baseline p50", 0.05, "relevance p95 ≤ 5% of LIKE p50"),
    ("deep page", "p95", "first page p95", 2.0, "deep page p95 ≤ 2× first page p95"),
)


def summarise(cases: list[Case]) -> tuple[list[dict], list[dict]]:
    by_name = {case.name: case for case in cases}
    rows = []
    for case in cases:
        row = {"case": case.name, "what": case.what, "baseline": case.baseline_kind}
        row["ours_p50_ms"], row["ours_p95_ms"] = percentile(case.ours, 50), percentile(case.ours, 95)
        if case.baseline:
            row["baseline_p50_ms"], row["baseline_p95_ms"] = (
                percentile(case.baseline, 50),
                percentile(case.baseline, 95),
            )
            row["ours_p95_over_baseline_p50"] = row["ours_p95_ms"] / row["baseline_p50_ms"]
        row |= {"hits_index": case.hits_index, "hits_like": case.hits_like, "same_hits": case.same_hits}
        rows.append(row)
    targets = []
    for name, _measure, of, factor, text in TARGETS:
        case = by_name[name]
        ours = percentile(case.ours, 95)
        reference = (
            percentile(case.baseline, 50) if of == "baseline p50" else percentile(by_name["first page"].ours, 95)
        )
        targets.append(
            {
                "target": text,
                "value_ms": ours,
                "limit_ms": reference * factor,
                "ratio": ours / reference,
                "pass": ours <= reference * factor,
            }
        )
    return rows, targets


def show(rows: list[dict], targets: list[dict], meta: dict) -> None:
    runs = f"{meta['repeat']} runs (baseline {meta['baseline_repeat']})"
    click.echo(f"\n{meta['database']} · {meta['listings']:,} listings · {runs}")
    head = f"{'case':<11} {'what':<38} {'hits (index/LIKE)':>18} {'p50 ms':>8} {'p95 ms':>8} {'base':>6} "
    head += f"{'base p50':>9} {'base p95':>9} {'p95/base p50':>12}"
    click.echo(head)
    click.echo("-" * len(head))
    for r in rows:
        hits = "" if r["hits_index"] is None else f"{r['hits_index']}/{r['hits_like']}{'' if r['same_hits'] else ' !='}"
        base = (
            f"{r['baseline_p50_ms']:>9.2f} {r['baseline_p95_ms']:>9.2f} {r['ours_p95_over_baseline_p50']:>11.2%}"
            if "baseline_p50_ms" in r
            else f"{'':>9} {'':>9} {'':>12}"
        )
        click.echo(
            f"{r['case']:<11} {r['what']:<38} {hits:>18} {r['ours_p50_ms']:>8.2f} {r['ours_p95_ms']:>8.2f} "
            f"{r['baseline']:>6} {base}"
        )
    click.echo("")
    for t in targets:
        verdict = "PASS" if t["pass"] else "FAIL"
        click.echo(
            f"{verdict}  {t['target']:<40} {t['value_ms']:.2f} ms vs limit {t['limit_ms']:.2f} ms ({t['ratio']:.2%})"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="listings to seed (default 200000)")
    parser.add_argument("--database-url", help="a PostgreSQL (or SQLite) database to use instead of a temp SQLite file")
    parser.add_argument("--reuse", action="store_true", help="use the listings already in --database-url")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=40, help="timed runs per case (default 40)")
    parser.add_argument("--baseline-repeat", type=int, default=12, help="timed runs per baseline (default 12)")
    parser.add_argument("--output", type=Path, help="JSON file (default benchmarks/results/search-<timestamp>.json)")
    args = parser.parse_args()

    from marketplace import create_app

    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "INSTANCE_PATH": str(Path(tmp) / "instance"),
                "SECRET_KEY": "benchmark",
                "RATELIMIT_ENABLED": False,
                "RATELIMIT_STORAGE_URI": "memory://",
            }
        )
        info = build(app, args.rows, args.seed, args.reuse)
        with app.app_context():
            from marketplace.db import db

            dialect = db.engine.dialect.name
            version = (
                db.session.scalar(sa.text("SHOW server_version")) if dialect == "postgresql" else sqlite3.sqlite_version
            )
            click.echo("timing ...")
            cases = run_cases(args.repeat, args.baseline_repeat)
            db.session.remove()
            db.engine.dispose()
    meta = {
        "database": f"{dialect} {version}",
        "listings": info["listings"],
        "seeded": info["seeded"],
        "seed_seconds": info["seed_seconds"],
        "repeat": args.repeat,
        "baseline_repeat": args.baseline_repeat,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    rows, targets = summarise(cases)
    show(rows, targets, meta)
    out = args.output or RESULTS / f"search-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    samples = {case.name: {"ours_ms": case.ours, "baseline_ms": case.baseline} for case in cases}
    report = {"meta": meta, "cases": rows, "targets": targets, "samples": samples}
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    click.echo(f"\nwrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0 if all(t["pass"] for t in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
