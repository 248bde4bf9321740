"""Reports API: POST /listings/{id}/reports, the moderators' GET /moderation/reports, and
inspectors' POST /listings/{id}/certification (which may open a report)."""

import pytest

from tests.api.responses import problem as _problem
from tests.moderation.factories import (
    inspector,
    listing,
    make_listing,
    make_phone_listing,
    phone_answers,
    phone_listing,
    reporter,
    seller,
)

__all__ = [  # fixtures used below
    "inspector",
    "listing",
    "make_listing",
    "make_phone_listing",
    "phone_answers",
    "phone_listing",
    "reporter",
    "seller",
]

BASE = "/api/v1"


def _report(api, listing_id, headers, **body):
    return api.post(f"{BASE}/listings/{listing_id}/reports", json=body, headers=headers)


def test_401_without_a_token(api, listing):
    _problem(api.post(f"{BASE}/listings/{listing.id}/reports", json={"reason": "other", "detail": "x"}), 401)
    _problem(api.get(f"{BASE}/moderation/reports"), 401)


def test_a_report_is_201(api, token_for, reporter, listing):
    resp = api.post(
        f"{BASE}/listings/{listing.id}/reports",
        json={"reason": "exaggeration", "detail": "成色没有写的那么好"},
        headers=token_for(reporter),
    )
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert set(body) == {"id", "listing_id", "reason", "source", "status", "created_at"}
    assert (body["listing_id"], body["reason"], body["source"], body["status"]) == (
        listing.id,
        "exaggeration",
        "user",
        "open",
    )
    assert body["created_at"].endswith("+00:00") or body["created_at"].endswith("Z")


def test_the_detail_is_optional_except_for_other(api, token_for, reporter, make_listing):
    headers = token_for(reporter)
    first, second = make_listing(), make_listing()
    assert _report(api, first.id, headers, reason="counterfeit").status_code == 201
    body = _problem(_report(api, second.id, headers, reason="other"), 422)
    assert list(body["errors"]) == ["detail"]


def test_a_duplicate_open_report_is_409(api, token_for, reporter, listing):
    headers = token_for(reporter)
    url = f"{BASE}/listings/{listing.id}/reports"
    assert api.post(url, json={"reason": "exaggeration"}, headers=headers).status_code == 201
    body = _problem(api.post(url, json={"reason": "hidden_defect", "detail": "又发现"}, headers=headers), 409)
    assert "已举报过" in body["detail"]


def test_ones_own_listing_is_403(api, token_for, seller, listing):
    _problem(_report(api, listing.id, token_for(seller), reason="other", detail="x"), 403)


def test_unknown_and_hidden_listings_are_404(api, token_for, reporter, make_listing):
    headers = token_for(reporter)
    removed = make_listing(status="removed")
    for listing_id in (removed.id, 424242):
        _problem(_report(api, listing_id, headers, reason="other", detail="x"), 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "spam"}, "reason"),
        ({}, "reason"),
        ({"reason": "other", "detail": "字" * 1001}, "detail"),
        ({"reason": "other", "detail": 5}, "detail"),
        ({"reason": "other", "detail": "x", "extra": 1}, "extra"),
    ],
    ids=["unknown-reason", "missing-reason", "too-long", "not-text", "extra-field"],
)
def test_bad_input_is_422_on_the_field(api, token_for, reporter, listing, body, field):
    resp = _problem(api.post(f"{BASE}/listings/{listing.id}/reports", json=body, headers=token_for(reporter)), 422)
    assert list(resp["errors"]) == [field]


def test_control_characters_are_refused(api, token_for, reporter, listing):
    body = {"reason": "other", "detail": "坏\u0000字"}
    _problem(api.post(f"{BASE}/listings/{listing.id}/reports", json=body, headers=token_for(reporter)), 422)


def test_moderators_list_every_open_report_once_in_pages(api, token_for, make_user, moderator, make_listing):
    listings = [make_listing(title=f"商品{i}") for i in range(3)]
    reporters = [make_user(f"r{i}") for i in range(2)]
    for who in reporters:
        headers = token_for(who)
        for item in listings:
            assert _report(api, item.id, headers, reason="exaggeration").status_code == 201
    headers = token_for(moderator)
    seen, cursor = [], None
    while True:
        url = f"{BASE}/moderation/reports?limit=4" + (f"&cursor={cursor}" if cursor else "")
        resp = api.get(url, headers=headers)
        assert resp.status_code == 200
        page = resp.get_json()
        for item in page["items"]:
            assert set(item) == {"id", "listing_id", "reason", "source", "created_at", "risk", "factors"}
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # Every report once; the riskiest-first order itself is tested with the decisions API.
    assert len(seen) == 6 and len(set(seen)) == 6


def test_closed_reports_are_not_listed(api, db, token_for, reporter, moderator, listing):
    from marketplace.moderation.models import Report

    resp = _report(api, listing.id, token_for(reporter), reason="exaggeration")
    db.session.get(Report, resp.get_json()["id"]).status = "dismissed"
    db.session.commit()
    page = api.get(f"{BASE}/moderation/reports", headers=token_for(moderator)).get_json()
    assert page == {"items": [], "next_cursor": None}


def test_only_moderators_list_reports(api, token_for, reporter, inspector):
    for who in (reporter, inspector):
        _problem(api.get(f"{BASE}/moderation/reports", headers=token_for(who)), 403)


@pytest.mark.parametrize("cursor", ["abc", "-1", "²", "99999999999"])
def test_a_bad_cursor_is_422(api, token_for, moderator, cursor):
    resp = api.get(f"{BASE}/moderation/reports", query_string={"cursor": cursor}, headers=token_for(moderator))
    body = _problem(resp, 422)
    assert list(body["errors"]) == ["cursor"]


# --- certification ------------------------------------------------------------------


def _certify(api, listing_id, answers, headers):
    return api.post(f"{BASE}/listings/{listing_id}/certification", json={"grading": answers}, headers=headers)


def test_certifying_the_declared_grade_is_201_without_a_report(api, token_for, inspector, phone_listing, phone_answers):
    resp = _certify(api, phone_listing.id, phone_answers(), token_for(inspector))
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert set(body) == {"id", "listing_id", "grade", "inspector_id", "created_at", "report_id"}
    assert (body["listing_id"], body["grade"], body["inspector_id"], body["report_id"]) == (
        phone_listing.id,
        "A",
        inspector.id,
        None,
    )
    listing = api.get(f"{BASE}/listings/{phone_listing.id}").get_json()
    assert listing["certified"] not in (None, False)


def test_two_grades_lower_answers_with_the_report_a_moderator_then_sees(
    api, token_for, inspector, moderator, phone_listing, phone_answers
):
    body = _certify(api, phone_listing.id, phone_answers(screen="visible"), token_for(inspector)).get_json()
    assert body["grade"] == "C" and isinstance(body["report_id"], int)
    [item] = api.get(f"{BASE}/moderation/reports", headers=token_for(moderator)).get_json()["items"]
    assert item["id"] == body["report_id"]
    assert (item["listing_id"], item["reason"], item["source"]) == (phone_listing.id, "exaggeration", "certification")


def test_one_grade_lower_opens_no_report(api, token_for, inspector, phone_listing, phone_answers):
    body = _certify(api, phone_listing.id, phone_answers(screen="invisible_50cm"), token_for(inspector)).get_json()
    assert (body["grade"], body["report_id"]) == ("B", None)


def test_certification_needs_the_inspector_role(api, token_for, reporter, moderator, phone_listing, phone_answers):
    _problem(_certify(api, phone_listing.id, phone_answers(), {}), 401)
    for who in (reporter, moderator):
        _problem(_certify(api, phone_listing.id, phone_answers(), token_for(who)), 403)


def test_certification_of_ones_own_listing_is_403(api, token_for, make_user, make_phone_listing, phone_answers):
    me = make_user("selling_inspector", roles=("inspector",))
    own = make_phone_listing(seller_id=me.id)
    _problem(_certify(api, own.id, phone_answers(), token_for(me)), 403)


def test_certification_404_409(api, token_for, inspector, listing, make_phone_listing, phone_answers):
    headers = token_for(inspector)
    _problem(_certify(api, 99999, phone_answers(), headers), 404)
    _problem(_certify(api, make_phone_listing(status="withdrawn").id, phone_answers(), headers), 404)
    _problem(_certify(api, listing.id, phone_answers(), headers), 409)  # a book has no standard
    _problem(_certify(api, make_phone_listing(status="sold").id, phone_answers(), headers), 409)
    certified = make_phone_listing()
    assert _certify(api, certified.id, phone_answers(), headers).status_code == 201
    _problem(_certify(api, certified.id, phone_answers(), headers), 409)


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"screen": "shattered"}, {"grading.screen"}),
        ({"imei": "490154203237519"}, {"grading.imei"}),
        ({"account_locked": "maybe"}, {"grading.account_locked"}),
        ({"battery_health": None}, {"grading.battery_health"}),
        ({"colour": "红"}, {"grading.colour"}),
    ],
    ids=["unknown-option", "bad-imei", "gate-not-yes-or-no", "missing", "unknown-item"],
)
def test_bad_answers_are_422_on_the_item(api, token_for, inspector, phone_listing, phone_answers, change, fields):
    body = _problem(_certify(api, phone_listing.id, phone_answers(**change), token_for(inspector)), 422)
    assert set(body["errors"]) == fields


def test_a_body_without_grading_is_422(api, token_for, inspector, phone_listing):
    headers = token_for(inspector)
    body = _problem(api.post(f"{BASE}/listings/{phone_listing.id}/certification", json={}, headers=headers), 422)
    assert list(body["errors"]) == ["grading"]
    body = _problem(
        api.post(f"{BASE}/listings/{phone_listing.id}/certification", json={"grading": []}, headers=headers), 422
    )
    assert list(body["errors"]) == ["grading"]
