"""Identity API: /me, /me/verification, public profiles and the moderators' verification queue."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.responses import problem as _problem
from tests.identity.factories import make_id_number, make_phone
from tests.identity.unicode_forms import FULL_WIDTH, spelled, with_a_foreign_digit

BASE = "/api/v1"


@pytest.fixture
def mod_headers(moderator, token_for):
    return token_for(moderator)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/me"),
        ("POST", "/me/verification"),
        ("GET", "/users/1/credit"),
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
        "ratings": {
            "count": 0,
            "average": None,
            "as_seller": {
                "count": 0,
                "averages": {"accuracy": None, "communication": None, "punctuality": None},
                "positive_share": None,
                "recent_count": 0,
            },
            "as_buyer": {
                "count": 0,
                "averages": {"punctuality": None, "communication": None},
                "positive_share": None,
                "recent_count": 0,
            },
        },
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


# --- other scripts' digits -----------------------------------------------------------------

FIXTURES_PER_EXAMPLE = settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def test_the_reviewers_full_width_number_is_the_same_identity(api, make_user, token_for):
    number = "11010519491231002X"
    first = {"real_name": "张小三", "id_number": number, "phone": make_phone()}
    assert api.post(f"{BASE}/me/verification", json=first, headers=token_for(make_user("one"))).status_code == 202
    typed = "".join(FULL_WIDTH.get(c, c) for c in number)
    again = {"real_name": "张小三", "id_number": typed, "phone": make_phone()}
    body = _problem(api.post(f"{BASE}/me/verification", json=again, headers=token_for(make_user("two"))), 409)
    assert list(body["errors"]) == ["id_number"]


@pytest.fixture
def newcomer_headers(make_user, token_for):
    """One account for every example of a test: a refused request (409, 422) stores nothing."""
    return token_for(make_user("newcomer"))


@FIXTURES_PER_EXAMPLE
@given(data=st.data())
def test_an_identity_typed_with_lookalike_digits_is_the_same_identity_409(
    api, make_user, submit_request, newcomer_headers, data
):
    number = make_id_number()
    submit_request(make_user(), id_number=number)
    again = {"real_name": "张小三", "id_number": data.draw(spelled(number, changed=True)), "phone": make_phone()}
    body = _problem(api.post(f"{BASE}/me/verification", json=again, headers=newcomer_headers), 409)
    assert list(body["errors"]) == ["id_number"]


@FIXTURES_PER_EXAMPLE
@given(data=st.data(), field=st.sampled_from(["id_number", "phone"]))
def test_digits_nfkc_leaves_non_ascii_are_a_field_error(api, newcomer_headers, data, field):
    sent = {"real_name": "张小三", "id_number": make_id_number(), "phone": make_phone()}
    sent[field] = data.draw(with_a_foreign_digit(sent[field]))
    body = _problem(api.post(f"{BASE}/me/verification", json=sent, headers=newcomer_headers), 422)
    assert list(body["errors"]) == [field]
    assert api.get(f"{BASE}/me", headers=newcomer_headers).get_json()["verification"] == "unverified"


def test_a_cursor_in_other_digits_is_422_not_500(api, mod_headers):
    for cursor in ("²", "١٢", "１２"):
        _problem(api.get(f"{BASE}/moderation/verifications", query_string={"cursor": cursor}, headers=mod_headers), 422)


# --- a user's credit ----------------------------------------------------------------------------


def test_the_user_sees_their_own_credit_with_only_real_events(api, verified_user, token_for):
    owner = verified_user("owner")
    resp = api.get(f"{BASE}/users/{owner.id}/credit", headers=token_for(owner))
    assert resp.status_code == 200
    # Verified with the initial 600: the ledger holds exactly that event (no made-up one).
    body = resp.get_json()
    assert (body["score"], body["band"]) == (600, "fair")
    assert [(e["code"], e["delta"], e["source"]) for e in body["events"]] == [("verification", 600, "verification")]


def test_an_unverified_user_has_no_score_yet(api, user, token_for):
    resp = api.get(f"{BASE}/users/{user.id}/credit", headers=token_for(user))
    assert resp.get_json() == {"score": None, "band": None, "events": []}


@pytest.mark.parametrize("role", ["moderator", "supervisor"])
def test_moderators_and_supervisors_see_anyones_credit(api, make_user, verified_user, token_for, role):
    owner = verified_user("owner")
    staff = make_user("staff", roles=(role,))
    resp = api.get(f"{BASE}/users/{owner.id}/credit", headers=token_for(staff))
    assert resp.status_code == 200 and resp.get_json()["score"] == 600


def test_anyone_else_gets_404_as_if_the_user_did_not_exist(api, make_user, verified_user, token_for):
    owner = verified_user("owner")
    other = token_for(make_user("other", roles=("organiser", "inspector")))
    hidden = _problem(api.get(f"{BASE}/users/{owner.id}/credit", headers=other), 404)
    missing = _problem(api.get(f"{BASE}/users/999/credit", headers=other), 404)
    assert hidden == missing


def test_a_suspended_moderator_sees_no_one_elses_credit(api, make_user, verified_user, token_for, db):
    owner = verified_user("owner")
    staff = make_user("staff", roles=("moderator",))
    headers = token_for(staff)
    staff.status = "suspended"
    db.session.commit()
    assert api.get(f"{BASE}/users/{owner.id}/credit", headers=headers).status_code in (401, 404)


def test_anonymous_callers_get_401_for_credit(api, verified_user):
    owner = verified_user("owner")
    body = _problem(api.get(f"{BASE}/users/{owner.id}/credit"), 401)
    assert body["status"] == 401


def test_the_credit_route_is_documented(api):
    doc = api.get(f"{BASE}/openapi.json").get_json()
    op = doc["paths"]["/api/v1/users/{user_id}/credit"]["get"]
    assert op["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CreditDetailsOut"
    }
    assert {"401", "404"} <= set(op["responses"])
    assert "every ledger event" in op["summary"]
    event = doc["components"]["schemas"]["CreditEventOut"]
    assert {"at", "delta", "reason", "source"} <= set(event["properties"])
