"""Account pages: registration, login, logout, sessions, headers, redirects."""

import pytest

from marketplace.accounts import service


def _session_cookie(client):
    cookie = client.get_cookie("mp_session")
    assert cookie is not None
    return cookie.value


def test_register_logs_in_and_lands_on_verification(client):
    resp = client.post(
        "/register",
        data={
            "username": "bob_1",
            "display_name": "鲍勃",
            "password": "Lvse-Xunhuan-2026",
            "confirm": "Lvse-Xunhuan-2026",
        },
    )
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/me/verification")


def test_register_error_keeps_what_was_typed_but_not_the_password(client):
    resp = client.post(
        "/register",
        data={"username": "bob_1", "display_name": "鲍勃的小店", "password": "12345678", "confirm": "12345678"},
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert 'value="bob_1"' in html and "鲍勃的小店" in html
    assert "太常见" in html
    assert 'value="12345678"' not in html


def test_register_duplicate_username_shows_field_error(client, user):
    resp = client.post(
        "/register",
        data={
            "username": user.username,
            "display_name": "x",
            "password": "Lvse-Xunhuan-2026",
            "confirm": "Lvse-Xunhuan-2026",
        },
    )
    assert resp.status_code == 422
    assert "用户名已被占用" in resp.get_data(as_text=True)


def test_login_wrong_password_is_refused(client, user):
    resp = client.post("/login", data={"username": user.username, "password": "wrong-password-1"})
    assert resp.status_code == 422
    assert "用户名或密码不正确" in resp.get_data(as_text=True)


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/me", "/me"),
        ("https://evil.example/x", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_login_next_only_goes_to_our_own_paths(client, user, password, target, expected):
    resp = client.post("/login", data={"username": user.username, "password": password, "next": target})
    assert resp.status_code == 302
    assert resp.headers["Location"] == expected


def test_form_post_without_csrf_token_is_refused(client, user, password):
    resp = client.post("/login", data={"username": user.username, "password": password}, csrf=False)
    assert resp.status_code == 400
    assert "表单已过期" in resp.get_data(as_text=True)


def test_logout_is_post_only(client, login, user):
    login(user)
    assert client.get("/logout").status_code == 405


def test_logout_invalidates_a_copied_session_cookie(app, client, login, user):
    login(user)
    stolen = _session_cookie(client)
    client.post("/logout", data={})
    thief = app.test_client()
    thief.set_cookie("mp_session", stolen, domain="localhost")
    resp = thief.get("/account/password")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_password_change_ends_other_sessions_but_keeps_this_one(app, client, login, user, password):
    other = app.test_client()
    login(user, other)
    login(user)
    resp = client.post(
        "/account/password",
        data={
            "current_password": password,
            "new_password": "Brand-New-Passphrase-7",
            "confirm": "Brand-New-Passphrase-7",
        },
    )
    assert resp.status_code == 302
    assert client.get("/account/password").status_code == 200
    assert other.get("/account/password").status_code == 302


def test_suspension_ends_sessions(app, db, client, login, user, moderator):
    login(user)
    service.set_status(moderator, user, "suspended", "investigation")
    db.session.commit()
    resp = client.get("/account/password")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_security_headers_on_pages(client):
    resp = client.get("/")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"


def test_nul_byte_in_a_form_is_a_clear_400(client):
    resp = client.post("/login", data={"username": "a\x00b", "password": "whatever-123"})
    assert resp.status_code == 400
    assert "控制字符" in resp.get_data(as_text=True)


def test_nul_byte_in_a_query_is_400(client, login, make_user):
    login(make_user("boss", roles=("admin",)))
    assert client.get("/admin/users?q=%00").status_code == 400


def test_login_starts_a_new_session(client, user, password):
    before = client.csrf_token()
    client.post("/login", data={"username": user.username, "password": password})
    assert client.csrf_token() != before


def test_language_choice_survives_login(client, user, password):
    client.post("/lang/en", data={"next": "/"})
    client.post("/login", data={"username": user.username, "password": password})
    assert 'lang="en"' in client.get("/").get_data(as_text=True)
