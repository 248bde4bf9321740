"""Cookie flags and security headers on every kind of response, as production sets them (Secure on, https).

tests/accounts/test_cookie_flags.py checks the session cookie of a login; here every cookie the app
sets on a walk through logging in, switching language, registering and logging out (session and
language cookies: HttpOnly, Secure, SameSite=Lax, Path=/, host-only), none from the API, and the
headers on a page, a JSON answer, 401, 404, 405, a CSRF 400, 413, 415, 422, 429, 500, a redirect, a
static file and OPTIONS.
"""

from __future__ import annotations

import re

import pytest

SESSION = "mp_session"
APP_COOKIES = {SESSION, "lang"}


@pytest.fixture
def app_config():
    return {
        "SESSION_COOKIE_SECURE": True,
        "REMEMBER_COOKIE_SECURE": True,
        "PREFERRED_URL_SCHEME": "https",  # the test client speaks https, so Secure cookies come back
        "RATELIMIT_ENABLED": True,
        "REGISTER_RATE_LIMIT": "1 per hour",
    }


def _cookies(response) -> list[tuple[str, str, dict[str, str]]]:
    """Each Set-Cookie header as (name, value, {attribute lower-case: value})."""
    found = []
    for header in response.headers.getlist("Set-Cookie"):
        first, *attrs = [part.strip() for part in header.split(";")]
        name, _eq, value = first.partition("=")
        found.append((name, value, {a.partition("=")[0].lower(): a.partition("=")[2] for a in attrs}))
    return found


def _cookie_problems(where: str, response) -> list[str]:
    problems = []
    for name, _value, attrs in _cookies(response):
        if name not in APP_COOKIES:
            problems.append(f"{where}: unexpected cookie {name}")
        for flag in ("httponly", "secure"):
            if flag not in attrs:
                problems.append(f"{where}: {name} without {flag}")
        if attrs.get("samesite", "").lower() != "lax":
            problems.append(f"{where}: {name} SameSite={attrs.get('samesite')!r}")
        if attrs.get("path") != "/":
            problems.append(f"{where}: {name} Path={attrs.get('path')!r}")
        if "domain" in attrs:
            problems.append(f"{where}: {name} is sent to other hosts too (Domain={attrs['domain']})")
    return problems


def test_every_cookie_the_app_sets_has_the_flags(app, client, api, make_user, password):
    user = make_user("cookie_walk")
    steps = [
        ("GET /login", lambda: client.get("/login")),
        ("POST /login", lambda: client.post("/login", data={"username": user.username, "password": password})),
        ("POST /lang/en", lambda: client.post("/lang/en", data={"next": "/"})),
        ("GET /me", lambda: client.get("/me")),
        ("POST /logout", lambda: client.post("/logout", data={})),
        ("POST /register", lambda: app.test_client().post("/register", data={"username": "x"})),
    ]
    problems, names = [], set()
    for where, step in steps:
        response = step()
        assert response.status_code < 500, where
        names |= {name for name, _v, _a in _cookies(response)}
        problems += _cookie_problems(where, response)
    assert names == APP_COOKIES, f"cookies seen: {names}"
    # The API authenticates with bearer tokens: it never sets a cookie, not even a session.
    for where, response in (
        (
            "POST /api/v1/auth/token",
            api.post("/api/v1/auth/token", json={"username": user.username, "password": password}),
        ),
        ("GET /api/v1/listings", api.get("/api/v1/listings")),
    ):
        assert response.status_code == 200, where
        problems += [f"{where} set a cookie: {name}" for name, _v, _a in _cookies(response)]
    assert not problems, "\n".join(problems)


def test_the_language_cookie_lasts_and_holds_only_the_language(client):
    response = client.post("/lang/en", data={"next": "/"})
    [(value, attrs)] = [(v, a) for name, v, a in _cookies(response) if name == "lang"]
    assert value == "en"
    assert int(attrs["max-age"]) >= 30 * 24 * 3600


# --- security headers -----------------------------------------------------------------------------------------


def _csp(value: str) -> dict[str, list[str]]:
    directives = {}
    for part in value.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


def _header_problems(where: str, response, *, api: bool, no_store: bool) -> list[str]:
    h = response.headers
    problems = []
    csp = _csp(h.get("Content-Security-Policy", ""))
    scripts = csp.get("script-src", csp.get("default-src"))
    if not scripts:
        problems.append(f"{where}: no CSP script source")
    elif set(scripts) & {"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"}:
        problems.append(f"{where}: CSP allows unsafe scripts: {scripts}")
    for directive, wanted in (("object-src", "'none'"), ("frame-ancestors", "'none'"), ("base-uri", "'self'")):
        if csp.get(directive) != [wanted]:
            problems.append(f"{where}: CSP {directive} is {csp.get(directive)}")
    expected = {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    for name, value in expected.items():
        if h.get(name) != value:
            problems.append(f"{where}: {name} is {h.get(name)!r}")
    if h.get("Referrer-Policy") not in (
        "same-origin",
        "no-referrer",
        "strict-origin",
        "strict-origin-when-cross-origin",
    ):
        problems.append(f"{where}: Referrer-Policy is {h.get('Referrer-Policy')!r}")
    permissions = h.get("Permissions-Policy", "")
    for feature in ("camera=()", "microphone=()", "geolocation=()"):
        if feature not in permissions:
            problems.append(f"{where}: Permissions-Policy lacks {feature}")
    hsts = re.search(r"max-age=(\d+)", h.get("Strict-Transport-Security", ""))
    if not hsts or int(hsts.group(1)) < 180 * 24 * 3600:
        problems.append(f"{where}: HSTS is {h.get('Strict-Transport-Security')!r}")
    if (api or no_store) and "no-store" not in h.get("Cache-Control", ""):
        problems.append(f"{where}: Cache-Control is {h.get('Cache-Control')!r}, not no-store")
    if api and response.status_code >= 400 and response.mimetype != "application/problem+json":
        problems.append(f"{where}: an API error as {response.mimetype}")
    return problems


def _static_file(app) -> str:
    from pathlib import Path

    css = sorted(Path(app.static_folder).rglob("*.css"))
    assert css, "no stylesheet in static/"
    return "/static/" + css[0].relative_to(app.static_folder).as_posix()


def _boom(app):
    """The 500 page of the same app, from one route that fails (a separate app: the suite's watch over
    this test's app fails any 5xx, and this one is deliberate)."""
    from marketplace import create_app
    from marketplace.db import db

    other = create_app(dict(app.config))

    @other.get("/boom-for-headers-test")
    def boom():
        raise RuntimeError("deliberate failure for the headers test")

    response = other.test_client().get("/boom-for-headers-test")
    with other.app_context():
        db.engine.dispose()
    return response


def test_every_kind_of_response_carries_the_security_headers(app, client, api, make_user, password, token_for):
    user = make_user("header_walk")
    headers = token_for(user)
    signed_in = app.test_client()
    assert signed_in.post("/login", data={"username": user.username, "password": password}).status_code == 302
    big_json = {"username": "x" * (70 * 1024), "password": "y"}
    big_form = {"username": "u" * (600 * 1024), "password": "y"}  # a form field past MAX_FORM_MEMORY_SIZE
    cases = [
        # (kind, expected status, api, no-store, request)
        ("page", 200, False, False, lambda: client.get("/")),
        ("signed-in page", 200, False, False, lambda: signed_in.get("/me")),
        ("login page", 200, False, True, lambda: client.get("/login")),
        ("failed login", 422, False, True, lambda: client.post("/login", data={"username": "n", "password": "x"})),
        ("register page", 200, False, True, lambda: client.get("/register")),
        ("JSON", 200, True, False, lambda: api.get("/api/v1/listings")),
        ("signed-in JSON", 200, True, False, lambda: api.get("/api/v1/me", headers=headers)),
        ("health JSON", 200, False, False, lambda: api.get("/healthz")),
        ("API 401", 401, True, False, lambda: api.get("/api/v1/me")),
        ("page 404", 404, False, False, lambda: client.get("/no-such-page")),
        ("API 404", 404, True, False, lambda: api.get("/api/v1/listings/2147483647")),
        ("page 405", 405, False, False, lambda: client.get("/logout")),
        ("API 405", 405, True, False, lambda: api.put("/api/v1/listings", json={})),
        ("CSRF 400", 400, False, False, lambda: signed_in.post("/logout", data={}, csrf=False)),
        ("API 413", 413, True, False, lambda: api.post("/api/v1/auth/token", json=big_json)),
        (
            "page 413",
            413,
            False,
            False,
            lambda: client.post("/login", data=big_form, content_type="multipart/form-data"),
        ),
        ("API 415", 415, True, False, lambda: api.post("/api/v1/auth/token", data="username=x")),
        ("API 422", 422, True, False, lambda: api.post("/api/v1/auth/token", json={})),
        ("register 422", 422, False, True, lambda: client.post("/register", data={"username": "x"})),
        ("page 429", 429, False, False, lambda: client.post("/register", data={"username": "x"})),
        ("API 422 (token)", 422, True, False, lambda: api.post("/api/v1/auth/token", json={})),
        ("API 429", 429, True, False, lambda: api.post("/api/v1/users", json={})),
        ("redirect", 302, False, False, lambda: client.get("/me")),
        (
            "login redirect",
            302,
            False,
            True,
            lambda: client.post("/login", data={"username": user.username, "password": password}),
        ),
        ("static file", 200, False, False, lambda: client.get(_static_file(app))),
        ("OPTIONS", 200, False, False, lambda: client.options("/")),
        ("page 500", 500, False, False, lambda: _boom(app)),
    ]
    problems = []
    for kind, status, is_api, no_store, send in cases:
        response = send()
        if response.status_code != status:
            problems.append(f"{kind}: answered {response.status_code}, not {status}")
            continue
        problems += _header_problems(kind, response, api=is_api, no_store=no_store)
    assert not problems, f"{len(problems)} problems over {len(cases)} kinds of response:\n" + "\n".join(problems)


def test_pages_carrying_a_session_are_not_shared_by_caches(app, make_user, password):
    """A signed-in page may be kept by the browser, never by a shared cache for someone else."""
    user = make_user("cache_walk")
    c = app.test_client()
    assert c.post("/login", data={"username": user.username, "password": password}).status_code == 302
    problems = []
    for path in ("/me", "/credit", "/my/listings", "/notices", "/"):
        response = c.get(path)
        cache = response.headers.get("Cache-Control", "")
        vary = response.headers.get("Vary", "")
        if "public" in cache or not ("private" in cache or "no-store" in cache or "cookie" in vary.lower()):
            problems.append(f"{path}: Cache-Control {cache!r}, Vary {vary!r}")
    assert not problems, "\n".join(problems)


def test_no_hsts_over_plain_http(app, client):
    """`make run` serves plain http on a developer's machine: HSTS there would lock localhost to https."""
    app.config["SESSION_COOKIE_SECURE"] = False
    response = client.get("/")
    assert "Strict-Transport-Security" not in response.headers
    assert response.headers["X-Frame-Options"] == "DENY"
