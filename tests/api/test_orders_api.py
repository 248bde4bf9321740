"""Orders API: request, accept, complete, cancel, dispute, resolve, messages and my orders, with their errors."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from marketplace.db import utcnow
from marketplace.orders.models import Order
from tests.api.responses import ok as _ok
from tests.api.responses import problem as _problem

BASE = "/api/v1"


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


@pytest.fixture
def buyer_headers(buyer, token_for):
    return token_for(buyer)


@pytest.fixture
def seller_headers(seller, token_for):
    return token_for(seller)


@pytest.fixture
def stranger_headers(make_user, token_for):
    return token_for(make_user("stranger"))


@pytest.fixture
def mod_headers(moderator, token_for):
    return token_for(moderator)


def _set(db, order, **values):
    db.session.execute(sa.update(Order).where(Order.id == order.id).values(**values))
    db.session.commit()


# --- POST /listings/{id}/orders ---------------------------------------------------------------------


def test_a_buyer_requests_a_listing(api, phone, buyer, seller, buyer_headers, seller_headers):
    resp = api.post(
        f"{BASE}/listings/{phone.id}/orders",
        json={"message": "周六下午在金凤万达可以吗？", "price_fen": 320000, "payment_method": "wechat"},
        headers=buyer_headers,
    )
    order = _ok(resp, 201)
    assert order["status"] == "requested" and order["message"] == "周六下午在金凤万达可以吗？"
    assert order["price_fen"] == 320000 and order["payment_method"] == "wechat"
    assert order["listing"] == {"id": phone.id, "title": phone.title, "price_fen": 329900, "status": "active"}
    assert order["buyer"] == {"id": buyer.id, "display_name": buyer.display_name}
    assert order["seller"] == {"id": seller.id, "display_name": seller.display_name}
    assert order["actions"] == ["cancel", "message"]
    assert order["accepted_at"] is None and order["completes_at"] is None and order["breach"] is False
    assert order["ratings"] == {"mine": None, "theirs": None, "they_rated": False, "deadline": None}
    # The seller sees it too, and may accept it.
    seen = _ok(api.get(f"{BASE}/orders/{order['id']}", headers=seller_headers))
    assert seen["actions"] == ["accept", "cancel", "message"]


def test_a_request_defaults_to_the_listing_price_and_cash(api, phone, buyer_headers):
    order = _ok(api.post(f"{BASE}/listings/{phone.id}/orders", json={}, headers=buyer_headers), 201)
    assert order["price_fen"] == phone.price_fen and order["payment_method"] == "cash" and order["message"] == ""


def test_request_errors(api, db, phone, make_listing, buyer, seller_headers, buyer_headers, make_user, token_for):
    url = f"{BASE}/listings/{phone.id}/orders"
    _problem(api.post(url, json={}), 401)
    assert "自己" in _problem(api.post(url, json={}, headers=seller_headers), 403)["detail"]
    _problem(api.post(f"{BASE}/listings/99999/orders", json={}, headers=buyer_headers), 404)
    # A withdrawn listing is hidden from everyone but its seller: not found.
    hidden = make_listing(title="小米手环 8")
    assert api.delete(f"{BASE}/listings/{hidden.id}", headers=seller_headers).status_code == 204
    _problem(api.post(f"{BASE}/listings/{hidden.id}/orders", json={}, headers=buyer_headers), 404)
    body = _problem(
        api.post(url, json={"payment_method": "bitcoin", "price_fen": -1, "x": 1}, headers=buyer_headers), 422
    )
    assert {"payment_method", "price_fen", "x"} <= set(body["errors"])
    body = _problem(api.post(url, json={"message": "我的电话 13912345678"}, headers=buyer_headers), 422)
    assert list(body["errors"]) == ["message"]
    # One open request per buyer and listing.
    _ok(api.post(url, json={}, headers=buyer_headers), 201)
    assert "已经" in _problem(api.post(url, json={}, headers=buyer_headers), 409)["detail"]
    # A restricted credit band may not order.
    poor = make_user("poor")
    poor.credit_score = 300
    db.session.commit()
    assert "信用分" in _problem(api.post(url, json={}, headers=token_for(poor)), 403)["detail"]


def test_a_reserved_listing_cannot_be_requested(api, phone, make_order, make_user, token_for):
    make_order(status="accepted")
    body = _problem(api.post(f"{BASE}/listings/{phone.id}/orders", json={}, headers=token_for(make_user("late"))), 409)
    assert "已预订" in body["detail"]


# --- GET /orders/{id} --------------------------------------------------------------------------------


def test_only_the_parties_and_moderators_see_an_order(api, make_order, buyer_headers, stranger_headers, mod_headers):
    order = make_order()
    _problem(api.get(f"{BASE}/orders/{order.id}"), 401)
    _problem(api.get(f"{BASE}/orders/{order.id}", headers=stranger_headers), 404)
    _problem(api.get(f"{BASE}/orders/99999", headers=buyer_headers), 404)
    assert _ok(api.get(f"{BASE}/orders/{order.id}", headers=buyer_headers))["id"] == order.id
    seen = _ok(api.get(f"{BASE}/orders/{order.id}", headers=mod_headers))
    assert seen["actions"] == [] and seen["ratings"]["mine"] is None


def test_an_accepted_order_completes_on_its_own_after_7_days(api, db, phone, make_order, buyer_headers):
    order = make_order(status="accepted")
    body = _ok(api.get(f"{BASE}/orders/{order.id}", headers=buyer_headers))
    assert _at(body["completes_at"]) == _at(body["accepted_at"]) + timedelta(days=7)
    assert body["actions"] == ["cancel", "complete", "dispute", "message"]
    accepted_at = utcnow() - timedelta(days=8)
    _set(db, order, accepted_at=accepted_at)
    body = _ok(api.get(f"{BASE}/orders/{order.id}", headers=buyer_headers))
    assert body["status"] == "completed" and body["auto_completed"] is True and body["completes_at"] is None
    assert _at(body["completed_at"]) >= accepted_at + timedelta(days=7)
    assert body["listing"]["status"] == "sold"
    assert "rate" in body["actions"] and body["ratings"]["deadline"] is not None
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "completed"


# --- accept -------------------------------------------------------------------------------------------


def test_the_seller_accepts_at_agreed_terms(api, phone, make_order, seller_headers):
    order = make_order()
    body = _ok(
        api.post(
            f"{BASE}/orders/{order.id}/accept",
            json={"price_fen": 300000, "payment_method": "alipay"},
            headers=seller_headers,
        )
    )
    assert body["status"] == "accepted" and body["price_fen"] == 300000 and body["payment_method"] == "alipay"
    assert body["listing"]["status"] == "reserved" and body["completes_at"] is not None
    assert body["actions"] == ["cancel", "dispute", "message"]


def test_accept_errors(api, phone, make_order, make_user, buyer_headers, seller_headers, stranger_headers):
    first = make_order()
    second = make_order(buyer_user=make_user("second"))
    url = f"{BASE}/orders/{first.id}/accept"
    _problem(api.post(url, json={}), 401)
    assert "卖家" in _problem(api.post(url, json={}, headers=buyer_headers), 403)["detail"]
    _problem(api.post(url, json={}, headers=stranger_headers), 404)
    _problem(api.post(f"{BASE}/orders/99999/accept", json={}, headers=seller_headers), 404)
    body = _problem(api.post(url, json={"price_fen": 10**12, "payment_method": "gold"}, headers=seller_headers), 422)
    assert {"price_fen", "payment_method"} <= set(body["errors"])
    _ok(api.post(url, json={}, headers=seller_headers))
    # The listing is held: the other request cannot be accepted, nor this one twice.
    body = _problem(api.post(f"{BASE}/orders/{second.id}/accept", json={}, headers=seller_headers), 409)
    assert "预留" in body["detail"]
    _problem(api.post(url, json={}, headers=seller_headers), 409)


# --- complete, cancel -----------------------------------------------------------------------------------


def test_the_buyer_confirms_the_hand_over(api, make_order, buyer_headers):
    order = make_order(status="accepted")
    body = _ok(api.post(f"{BASE}/orders/{order.id}/complete", headers=buyer_headers))
    assert body["status"] == "completed" and body["auto_completed"] is False
    assert body["listing"]["status"] == "sold" and body["actions"] == ["message", "rate"]
    _problem(api.post(f"{BASE}/orders/{order.id}/complete", headers=buyer_headers), 409)


def test_complete_errors(api, make_order, seller_headers, buyer_headers, stranger_headers):
    order = make_order()
    url = f"{BASE}/orders/{order.id}/complete"
    _problem(api.post(url), 401)
    _problem(api.post(url, headers=stranger_headers), 404)
    _problem(api.post(url, headers=seller_headers), 403)
    assert "待卖家确认" in _problem(api.post(url, headers=buyer_headers), 409)["detail"]


def test_completing_declines_the_other_requests(api, phone, make_order, make_user, token_for, buyer_headers):
    order = make_order()
    late = make_user("late")
    late_order = make_order(buyer_user=late)
    seller_headers = token_for(phone.seller)
    _ok(api.post(f"{BASE}/orders/{order.id}/accept", json={}, headers=seller_headers))
    _ok(api.post(f"{BASE}/orders/{order.id}/complete", headers=buyer_headers))
    declined = _ok(api.get(f"{BASE}/orders/{late_order.id}", headers=token_for(late)))
    assert declined["status"] == "declined" and declined["actions"] == []


def test_the_buyer_cancels_a_request_with_a_reason(api, make_order, buyer_headers, seller_headers):
    order = make_order()
    url = f"{BASE}/orders/{order.id}/cancel"
    assert "reason" in _problem(api.post(url, json={}, headers=buyer_headers), 422)["errors"]
    assert "reason" in _problem(api.post(url, json={"reason": "  "}, headers=buyer_headers), 422)["errors"]
    body = _ok(api.post(url, json={"reason": "已经在别处买到了"}, headers=buyer_headers))
    assert body["status"] == "cancelled" and body["cancelled_by"] == "buyer" and body["breach"] is False
    assert body["cancel_reason"] == "已经在别处买到了" and body["cancelled_at"] is not None
    _problem(api.post(url, json={"reason": "再取消一次"}, headers=seller_headers), 409)


def test_a_seller_cancelling_an_accepted_order_is_a_breach(
    api, make_order, seller_headers, stranger_headers, mod_headers
):
    order = make_order(status="accepted")
    url = f"{BASE}/orders/{order.id}/cancel"
    _problem(api.post(url, json={"reason": "不想卖了"}), 401)
    _problem(api.post(url, json={"reason": "不想卖了"}, headers=stranger_headers), 404)
    # A moderator sees the order but is not a party.
    _problem(api.post(url, json={"reason": "不想卖了"}, headers=mod_headers), 403)
    body = _ok(api.post(url, json={"reason": "家里人要用，不卖了"}, headers=seller_headers))
    assert body["status"] == "cancelled" and body["cancelled_by"] == "seller" and body["breach"] is True
    assert body["listing"]["status"] == "active"


# --- dispute, resolve -----------------------------------------------------------------------------------


def test_a_dispute_and_its_resolution(api, make_order, buyer_headers, seller_headers, stranger_headers, mod_headers):
    order = make_order(status="accepted")
    url = f"{BASE}/orders/{order.id}/dispute"
    _problem(api.post(url, json={"reason": "x"}, headers=stranger_headers), 404)
    assert "reason" in _problem(api.post(url, json={"reason": ""}, headers=buyer_headers), 422)["errors"]
    body = _ok(api.post(url, json={"reason": "实物电池健康度只有 80%"}, headers=buyer_headers))
    assert body["status"] == "disputed" and body["disputed_by"] == "buyer" and body["actions"] == ["message"]
    _problem(api.post(url, json={"reason": "再来一次"}, headers=seller_headers), 409)

    resolve = f"{BASE}/orders/{order.id}/resolve"
    assert "resolve" in _ok(api.get(f"{BASE}/orders/{order.id}", headers=mod_headers))["actions"]
    _problem(api.post(resolve, json={"outcome": "completed", "note": "x"}, headers=stranger_headers), 404)
    _problem(api.post(resolve, json={"outcome": "completed", "note": "我说了算"}, headers=buyer_headers), 403)
    body = _problem(api.post(resolve, json={"outcome": "refunded", "note": ""}, headers=mod_headers), 422)
    assert "outcome" in body["errors"]
    assert (
        "note"
        in _problem(api.post(resolve, json={"outcome": "cancelled", "note": " "}, headers=mod_headers), 422)["errors"]
    )
    body = _ok(api.post(resolve, json={"outcome": "cancelled", "note": "卖家描述不实，交易取消"}, headers=mod_headers))
    assert body["status"] == "cancelled" and body["cancelled_by"] == "moderator"
    assert body["listing"]["status"] == "active"
    _problem(api.post(resolve, json={"outcome": "completed", "note": "再处理一次"}, headers=mod_headers), 409)


def test_a_requested_order_cannot_be_disputed(api, make_order, buyer_headers):
    order = make_order()
    _problem(api.post(f"{BASE}/orders/{order.id}/dispute", json={"reason": "卖家不回复"}, headers=buyer_headers), 409)


def test_a_resolution_can_complete_the_deal(api, make_order, mod_headers, buyer_headers):
    order = make_order(status="disputed")
    body = _ok(
        api.post(
            f"{BASE}/orders/{order.id}/resolve",
            json={"outcome": "completed", "note": "核实后实物与描述一致"},
            headers=mod_headers,
        )
    )
    assert body["status"] == "completed" and body["listing"]["status"] == "sold"
    assert "rate" in _ok(api.get(f"{BASE}/orders/{order.id}", headers=buyer_headers))["actions"]


# --- messages -------------------------------------------------------------------------------------------


def test_the_parties_write_to_each_other(
    api, make_order, buyer, buyer_headers, seller_headers, stranger_headers, mod_headers
):
    order = make_order()
    url = f"{BASE}/orders/{order.id}/messages"
    sent = _ok(api.post(url, json={"body": "周六上午十点，金凤万达门口见？"}, headers=buyer_headers), 201)
    assert sent["from_me"] is True and sent["sender_id"] == buyer.id
    _ok(api.post(url, json={"body": "好的，到时见"}, headers=seller_headers), 201)
    items = _ok(api.get(url, headers=seller_headers))["items"]
    assert [(m["body"], m["from_me"]) for m in items] == [
        ("周六上午十点，金凤万达门口见？", False),
        ("好的，到时见", True),
    ]
    # Moderators read the thread but do not write in it; strangers see nothing.
    assert len(_ok(api.get(url, headers=mod_headers))["items"]) == 2
    _problem(api.post(url, json={"body": "你好"}, headers=mod_headers), 403)
    _problem(api.get(url, headers=stranger_headers), 404)
    _problem(api.post(url, json={"body": "你好"}, headers=stranger_headers), 404)
    _problem(api.get(url), 401)
    assert "body" in _problem(api.post(url, json={"body": "  "}, headers=buyer_headers), 422)["errors"]
    body = _problem(api.post(url, json={"body": "加我微信，电话 13912345678"}, headers=buyer_headers), 422)
    assert "手机号" in body["errors"]["body"][0]
    _ok(api.post(f"{BASE}/orders/{order.id}/cancel", json={"reason": "不要了"}, headers=buyer_headers))
    _problem(api.post(url, json={"body": "还在吗"}, headers=seller_headers), 409)


# --- GET /me/orders -------------------------------------------------------------------------------------


def test_my_purchases_and_sales_page_by_cursor(api, db, phone, make_listing, make_order, buyer_headers, seller_headers):
    listings = [phone, make_listing(title="小米 14"), make_listing(title="iPhone 13")]
    orders = [make_order(listing=listing) for listing in listings]
    page = _ok(api.get(f"{BASE}/me/orders?limit=2", headers=buyer_headers))
    assert [o["id"] for o in page["items"]] == [orders[2].id, orders[1].id] and page["next_cursor"]
    rest = _ok(api.get(f"{BASE}/me/orders?limit=2&cursor={page['next_cursor']}", headers=buyer_headers))
    assert [o["id"] for o in rest["items"]] == [orders[0].id] and rest["next_cursor"] is None
    assert _ok(api.get(f"{BASE}/me/orders", headers=seller_headers))["items"] == []
    sales = _ok(api.get(f"{BASE}/me/orders?role=seller", headers=seller_headers))["items"]
    assert len(sales) == 3 and sales[0]["listing"]["title"] == "iPhone 13"
    # An overdue acceptance is completed before the list is read.
    _ok(api.post(f"{BASE}/orders/{orders[0].id}/accept", json={}, headers=seller_headers))
    _set(db, orders[0], accepted_at=utcnow() - timedelta(days=7, minutes=1))
    done = _ok(api.get(f"{BASE}/me/orders?role=seller&status=completed", headers=seller_headers))["items"]
    assert [o["id"] for o in done] == [orders[0].id]
    assert _ok(api.get(f"{BASE}/me/orders?status=requested", headers=buyer_headers))["items"][0]["id"] == orders[2].id


@pytest.mark.parametrize("query", ["role=moderator", "status=lost", "cursor=abc", "limit=0", "limit=101", "x=1"])
def test_bad_order_queries_are_422(api, buyer_headers, query):
    _problem(api.get(f"{BASE}/me/orders?{query}", headers=buyer_headers), 422)


def test_my_orders_need_a_token(api):
    _problem(api.get(f"{BASE}/me/orders"), 401)


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True, "ORDER_RATE_LIMIT": "2 per hour"}])
def test_buying_requests_are_rate_limited_per_account(
    api, make_listing, buyer, token_for, buyer_headers, stranger_headers
):
    listings = [make_listing(title=f"旧台灯 {n}") for n in range(3)]
    for listing in listings[:2]:
        _ok(api.post(f"{BASE}/listings/{listing.id}/orders", json={}, headers=buyer_headers), 201)
    _problem(api.post(f"{BASE}/listings/{listings[2].id}/orders", json={}, headers=buyer_headers), 429)
    # A fresh token of the same account brings no fresh budget.
    _problem(api.post(f"{BASE}/listings/{listings[2].id}/orders", json={}, headers=token_for(buyer)), 429)
    # Another account has its own budget.
    _ok(api.post(f"{BASE}/listings/{listings[2].id}/orders", json={}, headers=stranger_headers), 201)


@pytest.mark.parametrize("price", [True, "100", 1.0, 1.5])
def test_a_price_must_be_a_json_integer(api, phone, buyer_headers, price):
    response = api.post(f"{BASE}/listings/{phone.id}/orders", json={"price_fen": price}, headers=buyer_headers)
    assert response.status_code == 422, response.get_json()
