"""Sessions end when they must: a cookie or token taken before logout, a password change, a suspension,
a confirmed black-listing or closing the account is refused afterwards, replayed from a fresh client.

Each case first proves that the replay works (the copied cookie, a remember cookie and the token read
a signed-in page and write a report), then runs the event, then replays the same credentials: a
signed-in page sends them to the login page (401 for the API) and a write is refused with nothing
written. DESIGN.md "Red and black lists": a black-list proposal only suspends trading, so the person
stays signed in and reads why; once confirmed, every session ends, and logging in again shows the
entry and the way to appeal. A suspended account (`flask users suspend`) cannot log in at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from flask_login.utils import encode_cookie

from marketplace.moderation.models import Appeal, Report
from tests.trust.factories import *  # noqa: F403

SESSION = "mp_session"
NEW_PASSWORD = "Lvse-Xunhuan-2027-new"
REPORT = {"reason": "hidden_defect", "detail": "实物与描述不符。"}


@dataclass
class Taken:
    """What a thief copies out of a signed-in browser and an API client."""

    session: str
    remember: str
    token: dict


def _cookie(client, name: str = SESSION) -> str:
    cookie = client.get_cookie(name)
    assert cookie is not None, f"no {name} cookie"
    return cookie.value


def _browser(app, user, password: str):
    c = app.test_client()
    resp = c.post("/login", data={"username": user.username, "password": password})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return c


def _take(app, user, password: str) -> Taken:
    """Log in on a browser and an API client of their own; copy the cookie values and the token."""
    browser = _browser(app, user, password)
    resp = app.test_client().post("/api/v1/auth/token", json={"username": user.username, "password": password})
    assert resp.status_code == 200, resp.get_json()
    # A remember-me cookie as Flask-Login would sign it (the app never sets one: see test_login_sets_...).
    remember = encode_cookie(str(user.get_id()))
    return Taken(_cookie(browser), remember, {"Authorization": f"Bearer {resp.get_json()['token']}"})


def _replay(app, value: str, name: str = SESSION):
    c = app.test_client()
    c.set_cookie(name, value)
    return c


def _reports(db, user) -> list[int]:
    return sorted(db.session.scalars(sa.select(Report.listing_id).where(Report.reporter_id == user.id)))


def _works(app, db, taken: Taken, user, listing) -> None:
    """Control: before the event, every copied credential is live (reads and writes)."""
    remember_name = app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    assert _replay(app, taken.session).get("/me").status_code == 200
    assert _replay(app, taken.remember, remember_name).get("/me").status_code == 200
    assert app.test_client().get("/api/v1/me", headers=taken.token).status_code == 200
    resp = _replay(app, taken.session).post(f"/listings/{listing.id}/report", data=REPORT)
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/listings/{listing.id}")
    assert listing.id in _reports(db, user)


def _refused(app, db, taken: Taken, user, listing) -> list[str]:
    """After the event: each copied credential is refused and nothing is written; the failures, in words."""
    failures = []
    remember_name = app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    before = _reports(db, user)
    for label, c in (
        ("session cookie", _replay(app, taken.session)),
        ("remember cookie", _replay(app, taken.remember, remember_name)),
    ):
        for path in ("/me", "/credit", "/my/listings"):
            resp = c.get(path)
            if resp.status_code != 302 or "/login" not in resp.headers.get("Location", ""):
                failures.append(f"{label}: GET {path} answered {resp.status_code}")
        # The CSRF token is the old session's own (CsrfClient reads it from the login page): the
        # refusal must come from the session, not from a missing token.
        resp = c.post(f"/listings/{listing.id}/report", data=REPORT)
        if resp.status_code != 302 or "/login" not in resp.headers.get("Location", ""):
            failures.append(f"{label}: POST report answered {resp.status_code}")
    api = app.test_client()
    if (status := api.get("/api/v1/me", headers=taken.token).status_code) != 401:
        failures.append(f"token: GET /api/v1/me answered {status}")
    resp = api.post(f"/api/v1/listings/{listing.id}/reports", json=REPORT, headers=taken.token)
    if resp.status_code != 401:
        failures.append(f"token: POST report answered {resp.status_code}")
    if _reports(db, user) != before:
        failures.append("a refused request wrote a report")
    return failures


@pytest.fixture
def targets(make_listing, buyer):
    """Two listings of someone else's that the victim may report: one before the event, one after."""
    return make_listing(user=buyer, title="小米手环 8"), make_listing(user=buyer, title="华为手表 GT 4")


def _logout(app, db, user, password, taken, **_):
    c = _browser(app, user, password)
    assert c.post("/logout", data={}).status_code == 302


def _password_change(app, db, user, password, taken, **_):
    c = _browser(app, user, password)
    form = {"current_password": password, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert c.post("/account/password", data=form).status_code == 302
    # The browser that changed it goes on (DESIGN: every *other* session ends).
    assert c.get("/me").status_code == 200


def _suspension(app, db, user, password, taken, cli, **_):
    result = cli("users", "suspend", user.username, "--reason", "多次被举报，调查期间停用")
    assert result.exit_code == 0, result.output


def _closing(app, db, user, password, taken, **_):
    c = _browser(app, user, password)
    assert c.post("/me/close", data={"password": password, "confirm": "y"}).status_code == 302


EVENTS = {"logout": _logout, "password change": _password_change, "suspension": _suspension, "closing": _closing}


@pytest.mark.parametrize("event", EVENTS)
def test_credentials_taken_before_the_event_are_refused_after_it(app, db, seller, password, targets, cli, event):
    taken = _take(app, seller, password)
    _works(app, db, taken, seller, targets[0])
    EVENTS[event](app, db, seller, password, taken, cli=cli)
    failures = _refused(app, db, taken, seller, targets[1])
    assert not failures, f"after {event}: " + "; ".join(failures)


def test_revoking_a_token_through_the_api_ends_that_token(app, db, seller, password, targets):
    taken = _take(app, seller, password)
    _works(app, db, taken, seller, targets[0])
    api = app.test_client()
    assert api.delete("/api/v1/auth/token", headers=taken.token).status_code in (200, 204)
    assert api.get("/api/v1/me", headers=taken.token).status_code == 401
    resp = api.post(f"/api/v1/listings/{targets[1].id}/reports", json=REPORT, headers=taken.token)
    assert resp.status_code == 401
    assert targets[1].id not in _reports(db, seller)


def test_a_suspended_account_is_told_why_it_cannot_log_in(app, db, seller, password, cli):
    assert cli("users", "suspend", seller.username, "--reason", "调查期间停用").exit_code == 0
    resp = app.test_client().post("/login", data={"username": seller.username, "password": password})
    assert resp.status_code != 302
    assert "已停用" in resp.get_data(as_text=True)
    token = app.test_client().post("/api/v1/auth/token", json={"username": seller.username, "password": password})
    assert token.status_code == 403 and "已停用" in token.get_json()["detail"]


def test_black_listing_keeps_the_session_while_proposed_and_ends_it_when_confirmed(
    app, db, seller, password, targets, violate, supervisor
):
    taken = _take(app, seller, password)
    _works(app, db, taken, seller, targets[0])

    decision = violate("counterfeit")
    entry = decision.blacklist_entry
    # Proposed: trading stops, but the person stays signed in and reads why.
    proposed = _replay(app, taken.session)
    assert "已暂停交易" in proposed.get("/me").get_data(as_text=True)
    assert app.test_client().get("/api/v1/me", headers=taken.token).get_json()["list_status"] == "suspended"

    reviewer = _browser(app, supervisor, password)
    resp = reviewer.post(f"/trust/black/{entry.id}/confirm", data={"note": "假货属实，确认列入。"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    db.session.refresh(entry)
    assert entry.status == "active"

    failures = _refused(app, db, taken, seller, targets[1])
    assert not failures, "after black-listing: " + "; ".join(failures)

    # Logging in again works: the person reads the entry and the way to appeal, and still cannot trade.
    again = _browser(app, seller, password)
    me = again.get("/api/v1/me")  # the API takes no cookies
    assert me.status_code == 401
    assert "所有登录已退出" in again.get("/notices").get_data(as_text=True)
    profile = again.get("/me").get_data(as_text=True)
    assert "已列入黑名单" in profile and 'href="/notices"' in profile  # the account page says so, and where to read why
    page = again.get(f"/decisions/{decision.id}")
    assert page.status_code == 200
    assert "黑名单" in page.get_data(as_text=True)
    assert f"/decisions/{decision.id}/appeal" in page.get_data(as_text=True)
    assert again.get(f"/decisions/{decision.id}/appeal").status_code == 200
    appeal = again.post(f"/decisions/{decision.id}/appeal", data={"reason": "这台手机是正品，我有购买发票和保修记录。"})
    assert appeal.status_code == 302, appeal.get_data(as_text=True)
    assert db.session.scalar(sa.select(Appeal.decision_id).where(Appeal.appellant_id == seller.id)) == decision.id
    sell = again.get("/sell")
    assert sell.status_code == 403 and "黑名单" in sell.get_data(as_text=True)


# --- session fixation and the remember cookie ---------------------------------------------------------


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def test_login_starts_a_new_session_and_the_planted_one_stays_anonymous(app, db, seller, password, targets):
    """An attacker who planted their own session cookie (and CSRF token) in the victim's browser gains nothing."""
    c = app.test_client()
    planted_token = _csrf(c.get("/login").get_data(as_text=True))
    planted = _cookie(c)
    resp = c.post("/login", data={"username": seller.username, "password": password, "csrf_token": planted_token})
    assert resp.status_code == 302
    assert _cookie(c) != planted
    assert c.get("/me").status_code == 200

    attacker = _replay(app, planted)
    resp = attacker.get("/me")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    # The token the attacker knows no longer matches the victim's new session.
    resp = c.post(f"/listings/{targets[0].id}/report", data=REPORT | {"csrf_token": planted_token})
    assert resp.status_code == 400
    assert _reports(db, seller) == []
    # The victim's own page token does work (the refusal above is the planted token's).
    fresh = _csrf(c.get(f"/listings/{targets[0].id}/report").get_data(as_text=True))
    assert c.post(f"/listings/{targets[0].id}/report", data=REPORT | {"csrf_token": fresh}).status_code == 302


def test_login_sets_no_remember_cookie(app, seller, password):
    c = app.test_client()
    resp = c.post("/login", data={"username": seller.username, "password": password, "remember": "y"})
    assert resp.status_code == 302
    remember_name = app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    assert all(not h.startswith(remember_name + "=") for h in resp.headers.getlist("Set-Cookie"))
    assert c.get_cookie(remember_name) is None
