"""Order pages: the request, the order page, confirmation pages, lists, disputes, lazy completion."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.db import utcnow
from marketplace.notices.models import Notice
from marketplace.orders.models import Order


@pytest.fixture
def browser(app, login):
    """browser(user) → a separate logged-in client."""

    def make(user):
        return login(user, app.test_client())

    return make


def _order_id(resp) -> int:
    assert resp.status_code == 302, resp.get_data(as_text=True)
    match = re.search(r"/orders/(\d+)$", resp.headers["Location"])
    assert match, resp.headers["Location"]
    return int(match.group(1))


def _textarea(html: str, name: str) -> str:
    match = re.search(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>', html, re.S)
    assert match, f"no textarea {name}"
    return match.group(1).strip()


def _status(db, order_id: int) -> str:
    return db.session.scalar(sa.select(Order.status).where(Order.id == order_id))


def _rate(c, order_id: int, comment: str, **scores):
    data = {"accuracy": "5", "communication": "5", "punctuality": "5", "comment": comment, **scores}
    return c.post(f"/orders/{order_id}/rate", data=data)


# --- the listing page and the request ------------------------------------------------------------


def test_listing_page_offers_to_buy(client, browser, phone, buyer, seller):
    html = client.get(f"/listings/{phone.id}").get_data(as_text=True)
    assert "我想要" in html
    assert f"/login?next=/listings/{phone.id}/order" in html
    assert f'href="/users/{seller.id}"' in html and "还没有评价" in html

    html = browser(buyer).get(f"/listings/{phone.id}").get_data(as_text=True)
    assert f'href="/listings/{phone.id}/order"' in html

    html = browser(seller).get(f"/listings/{phone.id}").get_data(as_text=True)
    assert "我想要" not in html
    assert "购买请求" in html and "还没有人发出购买请求" in html


def test_request_needs_login_and_refuses_own_listing(client, browser, phone, seller):
    resp = client.get(f"/listings/{phone.id}/order")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert browser(seller).get(f"/listings/{phone.id}/order").status_code == 403


def test_request_form_then_order_page(db, browser, phone, buyer, seller):
    b = browser(buyer)
    html = b.get(f"/listings/{phone.id}/order").get_data(as_text=True)
    assert "<h1>" in html and 'value="3299"' in html
    assert "平台不代收" in html
    for label in ("现金", "微信支付", "支付宝", "其他方式"):
        assert label in html
    order_id = _order_id(
        b.post(
            f"/listings/{phone.id}/order",
            data={"message": "周六下午在金凤万达可以吗？", "price": "3100", "payment_method": "wechat"},
        )
    )
    html = b.get(f"/orders/{order_id}").get_data(as_text=True)
    assert phone.title in html and "待卖家确认" in html
    assert "周六下午在金凤万达可以吗？" in html and "3,100" in html and "微信支付" in html
    assert "买家发出购买请求" in html  # the timeline
    assert f"/orders/{order_id}/cancel" in html and f"/orders/{order_id}/accept" not in html

    # The listing page now leads the buyer to the order, and the seller sees the request.
    html = b.get(f"/listings/{phone.id}").get_data(as_text=True)
    assert f'href="/orders/{order_id}"' in html and "我想要" not in html
    html = browser(seller).get(f"/listings/{phone.id}").get_data(as_text=True)
    assert f'href="/orders/{order_id}"' in html
    # Asking again leads to the same order.
    resp = b.get(f"/listings/{phone.id}/order")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/orders/{order_id}")


def test_request_errors_keep_what_was_typed(db, browser, phone, buyer):
    b = browser(buyer)
    resp = b.post(
        f"/listings/{phone.id}/order",
        data={"message": "周末可以交易吗？电话 13912345678", "price": "abc", "payment_method": "alipay"},
    )
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    # The text stays for the writer to fix; the number itself is not sent back in full.
    assert _textarea(html, "message") == "周末可以交易吗？电话 139****5678"
    assert 'id="message-error"' in html and 'id="price-error"' in html
    assert 'value="abc"' in html
    assert re.search(r'value="alipay"[^>]*checked|checked[^>]*value="alipay"', html)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 0


def test_a_restricted_buyer_is_told_why(db, browser, phone, buyer):
    buyer.credit_score = 350
    db.session.commit()
    resp = browser(buyer).get(f"/listings/{phone.id}/order")
    assert resp.status_code == 403
    assert "暂时不能下单购买" in resp.get_data(as_text=True)


def test_reserved_listing_cannot_be_requested(browser, make_order, make_user, verified_user, phone):
    make_order(status="accepted")
    other = verified_user("buyer2")
    c = browser(other)
    assert c.get(f"/listings/{phone.id}/order").status_code == 409
    html = c.get(f"/listings/{phone.id}").get_data(as_text=True)
    assert "我想要" not in html


# --- the whole flow --------------------------------------------------------------------------------


def test_request_accept_complete_and_rate_through_the_pages(db, browser, phone, buyer, seller):
    b, s = browser(buyer), browser(seller)
    order_id = _order_id(b.post(f"/listings/{phone.id}/order", data={"message": "", "payment_method": "cash"}))

    html = s.get(f"/orders/{order_id}").get_data(as_text=True)
    assert f"/orders/{order_id}/accept" in html
    page = s.get(f"/orders/{order_id}/accept")
    assert page.status_code == 200 and 'value="3299"' in page.get_data(as_text=True)
    assert _status(db, order_id) == "requested"  # GET changed nothing
    resp = s.post(f"/orders/{order_id}/accept", data={"price": "3200", "payment_method": "cash"})
    assert resp.status_code == 302
    assert _status(db, order_id) == "accepted"

    html = b.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "已接受，待交接" in html and "自动完成" in html and "3,200" in html
    assert b.get(f"/orders/{order_id}/complete").status_code == 200
    assert _status(db, order_id) == "accepted"
    assert b.post(f"/orders/{order_id}/complete", data={}).status_code == 302
    assert _status(db, order_id) == "completed"

    html = b.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "已完成" in html and "描述相符" in html and "提交评价" in html
    assert "双方都评价后或评价期结束后公开" in html
    assert _rate(b, order_id, "成色和描述一致，卖家很守时").status_code == 302

    # Before the seller rates, the seller does not see the buyer's rating.
    html = s.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "成色和描述一致" not in html and "对方已经评价了你" in html
    assert 'name="accuracy"' not in html  # the seller rates punctuality and communication only
    html = b.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "成色和描述一致" in html and "等待对方评价" in html

    assert _rate(s, order_id, "买家准时到，沟通顺畅", accuracy="").status_code == 302
    for c in (b, s):
        html = c.get(f"/orders/{order_id}").get_data(as_text=True)
        assert "成色和描述一致" in html and "买家准时到，沟通顺畅" in html
        assert "等待对方评价" not in html


def test_confirmation_pages_never_change_state(db, browser, make_order, seller, buyer):
    order = make_order(status="accepted")
    b, s = browser(buyer), browser(seller)
    for c, action in ((b, "complete"), (b, "cancel"), (b, "dispute"), (s, "cancel"), (s, "dispute")):
        resp = c.get(f"/orders/{order.id}/{action}")
        assert resp.status_code == 200, action
        assert "<h1>" in resp.get_data(as_text=True)
        assert _status(db, order.id) == "accepted"
    # An action the state no longer allows: back to the order with a message.
    resp = s.get(f"/orders/{order.id}/accept")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/orders/{order.id}")


def test_outsiders_get_404_and_a_buyer_cannot_accept(db, browser, make_order, verified_user, buyer):
    order = make_order()
    stranger = browser(verified_user("stranger"))
    assert stranger.get(f"/orders/{order.id}").status_code == 404
    for action in ("accept", "cancel", "complete"):
        assert stranger.get(f"/orders/{order.id}/{action}").status_code == 404
        assert stranger.post(f"/orders/{order.id}/{action}", data={"reason": "x"}).status_code == 404
    assert stranger.post(f"/orders/{order.id}/messages", data={"body": "你好"}).status_code == 404
    b = browser(buyer)
    assert b.get(f"/orders/{order.id}/accept").status_code == 403
    assert b.post(f"/orders/{order.id}/accept", data={}).status_code == 403
    assert b.get(f"/orders/{order.id}/resolve").status_code == 403
    assert _status(db, order.id) == "requested"
    assert stranger.get("/orders/2147483647").status_code == 404
    assert stranger.get("/orders/99999999999").status_code == 404


def test_seller_cancelling_an_accepted_order_is_warned_of_the_breach(db, browser, make_order, seller):
    order = make_order(status="accepted")
    s = browser(seller)
    html = s.get(f"/orders/{order.id}/cancel").get_data(as_text=True)
    assert "违约" in html and "信用分" in html
    resp = s.post(f"/orders/{order.id}/cancel", data={"reason": ""})
    assert resp.status_code == 422 and 'id="reason-error"' in resp.get_data(as_text=True)
    assert _status(db, order.id) == "accepted"
    resp = s.post(f"/orders/{order.id}/cancel", data={"reason": "手机摔坏了，没法交易了"})
    assert resp.status_code == 302
    db.session.expire_all()
    saved = db.session.get(Order, order.id)
    assert saved.status == "cancelled" and saved.breach is True
    html = s.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "手机摔坏了，没法交易了" in html and "记为违约" in html


def test_messages_between_the_parties(db, browser, make_order, seller, buyer):
    order = make_order()
    b, s = browser(buyer), browser(seller)
    resp = b.post(f"/orders/{order.id}/messages", data={"body": "我周六下午有空"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/orders/{order.id}#messages")
    html = s.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "我周六下午有空" in html

    resp = s.post(f"/orders/{order.id}/messages", data={"body": "加我微信吧 139 1234 5678 谢谢"})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert _textarea(html, "body") == "加我微信吧 139 **** 5678 谢谢"
    assert 'id="body-error"' in html and "完整的手机号" in html
    resp = s.post(f"/orders/{order.id}/messages", data={"body": "   "})
    assert resp.status_code == 422 and "请输入消息内容" in resp.get_data(as_text=True)


def test_moderator_resolves_a_dispute(db, browser, make_order, moderator, buyer):
    m = browser(moderator)
    html = m.get("/moderation/disputes").get_data(as_text=True)
    assert "目前没有待处理的纠纷" in html
    order = make_order(status="accepted")
    b = browser(buyer)
    assert b.post(f"/orders/{order.id}/dispute", data={"reason": "电池健康度和描述不符"}).status_code == 302
    assert _status(db, order.id) == "disputed"

    html = m.get("/moderation/disputes").get_data(as_text=True)
    assert f'href="/orders/{order.id}"' in html and "电池健康度和描述不符" in html
    html = m.get(f"/orders/{order.id}").get_data(as_text=True)
    assert f"/orders/{order.id}/resolve" in html
    assert m.get(f"/orders/{order.id}/resolve").status_code == 200
    resp = m.post(f"/orders/{order.id}/resolve", data={"outcome": "cancelled", "note": ""})
    assert resp.status_code == 422 and 'id="note-error"' in resp.get_data(as_text=True)
    resp = m.post(f"/orders/{order.id}/resolve", data={"outcome": "cancelled", "note": "卖家同意退回，订单取消"})
    assert resp.status_code == 302
    assert _status(db, order.id) == "cancelled"
    assert "目前没有待处理的纠纷" in m.get("/moderation/disputes").get_data(as_text=True)
    assert b.get("/moderation/disputes").status_code == 403


def test_an_overdue_order_completes_when_its_page_is_opened(db, browser, make_order, buyer, seller):
    order = make_order(status="accepted")
    db.session.execute(sa.update(Order).where(Order.id == order.id).values(accepted_at=utcnow() - timedelta(days=8)))
    db.session.commit()
    html = browser(buyer).get(f"/orders/{order.id}").get_data(as_text=True)
    assert "已完成" in html and "接受后 7 天自动完成" in html and "提交评价" in html
    db.session.expire_all()
    saved = db.session.get(Order, order.id)
    assert saved.status == "completed" and saved.auto_completed is True


def test_list_pages_settle_overdue_orders(db, browser, make_order, seller):
    order = make_order(status="accepted")
    db.session.execute(sa.update(Order).where(Order.id == order.id).values(accepted_at=utcnow() - timedelta(days=8)))
    db.session.commit()
    html = browser(seller).get("/me/sales").get_data(as_text=True)
    assert _status(db, order.id) == "completed"
    assert "已完成" in html


def test_listing_page_settles_its_overdue_order(db, client, make_order, phone):
    order = make_order(status="accepted")
    db.session.execute(sa.update(Order).where(Order.id == order.id).values(accepted_at=utcnow() - timedelta(days=8)))
    db.session.commit()
    html = client.get(f"/listings/{phone.id}").get_data(as_text=True)
    assert "这件商品已售出" in html
    assert _status(db, order.id) == "completed"


# --- my purchases, my sales --------------------------------------------------------------------------


def test_list_pages_have_empty_states(browser, verified_user):
    c = browser(verified_user("newcomer"))
    html = c.get("/me/purchases").get_data(as_text=True)
    assert "<h1>我的购买</h1>" in html and "你还没有买过东西" in html and 'href="/search"' in html
    html = c.get("/me/sales").get_data(as_text=True)
    assert "<h1>我的出售</h1>" in html and "还没有人向你购买" in html
    html = c.get("/me/purchases?status=disputed").get_data(as_text=True)
    assert "没有“纠纷中”的订单" in html
    html = c.get("/me/purchases?before=5").get_data(as_text=True)
    assert "没有更早的订单了" in html
    assert c.get("/me/purchases?status=nonsense&before=x").status_code == 200


def test_list_pages_filter_and_paginate(monkeypatch, db, browser, make_listing, make_order, buyer, seller):
    from marketplace.orders import views

    monkeypatch.setattr(views, "LIST_PAGE", 2)
    orders = [make_order(listing=make_listing(title=f"闲置自行车 {n} 号")) for n in range(3)]
    c = browser(buyer)
    html = c.get("/me/purchases").get_data(as_text=True)
    assert "闲置自行车 2 号" in html and "闲置自行车 1 号" in html and "闲置自行车 0 号" not in html
    assert seller.display_name in html and "待卖家确认" in html
    match = re.search(r'href="(/me/purchases\?before=\d+)"', html)
    assert match
    html = c.get(match.group(1)).get_data(as_text=True)
    assert "闲置自行车 0 号" in html and "闲置自行车 2 号" not in html and "回到最新" in html

    c.post(f"/orders/{orders[0].id}/cancel", data={"reason": "不想要了"})
    html = c.get("/me/purchases?status=closed").get_data(as_text=True)
    assert "闲置自行车 0 号" in html and "闲置自行车 1 号" not in html
    html = browser(seller).get("/me/sales?status=requested").get_data(as_text=True)
    assert "闲置自行车 1 号" in html and buyer.display_name in html


# --- navigation, notices in the header, English ------------------------------------------------------


def test_navigation_links_by_role(browser, buyer, moderator):
    nav = browser(buyer).get("/").get_data(as_text=True)
    assert 'href="/me/purchases"' in nav and 'href="/me/sales"' in nav and 'href="/notices"' in nav
    assert "/moderation/disputes" not in nav
    assert 'href="/moderation/disputes"' in browser(moderator).get("/").get_data(as_text=True)


def test_pages_render_in_english(client, login, make_order, buyer):
    order = make_order()
    login(buyer)
    client.post("/lang/en", data={"next": "/"})
    for path in (f"/orders/{order.id}", f"/orders/{order.id}/cancel", "/me/purchases", "/me/sales", "/notices"):
        resp = client.get(path)
        assert resp.status_code == 200, path
        assert '<html lang="en">' in resp.get_data(as_text=True)


def test_request_notifies_the_seller(db, browser, phone, buyer, seller):
    b = browser(buyer)
    order_id = _order_id(b.post(f"/listings/{phone.id}/order", data={"payment_method": "cash"}))
    notice = db.session.scalar(sa.select(Notice).where(Notice.user_id == seller.id))
    assert notice.kind == "order.requested" and notice.subject_id == order_id


@pytest.mark.parametrize(
    "app_config", [{"RATELIMIT_ENABLED": True, "MESSAGE_RATE_LIMIT": "2 per minute", "ORDER_RATE_LIMIT": "1 per hour"}]
)
def test_messages_and_requests_are_rate_limited(browser, make_listing, make_order, buyer):
    order = make_order()
    b = browser(buyer)
    statuses = [b.post(f"/orders/{order.id}/messages", data={"body": f"第 {n} 条"}).status_code for n in range(3)]
    assert statuses == [302, 302, 429]
    assert b.get(f"/orders/{order.id}").status_code == 200  # reading is not limited
    other = make_listing(title="九成新台灯")
    assert b.post(f"/listings/{other.id}/order", data={"payment_method": "cash"}).status_code == 302
    third = make_listing(title="八成新书架")
    assert b.post(f"/listings/{third.id}/order", data={"payment_method": "cash"}).status_code == 429


def test_no_server_error_on_any_page(client, browser, make_order, verified_user, buyer, seller, moderator):
    order = make_order(status="completed")
    urls = [
        f"/orders/{order.id}",
        f"/listings/{order.listing_id}",
        f"/listings/{order.listing_id}/order",
        f"/users/{seller.id}",
        f"/users/{seller.id}?before=abc",
        "/users/0",
        "/me/purchases?status=completed&before=99999999999",
        "/me/sales?before=-1",
        "/me/purchases?status=closed",
        "/moderation/disputes?after=x",
        "/notices?before=0",
        "/notices/0",
        "/orders/0/cancel",
        "/ratings/1/reply",
        "/ratings/1/fold",
    ] + [f"/orders/{order.id}/{action}" for action in ("accept", "complete", "cancel", "dispute", "resolve")]
    clients = [client, browser(buyer), browser(seller), browser(moderator), browser(verified_user("passerby"))]
    for c in clients:
        for url in urls:
            assert c.get(url).status_code < 500, url
        for action in ("accept", "complete", "cancel", "dispute", "resolve"):
            assert c.post(f"/orders/{order.id}/{action}", data={"reason": "x", "outcome": "??"}).status_code < 500
        assert c.post(f"/orders/{order.id}/rate", data={"accuracy": "9", "communication": "x"}).status_code < 500
        assert c.post(f"/orders/{order.id}/messages", data={"body": "x" * 2000}).status_code < 500


@pytest.mark.parametrize(
    "typed",
    ["电话 13812345678", "电话 138 1234 5678", "电话 １３８１２３４５６７８", "电话 ١٣٨١٢٣٤٥٦٧٨"],
)
def test_a_refused_number_comes_back_starred_in_any_digits(typed):
    from marketplace.forms_util import mask_numbers

    shown = mask_numbers(typed)
    assert shown.startswith("电话 ") and "*" in shown
    assert sum(c.isdecimal() for c in shown) == 7  # three digits before the stars, four after
