"""A buyer asks for a phone, the seller accepts, the buyer confirms the hand-over, both rate each other blind."""

import pytest

from tests.e2e.pages import log_in, rate

pytestmark = pytest.mark.e2e


def test_buy_accept_hand_over_and_rate_blind(page_for, make_listing, seller, buyer, password, app):
    from marketplace.db import db
    from marketplace.moderation.models import Report

    listing = make_listing(title="华为 Mate 60 手机 256GB 雅丹黑")
    listing_id = listing.id

    # The buyer asks for it from the listing page; a phone number in the message is refused, the rest kept.
    shopper = page_for()
    log_in(shopper, buyer, password)
    shopper.goto(f"/listings/{listing_id}")
    shopper.get_by_role("link", name="我想要").click()
    shopper.get_by_label("给卖家留言（选填）").fill("周六上午可以吗？我的电话 13912345678")
    shopper.get_by_role("button", name="发送购买请求").click()
    assert "手机号" in shopper.locator("main").inner_text()
    shopper.get_by_label("给卖家留言（选填）").fill("周六上午在小区门口交易可以吗？")
    shopper.get_by_role("button", name="发送购买请求").click()
    assert "待卖家确认" in shopper.locator("main").inner_text()
    order_url = shopper.url

    # The seller sees the notice in the header, opens it and accepts, confirming on a page of its own.
    shop = page_for()
    log_in(shop, seller, password)
    shop.get_by_role("navigation", name="主导航").get_by_role("link", name="通知").click()
    shop.get_by_role("button", name="有人想买你的", exact=False).first.click()
    assert shop.url == order_url
    shop.get_by_role("link", name="接受请求").click()
    shop.get_by_role("button", name="确认接受").click()
    assert "已接受，待交接" in shop.locator("main").inner_text()

    # The buyer confirms the hand-over and rates the seller; the rating stays hidden from the seller.
    shopper.goto(order_url)
    shopper.get_by_role("link", name="确认收货").click()
    shopper.get_by_role("button", name="确认收货").click()
    assert "已完成" in shopper.locator("main").inner_text()
    rate(shopper, {"描述相符": 1, "沟通": 4, "守时": 5}, "屏幕有划痕，描述说没有。")
    assert "等待对方评价" in shopper.locator("main").inner_text()

    shop.goto(order_url)
    main = shop.locator("main").inner_text()
    assert "对方已经评价了你" in main and "屏幕有划痕" not in main

    # Once the seller has rated too, both ratings are shown to both.
    rate(shop, {"守时": 5, "沟通": 5}, "买家很准时。")
    main = shop.locator("main").inner_text()
    assert "屏幕有划痕" in main and "买家很准时" in main
    shopper.goto(order_url)
    assert "买家很准时" in shopper.locator("main").inner_text()

    # An accuracy of 1 put a "not as described" report on the listing for the moderators.
    db.session.rollback()
    reports = db.session.query(Report).filter_by(listing_id=listing_id, source="rating").all()
    assert len(reports) == 1 and reports[0].status == "open"
