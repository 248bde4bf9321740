"""Issue 6's "done when" in a browser: an organiser creates a campus flea market for 宁夏大学; a student registers a
stall and brings two listings; another student offers a swap, which is accepted; the organiser checks both in by
their codes; both rate each other on the swap orders; a resident is refused with the reason; the .ics imports."""

from __future__ import annotations

import re
from datetime import timedelta

import icalendar
import pytest
import sqlalchemy as sa

from tests.e2e.pages import id_in, log_in, main_text, rate, writing

pytestmark = pytest.mark.e2e

TITLE = "宁夏大学毕业季跳蚤市场"
BIKE = "永久 复古自行车 26 寸 车筐和锁一起送"
BOOK = "《线性代数》同济第六版 附习题册"
COAT = "优衣库 摇粒绒外套 L 码"


def _local(moment) -> str:
    """A datetime-local value in Beijing time, as the browser's time field takes it."""
    from marketplace.events.service import SHANGHAI

    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def people(verified_user, db):
    """An organiser and two students of 宁夏大学, a resident of 兴庆区; each student has listings to bring or give."""
    from marketplace.listings import service

    def student(username, number, roles=("resident",)):
        return verified_user(username, roles=roles, kind="student", campus="nxu", student_no=number)

    organiser = student("nxu_org", "2023010001", roles=("organiser",))
    lin = student("nxu_lin", "2023010002")
    he = student("nxu_he", "2023010003")
    resident = verified_user("xq_resident", kind="resident")

    def listing(user, title, category, price):
        made = service.create(
            user,
            service.ListingInput(
                title=title, description="毕业清宿舍，九成新。", category=category, price=price, district="xixia"
            ),
        )
        db.session.commit()
        return made

    listing(lin, BIKE, "bicycles", "160")
    listing(lin, BOOK, "books", "12")
    listing(he, COAT, "clothing", "45")
    return organiser, lin, he, resident


def test_campus_flea_market_from_announcement_to_ratings(page_for, people, password, db):
    from marketplace.db import utcnow
    from marketplace.events.models import Event, Registration
    from marketplace.listings.models import Listing
    from marketplace.orders.models import Order

    organiser, lin, he, resident = people

    # The organiser announces a market for 宁夏大学's students, the day after tomorrow, through the form.
    starts = (utcnow() + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    org = page_for()
    log_in(org, organiser, password)
    org.goto("/events/new")
    org.get_by_label("活动名称").fill(TITLE)
    org.get_by_label("活动类型").select_option(label="校园跳蚤市场")
    org.get_by_label("活动地点").fill("宁夏大学贺兰山校区 学生活动中心前")
    org.get_by_label("所在区县").select_option(label="西夏区")
    org.get_by_label("开始时间（北京时间）").fill(_local(starts))
    org.get_by_label("结束时间（北京时间）").fill(_local(starts + timedelta(hours=3)))
    org.get_by_label("报名截止时间（北京时间）").fill(_local(starts - timedelta(hours=12)))
    org.get_by_label("摊位数").fill("10")
    org.get_by_label("仅限所选学校的认证学生").check()
    org.get_by_label("学校", exact=True).select_option(label="宁夏大学")
    org.get_by_label("活动介绍（选填）").fill("毕业生清宿舍专场：教材、衣物、自行车。")
    org.get_by_role("button", name="发布活动").click()
    assert "活动已发布" in main_text(org)
    event_id = id_in(org.url, "events")
    assert "仅限宁夏大学已认证的学生" in main_text(org)

    # 林 registers a stall: her check-in code is on the registration page, as text and as a QR code.
    stall = page_for()
    log_in(stall, lin, password)
    stall.goto(f"/events/{event_id}")
    stall.get_by_role("button", name="报名摆摊", exact=True).click()
    assert "报名成功" in main_text(stall)
    lin_code = stall.locator(".checkin-code__text").inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9]{8}", lin_code), lin_code
    assert stall.locator("figure.qr svg").count() == 1

    # She brings both her listings to the event: they carry the "at the event" badge on its page.
    stall.goto(f"/events/{event_id}")
    stall.get_by_role("link", name="带商品到活动").first.click()
    stall.get_by_label(BIKE).check()
    stall.get_by_label(BOOK).check()
    stall.get_by_role("button", name="带到活动").click()
    assert "已把 2 件商品带到活动" in main_text(stall)
    stall.goto(f"/events/{event_id}")
    cards = stall.locator("#listings li.card")
    assert cards.count() == 2
    for title in (BIKE, BOOK):
        card = stall.locator("#listings li.card", has_text=title)
        assert "活动中" in card.inner_text()

    # 何 registers to come and look around, and offers his coat for her bicycle.
    visitor = page_for()
    log_in(visitor, he, password)
    visitor.goto(f"/events/{event_id}")
    visitor.get_by_role("button", name="报名逛集").click()
    assert "报名成功" in main_text(visitor)
    he_code = visitor.locator(".checkin-code__text").inner_text().strip()
    visitor.goto(f"/events/{event_id}")
    visitor.locator("#listings li.card", has_text=BIKE).get_by_role("link", name="用我的商品交换").click()
    visitor.get_by_label(COAT).check()
    visitor.get_by_label("给对方留言（选填）").fill("外套只穿过一冬，想换你的自行车上课骑。")
    visitor.get_by_role("button", name="发出交换请求").click()
    assert "等待对方答复" in main_text(visitor)
    swap_url = visitor.url

    # 林 finds the offer among her events and accepts it: both listings swapped, a completed order for each side.
    stall.goto("/me/events")
    stall.get_by_role("link", name=re.compile("想用")).click()
    assert stall.url == swap_url
    stall.get_by_role("button", name="接受交换").click()
    assert "交换成功" in main_text(stall)
    db.session.rollback()
    titles = {listing.title: listing for listing in db.session.scalars(sa.select(Listing))}
    assert titles[BIKE].status == titles[COAT].status == "swapped" and titles[BOOK].status == "active"
    orders = {o.listing_id: o for o in db.session.scalars(sa.select(Order).where(Order.swap_offer_id.is_not(None)))}
    assert {(o.buyer_id, o.seller_id, o.status, o.price_fen) for o in orders.values()} == {
        (he.id, lin.id, "completed", 0),
        (lin.id, he.id, "completed", 0),
    }
    bike_order, coat_order = orders[titles[BIKE].id].id, orders[titles[COAT].id].id

    # A resident of the city who is not a student is refused while registration is open, and told why.
    outsider = page_for()
    log_in(outsider, resident, password)
    outsider.goto(f"/events/{event_id}")
    assert "本活动仅限已认证的宁夏大学学生报名" in main_text(outsider)
    assert outsider.get_by_role("button", name="报名摆摊").count() == 0

    # The market starts: half an hour ago. The organiser checks both in by the codes they show.
    now = utcnow().replace(microsecond=0)
    with writing(db):
        db.session.execute(
            sa.update(Event)
            .where(Event.id == event_id)
            .values(
                starts_at=now - timedelta(minutes=30),
                ends_at=now + timedelta(hours=3),
                registration_deadline=now - timedelta(hours=1),
            )
        )
    org.goto(f"/events/{event_id}")
    org.get_by_role("navigation", name="组织者操作").get_by_role("link", name="签到", exact=True).click()
    assert org.url.endswith(f"/events/{event_id}/checkin")
    for code, user in ((lin_code.lower(), lin), (he_code, he)):
        org.get_by_label("签到码").fill(code)
        org.get_by_role("button", name="签到", exact=True).click()
        result = org.locator(".checkin-result").inner_text()
        assert "签到成功" in result and user.display_name in result, result
    assert lin.display_name in org.locator(".checkin-recent").inner_text()
    db.session.rollback()
    came = db.session.scalars(sa.select(Registration).where(Registration.event_id == event_id)).all()
    assert {(r.user_id, r.role, r.checked_in_by) for r in came if r.checked_in_at} == {
        (lin.id, "stall", organiser.id),
        (he.id, "visitor", organiser.id),
    }
    stall.goto("/me/events")
    assert "已签到" in main_text(stall)

    # Both rate each other on both orders of the swap (the order pages, reached from the swap page).
    stall.goto(swap_url)
    assert stall.get_by_role("link", name=re.compile("去评价")).count() == 2
    stall.goto(f"/orders/{bike_order}")  # 林 sold her bicycle
    rate(stall, {"守时": 5, "沟通": 5}, "准时到摊位，交换很顺利。")
    stall.goto(f"/orders/{coat_order}")  # 林 got the coat
    rate(stall, {"描述相符": 5, "沟通": 5, "守时": 5}, "外套和描述一样，很干净。")
    visitor.goto(f"/orders/{bike_order}")
    assert "对方已经评价了你" in main_text(visitor)
    rate(visitor, {"描述相符": 4, "沟通": 5, "守时": 5}, "车况不错，车筐也送了。")
    visitor.goto(f"/orders/{coat_order}")
    rate(visitor, {"守时": 5, "沟通": 5}, "很爽快的买家。")
    main = main_text(visitor)
    assert "外套和描述一样" in main and "很爽快的买家" in main
    stall.goto(f"/orders/{bike_order}")
    main = main_text(stall)
    assert "车况不错" in main and "准时到摊位" in main

    # The calendar link gives a text/calendar document a calendar application imports.
    href = outsider.get_by_role("link", name="加入我的日历（.ics）").get_attribute("href")
    response = outsider.request.get(href)
    assert response.ok and response.headers["content-type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(response.body())
    (vevent,) = calendar.walk("VEVENT")
    assert str(vevent["SUMMARY"]) == TITLE
    assert vevent.decoded("DTSTART") == now - timedelta(minutes=30)
    assert "宁夏大学贺兰山校区" in str(vevent["LOCATION"])
