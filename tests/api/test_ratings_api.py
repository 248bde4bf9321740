"""Ratings API: double-blind ratings of completed orders, a user's revealed ratings, replies and folding."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.db import utcnow
from marketplace.moderation.models import Report
from marketplace.orders.models import Order
from marketplace.ratings.models import Rating
from tests.api.responses import ok as _ok
from tests.api.responses import problem as _problem

BASE = "/api/v1"
BUYER_SCORES = {"accuracy": 5, "communication": 4, "punctuality": 5}
SELLER_SCORES = {"punctuality": 5, "communication": 5}


@pytest.fixture
def buyer_headers(buyer, token_for):
    return token_for(buyer)


@pytest.fixture
def seller_headers(seller, token_for):
    return token_for(seller)


@pytest.fixture
def mod_headers(moderator, token_for):
    return token_for(moderator)


def _rate(api, order, headers, scores, comment=None):
    body = {"scores": scores} if comment is None else {"scores": scores, "comment": comment}
    return api.post(f"{BASE}/orders/{order.id}/ratings", json=body, headers=headers)


def test_ratings_stay_hidden_until_both_have_rated(api, completed_order, buyer, seller, buyer_headers, seller_headers):
    order = completed_order
    mine = _ok(_rate(api, order, buyer_headers, BUYER_SCORES, "和描述一致，卖家很守时"), 201)
    assert mine["rater_role"] == "buyer" and mine["scores"] == BUYER_SCORES and mine["visible"] is False
    assert mine["comment"] == "和描述一致，卖家很守时" and mine["reply"] is None and mine["folded"] is False

    # The seller knows a rating came, not what it says; nobody else sees it either.
    seen = _ok(api.get(f"{BASE}/orders/{order.id}", headers=seller_headers))["ratings"]
    assert seen["theirs"] is None and seen["they_rated"] is True and seen["mine"] is None
    assert "rate" in _ok(api.get(f"{BASE}/orders/{order.id}", headers=seller_headers))["actions"]
    own = _ok(api.get(f"{BASE}/orders/{order.id}", headers=buyer_headers))
    assert own["ratings"]["mine"]["id"] == mine["id"] and own["ratings"]["theirs"] is None
    assert "rate" not in own["actions"] and own["ratings"]["they_rated"] is False
    assert _ok(api.get(f"{BASE}/users/{seller.id}/ratings"))["items"] == []
    assert _ok(api.get(f"{BASE}/users/{seller.id}"))["ratings"]["count"] == 0

    theirs = _ok(_rate(api, order, seller_headers, SELLER_SCORES), 201)
    assert theirs["visible"] is True and theirs["rater_role"] == "seller" and theirs["comment"] == ""

    seen = _ok(api.get(f"{BASE}/orders/{order.id}", headers=seller_headers))["ratings"]
    assert seen["theirs"]["id"] == mine["id"] and seen["theirs"]["visible"] is True
    assert seen["mine"]["id"] == theirs["id"]
    listed = _ok(api.get(f"{BASE}/users/{seller.id}/ratings"))["items"]
    assert [r["id"] for r in listed] == [mine["id"]]
    assert listed[0]["rater"] == {"id": buyer.id, "display_name": buyer.display_name}
    assert listed[0]["scores"] == BUYER_SCORES and listed[0]["folded"] is False
    assert [r["id"] for r in _ok(api.get(f"{BASE}/users/{buyer.id}/ratings"))["items"]] == [theirs["id"]]

    summary = _ok(api.get(f"{BASE}/users/{seller.id}"))["ratings"]
    assert summary["count"] == 1 and summary["as_seller"]["count"] == 1 and summary["as_buyer"]["count"] == 0
    assert summary["as_seller"]["averages"] == {"accuracy": 5.0, "communication": 4.0, "punctuality": 5.0}
    assert summary["as_seller"]["positive_share"] == 1.0
    assert summary["as_buyer"]["averages"] == {"punctuality": None, "communication": None}


def test_a_rating_is_revealed_when_the_window_closes(api, db, completed_order, seller, buyer_headers):
    rating = _ok(_rate(api, completed_order, buyer_headers, BUYER_SCORES), 201)
    db.session.execute(sa.update(Rating).where(Rating.id == rating["id"]).values(visible_from=utcnow()))
    db.session.commit()
    assert [r["id"] for r in _ok(api.get(f"{BASE}/users/{seller.id}/ratings"))["items"]] == [rating["id"]]


def test_a_low_accuracy_opens_a_report_on_the_listing(api, db, completed_order, phone, buyer_headers):
    _ok(_rate(api, completed_order, buyer_headers, {"accuracy": 1, "communication": 3, "punctuality": 4}), 201)
    report = db.session.scalar(sa.select(Report).where(Report.listing_id == phone.id))
    assert report is not None and report.source == "rating" and report.status == "open"
    assert report.evidence["order_id"] == completed_order.id and report.evidence["accuracy"] == 1


def test_who_may_rate_and_when(api, db, make_order, make_user, token_for, buyer_headers, seller_headers, mod_headers):
    order = make_order(status="accepted")
    url = f"{BASE}/orders/{order.id}/ratings"
    body = {"scores": BUYER_SCORES}
    _problem(api.post(url, json=body), 401)
    _problem(api.post(f"{BASE}/orders/99999/ratings", json=body, headers=buyer_headers), 404)
    # Not yet completed.
    assert "完成后" in _problem(api.post(url, json=body, headers=buyer_headers), 409)["detail"]
    _ok(api.post(f"{BASE}/orders/{order.id}/complete", headers=buyer_headers))
    # A third user, even a moderator, is not a party.
    assert "买卖双方" in _problem(api.post(url, json=body, headers=token_for(make_user("third"))), 403)["detail"]
    _problem(api.post(url, json=body, headers=mod_headers), 403)
    _ok(api.post(url, json=body, headers=buyer_headers), 201)
    assert "一次" in _problem(api.post(url, json=body, headers=buyer_headers), 409)["detail"]
    # Fourteen days after completion the window is closed.
    db.session.execute(sa.update(Order).where(Order.id == order.id).values(completed_at=utcnow() - timedelta(days=15)))
    db.session.commit()
    assert "评价期" in _problem(api.post(url, json={"scores": SELLER_SCORES}, headers=seller_headers), 409)["detail"]


def test_a_seller_cannot_order_and_so_never_rate_their_own_listing(api, phone, seller_headers):
    _problem(api.post(f"{BASE}/listings/{phone.id}/orders", json={}, headers=seller_headers), 403)


@pytest.mark.parametrize(
    ("who", "body", "field"),
    [
        ("buyer", {"scores": {"communication": 4, "punctuality": 5}}, "scores.accuracy"),
        ("buyer", {"scores": {**BUYER_SCORES, "accuracy": 6}}, "scores.accuracy"),
        ("buyer", {"scores": {**BUYER_SCORES, "accuracy": 0}}, "scores.accuracy"),
        ("buyer", {"scores": {**BUYER_SCORES, "punctuality": True}}, "scores.punctuality"),
        ("buyer", {"scores": {**BUYER_SCORES, "punctuality": "5"}}, "scores.punctuality"),
        ("buyer", {"scores": {**BUYER_SCORES, "politeness": 5}}, "scores.politeness"),
        ("seller", {"scores": {**SELLER_SCORES, "accuracy": 5}}, "scores.accuracy"),
        ("buyer", {"scores": [5, 5, 5]}, "scores"),
        ("buyer", {}, "scores"),
        ("buyer", {"scores": BUYER_SCORES, "comment": "有事打 13912345678"}, "comment"),
        ("buyer", {"scores": BUYER_SCORES, "stars": 5}, "stars"),
    ],
)
def test_bad_ratings_are_422_by_field(api, completed_order, buyer_headers, seller_headers, who, body, field):
    headers = buyer_headers if who == "buyer" else seller_headers
    errors = _problem(api.post(f"{BASE}/orders/{completed_order.id}/ratings", json=body, headers=headers), 422)
    assert field in errors["errors"]


# --- replies and folding ----------------------------------------------------------------------------------


@pytest.fixture
def revealed(api, completed_order, buyer_headers, seller_headers):
    """The buyer's and the seller's ratings of the completed order, both revealed: (buyer's, seller's)."""
    first = _ok(_rate(api, completed_order, buyer_headers, BUYER_SCORES, "东西不错，就是约了两次才见到"), 201)
    second = _ok(_rate(api, completed_order, seller_headers, SELLER_SCORES), 201)
    return first, second


def test_the_rated_party_replies_once_after_reveal(
    api, completed_order, make_user, token_for, buyer_headers, seller_headers
):
    hidden = _ok(_rate(api, completed_order, buyer_headers, BUYER_SCORES), 201)
    # Before the reveal the seller cannot even see it.
    _problem(api.post(f"{BASE}/ratings/{hidden['id']}/reply", json={"reply": "谢谢"}, headers=seller_headers), 404)
    _ok(_rate(api, completed_order, seller_headers, SELLER_SCORES), 201)
    url = f"{BASE}/ratings/{hidden['id']}/reply"
    _problem(api.post(url, json={"reply": "谢谢"}), 401)
    _problem(api.post(url, json={"reply": "谢谢"}, headers=buyer_headers), 403)
    _problem(api.post(url, json={"reply": "谢谢"}, headers=token_for(make_user("third"))), 403)
    assert "reply" in _problem(api.post(url, json={"reply": ""}, headers=seller_headers), 422)["errors"]
    body = _ok(api.post(url, json={"reply": "抱歉让你多跑了一趟"}, headers=seller_headers))
    assert body["reply"] == "抱歉让你多跑了一趟" and body["replied_at"] is not None
    _problem(api.post(url, json={"reply": "再说一句"}, headers=seller_headers), 409)
    _problem(api.post(f"{BASE}/ratings/99999/reply", json={"reply": "x"}, headers=seller_headers), 404)
    listed = _ok(api.get(f"{BASE}/users/{completed_order.seller_id}/ratings"))["items"]
    assert listed[0]["reply"] == "抱歉让你多跑了一趟"


def test_a_moderator_folds_an_abusive_rating(api, revealed, seller, buyer_headers, mod_headers):
    rating, _ = revealed
    url = f"{BASE}/ratings/{rating['id']}/fold"
    _problem(api.post(url, json={"reason": "人身攻击"}), 401)
    _problem(api.post(url, json={"reason": "人身攻击"}, headers=buyer_headers), 403)
    assert "reason" in _problem(api.post(url, json={"reason": " "}, headers=mod_headers), 422)["errors"]
    body = _ok(api.post(url, json={"reason": "含有人身攻击"}, headers=mod_headers))
    assert body["folded"] is True and body["fold_reason"] == "含有人身攻击"
    _problem(api.post(url, json={"reason": "再折叠"}, headers=mod_headers), 409)
    _problem(api.post(f"{BASE}/ratings/99999/fold", json={"reason": "x"}, headers=mod_headers), 404)
    listed = _ok(api.get(f"{BASE}/users/{seller.id}/ratings"))["items"]
    assert listed[0]["folded"] is True and listed[0]["fold_reason"] == "含有人身攻击"
    # Folded ratings do not count.
    assert _ok(api.get(f"{BASE}/users/{seller.id}"))["ratings"]["count"] == 0


def test_a_moderator_cannot_fold_a_rating_about_themself(
    api, make_listing, verified_user, make_order, token_for, buyer_headers
):
    mod_seller = verified_user("modseller", roles=("moderator",))
    listing = make_listing(user=mod_seller, title="二手书桌")
    order = make_order(listing=listing, status="completed")
    rating = _ok(_rate(api, order, buyer_headers, BUYER_SCORES, "还行"), 201)
    fold = f"{BASE}/ratings/{rating['id']}/fold"
    # While the rating is hidden from its seller, being a moderator does not show it to them.
    _problem(api.post(fold, json={"reason": "差评"}, headers=token_for(mod_seller)), 404)
    _ok(_rate(api, order, token_for(mod_seller), SELLER_SCORES), 201)
    body = _problem(api.post(fold, json={"reason": "差评"}, headers=token_for(mod_seller)), 403)
    assert "自己" in body["detail"]


def test_a_users_ratings_page_by_cursor(api, make_listing, make_order, seller, buyer_headers, seller_headers):
    ids = []
    for title in ("小米 14", "iPhone 13"):
        order = make_order(listing=make_listing(title=title), status="completed")
        ids.append(_ok(_rate(api, order, buyer_headers, BUYER_SCORES), 201)["id"])
        _ok(_rate(api, order, seller_headers, SELLER_SCORES), 201)
    page = _ok(api.get(f"{BASE}/users/{seller.id}/ratings?limit=1"))
    assert [r["id"] for r in page["items"]] == [ids[1]] and page["next_cursor"]
    rest = _ok(api.get(f"{BASE}/users/{seller.id}/ratings?limit=1&cursor={page['next_cursor']}"))
    assert [r["id"] for r in rest["items"]] == [ids[0]] and rest["next_cursor"] is None


def test_ratings_of_unknown_users_and_bad_queries(api, seller):
    _problem(api.get(f"{BASE}/users/99999/ratings"), 404)
    for query in ("cursor=abc", "limit=0", "limit=101", "x=1"):
        _problem(api.get(f"{BASE}/users/{seller.id}/ratings?{query}"), 422)
