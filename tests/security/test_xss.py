"""XSS: the world's payloads, in every text field people type, stay inert on every page that shows them.

Each payload carries a marker of its own (tests.security.world.MARKER), so a finding names the
field and the kind of attack, and the app's own markup never matches. Every HTML page of the
walk (every GET route, as the anonymous visitor and as each role, its URL arguments filled from
the world) is parsed with html.parser; a page fails when user data became markup: a <script>
whose content is user text, an event-handler attribute (on...) carrying a marker, an attribute
whose *name* came from user text, a javascript: URL in a URL attribute, an <svg>/<iframe>/...
element carrying a marker, or a template expression evaluated ({{7*7}} shown as 49). Escaped
text (&lt;script&gt;) is what should be seen. Every HTML page carries a Content-Security-Policy
without 'unsafe-inline' for scripts; API answers carrying user text are JSON; other answers that
carry it (calendar feeds, CSV) are not HTML. Query parameters are tried with payloads too.
"""

from __future__ import annotations

import re
from collections import defaultdict
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from tests.security.world import *  # noqa: F403
from tests.security.world import MARKER, PAYLOADS, TEMPLATE_RESULT, Visitors, plan_walk, who

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background", "srcset"}
ACTIVE_ELEMENTS = {"script", "svg", "iframe", "object", "embed", "math", "base", "meta", "link", "style", "form"}
BAD_SCHEMES = ("javascript:", "vbscript:", "data:text/html")
HTML_TYPES = {"text/html", "application/xhtml+xml", "image/svg+xml"}
# What the API answers with: JSON, and the calendar feeds and the CSV export its contract names.
API_TYPES = {"application/json", "application/problem+json", "text/calendar", "text/csv"}
# The API is data, not markup: its first URLs are tried by fewer roles than the pages.
API_ROLES = (None, "seller", "moderator", "supervisor")
# The raw shapes of the payloads, unescaped: never in any answer that a browser might render.
RAW = re.compile(
    r"<script>alert\('xss-|<img src=x onerror=alert\('xss-|<svg/onload=alert\('xss-|href=\"javascript:alert\('xss-"
)
# Text fields the walk may not find on any page, and why.
NOT_SHOWN: dict[str, str] = {}


class _Inspector(HTMLParser):
    """Collects every place where user data (a payload marker) became markup, and the markers seen as text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.seen: set[str] = set()
        self.in_script = False

    def handle_starttag(self, tag, attrs):
        raw = self.get_starttag_text() or ""
        for name, value in attrs:
            value = value or ""
            self.seen.update(MARKER.findall(value))
            if MARKER.search(name):
                self.problems.append(f"<{tag}> has an attribute named by user data: {name!r}")
            if name.startswith("on") and MARKER.search(value):
                self.problems.append(f"<{tag} {name}={value!r}>: an event handler from user data")
            compact = re.sub(r"[\x00-\x20]", "", value).lower()
            if name in URL_ATTRIBUTES and compact.startswith(BAD_SCHEMES):
                self.problems.append(f"<{tag} {name}={value!r}>: a script URL")
        if tag in ACTIVE_ELEMENTS and MARKER.search(raw):
            self.problems.append(f"an active element from user data: {raw[:120]!r}")
        if tag == "script":
            self.in_script = True

    def handle_endtag(self, tag):
        if tag == "script":
            self.in_script = False

    def handle_data(self, data):
        markers = MARKER.findall(data)
        if self.in_script and markers:
            self.problems.append(f"script content from user data: {data.strip()[:120]!r}")
        self.seen.update(markers)


def inspect_markup(text: str) -> tuple[list[str], set[str]]:
    """(problems, markers seen) of one HTML or SVG document."""
    parser = _Inspector()
    parser.feed(text)
    parser.close()
    problems = parser.problems
    problems += [f"unescaped payload: {m.group(0)!r}" for m in RAW.finditer(text)]
    problems += [f"template evaluated: {m.group(0)!r}" for m in TEMPLATE_RESULT.finditer(text)]
    return problems, parser.seen


def csp_problem(response) -> str | None:
    """Why the page's Content-Security-Policy does not stop inline script, or None."""
    header = response.headers.get("Content-Security-Policy")
    if not header:
        return "no Content-Security-Policy header"
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = [w.lower() for w in words[1:]]
    scripts = directives.get("script-src", directives.get("default-src"))
    if scripts is None:
        return f"no script-src or default-src: {header}"
    if "'unsafe-inline'" in scripts or "*" in scripts or "data:" in scripts:
        return f"inline or any script allowed: {header}"
    return None


@pytest.mark.once  # what pages show; the database check below runs on PostgreSQL too
def test_payloads_are_inert_on_every_page(app, db, world, login, token_for):
    from marketplace.listings.models import Listing

    walk = plan_walk(app, world)
    assert not walk.unfillable, walk.unfillable
    visitors = Visitors(app, world, login, token_for)
    problems: list[str] = []
    seen: set[str] = set()
    checked: dict[str, int] = defaultdict(int)  # kind of answer → answers checked that carry payloads
    pages_ok: dict[str, object] = {}  # endpoint → a role that may open it

    def check(where: str, response) -> None:
        text = response.get_data().decode("utf-8", "replace")  # a photo is bytes: its markers would be plain
        mimetype = response.mimetype or ""
        if mimetype == "text/html":
            reason = csp_problem(response)
            if reason:
                problems.append(f"{where}: {reason}")
        if mimetype in HTML_TYPES:
            found, markers = inspect_markup(text)
            problems.extend(f"{where}: {p}" for p in found)
            seen.update(markers)
            if markers:
                checked["pages"] += 1
                checked["payloads on pages"] += len(markers)
        elif MARKER.search(text):
            checked[mimetype] += 1
            seen.update(MARKER.findall(text))
            api = response.request.path.startswith("/api/")
            if api and mimetype not in API_TYPES:
                problems.append(f"{where}: user text in an API answer of type {mimetype}")
            if response.headers.get("X-Content-Type-Options") != "nosniff":
                problems.append(f"{where}: user text in {mimetype} without X-Content-Type-Options: nosniff")

    for endpoint, path, first in walk.urls:
        api = path.startswith("/api/")
        if api and not first:
            continue
        for role in API_ROLES if api else visitors.roles_for(first):
            response = visitors.get(role, path)
            check(f"{who(role)} GET {path}", response)
            if response.status_code == 200 and not path.startswith("/api/"):
                pages_ok.setdefault(endpoint, role)

    # Reflected input: every page once more, as a role that may open it, with payloads in the query parameters.
    hostile = {
        name: PAYLOADS[kind].replace("@M", f"xss-99{kind}")
        for name, kind in (("q", "s"), ("next", "j"), ("status", "v"), ("kind", "i"), ("district", "a"))
    }
    hostile.update({"category": PAYLOADS["t"].replace("@M", "xss-99t"), "sort": PAYLOADS["p"].replace("@M", "xss-99p")})
    reflected = 0
    for endpoint, path, first in walk.urls:
        if first and endpoint in pages_ok:
            response = visitors.get(pages_ok[endpoint], f"{path}?{urlencode(hostile)}")
            check(f"{who(pages_ok[endpoint])} GET {path}?<payloads>", response)
            reflected += 1

    # The sanitised field (listing descriptions, nh3): the tags are gone from what is stored, script content too.
    descriptions = db.session.scalars(sa.select(Listing.description)).all()
    for description in descriptions:
        for bad in ("<script", "<img", "<svg", "<a ", "onerror", "onload", "</textarea"):
            if bad in description.lower():
                problems.append(f"a stored listing description keeps {bad!r}: {description[:120]!r}")
        problems += [f"script content kept in a description: {m}" for m in MARKER.findall(description) if m[-1] == "s"]
    assert any("xss-" in d for d in descriptions), "the descriptions carry the world's payloads"

    shown = {world.markers[m].rsplit(" (", 1)[0] for m in seen if m in world.markers}
    fields = {label.rsplit(" (", 1)[0] for label in world.markers.values()}
    print(  # the figures for the report (pytest -s)
        f"\nxss walk: {len(world.markers)} payloads in {len(fields)} fields; {len(walk.urls)} URLs as up to"
        f" {len(visitors.roles)} roles and {reflected} with hostile query parameters; answers carrying payloads:"
        f" {dict(checked)}; {len(seen & set(world.markers))} distinct payloads seen"
    )
    assert not problems, f"{len(problems)} XSS findings: " + "\n".join(sorted(set(problems))[:30])
    missing = sorted(fields - shown - set(NOT_SHOWN))
    assert not missing, f"fields whose payloads no page of the walk showed (so nothing was checked): {missing}"
    assert checked["pages"] >= 100, dict(checked)


def test_the_inspector_finds_every_payload_unescaped_and_none_escaped():
    from markupsafe import escape

    for kind, payload in PAYLOADS.items():
        text = payload.replace("@M", f"xss-01{kind}")
        if kind == "p":
            text = text.replace("{{7*7}}", "49")  # what an evaluated template would show
        for page in (f"<p>{text}</p>", f'<input value="{text}">', f"<textarea>{text}</textarea>"):
            if kind == "j":
                page = f'<a href="{text}">x</a>'
            problems, _seen = inspect_markup(page)
            assert problems, f"{kind}: {page}"
        problems, seen = inspect_markup(f'<p title="{escape(text)}">{escape(text)}</p>')
        assert (not problems) == (kind != "p") and seen == {f"xss-01{kind}"}, (kind, problems)
