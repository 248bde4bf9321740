"""The API base: problem+json everywhere, bearer tokens, the OpenAPI document."""

import re
from datetime import datetime, timedelta

import pytest

from marketplace.accounts import service

PROBLEM = "application/problem+json"


def _is_problem(resp, status):
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == PROBLEM
    body = resp.get_json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    return body


def test_unknown_route_is_problem_404(api):
    _is_problem(api.get("/api/v1/nothing-here"), 404)


def test_wrong_method_is_problem_405_with_allow(api):
    resp = api.put("/api/v1/auth/token")
    _is_problem(resp, 405)
    assert "POST" in resp.headers["Allow"]


def test_unexpected_error_is_problem_500_without_details(app, api, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(service, "authenticate", boom)
    body = _is_problem(api.post("/api/v1/auth/token", json={"username": "a", "password": "b"}), 500)
    assert "secret internals" not in str(body)


def test_register_then_token_then_revoke(api):
    resp = api.post(
        "/api/v1/users", json={"username": "li_lei", "password": "Lvse-Xunhuan-2026", "display_name": "李雷"}
    )
    assert resp.status_code == 201
    assert resp.get_json()["roles"] == ["resident"]
    token = api.post("/api/v1/auth/token", json={"username": "li_lei", "password": "Lvse-Xunhuan-2026"}).get_json()
    assert token["token"].startswith("mp_")
    assert datetime.fromisoformat(token["expires_at"]).utcoffset() == timedelta(0)
    headers = {"Authorization": f"Bearer {token['token']}"}
    assert api.delete("/api/v1/auth/token", headers=headers).status_code == 204
    _is_problem(api.delete("/api/v1/auth/token", headers=headers), 401)


def test_register_field_errors_are_422_in_chinese(api):
    body = _is_problem(api.post("/api/v1/users", json={"username": "x y", "password": "123", "display_name": ""}), 422)
    assert set(body["errors"]) >= {"display_name"}


def test_register_field_errors_in_english_on_request(api):
    resp = api.post("/api/v1/users", json={"username": "ok_name", "password": "123"}, headers={"Accept-Language": "en"})
    body = _is_problem(resp, 422)
    assert body["errors"]["display_name"] == ["Required"]
    assert body["title"] == "Invalid input"


def test_register_conflict(api, user):
    body = _is_problem(
        api.post(
            "/api/v1/users", json={"username": user.username, "password": "Lvse-Xunhuan-2026", "display_name": "x"}
        ),
        409,
    )
    assert "username" in body["errors"]


def test_unknown_fields_are_refused(api):
    body = _is_problem(
        api.post(
            "/api/v1/users",
            json={"username": "role_grab", "password": "Lvse-Xunhuan-2026", "display_name": "x", "roles": ["admin"]},
        ),
        422,
    )
    assert "roles" in body["errors"]


@pytest.mark.parametrize("payload", ["not json", "[1, 2]", "null"])
def test_body_must_be_a_json_object(api, payload):
    resp = api.post("/api/v1/auth/token", data=payload, content_type="application/json")
    _is_problem(resp, 422)


def test_body_must_be_json(api):
    _is_problem(
        api.post("/api/v1/auth/token", data="username=a", content_type="application/x-www-form-urlencoded"), 415
    )


def test_wrong_password_is_422_and_vague(api, user):
    body = _is_problem(api.post("/api/v1/auth/token", json={"username": user.username, "password": "nope-nope"}), 422)
    assert "用户名或密码不正确" in body["detail"]


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer nope", "Basic abc", "Bearer " + "x" * 500])
def test_bad_or_missing_tokens_are_401(api, header):
    resp = api.delete("/api/v1/auth/token", headers={"Authorization": header} if header else {})
    _is_problem(resp, 401)
    assert resp.headers["WWW-Authenticate"] == "Bearer"


def test_expired_token_is_401(api, db, user):
    raw, _token = service.issue_token(user, timedelta(seconds=-5))
    db.session.commit()
    _is_problem(api.delete("/api/v1/auth/token", headers={"Authorization": f"Bearer {raw}"}), 401)


def test_tokens_stop_working_when_the_account_is_suspended(api, db, user, moderator, token_for):
    headers = token_for(user)
    service.set_status(moderator, user, "suspended", "test")
    db.session.commit()
    _is_problem(api.delete("/api/v1/auth/token", headers=headers), 401)


def test_api_needs_no_csrf_token(api, user, password):
    resp = api.post("/api/v1/auth/token", json={"username": user.username, "password": password}, csrf=False)
    assert resp.status_code == 200


def test_openapi_document_lists_every_route(app, api):
    doc = api.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0"

    def shape(path):
        return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)

    declared = {
        (shape(rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api.openapi_document"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(shape(path), method.upper()) for path, item in doc["paths"].items() for method in item}
    assert declared <= documented


def test_api_responses_are_not_cached(api):
    assert api.get("/api/v1/openapi.json").headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/api/v1/users/99999999999999999999", "/api/v1/users/2147483648"])
def test_ids_beyond_any_column_are_404_not_500(api, path):
    _is_problem(api.get(path), 404)


def test_huge_ids_in_pages_are_404(client, login, make_user):
    login(make_user("boss", roles=("admin",)))
    assert client.get("/admin/users/99999999999999999999").status_code == 404


@pytest.mark.parametrize(
    "payload",
    [
        {"username": "nul\u0000user", "password": "Lvse-Xunhuan-2026", "display_name": "x"},
        {"username": "ok_user", "password": "Lvse-Xunhuan-2026", "display_name": "a\u0007b"},
    ],
)
def test_control_characters_are_422_not_500(api, payload):
    body = _is_problem(api.post("/api/v1/users", json=payload), 422)
    assert "控制字符" in body["detail"]


def test_deeply_nested_json_is_422(api):
    resp = api.post("/api/v1/auth/token", data="[" * 50000, content_type="application/json")
    _is_problem(resp, 422)


def test_oversized_api_body_is_413(api):
    resp = api.post("/api/v1/users", json={"username": "x", "password": "y", "display_name": "z" * 70000})
    _is_problem(resp, 413)


def test_invisible_characters_in_display_names_are_refused(api):
    body = _is_problem(
        api.post(
            "/api/v1/users",
            json={"username": "rtl_user", "password": "Lvse-Xunhuan-2026", "display_name": "abc\u202edcba"},
        ),
        422,
    )
    assert "display_name" in body["errors"]
