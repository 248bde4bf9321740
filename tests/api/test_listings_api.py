"""Listings API: POST/GET/PATCH/DELETE /listings, with the 401/403/404/409/422 cases of API.md."""

from __future__ import annotations

import pytest

from marketplace.listings import service
from tests.api.responses import problem as _problem
from tests.listings.sellers import (
    IMEI,
    VIN,
    phone_answers,
)

BASE = "/api/v1"


def _body(**fields) -> dict:
    body = {
        "title": "华为 Mate 60 手机 256GB",
        "description": "自用一年，带壳贴膜。",
        "category": "phone",
        "price_fen": 329900,
        "district": "jinfeng",
        "grading": phone_answers(),
    }
    body.update(fields)
    return body


@pytest.fixture
def seller_headers(seller, token_for):
    return token_for(seller)


# --- POST /listings -------------------------------------------------------------------------------


def test_a_verified_seller_publishes_and_gets_the_computed_grade(api, seller, seller_headers):
    resp = api.post(f"{BASE}/listings", json=_body(), headers=seller_headers)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["grade"] == "A" and body["grade_label"] == "A（95新）"
    assert body["status"] == "active" and body["price_fen"] == 329900
    assert body["grading"]["imei"] == IMEI and body["grading"]["account_locked"] is False
    assert body["seller"]["id"] == seller.id and body["seller"]["real_name"] == "张*三"
    assert body["seller"]["verified"] is True
    assert body["certified"] is None and body["photos"] == []
    assert body["description"] == "<p>自用一年，带壳贴膜。</p>"
    assert body["standard_version"].startswith("phone-")


def test_a_seller_cannot_type_a_grade(api, seller_headers):
    body = _problem(api.post(f"{BASE}/listings", json=_body(grade="S"), headers=seller_headers), 422)
    assert "grade" in body["errors"]


def test_unverified_users_get_403_and_anonymous_callers_401(api, make_user, token_for):
    body = _problem(api.post(f"{BASE}/listings", json=_body(), headers=token_for(make_user("newbie"))), 403)
    assert "实名认证" in body["detail"]
    _problem(api.post(f"{BASE}/listings", json=_body()), 401)


def test_a_gate_blocks_the_listing_with_422_and_the_reason(api, seller_headers):
    resp = api.post(f"{BASE}/listings", json=_body(grading=phone_answers(account_locked=True)), headers=seller_headers)
    body = _problem(resp, 422)
    assert "账号锁未解除" in body["detail"]
    assert "grading.account_locked" in body["errors"]


def test_a_stolen_car_is_refused(api, seller_headers):
    from tests.grading.answers import best_answers

    answers = best_answers("vehicle")
    answers["stolen"] = True
    resp = api.post(
        f"{BASE}/listings", json=_body(category="vehicle", title="2019 款朗逸", grading=answers), headers=seller_headers
    )
    assert "盗窃" in _problem(resp, 422)["detail"]
    answers["stolen"] = False
    resp = api.post(
        f"{BASE}/listings", json=_body(category="vehicle", title="2019 款朗逸", grading=answers), headers=seller_headers
    )
    assert resp.status_code == 201 and resp.get_json()["grade"] == "1"
    assert resp.get_json()["grading"]["vin"] == VIN


def test_required_disclosures_and_fields_are_422_by_field(api, seller_headers):
    body = _problem(api.post(f"{BASE}/listings", json=_body(grading=None), headers=seller_headers), 422)
    assert {"grading.imei", "grading.functions"} <= set(body["errors"])
    body = _problem(
        api.post(f"{BASE}/listings", json=_body(price_fen=-1, district="beijing", title="x"), headers=seller_headers),
        422,
    )
    assert {"price_fen", "district"} <= set(body["errors"])
    body = _problem(api.post(f"{BASE}/listings", json=_body(title="x"), headers=seller_headers), 422)
    assert list(body["errors"]) == ["title"]
    body = _problem(api.post(f"{BASE}/listings", json=_body(price_fen=10**10 + 1), headers=seller_headers), 422)
    assert list(body["errors"]) == ["price_fen"]


def test_recycle_only_water_heater_must_be_free(api, seller_headers):
    from tests.grading.answers import best_answers

    answers = best_answers("appliance")
    answers.update(type="electric_water_heater", production_year=2010, brand="美的", model="F60")
    fields = {"category": "appliance", "title": "美的电热水器 60 升", "grading": answers}
    body = _problem(api.post(f"{BASE}/listings", json=_body(**fields), headers=seller_headers), 422)
    assert "price_fen" in body["errors"]
    resp = api.post(f"{BASE}/listings", json=_body(price_fen=0, **fields), headers=seller_headers)
    assert resp.status_code == 201
    assert resp.get_json()["recycle_only"] is True and resp.get_json()["safety_warning"] is True


def test_xss_payloads_come_out_inert(api, seller_headers):
    payload = '<script>alert(1)</script><img src=x onerror=alert(2)><a href="javascript:alert(3)">x</a>'
    resp = api.post(
        f"{BASE}/listings",
        json=_body(title="<svg onload=alert(1)>手机", description=payload + "<b>粗体</b>"),
        headers=seller_headers,
    )
    body = resp.get_json()
    assert resp.status_code == 201
    assert body["description"] == "<p><b>粗体</b></p>" or body["description"] == "<p>x<b>粗体</b></p>"
    assert "script" not in body["description_text"] and "javascript" not in body["description_text"]
    # The title is text, returned as typed; every page escapes it.
    assert body["title"] == "<svg onload=alert(1)>手机"


# --- GET /listings and /listings/{id} ----------------------------------------------------------------


def test_search_through_the_api(api, phone, make_listing):
    make_listing(category="books", title="《三体》全套", grading=None, price_fen=3500)
    body = api.get(f"{BASE}/listings?q=手机").get_json()
    assert [item["id"] for item in body["items"]] == [phone.id]
    item = body["items"][0]
    assert item["grade"] == "A" and item["seller"]["verified"] is True and item["seller"]["credit"]["band"] == "fair"
    assert body["next_cursor"] is None
    assert len(api.get(f"{BASE}/listings?category=books").get_json()["items"]) == 1
    assert api.get(f"{BASE}/listings?category=phone&grade=S").get_json()["items"] == []


def test_pages_by_cursor(api, make_listing):
    ids = [make_listing(category="books", title=f"旧书 {i}", grading=None).id for i in range(5)]
    first = api.get(f"{BASE}/listings?limit=2&sort=newest").get_json()
    second = api.get(f"{BASE}/listings?limit=2&sort=newest&cursor={first['next_cursor']}").get_json()
    third = api.get(f"{BASE}/listings?limit=2&sort=newest&cursor={second['next_cursor']}").get_json()
    seen = [i["id"] for page in (first, second, third) for i in page["items"]]
    assert seen == sorted(ids, reverse=True) and third["next_cursor"] is None


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "cursor=nonsense", "category=cars", "min_price_fen=-1"])
def test_bad_queries_are_422(api, query):
    _problem(api.get(f"{BASE}/listings?{query}"), 422)


def test_a_listing_with_its_seller_grade_and_checklist(api, phone, buyer, token_for):
    body = api.get(f"{BASE}/listings/{phone.id}").get_json()
    assert body["status"] == "active" and body["grade"] == "A"
    assert body["seller"]["display_name"] == phone.seller.display_name and body["seller"]["real_name"] == "张*三"
    assert body["grading"]["imei"] == IMEI[:8] + "*****" + IMEI[-2:]  # the serial shortened for the public
    own = api.get(f"{BASE}/listings/{phone.id}", headers=token_for(phone.seller)).get_json()
    assert own["grading"]["imei"] == IMEI
    _problem(api.get(f"{BASE}/listings/999999"), 404)


def test_certified_is_shown_with_the_inspectors_grade(api, phone, make_user, db):
    from marketplace.listings.models import Certification

    inspector = make_user("insp", roles=("inspector",), display_name="王师傅验机")
    db.session.add(Certification(listing=phone, inspector_id=inspector.id, grading={}, grade="B", standard_version="x"))
    db.session.commit()
    certified = api.get(f"{BASE}/listings/{phone.id}").get_json()["certified"]
    assert certified["grade"] == "B" and certified["inspector"] == "王师傅验机" and certified["at"]


def test_withdrawn_listings_are_404_except_to_the_seller_and_moderators(api, phone, buyer, moderator, token_for):
    service.withdraw(phone.seller, phone)
    _problem(api.get(f"{BASE}/listings/{phone.id}"), 404)
    _problem(api.get(f"{BASE}/listings/{phone.id}", headers=token_for(buyer)), 404)
    own = api.get(f"{BASE}/listings/{phone.id}", headers=token_for(phone.seller))
    assert own.status_code == 200 and own.get_json()["status"] == "removed"
    assert api.get(f"{BASE}/listings/{phone.id}", headers=token_for(moderator)).status_code == 200


# --- PATCH and DELETE --------------------------------------------------------------------------------


def test_the_seller_patches_some_fields_and_the_grade_follows(api, phone, token_for):
    headers = token_for(phone.seller)
    resp = api.patch(f"{BASE}/listings/{phone.id}", json={"price_fen": 299900}, headers=headers)
    assert resp.status_code == 200 and resp.get_json()["price_fen"] == 299900 and resp.get_json()["grade"] == "A"
    resp = api.patch(
        f"{BASE}/listings/{phone.id}", json={"grading": phone_answers(screen="invisible_50cm")}, headers=headers
    )
    assert resp.get_json()["grade"] == "B" and resp.get_json()["title"] == phone.title
    body = _problem(api.patch(f"{BASE}/listings/{phone.id}", json={"category": "books"}, headers=headers), 422)
    assert "category" in body["errors"]


def test_another_user_cannot_edit_through_the_api(api, phone, buyer, moderator, token_for):
    for other in (buyer, moderator):
        headers = token_for(other)
        for change in ({"title": "改了"}, {"status": "sold"}, {"status": "active"}, {}):
            _problem(api.patch(f"{BASE}/listings/{phone.id}", json=change, headers=headers), 403)
    _problem(api.patch(f"{BASE}/listings/999999", json={"title": "改了"}, headers=token_for(buyer)), 404)
    _problem(api.patch(f"{BASE}/listings/{phone.id}", json={"title": "改了"}), 401)
    assert api.get(f"{BASE}/listings/{phone.id}").get_json()["title"] == phone.title


def test_sold_through_patch_then_edits_are_409(api, phone, token_for):
    headers = token_for(phone.seller)
    resp = api.patch(f"{BASE}/listings/{phone.id}", json={"status": "sold"}, headers=headers)
    assert resp.status_code == 200 and resp.get_json()["status"] == "sold"
    _problem(api.patch(f"{BASE}/listings/{phone.id}", json={"title": "再改"}, headers=headers), 409)
    _problem(api.patch(f"{BASE}/listings/{phone.id}", json={"status": "sold"}, headers=headers), 409)
    _problem(api.delete(f"{BASE}/listings/{phone.id}", headers=headers), 409)


def test_delete_by_the_seller_and_by_a_moderator(api, phone, make_listing, buyer, moderator, token_for):
    _problem(api.delete(f"{BASE}/listings/{phone.id}", headers=token_for(buyer)), 403)
    assert api.delete(f"{BASE}/listings/{phone.id}", headers=token_for(phone.seller)).status_code == 204
    _problem(api.get(f"{BASE}/listings/{phone.id}"), 404)
    resp = api.patch(f"{BASE}/listings/{phone.id}", json={"status": "active"}, headers=token_for(phone.seller))
    assert resp.get_json()["status"] == "active"
    other = make_listing(title="小米 14 手机")
    assert api.delete(f"{BASE}/listings/{other.id}", headers=token_for(moderator)).status_code == 204
    own = api.get(f"{BASE}/listings/{other.id}", headers=token_for(other.seller)).get_json()
    assert own["status"] == "removed"
    _problem(api.patch(f"{BASE}/listings/{other.id}", json={"status": "active"}, headers=token_for(other.seller)), 409)
    _problem(api.delete(f"{BASE}/listings/999999", headers=token_for(moderator)), 404)


def test_a_description_written_around_the_service_is_cleaned_as_on_the_page(api, client, phone, db):
    import sqlalchemy as sa

    from marketplace.listings import fields
    from marketplace.listings.models import Listing

    stored = '<p onclick="steal()">好<script>alert(1)</script><img src=x onerror=alert(2)><b>机</b></p>'
    db.session.execute(sa.update(Listing).where(Listing.id == phone.id).values(description=stored))
    db.session.commit()
    body = api.get(f"{BASE}/listings/{phone.id}").get_json()
    assert body["description"] == fields.sanitise_stored(stored) == "<p>好<b>机</b></p>"
    assert "alert" not in body["description_text"] and body["description_text"] == "好机"
    assert body["description"] in client.get(f"/listings/{phone.id}").get_data(as_text=True)
