"""`next` never sends anyone to another site: the login (query string and form), the language switch,
the redirect to the login page, and marketplace.security.safe_next itself under hypothesis.

A Location is read as a browser reads it (WHATWG URL: tab and newline removed, leading and trailing
C0 controls and spaces trimmed, a backslash is a slash in http URLs) and resolved against
http://localhost/; it must stay on localhost over http(s).
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote, urljoin, urlsplit

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from marketplace.security import safe_next

BASE = "http://localhost/"
# What the app refuses in any input before a view runs (marketplace.security._CONTROL).
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
HOSTILE = [
    "//evil.example",
    "https://evil.example",
    "http://evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "http:evil.example",
    "https:/\\evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "%2F%2Fevil.example",
    "///evil.example",
    "////evil.example",
    "/%09/evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "\t//evil.example",
    " //evil.example",
    "/\x00/evil.example",
    "/\x1f/evil.example",
    "\x0b//evil.example",
    "/\u3000/evil.example",
    "//evil.example@localhost",
    "http://localhost@evil.example",
    "http://localhost.evil.example/",
    "//[",
    "//[::1]/",
    "http://[evil.example",
    "//evil.example/" + "a" * 5000,
    "/" + "a" * 10000,
]


def browser_target(location: str) -> tuple[str, str]:
    """(scheme, host) of a Location header as a browser would follow it from http://localhost/."""
    text = location.strip(
        "\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16"
        "\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f "
    )
    text = re.sub(r"[\t\n\r]", "", text)
    match = re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", text)
    scheme = match.group()[:-1].lower() if match else ""
    if scheme in ("", "http", "https"):
        text = text.replace("\\", "/")
    joined = urlsplit(urljoin(BASE, text))
    return joined.scheme, (joined.hostname or "")


def assert_same_site(location: str, what: str) -> None:
    scheme, host = browser_target(location)
    assert (scheme, host) == ("http", "localhost"), f"{what}: Location {location[:120]!r} → {scheme}://{host}"


def test_browser_target_reads_locations_as_a_browser():
    """The oracle itself: each of these would leave the site."""
    for location in (
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        " \t//evil.example",
        "http:\\\\evil.example",
    ):
        assert browser_target(location)[1] == "evil.example", location
    assert browser_target("javascript:alert(1)")[0] == "javascript"
    assert browser_target("/search?q=%2F%2Fevil")[1] == "localhost"


def _location(resp) -> str:
    assert resp.status_code in (301, 302, 303, 307, 308), (resp.status_code, resp.get_data(as_text=True)[:300])
    return resp.headers["Location"]


@pytest.fixture
def log_in(app, user, password):
    """log_in(next, via) → the response to a login with that `next`, in the query string or the form."""

    def do(target: str, via: str):
        c = app.test_client()
        page = c.get("/login?next=" + quote(target, safe="") if via == "query" else "/login")
        if page.status_code == 400:  # control characters are refused before any view
            return page
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', text).group(1)
        if via == "query":
            match = re.search(r'<input id="next" name="next" type="hidden" value="([^"]*)"', text)
            assert match, "the login form carries `next`"
            target = html.unescape(match.group(1))
        form = {"username": user.username, "password": password, "next": target, "csrf_token": token}
        return c.post("/login", data=form)

    return do


@pytest.mark.parametrize("via", ["query", "form"])
def test_login_never_redirects_off_site(log_in, via):
    failures, refused = [], 0
    for target in HOSTILE:
        resp = log_in(target, via)
        if resp.status_code == 400:
            refused += 1  # control characters: refused outright, nothing to follow
            assert CONTROL.search(target), target
            continue
        try:
            assert_same_site(_location(resp), f"login next={target[:60]!r}")
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, "\n".join(failures)
    assert refused < len(HOSTILE)


@pytest.mark.parametrize("via", ["query", "form"])
def test_login_honours_a_same_site_next(log_in, via):
    resp = log_in("/search?q=%E6%89%8B%E6%9C%BA&category=phone", via)
    assert _location(resp).endswith("/search?q=%E6%89%8B%E6%9C%BA&category=phone")


def test_the_language_switch_never_redirects_off_site(client):
    failures = []
    for target in HOSTILE:
        resp = client.post("/lang/en", data={"next": target}, csrf=False)
        if resp.status_code == 400:
            assert CONTROL.search(target), target
            continue
        try:
            assert_same_site(_location(resp), f"/lang next={target[:60]!r}")
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, "\n".join(failures)
    assert _location(client.post("/lang/zh_Hans_CN", data={"next": "/events?kind=campus_flea"})).endswith(
        "/events?kind=campus_flea"
    )


def test_the_redirect_to_the_login_page_keeps_the_path_only(client):
    resp = client.get("/me/purchases?status=open")
    location = _location(resp)
    assert_same_site(location, "login_required")
    assert urlsplit(location).path == "/login"
    # The path comes back through the login form and is honoured there (a same-site path).
    assert "next=" in location


def test_no_other_route_reads_next():
    """The routes above are every reader of `next`: a new one must be added to this file."""
    import pathlib

    import marketplace

    readers = set()
    for path in pathlib.Path(marketplace.__file__).parent.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if re.search(r"""(args|form|values)\.get\(\s*["']next["']|safe_next\(""", text):
            readers.add(path.relative_to(pathlib.Path(marketplace.__file__).parent).as_posix())
    assert readers == {"accounts/views.py", "home/views.py", "security.py"}, readers


# --- safe_next under hypothesis --------------------------------------------------------------------------------

PREFIXES = st.sampled_from(
    ["", "/", "//", "///", "\\", "/\\", "\\/", "http:", "https:", "http://", "javascript:", " ", "\t", "%2F", "/%2F"]
)
HOSTS = st.sampled_from(["evil.example", "localhost", "@evil.example", "evil.example:80", ""])
hostile_text = st.builds(lambda p, h, rest: p + h + rest, PREFIXES, HOSTS, st.text(max_size=40))


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=60), hostile_text))
@example("/\\evil.example")
@example("//evil.example")
@example("/ /evil.example")
@example("\x7f//evil.example")
def test_safe_next_always_gives_a_same_site_path(target):
    result = safe_next(target, "/")
    assert result.startswith("/")
    assert_same_site(result, f"safe_next({target!r})")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["search", "events", "me", "订单", "a-b", "1", "?q=x", "#x", "%2F"]), max_size=5))
def test_safe_next_keeps_a_same_site_path(parts):
    target = "/" + "/".join(parts)
    assert safe_next(target, "/fallback") == target
