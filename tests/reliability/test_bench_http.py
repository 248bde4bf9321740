"""`make bench` (benchmarks/http.py): how ratios are paired, and one short real run end to end.

In the reliability suite because the short run starts gunicorn and wrk; it measures SQLite only
(`--postgresql-url none`), so the PostgreSQL pass of that suite skips it rather than repeat it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench():
    import importlib

    return importlib.import_module("benchmarks.http")


def _stats(rps: float) -> dict:
    return {"rps": rps, "p50": 1000, "p95": 2000, "p99": 3000, "failed": 0}


def test_each_page_is_divided_by_the_hello_world_figure_taken_just_before_it(bench):
    pages = bench.pages({"listing": 1, "listing_title": "x", "seller": 2, "seller_name": "y"})
    hello, others = pages[0], pages[1:]
    for round_ in range(3):
        for i, page in enumerate(others):
            # hello-world slows down from page to page; each page runs at half of the figure before it
            hello.rounds.append(_stats(1000 - 10 * i - round_))
            page.baseline.append(hello.rounds[-1])
            page.rounds.append(_stats((1000 - 10 * i - round_) / 2))
    run = bench.Run("SQLite", 10, pages, [], 0.0)
    rows = {row["page"]: row for row in bench.summarise(run)}
    assert rows["hello"]["ratio"] == 1.0
    for page in others:
        assert rows[page.name]["ratios"] == pytest.approx([0.5, 0.5, 0.5])
        assert rows[page.name]["pass"] is (page.target <= 0.5)
    assert rows["listing"]["p99"] == 3.0  # milliseconds


NO_WRK = "wrk is missing (make bench and .ci/run install it: apt-get install wrk)"


@pytest.mark.skipif(shutil.which("wrk") is None, reason=NO_WRK)
@pytest.mark.skipif(
    bool(os.environ.get("TEST_DATABASE_URL")), reason="the short run is SQLite's; the SQLite pass runs it"
)
def test_a_short_run_measures_every_page_and_writes_its_report(tmp_path):
    out = tmp_path / "report.json"
    cmd = [sys.executable, "benchmarks/http.py", "--rows", "300", "--duration", "1", "--rounds", "1"]
    cmd += ["--warmup", "1", "--connections", "2", "--postgresql-url", "none", "--output", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    # Whether a one-second run meets the targets depends on the machine: only the run itself is checked.
    assert done.returncode in (0, 1), done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(out.read_text())
    (run,) = report["runs"]
    assert run["errors"] == [] and run["listings"] >= 300
    assert [p["page"] for p in run["pages"]][:2] == ["hello", "home"] and len(run["pages"]) == 9
    assert all(p["rps"] > 0 and p["failed"] == 0 for p in run["pages"])
    assert len(run["memory"]) == report["meta"]["workers"] and all(m["rss_mb"] > 0 for m in run["memory"])
    assert "ceiling" in done.stdout and "worker memory after the run" in done.stdout
