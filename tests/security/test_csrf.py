"""CSRF: every page form that changes state needs the session's own token; the API takes no cookies.

The walk goes over every rule of app.url_map that accepts POST outside /api/, signed in, and posts
without a token, with a wrong one and with a valid token of another session: each must be a 400
that says why (in Chinese) and must change no table. The one exempt form, the language switch,
is checked by Origin/Referer instead. API routes that change state must answer 401 to a session
cookie without a bearer token.
"""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from tests.events.conftest import *  # noqa: F403 - the world's fixtures
from tests.listings.sellers import jpeg_bytes
from tests.security import test_methods
from tests.security.test_methods import changed, signed_in, snapshot, urls_for

world = test_methods.world  # the fixture: one object of every kind

CSRF_DETAIL = "表单已过期或来源不明"
# Exempt from the token, checked by Origin/Referer instead (documented in home/views.py).
EXEMPT = {"home.set_language"}
# The API routes anyone may call without an account (no session involved either way).
API_PUBLIC = {"api.create_token", "api.create_user"}

# Plausible values for the fields the forms have: with a valid token most of these posts would act.
FORM = {
    "body": "周末可以当面交易吗？",
    "message": "周末可以当面交易吗？",
    "reason": "实物与描述不符，屏幕有明显划痕。",
    "note": "核实无误，确认处理，理由充分。",
    "detail": "实物屏幕有划痕，描述说无划痕。",
    "outcome": "dismissed",
    "violation": "hidden_defect",
    "reply": "谢谢你的评价。",
    "title": "二手自行车 捷安特",
    "description": "骑了一年，车况良好。",
    "price": "300",
    "category": "other",
    "district": "xingqing",
    "delta": "10",
    "role": "stall",
    "code": "ABCD1234",
    "password": "Lvse-Xunhuan-2026",
    "current_password": "Lvse-Xunhuan-2026",
    "new_password": "Another-Long-Passw0rd",
    "confirm": "y",
}


def _assert_refused(resp, what: str, failures: list[str]) -> None:
    body = resp.get_data(as_text=True)
    if resp.status_code != 400:
        failures.append(f"{what}: {resp.status_code}")
    elif CSRF_DETAIL not in body:
        failures.append(f"{what}: 400 without the explanation {CSRF_DETAIL!r}")


def test_every_page_post_needs_this_sessions_token(app, db, login, world):
    me = signed_in(app, login, world.seller)
    other = signed_in(app, login, world.buyer)
    their_token = other.csrf_token()
    assert their_token != me.csrf_token()
    before = snapshot(db)
    failures, unfilled, routes, posts = [], [], set(), 0
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.rule.startswith("/api/") or rule.endpoint in EXEMPT:
            continue
        urls = urls_for(rule, world)
        if urls is None:
            unfilled.append(rule.endpoint)
            continue
        routes.add(rule.endpoint)
        for url in urls:
            variants = {
                "no token": dict(FORM),
                "wrong token": {**FORM, "csrf_token": "IjRiZTk2Y2Y0Ig.aGVsbG8.d3Jvbmc"},
                "another session's token": {**FORM, "csrf_token": their_token},
            }
            for what, data in variants.items():
                resp = me.post(url, data=data, csrf=False)
                posts += 1
                _assert_refused(resp, f"POST {url} {what}", failures)
            # A multipart post (the forms with photos) is refused the same way.
            photo = FileStorage(io.BytesIO(jpeg_bytes()), filename="a.jpg", content_type="image/jpeg")
            resp = me.post(url, data={**FORM, "photos": photo}, csrf=False, content_type="multipart/form-data")
            posts += 1
            _assert_refused(resp, f"POST {url} multipart, no token", failures)
        after = snapshot(db)
        if changed(before, after):
            failures.append(f"{rule.endpoint}: a refused post changed {changed(before, after)}")
            before = after
    assert not unfilled, f"POST routes the walk cannot fill (add them to the world in test_methods.py): {unfilled}"
    # Every form of the site: a new POST route is walked automatically, a lost one shows here.
    assert len(routes) >= 45, sorted(routes)
    assert not failures, f"{len(failures)} of {posts} posts:\n" + "\n".join(failures)
    # Still signed in and able to act: the refusals did not come from a broken session.
    assert me.get("/me").status_code == 200


def test_the_same_post_with_the_token_acts(app, db, login, seller, make_order):
    """The control for the walk above: with this session's token, a post does change state."""
    from marketplace.orders.models import OrderMessage

    me = signed_in(app, login, seller)
    order_id = make_order(status="accepted").id

    def count():
        return db.session.scalar(sa.select(sa.func.count()).select_from(OrderMessage))

    before = count()
    assert me.post(f"/orders/{order_id}/messages", data={"body": "你好"}, csrf=False).status_code == 400
    assert count() == before
    resp = me.post(f"/orders/{order_id}/messages", data={"body": "你好"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    assert count() == before + 1


def test_the_refusal_speaks_english_on_request(app, login, user):
    me = signed_in(app, login, user)
    resp = me.post("/notices/read", data={}, csrf=False, headers={"Accept-Language": "en"})
    assert resp.status_code == 400
    assert CSRF_DETAIL in resp.get_data(as_text=True)  # the session's language (Chinese) comes first
    assert me.post("/lang/en", data={"next": "/"}, csrf=False).status_code == 302
    text = me.post("/notices/read", data={}, csrf=False).get_data(as_text=True)
    assert CSRF_DETAIL not in text
    assert "<html" in text and 'lang="en"' in text


def test_api_state_changes_refuse_a_session_cookie_without_a_token(app, db, login, world):
    me = signed_in(app, login, world.seller)
    before = snapshot(db)
    failures, walked = [], 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint in API_PUBLIC:
            continue
        for method in sorted(rule.methods & {"POST", "PUT", "PATCH", "DELETE"}):
            urls = urls_for(rule, world)
            assert urls is not None, f"cannot fill {rule.rule}"
            for url in urls:
                walked += 1
                # With the page's CSRF token too: a cookie is never an API credential.
                resp = me.open(url, method=method, json={}, headers={"X-CSRFToken": me.csrf_token()})
                if resp.status_code != 401 or resp.mimetype != "application/problem+json":
                    failures.append(f"{method} {url}: {resp.status_code} {resp.mimetype}")
    assert walked >= 35, walked
    assert not failures, "\n".join(failures)
    assert not changed(before, snapshot(db))


@pytest.mark.parametrize("path", ["/api/v1/auth/token", "/api/v1/users"])
def test_the_public_api_posts_take_no_form_bodies(app, db, client, path, password):
    """A cross-site HTML form can post urlencoded or multipart without a preflight: the API refuses both."""
    from marketplace.accounts.models import ApiToken, User

    def rows():
        return [db.session.scalar(sa.select(sa.func.count()).select_from(m)) for m in (User, ApiToken)]

    before = rows()
    fields = {"username": "mallory", "password": password, "display_name": "Mallory"}
    for content_type in ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain"):
        resp = client.post(path, data=fields, content_type=content_type, csrf=False)
        assert 400 <= resp.status_code < 500, (content_type, resp.status_code)
        assert resp.mimetype == "application/problem+json"
    assert rows() == before


# --- the language switch: no token, refused by Origin / Referer ------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://localhost.evil.example"},
        {"Origin": "http://evil.example", "Referer": "http://localhost/"},
        {"Referer": "https://evil.example/page"},
        {"Origin": "http://[evil.example"},
        {"Referer": "//["},
    ],
)
def test_the_language_switch_refuses_other_origins(client, headers):
    resp = client.post("/lang/en", data={"next": "/search"}, csrf=False, headers=headers)
    assert resp.status_code == 400
    assert "请求来自其他网站" in resp.get_data(as_text=True)
    assert "lang=" not in resp.headers.get("Set-Cookie", "")
    assert "Request from another site" not in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("headers", [{"Origin": "http://localhost"}, {"Referer": "http://localhost/search"}, {}])
def test_the_language_switch_works_from_this_site(client, headers):
    resp = client.post("/lang/en", data={"next": "/search"}, csrf=False, headers=headers)
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/search")
    assert "lang=en" in resp.headers.get("Set-Cookie", "")


def test_the_walk_knows_the_exempt_routes(app):
    """A new csrf.exempt view must be added here (with its own check) on purpose; the API blueprint is exempt."""
    csrf = app.extensions["csrf"]
    assert {getattr(b, "name", b) for b in csrf._exempt_blueprints} == {"api"}
    exempt = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if f"{app.view_functions[rule.endpoint].__module__}.{app.view_functions[rule.endpoint].__name__}"
        in csrf._exempt_views
    }
    assert exempt == EXEMPT
