"""Notices API: my notices in my language, the unread count, marking them read."""

from __future__ import annotations

import pytest

from tests.api.responses import ok as _ok
from tests.api.responses import problem as _problem

BASE = "/api/v1"


@pytest.fixture
def buyer_headers(buyer, token_for):
    return token_for(buyer)


@pytest.fixture
def seller_headers(seller, token_for):
    return token_for(seller)


def test_the_seller_is_told_of_a_request_and_the_buyer_of_the_acceptance(api, phone, buyer_headers, seller_headers):
    order = _ok(api.post(f"{BASE}/listings/{phone.id}/orders", json={}, headers=buyer_headers), 201)
    page = _ok(api.get(f"{BASE}/me/notices", headers=seller_headers))
    assert page["unread"] == 1 and page["next_cursor"] is None
    [notice] = page["items"]
    assert notice["kind"] == "order.requested" and notice["read"] is False
    assert notice["subject_type"] == "order" and notice["subject_id"] == order["id"]
    assert phone.title in notice["text"] and f"#{order['id']}" in notice["text"]
    assert _ok(api.get(f"{BASE}/me/notices", headers=buyer_headers)) == {"items": [], "next_cursor": None, "unread": 0}

    _ok(api.post(f"{BASE}/orders/{order['id']}/accept", json={}, headers=seller_headers))
    [accepted] = _ok(api.get(f"{BASE}/me/notices", headers=buyer_headers))["items"]
    assert accepted["kind"] == "order.accepted" and "预留" in accepted["text"]


def test_marking_read_by_id_or_all(api, make_listing, make_order, buyer, buyer_headers, seller_headers):
    orders = [make_order(listing=make_listing(title=f"二手书 {n}")) for n in range(3)]
    page = _ok(api.get(f"{BASE}/me/notices", headers=seller_headers))
    assert page["unread"] == 3
    newest = page["items"][0]
    assert newest["subject_id"] == orders[2].id
    assert _ok(api.post(f"{BASE}/me/notices/read", json={"ids": [newest["id"]]}, headers=seller_headers)) == {
        "marked": 1
    }
    # Someone else's notice ids change nothing, and neither does marking one twice.
    assert _ok(api.post(f"{BASE}/me/notices/read", json={"ids": [newest["id"]]}, headers=buyer_headers)) == {
        "marked": 0
    }
    assert _ok(api.post(f"{BASE}/me/notices/read", json={"ids": [newest["id"]]}, headers=seller_headers)) == {
        "marked": 0
    }
    unread = _ok(api.get(f"{BASE}/me/notices?unread=true", headers=seller_headers))
    assert unread["unread"] == 2 and [n["subject_id"] for n in unread["items"]] == [orders[1].id, orders[0].id]
    assert _ok(api.get(f"{BASE}/me/notices", headers=seller_headers))["items"][0]["read"] is True
    assert _ok(api.post(f"{BASE}/me/notices/read", json={}, headers=seller_headers)) == {"marked": 2}
    assert _ok(api.get(f"{BASE}/me/notices?unread=1", headers=seller_headers))["items"] == []


def test_notices_page_by_cursor(api, make_listing, make_order, seller_headers):
    for n in range(3):
        make_order(listing=make_listing(title=f"台灯 {n}"))
    first = _ok(api.get(f"{BASE}/me/notices?limit=2", headers=seller_headers))
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = _ok(api.get(f"{BASE}/me/notices?limit=2&cursor={first['next_cursor']}", headers=seller_headers))
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None and rest["unread"] == 3
    assert rest["items"][0]["id"] < first["items"][-1]["id"]


def test_notices_need_a_token_and_good_input(api, seller_headers):
    _problem(api.get(f"{BASE}/me/notices"), 401)
    _problem(api.post(f"{BASE}/me/notices/read", json={}), 401)
    for query in ("unread=maybe", "cursor=abc", "limit=0", "limit=101", "x=1"):
        _problem(api.get(f"{BASE}/me/notices?{query}", headers=seller_headers), 422)
    for body in ({"ids": "all"}, {"ids": [0]}, {"ids": ["x"]}, {"ids": [1], "all": True}):
        _problem(api.post(f"{BASE}/me/notices/read", json=body, headers=seller_headers), 422)
