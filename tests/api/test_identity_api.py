"""Identity API: /me, /me/verification, public profiles and the moderators' verification queue."""

import pytest

from tests.identity.factories import identity_data, make_id_number, make_phone, submit_request, verified_user

__all__ = ["identity_data", "submit_request", "verified_user"]  # fixtures used below

PROBLEM = "application/problem+json"
BASE = "/api/v1"


def _problem(resp, status):
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == PROBLEM
    return resp.get_json()


@pytest.fixture
def mod_headers(moderator, token_for):
    return token_for(moderator)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/me"),
        ("POST", "/me/verification"),
        ("GET", "/moderation/verifications"),
        ("POST", "/moderation/verifications/1/approve"),
        ("POST", "/moderation/verifications/1/reject"),
    ],
)
def test_401_without_a_token(api, method, path):
    body = _problem(api.open(BASE + path, method=method, json={}), 401)
    assert body["status"] == 401


def test_me_before_verification(api, user, token_for):
    resp = api.get(f"{BASE}/me", headers=token_for(user))
    assert resp.status_code == 200
    assert resp.get_json() == {
        "id": user.id,
        "username": "alice",
        "display_name": user.display_name,
        "roles": ["resident"],
        "verification": "unverified",
        "credit": {"score": None, "band": None},
        "list_status": "none",
    }


def test_a_wrong_check_digit_is_422_on_id_number_and_stores_nothing(api, user, token_for, identity_data):
    headers = token_for(user)
    data = identity_data()
    data["id_number"] = data["id_number"][:17] + ("1" if data["id_number"][17] == "0" else "0")
    body = _problem(api.post(f"{BASE}/me/verification", json=data, headers=headers), 422)
    assert list(body["errors"]) == ["id_number"]
    assert api.get(f"{BASE}/me", headers=headers).get_json()["verification"] == "unverified"


def test_field_errors_for_each_field_at_fault(api, user, token_for):
    body = _problem(
        api.post(
            f"{BASE}/me/verification",
            headers=token_for(user),
            json={"real_name": "1", "id_number": "123", "phone": "+86 123", "kind": "business"},
        ),
        422,
    )
    assert set(body["errors"]) == {"real_name", "id_number", "phone", "credit_code"}
    body = _problem(
        api.post(
            f"{BASE}/me/verification",
            headers=token_for(user),
            json={"real_name": "张三", "id_number": make_id_number(), "phone": make_phone(), "kind": "alien"},
        ),
        422,
    )
    assert list(body["errors"]) == ["kind"]


def test_a_request_is_202_pending_and_masked(api, user, token_for, identity_data):
    data = identity_data(phone="+86" + make_phone())
    resp = api.post(f"{BASE}/me/verification", json=data, headers=token_for(user))
    assert resp.status_code == 202
    body = resp.get_json()
    assert body["status"] == "pending" and body["kind"] == "resident" and body["user_id"] == user.id
    assert body["id_number"] == data["id_number"][0] + "*" * 16 + data["id_number"][-1]
    assert body["phone"] == data["phone"][3:6] + "****" + data["phone"][-4:]
    assert body["real_name"] == "张*三"
    assert api.get(f"{BASE}/me", headers=token_for(user)).get_json()["verification"] == "pending"


def test_the_same_identity_for_another_account_is_409(api, make_user, token_for, identity_data):
    data = identity_data()
    assert api.post(f"{BASE}/me/verification", json=data, headers=token_for(make_user("one"))).status_code == 202
    again = dict(data, id_number=data["id_number"].lower(), phone=make_phone())
    body = _problem(api.post(f"{BASE}/me/verification", json=again, headers=token_for(make_user("two"))), 409)
    assert list(body["errors"]) == ["id_number"]


def test_a_second_request_while_pending_is_409(api, user, token_for, identity_data):
    headers = token_for(user)
    assert api.post(f"{BASE}/me/verification", json=identity_data(), headers=headers).status_code == 202
    _problem(api.post(f"{BASE}/me/verification", json=identity_data(), headers=headers), 409)


def test_the_instant_verifier_answers_201_verified(app, api, user, token_for, identity_data):
    app.config["IDENTITY_VERIFIER"] = "instant"
    headers = token_for(user)
    resp = api.post(f"{BASE}/me/verification", json=identity_data(), headers=headers)
    assert resp.status_code == 201 and resp.get_json()["status"] == "verified"
    assert api.get(f"{BASE}/me", headers=headers).get_json()["credit"] == {"score": 600, "band": "fair"}


def test_students_send_campus_and_student_number(api, user, token_for, identity_data):
    data = identity_data(kind="student", campus="nmu", student_no="20230042")
    resp = api.post(f"{BASE}/me/verification", json=data, headers=token_for(user))
    assert resp.status_code == 202 and resp.get_json()["campus"] == "nmu"


def test_moderation_routes_are_403_for_others(api, user, token_for, submit_request, make_user):
    req = submit_request(make_user("applicant"))
    headers = token_for(user)
    _problem(api.get(f"{BASE}/moderation/verifications", headers=headers), 403)
    _problem(api.post(f"{BASE}/moderation/verifications/{req.id}/approve", headers=headers), 403)
    _problem(api.post(f"{BASE}/moderation/verifications/{req.id}/reject", json={"reason": "x"}, headers=headers), 403)


def test_approval_makes_me_verified(api, user, token_for, mod_headers, identity_data):
    headers = token_for(user)
    created = api.post(f"{BASE}/me/verification", json=identity_data(), headers=headers).get_json()
    queue = api.get(f"{BASE}/moderation/verifications", headers=mod_headers).get_json()
    assert queue == {
        "items": [
            {
                "id": created["id"],
                "user_id": user.id,
                "kind": "resident",
                "submitted_at": queue["items"][0]["submitted_at"],
                "real_name": "张*三",
                "campus": None,
            }
        ],
        "next_cursor": None,
    }
    resp = api.post(f"{BASE}/moderation/verifications/{created['id']}/approve", headers=mod_headers)
    assert resp.status_code == 200 and resp.get_json()["status"] == "verified"
    me = api.get(f"{BASE}/me", headers=headers).get_json()
    assert me["verification"] == "verified" and me["credit"] == {"score": 600, "band": "fair"}
    assert api.get(f"{BASE}/moderation/verifications", headers=mod_headers).get_json()["items"] == []
    _problem(api.post(f"{BASE}/moderation/verifications/{created['id']}/approve", headers=mod_headers), 409)


def test_rejection_takes_a_reason(api, user, token_for, mod_headers, submit_request):
    req = submit_request(user)
    body = _problem(api.post(f"{BASE}/moderation/verifications/{req.id}/reject", json={}, headers=mod_headers), 422)
    assert "reason" in body["errors"]
    body = _problem(
        api.post(f"{BASE}/moderation/verifications/{req.id}/reject", json={"reason": " "}, headers=mod_headers), 422
    )
    assert "reason" in body["errors"]
    resp = api.post(
        f"{BASE}/moderation/verifications/{req.id}/reject", json={"reason": "姓名与证件不符"}, headers=mod_headers
    )
    assert resp.status_code == 200
    assert resp.get_json()["status"] == "rejected" and resp.get_json()["reason"] == "姓名与证件不符"
    assert api.get(f"{BASE}/me", headers=token_for(user)).get_json()["verification"] == "rejected"


def test_a_moderator_cannot_decide_their_own_request(api, moderator, mod_headers, submit_request):
    req = submit_request(moderator)
    _problem(api.post(f"{BASE}/moderation/verifications/{req.id}/approve", headers=mod_headers), 403)


def test_unknown_ids_are_404(api, mod_headers):
    _problem(api.post(f"{BASE}/moderation/verifications/999/approve", headers=mod_headers), 404)
    _problem(api.post(f"{BASE}/moderation/verifications/999/reject", json={"reason": "无"}, headers=mod_headers), 404)
    _problem(api.get(f"{BASE}/users/999"), 404)


def test_the_queue_pages_with_a_cursor(api, make_user, mod_headers, submit_request):
    ids = [submit_request(make_user(f"applicant{n}")).id for n in range(3)]
    first = api.get(f"{BASE}/moderation/verifications?limit=2", headers=mod_headers).get_json()
    assert [i["id"] for i in first["items"]] == ids[:2] and first["next_cursor"]
    rest = api.get(
        f"{BASE}/moderation/verifications?limit=2&cursor={first['next_cursor']}", headers=mod_headers
    ).get_json()
    assert [i["id"] for i in rest["items"]] == ids[2:] and rest["next_cursor"] is None
    _problem(api.get(f"{BASE}/moderation/verifications?cursor=abc", headers=mod_headers), 422)
    _problem(api.get(f"{BASE}/moderation/verifications?limit=0", headers=mod_headers), 422)


def test_public_profiles_are_masked(api, make_user, verified_user):
    seller = verified_user("seller", real_name="欧阳小锋")
    resp = api.get(f"{BASE}/users/{seller.id}")
    assert resp.status_code == 200
    assert resp.get_json() == {
        "id": seller.id,
        "display_name": seller.display_name,
        "real_name": "欧**锋",
        "verified": True,
        "kind": "resident",
        "credit": {"score": 600, "band": "fair"},
        "ratings": {"count": 0, "average": None},
        "list_status": "none",
    }
    newcomer = api.get(f"{BASE}/users/{make_user('newcomer').id}").get_json()
    assert newcomer["verified"] is False and newcomer["real_name"] is None
    suspended = api.get(f"{BASE}/users/{make_user('paused', status='suspended').id}").get_json()
    assert suspended["list_status"] == "suspended"


def test_the_routes_are_in_the_openapi_document(api):
    paths = api.get(f"{BASE}/openapi.json").get_json()["paths"]
    for path in (
        "/api/v1/me",
        "/api/v1/me/verification",
        "/api/v1/users/{user_id}",
        "/api/v1/moderation/verifications",
        "/api/v1/moderation/verifications/{verification_id}/approve",
        "/api/v1/moderation/verifications/{verification_id}/reject",
    ):
        assert path in paths


def test_ids_beyond_the_integer_range_are_404_not_500(api, mod_headers):
    huge = 10**25
    _problem(api.get(f"{BASE}/users/{huge}"), 404)
    _problem(api.post(f"{BASE}/moderation/verifications/{huge}/approve", headers=mod_headers), 404)
    _problem(api.get(f"{BASE}/moderation/verifications?cursor={huge}", headers=mod_headers), 422)
