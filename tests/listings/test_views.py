"""Listing pages: selling with the checklist, the listing, editing, confirmations, my listings, search, home."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from marketplace.listings.models import Listing
from tests.listings.sellers import (
    IMEI,
    checklist_fields,
    phone_answers,
)


def _sell_form(**fields) -> dict:
    data = {
        "category": "phone",
        "title": "华为 Mate 60 手机 256GB",
        "price": "3299",
        "district": "jinfeng",
        "description": "自用一年，带壳贴膜。",
        **checklist_fields(phone_answers()),
    }
    data.update(fields)
    return data


def _field_error(html: str, name: str) -> str:
    match = re.search(rf'id="{name}-error"[^>]*>([^<]*)<', html)
    assert match, f"no error shown beside {name}"
    return match.group(1)


def _value(html: str, name: str) -> str:
    match = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html) or re.search(
        rf'value="([^"]*)"[^>]*name="{name}"', html
    )
    assert match, f"no value for {name}"
    return match.group(1)


@pytest.fixture
def browser(app, login):
    """browser(user) → a separate logged-in client."""

    def make(user):
        return login(user, app.test_client())

    return make


# --- selling --------------------------------------------------------------------------------


def test_selling_needs_a_login_and_a_verified_account(client, make_user, login):
    resp = client.get("/sell")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    login(make_user("newbie"))
    resp = client.get("/sell?category=phone")
    assert resp.status_code == 403
    html = resp.get_data(as_text=True)
    assert "实名认证" in html and 'href="/me/verification"' in html
    resp = client.post("/sell?category=phone", data=_sell_form())
    assert resp.status_code == 403


def test_sell_asks_for_the_category_first_then_shows_its_checklist(client, seller, login):
    login(seller)
    html = client.get("/sell").get_data(as_text=True)
    for code in ("phone", "appliance", "vehicle", "books", "clothing", "furniture", "bicycles", "baby", "other"):
        assert f'href="/sell?category={code}"' in html
    assert "服装纺织" in html and "母婴" in html
    html = client.get("/sell?category=phone").get_data(as_text=True)
    assert 'name="grading-imei"' in html and 'name="grading-account_locked"' in html
    assert 'enctype="multipart/form-data"' in html
    html = client.get("/sell?category=books").get_data(as_text=True)
    assert "grading-" not in html and 'name="title"' in html


def test_a_verified_seller_lists_a_phone_and_sees_grade_a(client, seller, login, db):
    login(seller)
    resp = client.post("/sell?category=phone", data=_sell_form())
    assert resp.status_code == 302, resp.get_data(as_text=True)
    listing = db.session.scalar(sa.select(Listing))
    assert resp.headers["Location"].endswith(f"/listings/{listing.id}")
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert listing.grade == "A"
    assert "A（95新）" in html and "¥3,299" in html
    assert "有细微划痕，20 厘米外看不出" in html  # the answer, in the standard's words
    assert IMEI in html  # the seller sees the full IMEI
    assert f"/listings/{listing.id}/edit" in html


def test_the_listing_page_for_a_buyer(client, phone, buyer, login):
    login(buyer)
    html = client.get(f"/listings/{phone.id}").get_data(as_text=True)
    assert "华为 Mate 60 手机 256GB 雅丹黑" in html and "¥3,299" in html
    assert "A（95新）" in html and "电池健康度" in html and "100 %" in html
    assert "张*三" in html and "张小三" not in html  # the masked real name only
    assert "已实名认证" in html and "600" in html and "一般" in html  # credit score and band
    assert IMEI not in html and IMEI[:8] + "*****" in html
    assert f'href="/listings/{phone.id}/report"' in html
    assert "/edit" not in html and "/withdraw" not in html
    assert "<p>自用一年，一直带壳贴膜。</p><p>送原装充电器。</p>" in html


def test_an_account_locked_phone_is_refused_and_the_form_kept(client, seller, login, db):
    login(seller)
    form = _sell_form(**{"grading-account_locked": "yes"})
    resp = client.post("/sell?category=phone", data=form)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "账号锁未解除" in html
    assert "grading-account_locked-error" in html
    assert _value(html, "title") == "华为 Mate 60 手机 256GB" and _value(html, "price") == "3299"
    assert _value(html, "grading-imei") == IMEI
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Listing)) == 0


def test_a_bad_price_is_marked_beside_the_field(client, seller, login):
    login(seller)
    resp = client.post("/sell?category=phone", data=_sell_form(price="12.345"))
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "两位小数" in _field_error(html, "price")
    assert _value(html, "title") == "华为 Mate 60 手机 256GB"


def test_a_missing_checklist_answer_is_marked_beside_the_item(client, seller, login):
    login(seller)
    resp = client.post("/sell?category=phone", data=_sell_form(**{"grading-battery_health": ""}))
    assert resp.status_code == 422
    assert "必填" in _field_error(resp.get_data(as_text=True), "grading-battery_health")


def test_a_recycle_only_water_heater_says_so_on_its_page_and_card(client, make_listing):
    from tests.grading.answers import best_answers

    answers = best_answers("appliance")
    answers.update(type="electric_water_heater", production_year=2012, brand="美的", model="F60")
    heater = make_listing(category="appliance", title="美的电热水器 60 升", price_fen=0, grading=answers)
    html = client.get(f"/listings/{heater.id}").get_data(as_text=True)
    assert html.count("仅供回收") >= 2 and "安全提示" in html and "安全使用年限" in html
    assert "¥0" in html
    card = client.get("/").get_data(as_text=True)
    assert "仅供回收" in card


# --- editing and status changes ----------------------------------------------------------------


def test_another_user_cannot_edit_through_the_page(client, phone, buyer, login, db):
    login(buyer)
    assert client.get(f"/listings/{phone.id}/edit").status_code == 403
    resp = client.post(f"/listings/{phone.id}/edit", data=_sell_form(title="被别人改了"))
    assert resp.status_code == 403
    for action in ("withdraw", "sold"):
        assert client.post(f"/listings/{phone.id}/{action}", data={}).status_code == 403
    db.session.refresh(phone)
    assert phone.title != "被别人改了" and phone.status == "active"
    assert client.get("/listings/999999/edit").status_code == 404


def test_the_seller_edits_and_the_grade_is_computed_again(client, phone, login, db):
    login(phone.seller)
    html = client.get(f"/listings/{phone.id}/edit").get_data(as_text=True)
    assert _value(html, "title") == phone.title and _value(html, "price") == "3299"
    assert "自用一年，一直带壳贴膜。\n\n送原装充电器。" in html
    form = _sell_form(title="华为 Mate 60 手机（降价）", price="2999", **{"grading-screen": "visible"})
    resp = client.post(f"/listings/{phone.id}/edit", data=form)
    assert resp.status_code == 302
    db.session.refresh(phone)
    assert (phone.title, phone.price_fen, phone.grade) == ("华为 Mate 60 手机（降价）", 299900, "C")


def test_withdraw_asks_for_confirmation_then_hides_the_listing(client, app, phone, buyer, login, browser):
    login(phone.seller)
    html = client.get(f"/listings/{phone.id}/withdraw").get_data(as_text=True)
    assert "确认下架" in html and 'method="post"' in html
    assert phone.status == "active"
    resp = client.post(f"/listings/{phone.id}/withdraw", data={})
    assert resp.status_code == 302
    assert browser(buyer).get(f"/listings/{phone.id}").status_code == 404
    assert app.test_client().get(f"/listings/{phone.id}").status_code == 404
    html = client.get(f"/listings/{phone.id}").get_data(as_text=True)
    assert "已下架" in html and "重新上架" in html
    client.post(f"/listings/{phone.id}/relist", data={})
    assert browser(buyer).get(f"/listings/{phone.id}").status_code == 200


def test_mark_sold_after_confirmation(client, phone, login, db):
    login(phone.seller)
    assert "确认已售出" in client.get(f"/listings/{phone.id}/sold").get_data(as_text=True)
    client.post(f"/listings/{phone.id}/sold", data={})
    db.session.refresh(phone)
    assert phone.status == "sold"
    html = client.get(f"/listings/{phone.id}").get_data(as_text=True)
    assert "已售出" in html and f"/listings/{phone.id}/edit" not in html
    assert client.get(f"/listings/{phone.id}/edit").status_code == 409


def test_a_moderator_removes_a_listing_after_confirmation(client, phone, moderator, login, db):
    login(moderator)
    html = client.get(f"/listings/{phone.id}").get_data(as_text=True)
    assert f"/listings/{phone.id}/remove" in html
    assert "确认移除" in client.get(f"/listings/{phone.id}/remove").get_data(as_text=True)
    client.post(f"/listings/{phone.id}/remove", data={})
    db.session.refresh(phone)
    assert phone.status == "removed"


# --- my listings, search, home --------------------------------------------------------------------


def test_my_listings_has_an_empty_state_then_every_status(client, seller, login, make_listing, db):
    login(seller)
    html = client.get("/my/listings").get_data(as_text=True)
    assert "你还没有发布过闲置" in html and 'href="/sell"' in html
    make_listing(title="在售的手机 A")
    gone = make_listing(title="下架的手机 B")
    from marketplace.listings import service

    service.withdraw(seller, gone)
    db.session.commit()
    html = client.get("/my/listings").get_data(as_text=True)
    assert "在售的手机 A" in html and "下架的手机 B" in html and "已下架" in html


def test_my_listings_are_paged_newest_first(client, seller, login, make_listing, monkeypatch):
    from marketplace.listings import views

    monkeypatch.setattr(views, "MINE_PAGE", 2)
    made = [make_listing(title=f"第{n}件闲置手机") for n in range(1, 6)]
    login(seller)
    seen, url = [], "/my/listings"
    while url:
        html = client.get(url).get_data(as_text=True)
        seen += [n for n in range(5, 0, -1) if f"第{n}件闲置手机" in html]
        match = re.search(r'href="(/my/listings\?before=\d+)"', html)
        url = match.group(1) if match else None
    assert seen == [5, 4, 3, 2, 1] and len(made) == 5
    assert "没有更早的闲置了" in client.get(f"/my/listings?before={made[0].id}").get_data(as_text=True)
    assert client.get("/my/listings?before=%EF%BC%91").status_code == 200  # a full-width digit: first page


def test_navigation_offers_sell_and_my_listings(client, user, login):
    assert "/sell" not in client.get("/").get_data(as_text=True).split("</nav>")[0]
    login(user)
    nav = client.get("/").get_data(as_text=True).split("</nav>")[0]
    assert 'href="/sell"' in nav and 'href="/my/listings"' in nav


def test_search_finds_the_phone_and_marks_the_match(client, phone, make_listing):
    make_listing(category="books", title="《三体》全套 九成新", grading=None, price_fen=3500)
    html = client.get("/search?q=手机").get_data(as_text=True)
    assert "<mark>手机</mark>" in html and "三体" not in html
    html = client.get("/search?category=books").get_data(as_text=True)
    assert "三体" in html and "Mate 60" not in html
    html = client.get("/search?category=phone&grade=A&district=xingqing&min_price=3000&max_price=4000").get_data(
        as_text=True
    )
    assert "Mate 60" in html
    html = client.get("/search?category=phone&grade=S").get_data(as_text=True)
    assert "没有找到符合条件的商品" in html and "去掉所有筛选" in html


def test_search_pages_with_a_cursor(client, make_listing):
    for i in range(23):
        make_listing(category="books", title=f"旧书第 {i} 本", grading=None, price_fen=100 + i)
    html = client.get("/search?category=books").get_data(as_text=True)
    assert html.count('class="card"') == 20
    next_url = re.search(r'<a href="([^"]+)" rel="next">下一页</a>', html).group(1).replace("&amp;", "&")
    html = client.get(next_url).get_data(as_text=True)
    assert html.count('class="card"') == 3 and "回到第一页" in html


@pytest.mark.parametrize(
    "query",
    [
        "min_price=abc",
        "max_price=-5",
        "min_price=10&max_price=1",
        "cursor=!!!",
        "sort=evil&grade=%00",
        "q=" + "手" * 500,
    ],
)
def test_search_never_fails_on_odd_input(client, phone, query):
    resp = client.get("/search?" + query)
    assert resp.status_code in (200, 400)


def test_home_shows_the_newest_listings_as_cards(client, phone, make_listing):
    make_listing(category="books", title="《平凡的世界》三册", grading=None, price_fen=0)
    html = client.get("/").get_data(as_text=True)
    assert "还没有商品上架。" not in html
    assert "华为 Mate 60 手机 256GB 雅丹黑" in html and "《平凡的世界》三册" in html
    assert "已实名" in html and "A（95新）" in html and "免费送" in html and "兴庆区" in html


# --- XSS ---------------------------------------------------------------------------------------------


def test_script_in_titles_and_descriptions_comes_out_inert(client, seller, login, db):
    login(seller)
    form = _sell_form(
        title='<script>alert("t")</script><img src=x onerror=alert(1)>',
        description='<script>alert("d")</script><a href="javascript:alert(2)">点我</a>'
        '<svg onload=alert(3)><script>alert(4)</script></svg><b onclick="alert(5)">粗体</b>',
    )
    resp = client.post("/sell?category=phone", data=form)
    assert resp.status_code == 302
    listing = db.session.scalar(sa.select(Listing))
    for html in (
        client.get(f"/listings/{listing.id}").get_data(as_text=True),
        client.get("/").get_data(as_text=True),
        client.get("/search?q=script").get_data(as_text=True),
        client.get("/my/listings").get_data(as_text=True),
    ):
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "javascript:" not in html and "onload=" not in html and "onclick=" not in html
    page = client.get(f"/listings/{listing.id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(" in page  # the title, shown as text
    assert "<b>粗体</b>" in page


# --- prices and search links that used to fail ------------------------------------------------------

HUGE = "9" * 30


@pytest.mark.parametrize("name", ["min_price", "max_price"])
@pytest.mark.parametrize(("value", "says"), [(HUGE, "1 亿元"), ("٣", "须为数字"), ("1" + "0" * 40 + ".001", "1 亿元")])
def test_search_price_filters_with_huge_or_foreign_digits_get_a_field_error(client, phone, name, value, says):
    resp = client.get("/search", query_string={name: value})
    assert resp.status_code in (200, 400)
    assert says in _field_error(resp.get_data(as_text=True), name)


def test_full_width_digits_still_filter_the_search(client, phone):
    html = client.get("/search", query_string={"min_price": "３０００", "max_price": "４０００"}).get_data(as_text=True)
    assert "Mate 60" in html and "min_price-error" not in html


@pytest.mark.parametrize(("value", "says"), [(HUGE, "1 亿元"), ("٣٠٠", "须为数字"), ("-" + HUGE, "负数")])
def test_a_huge_or_foreign_price_on_the_sell_form_is_a_field_error(client, seller, login, db, value, says):
    login(seller)
    resp = client.post("/sell?category=phone", data=_sell_form(price=value))
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert says in _field_error(html, "price")
    assert _value(html, "title") == "华为 Mate 60 手机 256GB"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Listing)) == 0


def test_full_width_digits_are_a_price_on_the_sell_form(client, seller, login, db):
    login(seller)
    assert client.post("/sell?category=phone", data=_sell_form(price="３２９９")).status_code == 302
    assert db.session.scalar(sa.select(Listing.price_fen)) == 329900


@pytest.mark.parametrize(("value", "says"), [(HUGE, "1 亿元"), ("٣", "须为数字")])
def test_a_huge_or_foreign_price_on_the_edit_form_is_a_field_error(client, phone, login, db, value, says):
    login(phone.seller)
    resp = client.post(f"/listings/{phone.id}/edit", data=_sell_form(title=phone.title, price=value))
    assert resp.status_code == 422
    assert says in _field_error(resp.get_data(as_text=True), "price")
    db.session.expire_all()
    assert db.session.get(Listing, phone.id).price_fen == phone.price_fen


@pytest.mark.parametrize(
    "query",
    ["endpoint=1", "_method=POST", "_external=1", "_scheme=javascript", "_anchor=x", "values=1", "sort=newest&x=1"],
)
def test_search_links_carry_only_the_known_filters(client, make_listing, query):
    for i in range(23):
        make_listing(category="books", title=f"旧书第 {i} 本", grading=None, price_fen=100 + i)
    resp = client.get(f"/search?category=books&{query}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    next_url = re.search(r'<a href="([^"]+)" rel="next">下一页</a>', html).group(1).replace("&amp;", "&")
    assert next_url.startswith("/search?") and "#" not in next_url
    assert set(re.findall(r"[?&]([^=&]+)=", next_url)) == {"category", "sort", "cursor"}


def test_search_by_seller_shows_only_their_listings_and_names_them(client, make_listing, verified_user):
    other = verified_user("seller2", real_name="王五")
    mine = make_listing(title="九成新 冰箱 海尔 两门")
    theirs = make_listing(user=other, title="九成新 冰箱 美的 三门")
    page = client.get(f"/search?seller={other.id}").get_data(as_text=True)
    assert theirs.title in page and mine.title not in page
    assert f"{other.display_name} 在售的闲置" in page
    # An unknown or out-of-range seller filters nothing, and never fails.
    for value in ("999999", "99999999999999", "abc", "-1"):
        response = client.get(f"/search?seller={value}")
        assert response.status_code == 200 and mine.title in response.get_data(as_text=True)
