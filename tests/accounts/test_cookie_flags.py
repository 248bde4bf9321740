"""Cookie flags as production sets them (Secure on)."""

import pytest


@pytest.fixture
def app_config():
    return {"SESSION_COOKIE_SECURE": True}


def test_session_cookie_flags(client, user, password):
    resp = client.post("/login", data={"username": user.username, "password": password})
    header = ";".join(resp.headers.getlist("Set-Cookie"))
    assert "mp_session=" in header
    assert "HttpOnly" in header and "Secure" in header and "SameSite=Lax" in header
