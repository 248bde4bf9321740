"""The notice centre and the header's unread count."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from marketplace.notices.models import Notice


@pytest.fixture
def browser(app, login):
    """browser(user) → a separate logged-in client."""

    def make(user):
        return login(user, app.test_client())

    return make


def _nav(html: str) -> str:
    match = re.search(r'<nav class="nav".*?</nav>', html, re.S)
    assert match, "no main navigation"
    return match.group(0)


def _unread(db, user) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Notice).where(Notice.user_id == user.id, Notice.read_at.is_(None))
    )


def test_empty_notice_centre(browser, user):
    c = browser(user)
    html = c.get("/notices").get_data(as_text=True)
    assert "<h1>通知</h1>" in html and "还没有通知" in html and "全部标为已读" not in html
    assert "条未读" not in _nav(html)
    assert "没有更早的通知了" in c.get("/notices?before=9").get_data(as_text=True)


def test_notices_are_listed_counted_and_marked_read(db, browser, make_order, seller):
    order = make_order()
    s = browser(seller)
    html = s.get("/").get_data(as_text=True)
    nav = _nav(html)
    assert 'href="/notices"' in nav and "(1" in nav and "条未读" in nav

    html = s.get("/notices").get_data(as_text=True)
    assert "未读" in html and f"订单 #{order.id}" in html and order.listing.title in html
    notice = db.session.scalar(sa.select(Notice).where(Notice.user_id == seller.id))
    assert f'action="/notices/{notice.id}"' in html
    assert _unread(db, seller) == 1  # opening the page marks nothing

    resp = s.post(f"/notices/{notice.id}", data={})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/orders/{order.id}")
    assert _unread(db, seller) == 0
    html = s.get("/notices").get_data(as_text=True)
    assert "条未读" not in _nav(html) and 'class="badge badge--unread"' not in html


def test_mark_all_read(db, browser, make_order, seller, buyer):
    order = make_order()
    b = browser(buyer)
    b.post(f"/orders/{order.id}/messages", data={"body": "在吗？"})
    assert _unread(db, seller) == 2
    s = browser(seller)
    assert "全部标为已读" in s.get("/notices").get_data(as_text=True)
    assert s.post("/notices/read", data={}).status_code == 302
    assert _unread(db, seller) == 0
    message_notice = db.session.scalar(sa.select(Notice).where(Notice.kind == "order.message"))
    resp = s.post(f"/notices/{message_notice.id}", data={})
    assert resp.headers["Location"].endswith(f"/orders/{order.id}#messages")


def test_someone_elses_notice_is_not_found(db, browser, make_order, buyer):
    make_order()
    notice = db.session.scalar(sa.select(Notice))
    assert browser(buyer).post(f"/notices/{notice.id}", data={}).status_code == 404
    assert db.session.get(Notice, notice.id).read_at is None


def test_notices_paginate(monkeypatch, db, browser, make_order, seller, buyer):
    from marketplace.notices import service, views

    monkeypatch.setattr(views, "PAGE", 2)
    order = make_order()
    for n in range(2):
        service.notify(seller.id, "order.message", subject_type="order", subject_id=order.id, order=n, title="书")
    db.session.commit()
    s = browser(seller)
    html = s.get("/notices").get_data(as_text=True)
    assert html.count('class="badge badge--unread"') == 2
    match = re.search(r'href="(/notices\?before=\d+)"', html)
    assert match
    html = s.get(match.group(1)).get_data(as_text=True)
    assert "有人想买你的" in html and "回到最新" in html


def test_notices_need_a_login(client):
    resp = client.get("/notices")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert client.post("/notices/read", data={}).status_code == 302


def test_notice_centre_in_english(client, login, make_order, seller):
    make_order()
    login(seller)
    client.post("/lang/en", data={"next": "/"})
    resp = client.get("/notices")
    assert resp.status_code == 200 and '<html lang="en">' in resp.get_data(as_text=True)
