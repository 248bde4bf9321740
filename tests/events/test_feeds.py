"""iCalendar feeds: one event and every upcoming event, read back with the icalendar library."""

from __future__ import annotations

from datetime import timedelta

import icalendar
import pytest

from marketplace.db import utcnow
from marketplace.events import ics, service


def _calendar(resp) -> icalendar.Calendar:
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.mimetype == "text/calendar"
    assert resp.mimetype_params.get("charset") == "utf-8"
    return icalendar.Calendar.from_ical(resp.data)


def _vevents(cal: icalendar.Calendar) -> list:
    return list(cal.walk("VEVENT"))


def test_one_event_as_a_calendar(client, event, organiser):
    resp = client.get(f"/events/{event.id}.ics")
    cal = _calendar(resp)
    assert resp.headers["Content-Disposition"] == f'inline; filename="event-{event.id}.ics"'
    assert "public" in resp.headers["Cache-Control"] and "max-age=300" in resp.headers["Cache-Control"]
    assert str(cal["VERSION"]) == "2.0" and str(cal["PRODID"]) == ics.PRODID
    assert str(cal["X-WR-CALNAME"]) == event.title
    (vevent,) = _vevents(cal)
    assert str(vevent["SUMMARY"]) == "宁大毕业季跳蚤市场"
    assert vevent.decoded("DTSTART") == event.starts_at.replace(microsecond=0)
    assert vevent.decoded("DTEND") == event.ends_at.replace(microsecond=0)
    assert vevent.decoded("DTSTART").utcoffset() == timedelta(0)
    assert str(vevent["UID"]) == f"event-{event.id}@localhost"
    assert str(vevent["STATUS"]) == "CONFIRMED"
    assert str(vevent["LOCATION"]) == "宁夏大学怀远校区东门广场，西夏区"
    assert str(vevent["URL"]) == f"http://localhost/events/{event.id}"
    description = str(vevent["DESCRIPTION"])
    assert "带上闲置，换点用得上的。" in description and "校园跳蚤市场（宁夏大学）" in description
    assert f"http://localhost/events/{event.id}" in description
    assert vevent.decoded("LAST-MODIFIED") == event.updated_at.replace(microsecond=0)
    assert "DTSTAMP" in vevent
    # UTC times, so the document needs no VTIMEZONE.
    assert b"DTSTART:" in resp.data and b"Z\r\n" in resp.data and b"VTIMEZONE" not in resp.data
    # The organiser is shown nowhere but by the event page: no names, no contact details.
    assert organiser.display_name.encode() not in resp.data


def test_the_uid_is_stable(client, event):
    first = _vevents(_calendar(client.get(f"/events/{event.id}.ics")))[0]
    again = _vevents(_calendar(client.get("/events.ics")))[0]
    assert str(first["UID"]) == str(again["UID"]) == f"event-{event.id}@localhost"


def test_a_cancelled_event_says_so(client, db, event, organiser):
    service.cancel(organiser, event, "场地临时被学校征用")
    db.session.commit()
    (vevent,) = _vevents(_calendar(client.get(f"/events/{event.id}.ics")))
    assert str(vevent["STATUS"]) == "CANCELLED"
    assert "场地临时被学校征用" in str(vevent["DESCRIPTION"])


def test_the_feed_of_upcoming_events(client, db, make_event, make_past, swap_event):
    soon = make_event(starts_in=timedelta(days=1), deadline_before=timedelta(hours=2), title="明天的旧书分享")
    over = make_past(make_event(title="上个月的跳蚤市场"))
    cal = _calendar(client.get("/events.ics"))
    assert str(cal["X-WR-CALNAME"]) == "循环市集 · 活动"
    vevents = _vevents(cal)
    assert [str(v["SUMMARY"]) for v in vevents] == ["明天的旧书分享", "金凤社区换物日"]
    assert [v.decoded("DTSTART") for v in vevents] == [
        soon.starts_at.replace(microsecond=0),
        swap_event.starts_at.replace(microsecond=0),
    ]
    assert over.title not in {str(v["SUMMARY"]) for v in vevents}


def test_an_empty_feed_is_still_a_calendar(client):
    cal = _calendar(client.get("/events.ics"))
    assert _vevents(cal) == [] and str(cal["VERSION"]) == "2.0"


def test_ics_and_html_routes_do_not_clash(client, event):
    page = client.get(f"/events/{event.id}")
    assert page.status_code == 200 and page.mimetype == "text/html"
    feed = client.get(f"/events/{event.id}.ics")
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    assert client.get("/events/999999.ics").status_code == 404
    assert client.get(f"/events/{event.id}.ical").status_code == 404


@pytest.mark.parametrize("path", ["/api/v1/events/{id}.ics", "/api/v1/events.ics"])
def test_the_api_serves_the_same_documents(api, event, path):
    resp = api.get(path.format(id=event.id))
    (vevent,) = _vevents(_calendar(resp))
    assert vevent.decoded("DTSTART") == event.starts_at.replace(microsecond=0)
    assert "max-age=300" in resp.headers["Cache-Control"]


def test_the_api_answers_an_unknown_event_with_a_problem(api):
    resp = api.get("/api/v1/events/424242.ics")
    assert resp.status_code == 404 and resp.mimetype == "application/problem+json"


def test_long_chinese_lines_are_folded_without_breaking_characters(client, db, make_event):
    event = make_event(description="二手" * 400, title="宁夏大学怀远校区与贺兰山路社区联合举办的毕业季旧物交换市集")
    resp = client.get(f"/events/{event.id}.ics")
    assert all(len(line) <= 75 for line in resp.data.split(b"\r\n"))
    resp.data.decode("utf-8")  # folding never splits a character
    (vevent,) = _vevents(_calendar(resp))
    assert str(vevent["SUMMARY"]) == event.title
    assert ("二手" * 400) in str(vevent["DESCRIPTION"])


def test_the_uid_host_leaves_out_the_port(app, event):
    with app.test_request_context("/", base_url="https://market.example.cn:8443"):
        body = ics.calendar_for([event], "测试")
    (vevent,) = _vevents(icalendar.Calendar.from_ical(body))
    assert str(vevent["UID"]) == f"event-{event.id}@market.example.cn"
    assert vevent.decoded("DTSTART") > utcnow()
