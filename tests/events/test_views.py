"""Event pages: the list, the calendar, the event page, registration with its QR code, my events,
the organiser's pages (create, edit, cancel, console, check-in), listings brought to an event, swaps,
no-show appeals, and the small additions elsewhere (navigation, home page, the listing card badge)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from marketplace.db import utcnow
from marketplace.events import service, settlement, swaps
from marketplace.events import views as event_views
from marketplace.events.models import Event, Registration, SwapOffer
from marketplace.listings.models import Listing
from marketplace.orders.models import Order


@pytest.fixture
def browser(app, login):
    """browser(user) → a separate logged-in client."""

    def make(user):
        return login(user, app.test_client())

    return make


def _html(resp) -> str:
    return resp.get_data(as_text=True)


def _location(resp) -> str:
    assert resp.status_code == 302, _html(resp)[-2000:]
    return resp.headers["Location"]


def _registration_of(db, user, event) -> Registration | None:
    return db.session.scalar(
        sa.select(Registration).where(
            Registration.event_id == event.id, Registration.user_id == user.id, Registration.status != "cancelled"
        )
    )


def _flashes(html: str) -> list[str]:
    return re.findall(r'<p class="flash flash--\w+"[^>]*>(.*?)</p>', html, re.S)


def _event_form(**overrides) -> dict:
    """What an organiser types into the new-event form (Beijing time, in 10 days)."""
    day = (utcnow() + timedelta(days=10)).astimezone(service.SHANGHAI).date()
    data = {
        "title": "宁大冬季跳蚤市场",
        "kind": "campus_flea",
        "description": "带上闲置来换。\n第二行说明。",
        "venue": "宁夏大学怀远校区东门广场",
        "district": "xixia",
        "starts_at": f"{day.isoformat()}T09:30",
        "ends_at": f"{day.isoformat()}T13:30",
        "registration_deadline": f"{(day - timedelta(days=1)).isoformat()}T20:00",
        "stalls": "12",
        "restriction": "campus",
        "campus": "nxu",
    }
    data.update(overrides)
    return data


# --- navigation, home page, listing cards ----------------------------------------------------------------


def test_navigation_links_to_events_for_everyone(client, browser, nxu_student):
    nav = re.search(r'<nav class="nav".*?</nav>', _html(client.get("/")), re.S).group(0)
    assert 'href="/events"' in nav and "/me/events" not in nav
    nav = re.search(r'<nav class="nav".*?</nav>', _html(browser(nxu_student).get("/")), re.S).group(0)
    assert 'href="/events"' in nav and 'href="/me/events"' in nav


def test_home_shows_the_next_four_events(client, make_event):
    assert "近期还没有活动。" in _html(client.get("/"))
    made = [make_event("community_swap", title=f"社区换物第{n}场", starts_in=timedelta(days=n + 1)) for n in range(5)]
    html = _html(client.get("/"))
    for event in made[:4]:
        assert f'href="/events/{event.id}"' in html
    assert f'href="/events/{made[4].id}"' not in html
    assert "近期还没有活动。" not in html


def test_listing_card_says_at_the_event(client, event, nxu_student, register, bring, make_listing_for):
    register(nxu_student, event)
    (brought,) = bring(nxu_student, event)
    plain = make_listing_for(nxu_student, title="只在网上卖的手机")
    html = _html(client.get("/search"))
    card = re.search(rf'<li class="card">(?:(?!</li>).)*?/listings/{brought.id}".*?</li>', html, re.S).group(0)
    assert "活动中" in card
    other = re.search(rf'<li class="card">(?:(?!</li>).)*?/listings/{plain.id}".*?</li>', html, re.S).group(0)
    assert "活动中" not in other


# --- the list and the calendar ----------------------------------------------------------------------


def test_event_list_empty_state_and_links(client, browser, organiser, nxu_student):
    html = _html(client.get("/events"))
    assert "<h1>" in html and "近期还没有活动。" in html
    assert 'href="/events.ics"' in html and 'href="/events/calendar"' in html and "past=1" in html
    assert "发起活动" not in html
    assert "发起活动" not in _html(browser(nxu_student).get("/events"))
    assert 'href="/events/new"' in _html(browser(organiser).get("/events"))


def test_event_list_filters_by_kind_and_district(client, make_event):
    flea = make_event()
    swap = make_event("community_swap")
    books = make_event("book_share", district="xingqing", venue="兴庆区图书馆", starts_in=timedelta(days=5))
    html = _html(client.get("/events"))
    assert all(f'href="/events/{e.id}"' in html for e in (flea, swap, books))
    assert "校园跳蚤市场" in html and "社区换物" in html and "限宁夏大学学生" in html
    html = _html(client.get("/events?kind=community_swap"))
    assert f'href="/events/{swap.id}"' in html and f'href="/events/{flea.id}"' not in html
    assert '<option value="community_swap" selected>' in html
    html = _html(client.get("/events?district=xingqing"))
    assert f'href="/events/{books.id}"' in html and f'href="/events/{swap.id}"' not in html
    html = _html(client.get("/events?kind=book_share&district=jinfeng"))
    assert "没有符合条件的近期活动。" in html
    # Unknown filter values are ignored, not errors.
    assert client.get("/events?kind=rave&district=mars").status_code == 200


def test_event_list_pages_soonest_first(client, make_event, monkeypatch):
    monkeypatch.setattr(event_views, "LIST_PAGE", 2)
    made = [make_event("community_swap", title=f"换物日{n}", starts_in=timedelta(days=n + 1)) for n in range(3)]
    html = _html(client.get("/events"))
    assert html.index(f'href="/events/{made[0].id}"') < html.index(f'href="/events/{made[1].id}"')
    assert f'href="/events/{made[2].id}"' not in html
    more = re.search(r'<a href="(/events\?after=[^"]+)" rel="next">', html).group(1).replace("&amp;", "&")
    html = _html(client.get(more))
    assert f'href="/events/{made[2].id}"' in html and f'href="/events/{made[0].id}"' not in html
    assert "回到最近的活动" in html
    for bad in ("nonsense", "2026_x", "99999999T999999_1", "_" * 50, "20261201T000000_0"):
        html = _html(client.get(f"/events?after={bad}"))
        assert f'href="/events/{made[0].id}"' in html, bad


def test_past_events_are_listed_apart(client, make_event, make_past):
    old = make_past(make_event(title="去年的跳蚤市场"))
    coming = make_event("community_swap")
    html = _html(client.get("/events"))
    assert f'href="/events/{coming.id}"' in html and f'href="/events/{old.id}"' not in html
    html = _html(client.get("/events?past=1"))
    assert "往期活动" in html and f'href="/events/{old.id}"' in html and f'href="/events/{coming.id}"' not in html


def test_calendar_shows_the_month_of_an_event(client, make_event):
    event = make_event("community_swap", title="月历里的换物日", starts_in=timedelta(days=40))
    local = event.starts_at.astimezone(service.SHANGHAI)
    month = f"{local.year:04d}-{local.month:02d}"
    html = _html(client.get(f"/events/calendar?month={month}"))
    assert f"{local.year} 年 {local.month} 月" in html
    assert "月历里的换物日" in html and f'href="/events/{event.id}"' in html
    assert f'datetime="{local.date().isoformat()}"' in html
    assert html.index("周一") < html.index("周日")
    assert "month=" in html and 'rel="prev"' in html and 'rel="next"' in html
    # Another month: the empty state; a bad month: the current one.
    assert "这个月没有活动。" in _html(client.get("/events/calendar?month=2001-02"))
    now = utcnow().astimezone(service.SHANGHAI)
    for bad in ("2026-13", "abcd-ef", "1999-01", "202612", "２０２６-１２"):
        resp = client.get(f"/events/calendar?month={bad}")
        assert resp.status_code == 200 and f"{now.year} 年 {now.month} 月" in _html(resp), bad


def test_calendar_december_links_to_january(client):
    html = _html(client.get("/events/calendar?month=2026-12"))
    assert "month=2026-11" in html and "month=2027-01" in html


# --- the event page -------------------------------------------------------------------------------------


def test_event_page_for_a_visitor(client, event, organiser):
    html = _html(client.get(f"/events/{event.id}"))
    assert event.title in html and "校园跳蚤市场" in html and "报名中" in html
    assert "宁夏大学怀远校区东门广场" in html and "西夏区" in html
    assert "仅限宁夏大学已认证的学生" in html
    assert "摊位 0 / 2" in html
    assert organiser.display_name in html
    assert "带上闲置，换点用得上的。\n\n请准时到场。" in html  # plain text, line breaks kept (pre-wrap)
    assert f'href="/events/{event.id}.ics"' in html
    assert f"/login?next=/events/{event.id}" in html
    assert "还没有摊主把商品带到这个活动。" in html
    assert "活动管理" not in html
    local = event.starts_at.astimezone(service.SHANGHAI)
    assert local.strftime("%Y-%m-%d") in html and local.strftime("%H:%M") in html


def test_event_page_unknown_is_404(client):
    assert client.get("/events/999999").status_code == 404
    assert client.get("/events/99999999999").status_code == 404


def test_non_student_is_refused_with_the_reason(db, browser, event, resident):
    b = browser(resident)
    html = _html(b.get(f"/events/{event.id}"))
    assert "本活动仅限已认证的宁夏大学学生报名" in html
    assert 'value="stall"' not in html
    resp = b.post(f"/events/{event.id}/register", data={"role": "stall"})
    assert _location(resp).endswith(f"/events/{event.id}")
    html = _html(b.get(f"/events/{event.id}"))
    assert any("仅限已认证的宁夏大学学生" in message for message in _flashes(html))
    assert _registration_of(db, resident, event) is None


def test_unverified_user_is_sent_to_verification(browser, event, make_user):
    html = _html(browser(make_user("plain1")).get(f"/events/{event.id}"))
    assert "报名活动需要先完成实名认证。" in html and 'href="/me/verification"' in html


def test_organiser_sees_the_console_link_not_the_form(browser, event, organiser):
    html = _html(browser(organiser).get(f"/events/{event.id}"))
    assert f'href="/events/{event.id}/console"' in html and f'href="/events/{event.id}/checkin"' in html
    assert f'href="/events/{event.id}/edit"' in html and f'href="/events/{event.id}/cancel"' in html
    assert 'name="role"' not in html


def test_register_needs_login_and_csrf(db, client, browser, event, nxu_student):
    resp = client.post(f"/events/{event.id}/register", data={"role": "stall"})
    assert "/login" in _location(resp)
    b = browser(nxu_student)
    assert b.post(f"/events/{event.id}/register", data={"role": "stall"}, csrf=False).status_code == 400
    assert _registration_of(db, nxu_student, event) is None


def test_student_registers_a_stall_and_sees_the_code(db, browser, event, nxu_student):
    b = browser(nxu_student)
    html = _html(b.get(f"/events/{event.id}"))
    assert 'name="role" value="stall"' in html and 'name="role" value="visitor"' in html
    target = _location(b.post(f"/events/{event.id}/register", data={"role": "stall"}))
    registration = _registration_of(db, nxu_student, event)
    assert registration.status == "registered" and registration.role == "stall"
    assert target.endswith(f"/registrations/{registration.id}")
    html = _html(b.get(target))
    assert any(registration.checkin_code in message and "报名成功" in message for message in _flashes(html))
    assert f'<span class="checkin-code__text">{registration.checkin_code}</span>' in html
    assert "<svg" in html and 'class="qr__code"' in html
    assert "摆摊" in html and "已报名" in html
    assert f'href="/registrations/{registration.id}/cancel"' in html
    # The event page now shows the registration instead of the form.
    html = _html(b.get(f"/events/{event.id}"))
    assert "你已报名" in html and 'name="role"' not in html
    assert f'href="/registrations/{registration.id}"' in html and f'href="/events/{event.id}/attach"' in html
    # Twice: told so, and sent to the registration.
    resp = b.post(f"/events/{event.id}/register", data={"role": "visitor"})
    assert _location(resp).endswith(f"/registrations/{registration.id}")


def test_the_qr_code_opens_the_check_in_page_with_the_code(browser, event, nxu_student, register):
    registration = register(nxu_student, event)
    b = browser(nxu_student)
    resp = b.get(f"/registrations/{registration.id}/qr.svg")
    assert resp.status_code == 200 and resp.mimetype == "image/svg+xml"
    assert resp.get_data().lstrip().startswith(b"<?xml") or b"<svg" in resp.get_data()[:300]
    assert event_views._checkin_url(registration) == (
        f"http://localhost/events/{event.id}/checkin?code={registration.checkin_code}"
    )


def test_full_stalls_put_the_next_stallholder_on_the_waiting_list(db, browser, make_event, make_student):
    event = make_event(stalls=1)
    first, second = make_student("nxu", "stu_a"), make_student("nxu", "stu_b")
    browser(first).post(f"/events/{event.id}/register", data={"role": "stall"})
    b = browser(second)
    html = _html(b.get(f"/events/{event.id}"))
    assert "报名摆摊（进入候补）" in html and "摊位 1 / 1" in html
    target = _location(b.post(f"/events/{event.id}/register", data={"role": "stall"}))
    html = _html(b.get(target))
    assert any("摊位已满，你在候补名单第 1 位" in message for message in _flashes(html))
    assert "候补中" in html
    html = _html(b.get(f"/events/{event.id}"))
    assert "候补名单第 1 位" in html and "1 位摊主在候补名单上" in html


def test_visitor_registration(db, browser, event, nxu_student):
    b = browser(nxu_student)
    b.post(f"/events/{event.id}/register", data={"role": "visitor"})
    registration = _registration_of(db, nxu_student, event)
    assert registration.role == "visitor" and registration.status == "registered"
    html = _html(b.get(f"/events/{event.id}"))
    assert f'href="/events/{event.id}/attach"' not in html  # only stallholders bring listings


def test_bad_role_is_refused(db, browser, event, nxu_student):
    b = browser(nxu_student)
    b.post(f"/events/{event.id}/register", data={"role": "vip"})
    assert _registration_of(db, nxu_student, event) is None
    assert any("请选择摆摊或逛集" in m for m in _flashes(_html(b.get(f"/events/{event.id}"))))


def test_registration_page_is_private(client, browser, event, nxu_student, make_student, organiser, register):
    registration = register(nxu_student, event)
    path = f"/registrations/{registration.id}"
    assert "/login" in _location(client.get(path))
    other = browser(make_student("nxu", "nosy"))
    assert other.get(path).status_code == 404
    assert other.get(path + "/qr.svg").status_code == 404
    html = _html(browser(organiser).get(path))
    assert nxu_student.display_name in html and registration.checkin_code in html
    assert browser(organiser).get(path + "/cancel").status_code == 403


# --- cancelling a registration ----------------------------------------------------------------------------


def test_cancel_registration_confirms_then_cancels(db, browser, event, nxu_student, register):
    registration = register(nxu_student, event)
    b = browser(nxu_student)
    html = _html(b.get(f"/registrations/{registration.id}/cancel"))
    assert "确认取消报名" in html and "距开始不足 24 小时" not in html
    assert _location(b.post(f"/registrations/{registration.id}/cancel", data={})).endswith(f"/events/{event.id}")
    db.session.refresh(registration)
    assert registration.status == "cancelled" and not registration.late_cancellation
    # Again: told it is already cancelled.
    assert _location(b.get(f"/registrations/{registration.id}/cancel")).endswith(f"/registrations/{registration.id}")


def test_late_cancellation_is_warned_about(db, browser, event, nxu_student, register, reschedule):
    registration = register(nxu_student, event)
    reschedule(event, utcnow() + timedelta(hours=10), registration_deadline=utcnow() + timedelta(hours=1))
    b = browser(nxu_student)
    html = _html(b.get(f"/registrations/{registration.id}/cancel"))
    assert "距开始不足 24 小时，取消仍会记为缺席" in html
    b.post(f"/registrations/{registration.id}/cancel", data={})
    db.session.refresh(registration)
    assert registration.status == "cancelled" and registration.late_cancellation


# --- the organiser: create, edit, cancel, open and close ------------------------------------------------------


def test_new_event_is_for_organisers(client, browser, nxu_student):
    assert "/login" in _location(client.get("/events/new"))
    assert browser(nxu_student).get("/events/new").status_code == 403
    assert browser(nxu_student).post("/events/new", data=_event_form()).status_code == 403


def test_new_event_form_creates_in_beijing_time(db, browser, organiser):
    b = browser(organiser)
    html = _html(b.get("/events/new"))
    assert 'type="datetime-local"' in html and 'name="restriction"' in html and "宁夏大学" in html
    data = _event_form()
    event_id = int(re.search(r"/events/(\d+)$", _location(b.post("/events/new", data=data))).group(1))
    event = db.session.get(Event, event_id)
    assert event.title == "宁大冬季跳蚤市场" and event.stalls == 12 and event.campus == "nxu"
    local = datetime.fromisoformat(data["starts_at"]).replace(tzinfo=service.SHANGHAI)
    assert event.starts_at == local.astimezone(UTC)
    assert event.starts_at.astimezone(UTC).hour == (9 - 8) % 24  # 09:30 in Beijing is 01:30 UTC
    html = _html(b.get(f"/events/{event_id}"))
    assert "活动已发布" in html and "09:30" in html and "13:30" in html


def test_new_event_errors_keep_what_was_typed(db, browser, organiser):
    b = browser(organiser)
    data = _event_form(title="", stalls="很多", venue="图书馆南门前")
    data["ends_at"] = data["starts_at"].replace("T09:30", "T08:00")
    resp = b.post("/events/new", data=data)
    assert resp.status_code == 422
    html = _html(resp)
    assert "请填写活动名称" in html and "结束时间须晚于开始时间" in html and "摊位数应为 0 到" in html
    assert 'value="图书馆南门前"' in html and 'value="很多"' in html
    assert f'value="{data["starts_at"]}"' in html
    assert re.search(r'<option selected value="xixia">|<option value="xixia" selected>', html)
    assert "带上闲置来换。\n第二行说明。" in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == 0


def test_campus_market_needs_a_campus(browser, organiser):
    resp = browser(organiser).post("/events/new", data=_event_form(campus="", restriction="none"))
    assert resp.status_code == 422 and "校园跳蚤市场须选择举办的学校" in _html(resp)


def test_edit_is_prefilled_in_beijing_time(db, browser, event, organiser, other_organiser):
    assert browser(other_organiser).get(f"/events/{event.id}/edit").status_code == 403
    b = browser(organiser)
    html = _html(b.get(f"/events/{event.id}/edit"))
    local = event.starts_at.astimezone(service.SHANGHAI).strftime("%Y-%m-%dT%H:%M")
    assert f'value="{local}"' in html and f'value="{event.title}"' in html and 'value="2"' in html
    data = {
        "title": event.title,
        "kind": event.kind,
        "description": event.description,
        "venue": "宁夏大学文萃校区操场",
        "district": event.district,
        "starts_at": local,
        "ends_at": event.ends_at.astimezone(service.SHANGHAI).strftime("%Y-%m-%dT%H:%M"),
        "registration_deadline": event.registration_deadline.astimezone(service.SHANGHAI).strftime("%Y-%m-%dT%H:%M"),
        "stalls": "5",
        "restriction": "campus",
        "campus": "nxu",
    }
    assert _location(b.post(f"/events/{event.id}/edit", data=data)).endswith(f"/events/{event.id}")
    db.session.refresh(event)
    assert event.venue == "宁夏大学文萃校区操场" and event.stalls == 5
    # An error keeps what was typed.
    resp = b.post(f"/events/{event.id}/edit", data={**data, "stalls": "-3", "venue": "新地点"})
    assert resp.status_code == 422 and 'value="新地点"' in _html(resp) and 'value="-3"' in _html(resp)


def test_cancel_event_confirms_with_a_reason(db, browser, event, organiser, nxu_student, register):
    register(nxu_student, event)
    b = browser(organiser)
    html = _html(b.get(f"/events/{event.id}/cancel"))
    assert "确认取消活动" in html and 'name="reason"' in html
    resp = b.post(f"/events/{event.id}/cancel", data={"reason": "雨"})
    assert resp.status_code == 422 and "请写明取消的原因" in _html(resp) and "雨</textarea>" in _html(resp)
    assert _location(b.post(f"/events/{event.id}/cancel", data={"reason": "暴雨预警，活动改期另行通知"}))
    db.session.refresh(event)
    assert event.status == "cancelled"
    html = _html(browser(nxu_student).get(f"/events/{event.id}"))
    assert "活动已取消" in html and "暴雨预警，活动改期另行通知" in html
    assert 'name="role"' not in html
    # Cancelled: no more edits, no second cancel.
    assert _location(b.get(f"/events/{event.id}/edit")).endswith(f"/events/{event.id}")
    assert _location(b.get(f"/events/{event.id}/cancel")).endswith(f"/events/{event.id}")


def test_close_and_reopen_registration(db, browser, event, organiser, nxu_student):
    b = browser(organiser)
    assert browser(nxu_student).post(f"/events/{event.id}/registration/close", data={}).status_code == 403
    assert _location(b.post(f"/events/{event.id}/registration/close", data={})).endswith("/console")
    db.session.refresh(event)
    assert event.status == "closed"
    assert "报名已截止。" in _html(browser(nxu_student).get(f"/events/{event.id}"))
    assert "重新开放报名" in _html(b.get(f"/events/{event.id}/console"))
    b.post(f"/events/{event.id}/registration/open", data={})
    db.session.refresh(event)
    assert event.status == "open"


# --- the console and check-in ---------------------------------------------------------------------------------


def test_console_is_for_the_organiser(client, browser, event, nxu_student, other_organiser):
    assert "/login" in _location(client.get(f"/events/{event.id}/console"))
    assert browser(nxu_student).get(f"/events/{event.id}/console").status_code == 403
    assert browser(other_organiser).get(f"/events/{event.id}/console").status_code == 403
    assert browser(nxu_student).get(f"/events/{event.id}/checkin").status_code == 403
    assert browser(nxu_student).post(f"/events/{event.id}/checkin", data={"code": "ABCDEFGH"}).status_code == 403


def test_console_lists_stallholders_waiting_list_and_visitors(db, browser, make_event, make_student, register):
    event = make_event(stalls=1)
    a, b, c, d = (make_student("nxu", f"stu{n}") for n in range(4))
    ra = register(a, event)
    rb = register(b, event)
    register(c, event, "visitor")
    rd = register(d, event)
    service.cancel_registration(d, rd)
    db.session.commit()
    html = _html(browser(event.organiser).get(f"/events/{event.id}/console"))
    for section in ("摊主（1）", "候补名单（1）", "逛集（1）", "已取消（1）"):
        assert section in html
    assert ra.checkin_code in html and rb.checkin_code in html  # the full code, for the organiser
    for person in (a, b, c, d):
        assert person.display_name in html
    assert "未签到" in html and f'href="/events/{event.id}/checkin"' in html
    assert "活动总结" not in html  # not over yet


def test_console_shows_the_summary_after_the_event(
    db, browser, event, organiser, nxu_student, register, bring, make_past
):
    register(nxu_student, event)
    bring(nxu_student, event, 2, category="books", title="高等数学 第七版", grading=None, price_fen=1000)
    make_past(event)
    html = _html(browser(organiser).get(f"/events/{event.id}/console"))
    assert "活动总结" in html and "带到活动的商品" in html and "估计减少废弃物约" in html
    assert "<td>图书</td>" in html


def test_check_in_by_code(db, browser, event, organiser, nxu_student, register, make_running):
    registration = register(nxu_student, event)
    b = browser(organiser)
    # Before the window opens: refused with the reason, the code kept.
    html = _html(b.get(f"/events/{event.id}/checkin?code={registration.checkin_code.lower()}"))
    assert f'value="{registration.checkin_code}"' in html and "现在不在签到时间内" in html
    resp = b.post(f"/events/{event.id}/checkin", data={"code": registration.checkin_code})
    assert resp.status_code == 409 and "现在不在签到时间内" in _html(resp)
    make_running(event)
    target = _location(b.post(f"/events/{event.id}/checkin", data={"code": registration.checkin_code.lower()}))
    html = _html(b.get(target))
    assert "签到成功" in html and nxu_student.display_name in html and "摆摊" in html
    assert "最近签到" in html and "还没有人签到。" not in html
    db.session.refresh(registration)
    assert registration.checked_in_at is not None
    # Twice, a malformed code, an unknown code: each said on the page.
    resp = b.post(f"/events/{event.id}/checkin", data={"code": registration.checkin_code})
    assert resp.status_code == 409 and "已经签到过了" in _html(resp)
    resp = b.post(f"/events/{event.id}/checkin", data={"code": "12"})
    assert resp.status_code == 422 and "签到码是 8 位字母和数字" in _html(resp)
    resp = b.post(f"/events/{event.id}/checkin", data={"code": "ZZZZZZZZ"})
    assert resp.status_code == 404 and "这个签到码不属于本活动" in _html(resp)
    # The participant sees the check-in on their registration.
    html = _html(browser(nxu_student).get(f"/registrations/{registration.id}"))
    assert "已于" in html and "签到" in html
    assert "签到" in _html(browser(organiser).get(f"/events/{event.id}/console"))


def test_check_in_done_param_is_checked(browser, event, organiser, nxu_student, register):
    registration = register(nxu_student, event)
    html = _html(browser(organiser).get(f"/events/{event.id}/checkin?done={registration.id}"))
    assert "签到成功" not in html  # not checked in
    assert browser(organiser).get(f"/events/{event.id}/checkin?done=abc").status_code == 200


# --- listings brought to the event ------------------------------------------------------------------------------


def test_stallholder_brings_and_takes_back_listings(
    db, client, browser, event, nxu_student, register, make_listing_for
):
    register(nxu_student, event)
    first = make_listing_for(nxu_student, title="九成新台灯")
    second = make_listing_for(nxu_student, title="考研英语真题")
    b = browser(nxu_student)
    html = _html(b.get(f"/events/{event.id}/attach"))
    assert f'value="{first.id}"' in html and f'value="{second.id}"' in html and "还没有带商品到这个活动。" in html
    resp = b.post(f"/events/{event.id}/attach", data={})
    assert resp.status_code == 422 and "请选择要带到活动的商品" in _html(resp)
    target = _location(b.post(f"/events/{event.id}/attach", data={"listing_ids": [str(first.id), str(second.id)]}))
    assert target.endswith(f"/events/{event.id}/attach")
    assert db.session.scalar(sa.select(Listing.event_id).where(Listing.id == first.id)) == event.id
    html = _html(client.get(f"/events/{event.id}"))
    assert "九成新台灯" in html and "考研英语真题" in html and "活动中" in html
    html = _html(client.get(f"/events/{event.id}?q=台灯"))
    assert "九成新台灯" in html and "考研英语真题" not in html
    assert "没有找到" in _html(client.get(f"/events/{event.id}?q=冰箱"))
    # A broken "more" link falls back to the first page.
    html = _html(client.get(f"/events/{event.id}?cursor=broken"))
    assert "九成新台灯" in html and any("翻页链接已失效" in m for m in _flashes(html))
    # Take one back.
    assert _location(b.post(f"/listings/{first.id}/detach", data={})).endswith(f"/events/{event.id}/attach")
    assert db.session.scalar(sa.select(Listing.event_id).where(Listing.id == first.id)) is None
    assert "九成新台灯" not in _html(client.get(f"/events/{event.id}"))


def test_someone_elses_listing_cannot_be_brought_or_taken_back(
    db, browser, event, nxu_student, make_student, register, bring
):
    register(nxu_student, event)
    (mine,) = bring(nxu_student, event)
    other = make_student("nxu", "other_stall")
    register(other, event)
    b = browser(other)
    resp = b.post(f"/events/{event.id}/attach", data={"listing_ids": str(mine.id)})
    assert resp.status_code == 422 and "只能带自己的商品" in _html(resp)
    assert b.post(f"/listings/{mine.id}/detach", data={}).status_code == 403


def test_only_stallholders_with_a_stall_bring_listings(db, browser, event, nxu_student, register):
    register(nxu_student, event, "visitor")
    b = browser(nxu_student)
    assert _location(b.get(f"/events/{event.id}/attach")).endswith(f"/events/{event.id}")
    assert any("只有报名摆摊的摊主" in m for m in _flashes(_html(b.get(f"/events/{event.id}"))))


# --- swaps --------------------------------------------------------------------------------------------------------


@pytest.fixture
def swap_setup(db, swap_event, make_resident, register, bring, make_listing_for):
    """Two stallholders at a community swap: the owner brought a listing, the offerer has one of their own."""
    owner = make_resident("jinfeng", "owner1")
    offerer = make_resident("xingqing", "offerer1")
    register(owner, swap_event)
    register(offerer, swap_event)
    (wanted,) = bring(owner, swap_event, title="儿童自行车 16 寸", category="bicycles", grading=None, price_fen=8000)
    given = make_listing_for(offerer, title="宜家书架 白色", category="furniture", grading=None, price_fen=5000)
    return swap_event, owner, offerer, wanted, given


def test_swap_offer_accept_and_orders(db, client, browser, swap_setup):
    event, owner, offerer, wanted, given = swap_setup
    o = browser(offerer)
    html = _html(o.get(f"/events/{event.id}"))
    assert f'href="/events/{event.id}/swap/{wanted.id}"' in html and "用我的商品交换" in html
    assert "用我的商品交换" not in _html(browser(owner).get(f"/events/{event.id}"))  # not for one's own
    assert "用我的商品交换" not in _html(client.get(f"/events/{event.id}"))

    html = _html(o.get(f"/events/{event.id}/swap/{wanted.id}"))
    assert "儿童自行车 16 寸" in html and f'value="{given.id}"' in html
    resp = o.post(f"/events/{event.id}/swap/{wanted.id}", data={"message": "书架几乎全新，换你的自行车"})
    assert resp.status_code == 422
    html = _html(resp)
    assert "请选择你要拿来交换的商品" in html and "书架几乎全新，换你的自行车" in html
    target = _location(
        o.post(
            f"/events/{event.id}/swap/{wanted.id}",
            data={"offer_listing_ids": str(given.id), "message": "书架几乎全新，换你的自行车"},
        )
    )
    offer = db.session.scalar(sa.select(SwapOffer))
    assert target.endswith(f"/swaps/{offer.id}") and offer.status == "pending"
    html = _html(o.get(target))
    assert "等待对方答复" in html and "撤回请求" in html and "接受交换" not in html

    w = browser(owner)
    html = _html(w.get("/me/events"))
    assert "收到的交换请求" in html and "宜家书架 白色" in html and "接受交换" in html
    html = _html(w.get(target))
    assert "接受交换" in html and "婉拒" in html and "书架几乎全新，换你的自行车" in html
    assert _location(w.post(f"/swaps/{offer.id}/accept", data={})).endswith(f"/swaps/{offer.id}")
    db.session.refresh(offer)
    assert offer.status == "accepted"
    assert {db.session.get(Listing, i).status for i in (wanted.id, given.id)} == {"swapped"}
    orders = db.session.scalars(sa.select(Order).where(Order.swap_offer_id == offer.id)).all()
    assert len(orders) == 2
    html = _html(w.get(target))
    assert "交换成功" in html and "已成交" in html
    for order in orders:
        assert f'href="/orders/{order.id}"' in html
    # Accepting twice is refused with the state.
    w.post(f"/swaps/{offer.id}/accept", data={})
    assert any("已经" in m for m in _flashes(_html(w.get(target))))


def test_swap_decline_withdraw_and_privacy(db, browser, swap_setup, make_resident):
    event, owner, offerer, wanted, given = swap_setup
    offer = swaps.make_offer(offerer, event, wanted.id, [given.id], "")
    db.session.commit()
    stranger = browser(make_resident("jinfeng", "stranger"))
    assert stranger.get(f"/swaps/{offer.id}").status_code == 404
    assert stranger.post(f"/swaps/{offer.id}/accept", data={}).status_code == 404
    # The offerer cannot accept their own offer; the owner cannot withdraw it.
    assert browser(offerer).post(f"/swaps/{offer.id}/accept", data={}).status_code == 403
    assert browser(owner).post(f"/swaps/{offer.id}/withdraw", data={}).status_code == 403
    browser(owner).post(f"/swaps/{offer.id}/decline", data={})
    db.session.refresh(offer)
    assert offer.status == "declined"
    again = swaps.make_offer(offerer, event, wanted.id, [given.id], "")
    db.session.commit()
    o = browser(offerer)
    html = _html(o.get("/me/events"))
    assert "我发出的交换请求" in html and "撤回请求" in html and "对方已婉拒" in html
    o.post(f"/swaps/{again.id}/withdraw", data={})
    db.session.refresh(again)
    assert again.status == "withdrawn"


def test_swap_form_refusals(db, browser, swap_setup, make_resident, register):
    event, owner, offerer, wanted, given = swap_setup
    # Not registered: refused.
    outsider = make_resident("jinfeng", "outsider")
    assert browser(outsider).get(f"/events/{event.id}/swap/{wanted.id}").status_code == 403
    # One's own listing: sent back to the event.
    assert _location(browser(owner).get(f"/events/{event.id}/swap/{wanted.id}")).endswith(f"/events/{event.id}")
    # A listing not at this event: not found.
    assert browser(offerer).get(f"/events/{event.id}/swap/{given.id}").status_code == 404
    # A registered participant without listings: the empty state.
    visitor = make_resident("jinfeng", "visitor9")
    register(visitor, event, "visitor")
    html = _html(browser(visitor).get(f"/events/{event.id}/swap/{wanted.id}"))
    assert "你还没有在售的商品可以拿来交换。" in html


# --- my events ---------------------------------------------------------------------------------------------


def test_my_events(client, browser, event, nxu_student, organiser, register):
    assert "/login" in _location(client.get("/me/events"))
    b = browser(nxu_student)
    html = _html(b.get("/me/events"))
    assert "你还没有报名任何活动。" in html and "还没有人向你发出交换请求" in html
    assert "我组织的活动" not in html
    registration = register(nxu_student, event)
    html = _html(b.get("/me/events"))
    assert event.title in html and registration.checkin_code in html
    assert f'href="/registrations/{registration.id}"' in html
    html = _html(browser(organiser).get("/me/events"))
    assert "我组织的活动" in html and f'href="/events/{event.id}/console"' in html


# --- no-shows and their appeal ------------------------------------------------------------------------------


def test_no_show_appeal_and_decision(db, browser, event, organiser, nxu_student, register, make_past):
    registration = register(nxu_student, event)
    make_past(event)
    assert settlement.settle(event) == 1
    db.session.commit()
    b = browser(nxu_student)
    html = _html(b.get(f"/registrations/{registration.id}"))
    assert "缺席记录" in html and "提交申诉" in html
    resp = b.post(f"/registrations/{registration.id}/appeal", data={"reason": "生病了"})
    assert resp.status_code == 422 and "至少 10 个字" in _html(resp) and "生病了</textarea>" in _html(resp)
    reason = "那天发高烧去了校医院，有病历可以证明。"
    assert _location(b.post(f"/registrations/{registration.id}/appeal", data={"reason": reason}))
    db.session.refresh(registration)
    assert registration.appeal_status == "pending"
    html = _html(b.get(f"/registrations/{registration.id}"))
    assert "申诉处理中" in html and reason in html and "提交申诉" not in html
    # The appellant cannot decide their own appeal.
    assert b.post(f"/registrations/{registration.id}/appeal/decision", data={"outcome": "excused"}).status_code == 403

    o = browser(organiser)
    html = _html(o.get(f"/events/{event.id}/console"))
    assert "待处理的缺席申诉" in html and reason in html
    resp = o.post(f"/registrations/{registration.id}/appeal/decision", data={"note": "没选"})
    assert resp.status_code == 422 and "请选择免除或维持" in _html(resp)
    target = _location(
        o.post(f"/registrations/{registration.id}/appeal/decision", data={"outcome": "excused", "note": "情况属实"})
    )
    assert f"/events/{event.id}/console" in target
    db.session.refresh(registration)
    assert registration.appeal_status == "excused"
    html = _html(b.get(f"/registrations/{registration.id}"))
    assert "申诉成立" in html and "情况属实" in html


# --- no server errors ---------------------------------------------------------------------------------------


def test_no_page_fails(db, client, browser, event, organiser, nxu_student, register, bring, make_event, make_past):
    registration = register(nxu_student, event)
    bring(nxu_student, event)
    cancelled = make_event("community_swap", title="取消的活动")
    service.cancel(organiser, cancelled, "场地临时不能用")
    db.session.commit()
    ended = make_past(make_event("book_share", title="结束的旧书分享"))
    pages = [
        "/",
        "/events",
        "/events?past=1",
        "/events/calendar",
        "/events/calendar?month=2026-02",
        f"/events/{event.id}",
        f"/events/{event.id}?q=%E6%89%8B%E6%9C%BA",
        f"/events/{event.id}?cursor=garbage",
        f"/events/{cancelled.id}",
        f"/events/{ended.id}",
    ]
    for path in pages:
        assert client.get(path).status_code == 200, path
    o = browser(organiser)
    for path in (
        *pages,
        "/events/new",
        "/me/events",
        f"/events/{event.id}/edit",
        f"/events/{event.id}/cancel",
        f"/events/{event.id}/console",
        f"/events/{cancelled.id}/console",
        f"/events/{ended.id}/console",
        f"/events/{event.id}/checkin",
        f"/events/{cancelled.id}/checkin",
        f"/registrations/{registration.id}",
    ):
        assert o.get(path).status_code == 200, path
    s = browser(nxu_student)
    for path in (
        "/me/events",
        f"/registrations/{registration.id}",
        f"/registrations/{registration.id}/cancel",
        f"/events/{event.id}/attach",
        f"/events/{cancelled.id}",
    ):
        assert s.get(path).status_code == 200, path
