"""Notices: written with what they announce, rendered in the reader's language, read by their owner only."""

from __future__ import annotations

import re

import pytest
from flask_babel import get_locale

from marketplace.notices import service
from marketplace.notices.models import Notice

# Realistic parameters for every kind, as the order and rating services pass them.
# Every parameter any kind uses (a template with parameters shows at least one of the numbers, 4217).
PARAMS = {
    "order": 4217,
    "decision": 4217,
    "points": 4217,
    "days": 15,
    "ends": "2027-4217",
    "title": "华为 Mate 60 手机 4217 号",
    "reason": "含有人身攻击",
    "price": "3,299",
}
HAN = re.compile(r"[\u4e00-\u9fff]")


def test_notify_stores_kind_params_and_subject_unread(db, user):
    notice = service.notify(
        user.id, "order.accepted", subject_type="order", subject_id=7, order=7, title="自行车", price="120"
    )
    db.session.commit()
    stored = db.session.get(Notice, notice.id)
    assert (stored.user_id, stored.kind, stored.subject_type, stored.subject_id) == (
        user.id,
        "order.accepted",
        "order",
        7,
    )
    assert stored.params == {"order": 7, "title": "自行车", "price": "120"} and stored.read_at is None
    assert service.text(stored) == "卖家接受了你对“自行车”的购买请求（订单 #7），成交价 ¥120，商品已为你预留。"


def test_an_unknown_kind_is_a_programming_error(db, user):
    with pytest.raises(ValueError):
        service.notify(user.id, "order.exploded", order=1)


def test_a_notice_with_missing_params_or_an_unknown_kind_still_renders(db, user):
    broken = service.notify(user.id, "order.requested", order=3)  # no title
    assert "订单" in service.text(broken)
    assert service.text(Notice(user_id=user.id, kind="retired.kind", params={})) == "通知"


@pytest.mark.parametrize("kind", sorted(service.TEXTS))
def test_every_kind_renders_with_its_params_in_chinese(db, user, kind):
    text = service.text(service.notify(user.id, kind, **PARAMS))
    assert "%(" not in text and HAN.search(text)
    assert ("4217" in text) == ("%(" in str(service.TEXTS[kind]))


@pytest.mark.parametrize("kind", sorted(service.TEXTS))
def test_every_kind_renders_in_english_for_an_english_reader(app, db, user, kind):
    notice = service.notify(user.id, kind, **PARAMS)
    db.session.commit()
    # The locale is chosen per request: the API honours Accept-Language (marketplace/i18n.py).
    with app.test_request_context("/api/v1/notices", headers={"Accept-Language": "en"}):
        assert str(get_locale()) == "en"
        text = service.text(notice)
        template = str(service.TEXTS[kind])
    assert "%(" not in text and ("4217" in text) == ("%(" in template)
    if not HAN.search(template):  # translated: nothing Chinese is left but the listing's title
        assert not HAN.search(text.replace(PARAMS["title"], "").replace(PARAMS["reason"], ""))


def test_the_english_request_context_selects_english(app):
    from marketplace.i18n import select_locale

    with app.test_request_context("/api/v1/notices", headers={"Accept-Language": "en"}):
        assert select_locale() == "en"
    with app.test_request_context("/notices", headers={"Cookie": "lang=en"}):
        assert select_locale() == "en"


def test_unread_count_and_mark_read_only_touch_the_owners_notices(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    mine = [service.notify(alice.id, "order.message", order=n, title="台灯") for n in range(3)]
    theirs = service.notify(bob.id, "order.message", order=9, title="台灯")
    db.session.commit()
    assert service.unread_count(alice) == 3 and service.unread_count(bob) == 1
    # Someone else's id is ignored, not marked.
    assert service.mark_read(alice, [mine[0].id, theirs.id]) == 1
    db.session.commit()
    assert service.unread_count(alice) == 2 and service.unread_count(bob) == 1
    db.session.refresh(theirs)
    assert theirs.read_at is None
    assert service.mark_read(alice, []) == 0
    assert service.mark_read(alice) == 2
    assert service.mark_read(alice) == 0
    db.session.commit()
    assert service.unread_count(alice) == 0 and service.unread_count(bob) == 1


def test_has_unread_is_per_user_kind_and_subject(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    service.notify(alice.id, "order.message", subject_type="order", subject_id=1, order=1, title="台灯")
    assert service.has_unread(alice.id, "order.message", "order", 1)
    assert not service.has_unread(alice.id, "order.message", "order", 2)
    assert not service.has_unread(alice.id, "order.accepted", "order", 1)
    assert not service.has_unread(bob.id, "order.message", "order", 1)
    service.mark_read(alice)
    assert not service.has_unread(alice.id, "order.message", "order", 1)


def test_pages_are_newest_first_without_gaps_or_repeats(db, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    made = []
    for n in range(25):
        made.append(service.notify(alice.id, "order.message", order=n, title="台灯").id)
        service.notify(bob.id, "order.message", order=n, title="台灯")
    db.session.commit()
    seen, before = [], None
    while True:
        page = service.page(alice, before_id=before, limit=7)
        if not page:
            break
        assert len(page) <= 7 and all(n.user_id == alice.id for n in page)
        seen += [n.id for n in page]
        before = page[-1].id
    assert seen == sorted(made, reverse=True)
    assert service.page(alice, before_id=min(made)) == []
    assert [n.id for n in service.page(alice, limit=2)] == seen[:2]
