"""Rating pages: the form on the order page, double-blind display, replies, folding, the public profile."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.db import utcnow
from marketplace.orders.models import Order
from marketplace.ratings.models import Rating


@pytest.fixture
def browser(app, login):
    """browser(user) → a separate logged-in client."""

    def make(user):
        return login(user, app.test_client())

    return make


def _rate(c, order_id: int, comment: str = "", **scores):
    data = {"accuracy": "5", "communication": "5", "punctuality": "5", "comment": comment, **scores}
    return c.post(f"/orders/{order_id}/rate", data=data)


def _both_rated(browser, order, buyer, seller):
    b, s = browser(buyer), browser(seller)
    assert _rate(b, order.id, "东西很好，和描述一致", accuracy="4").status_code == 302
    assert _rate(s, order.id, "买家很准时", accuracy="").status_code == 302
    return b, s


def _rating_of(db, user) -> Rating:
    return db.session.scalar(sa.select(Rating).where(Rating.rater_id == user.id))


def test_rating_form_per_role_and_the_double_blind_rule(browser, completed_order, buyer, seller):
    html = browser(buyer).get(f"/orders/{completed_order.id}").get_data(as_text=True)
    for label in ("描述相符", "沟通", "守时"):
        assert label in html
    assert 'name="accuracy"' in html and 'name="comment"' in html
    assert "对方评价你之前，你看不到对方的评价；双方都评价后或评价期结束后公开" in html
    assert re.search(r"请在 \d{4}-\d{2}-\d{2} \d{2}:\d{2} 前评价对方", html)
    html = browser(seller).get(f"/orders/{completed_order.id}").get_data(as_text=True)
    assert 'name="punctuality"' in html and 'name="accuracy"' not in html


def test_no_rating_before_completion(browser, make_order, buyer):
    order = make_order(status="accepted")
    b = browser(buyer)
    assert f'action="/orders/{order.id}/rate"' not in b.get(f"/orders/{order.id}").get_data(as_text=True)
    resp = _rate(b, order.id)
    assert resp.status_code == 409


def test_a_missing_score_keeps_the_rest(db, browser, completed_order, buyer):
    resp = _rate(browser(buyer), completed_order.id, "送货很快，电话 13912345678", punctuality="")
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert 'id="punctuality-error"' in html
    assert "送货很快，电话 139****5678" in html
    assert '<input checked id="accuracy-4" name="accuracy" type="radio" value="5">' in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Rating)) == 0


def test_rating_twice_is_refused(browser, completed_order, buyer):
    b = browser(buyer)
    assert _rate(b, completed_order.id, "很好").status_code == 302
    resp = _rate(b, completed_order.id, "再评一次")
    assert resp.status_code == 409
    assert "每笔订单只能评价一次" in resp.get_data(as_text=True)


def test_profile_shows_the_summary_and_hides_unrevealed_ratings(db, client, browser, completed_order, buyer, seller):
    assert _rate(browser(buyer), completed_order.id, "东西很好，和描述一致", accuracy="4").status_code == 302
    html = client.get(f"/users/{seller.id}").get_data(as_text=True)
    assert "东西很好" not in html
    assert "还没有公开的评价" in html and "还没有评价" in html

    assert _rate(browser(seller), completed_order.id, "买家很准时", accuracy="").status_code == 302
    html = client.get(f"/users/{seller.id}").get_data(as_text=True)
    assert "东西很好，和描述一致" in html and "买家评价卖家" in html
    assert "<h1" in html and seller.display_name in html and "已实名认证" in html and "张*三" in html
    assert "4.0 / 5 分" in html and "100%（1 条评价）" in html
    html = client.get(f"/users/{buyer.id}").get_data(as_text=True)
    assert "买家很准时" in html and "卖家评价买家" in html


def test_the_window_closing_reveals_a_lone_rating(db, client, browser, completed_order, buyer, seller):
    assert _rate(browser(buyer), completed_order.id, "一个人的评价").status_code == 302
    assert "一个人的评价" not in client.get(f"/users/{seller.id}").get_data(as_text=True)
    # Fifteen days later: the 14-day window has closed.
    completed = utcnow() - timedelta(days=15)
    db.session.execute(sa.update(Order).values(completed_at=completed))
    db.session.execute(sa.update(Rating).values(visible_from=completed + timedelta(days=14)))
    db.session.commit()
    assert "一个人的评价" in client.get(f"/users/{seller.id}").get_data(as_text=True)
    html = browser(seller).get(f"/orders/{completed_order.id}").get_data(as_text=True)
    assert "一个人的评价" in html and "评价期已结束" in html and "提交评价" not in html


def test_the_rated_party_replies_once(db, browser, completed_order, buyer, seller):
    b, s = _both_rated(browser, completed_order, buyer, seller)
    rating = _rating_of(db, buyer)
    html = s.get(f"/orders/{completed_order.id}").get_data(as_text=True)
    assert f'href="/ratings/{rating.id}/reply"' in html
    assert f'href="/ratings/{rating.id}/reply"' not in b.get(f"/orders/{completed_order.id}").get_data(as_text=True)
    assert b.get(f"/ratings/{rating.id}/reply").status_code == 403

    assert s.get(f"/ratings/{rating.id}/reply").status_code == 200
    resp = s.post(f"/ratings/{rating.id}/reply", data={"reply": ""})
    assert resp.status_code == 422 and 'id="reply-error"' in resp.get_data(as_text=True)
    resp = s.post(f"/ratings/{rating.id}/reply", data={"reply": "谢谢，欢迎再来"})
    assert resp.status_code == 302
    html = b.get(f"/users/{seller.id}").get_data(as_text=True)
    assert "谢谢，欢迎再来" in html
    assert f'href="/ratings/{rating.id}/reply"' not in s.get(f"/orders/{completed_order.id}").get_data(as_text=True)
    assert s.post(f"/ratings/{rating.id}/reply", data={"reply": "再回一次"}).status_code == 409


def test_a_hidden_rating_cannot_be_replied_to(db, browser, completed_order, buyer, seller):
    assert _rate(browser(buyer), completed_order.id, "先评").status_code == 302
    rating = _rating_of(db, buyer)
    s = browser(seller)
    assert s.get(f"/ratings/{rating.id}/reply").status_code == 404
    assert s.post(f"/ratings/{rating.id}/reply", data={"reply": "偷看"}).status_code == 404


def test_a_moderator_folds_a_rating(db, client, browser, completed_order, buyer, seller, moderator):
    _b, s = _both_rated(browser, completed_order, buyer, seller)
    rating = _rating_of(db, buyer)
    assert s.get(f"/ratings/{rating.id}/fold").status_code == 403
    m = browser(moderator)
    html = m.get(f"/users/{seller.id}").get_data(as_text=True)
    assert f'href="/ratings/{rating.id}/fold"' in html
    page = m.get(f"/ratings/{rating.id}/fold")
    assert page.status_code == 200 and "东西很好" in page.get_data(as_text=True)
    assert db.session.get(Rating, rating.id).folded_at is None  # GET changed nothing
    resp = m.post(f"/ratings/{rating.id}/fold", data={"reason": ""})
    assert resp.status_code == 422 and 'id="reason-error"' in resp.get_data(as_text=True)
    assert m.post(f"/ratings/{rating.id}/fold", data={"reason": "含有人身攻击"}).status_code == 302

    html = client.get(f"/users/{seller.id}").get_data(as_text=True)
    assert "该评价已被折叠：含有人身攻击" in html
    folded = re.search(r'<details class="rating__folded">(.*?)</details>', html, re.S)
    assert folded and "东西很好，和描述一致" in folded.group(1)
    assert "还没有评价。" in html.split("作为买家")[0]  # left out of the seller's summary
    html = s.get(f"/orders/{completed_order.id}").get_data(as_text=True)
    assert "该评价已被折叠：含有人身攻击" in html
    # The moderator sees both revealed ratings on the order page, without a rating form.
    html = m.get(f"/orders/{completed_order.id}").get_data(as_text=True)
    assert "买家很准时" in html and f'action="/orders/{completed_order.id}/rate"' not in html


def test_profile_of_unknown_and_closed_users(db, client, make_user, make_listing, seller):
    assert client.get("/users/424242").status_code == 404
    closed = make_user("gone", status="closed", display_name="已注销用户")
    html = client.get(f"/users/{closed.id}").get_data(as_text=True)
    assert "已注销用户" in html and "该账户已注销" in html


def test_profile_lists_the_sellers_active_listings(client, make_listing, seller):
    make_listing(title="九成新儿童自行车")
    html = client.get(f"/users/{seller.id}").get_data(as_text=True)
    assert "九成新儿童自行车" in html and "在售的闲置" in html


def test_profile_paginates_ratings(monkeypatch, db, client, browser, make_listing, make_order, buyer, seller):
    from marketplace.ratings import views

    monkeypatch.setattr(views, "PROFILE_PAGE", 1)
    for n in range(2):
        order = make_order(listing=make_listing(title=f"旧书 {n} 号"), status="completed")
        assert _rate(browser(buyer), order.id, f"第 {n} 笔很好").status_code == 302
        assert _rate(browser(seller), order.id, "好买家", accuracy="").status_code == 302
    html = client.get(f"/users/{seller.id}").get_data(as_text=True)
    assert "第 1 笔很好" in html and "第 0 笔很好" not in html
    match = re.search(r'href="(/users/\d+\?before=\d+)#ratings"', html)
    assert match
    html = client.get(match.group(1)).get_data(as_text=True)
    assert "第 0 笔很好" in html and "第 1 笔很好" not in html


def test_listing_page_shows_the_sellers_reputation(client, browser, completed_order, make_listing, buyer, seller):
    _both_rated(browser, completed_order, buyer, seller)
    listing = make_listing(title="八成新电饭煲")
    html = client.get(f"/listings/{listing.id}").get_data(as_text=True)
    assert "卖家口碑" in html and "描述相符 4.0" in html and "（1 条评价）" in html
    assert f'href="/users/{seller.id}"' in html


def test_ratings_pages_render_in_english(client, login, completed_order, buyer, seller):
    login(buyer)
    client.post("/lang/en", data={"next": "/"})
    for path in (f"/orders/{completed_order.id}", f"/users/{seller.id}"):
        resp = client.get(path)
        assert resp.status_code == 200 and '<html lang="en">' in resp.get_data(as_text=True)
