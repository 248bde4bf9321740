"""Real-browser fixtures: the app served on loopback, Chromium driven by Playwright.

We use Debian's Chromium (/usr/bin/chromium, or CHROMIUM_PATH); Playwright never
downloads a browser. Where no browser exists the tests are skipped, saying why.
"""

from __future__ import annotations

import os
import shutil
import threading

import pytest

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


@pytest.fixture
def live_server(app):
    """The test app served by a threaded WSGI server on a free loopback port."""
    from werkzeug.serving import make_server

    from marketplace.db import db, write_intent

    db.session.commit()
    # The test thread only reads from now on: its transactions must not take SQLite's
    # write lock (BEGIN IMMEDIATE) while the server's threads write.
    token = write_intent.set(False)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    app.config["SERVER_NAME"] = None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    write_intent.reset(token)


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium; skipped with a clear message where none is installed."""
    path = _chromium_path()
    if path is None:
        pytest.skip("no Chromium found (install Debian's 'chromium' package or set CHROMIUM_PATH)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is in requirements-dev.txt
        pytest.skip("the playwright package is not installed")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page_for(browser, live_server):
    """page_for() opens a fresh browser context (its own cookies) on a phone-sized screen."""
    contexts = []

    def make():
        context = browser.new_context(base_url=live_server, viewport={"width": 375, "height": 800}, locale="zh-CN")
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
