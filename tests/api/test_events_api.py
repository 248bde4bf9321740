"""Events API: events, registrations and the waiting list, check-ins, listings at an event, swaps, the summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from marketplace.db import utcnow
from marketplace.events import service
from marketplace.listings.models import Listing
from marketplace.orders.models import Order
from tests.api.responses import ok as _ok
from tests.api.responses import problem as _problem

# The events tests' fixtures: organisers, students, residents, events, registrations, listings.
from tests.events.conftest import *  # noqa: F403

BASE = "/api/v1"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _local(moment: datetime) -> str:
    """A time as a Beijing wall-clock string without an offset, as a form or a client would send it."""
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def headers(token_for):
    """headers(user) → the bearer headers of `user` (one token per user, made once)."""
    made: dict[int, dict] = {}

    def get(user):
        if user.id not in made:
            made[user.id] = token_for(user)
        return made[user.id]

    return get


def _new_event(**overrides) -> dict:
    starts = (utcnow() + timedelta(days=5)).replace(second=0, microsecond=0)
    body = {
        "title": "宁大毕业季跳蚤市场",
        "kind": "campus_flea",
        "venue": "宁夏大学怀远校区东门广场",
        "district": "xixia",
        "starts_at": _local(starts),
        "ends_at": _local(starts + timedelta(hours=4)),
        "capacity": 40,
        "campus": "nxu",
        "restriction": "campus",
        "description": "带上闲置，换点用得上的。",
    }
    body.update(overrides)
    return body


# --- creating and editing events -------------------------------------------------------------------


def test_an_organiser_creates_an_event(api, organiser, headers):
    starts = (utcnow() + timedelta(days=5)).replace(second=0, microsecond=0)
    body = _new_event(starts_at=_local(starts), ends_at=_local(starts + timedelta(hours=4)))
    event = _ok(api.post(f"{BASE}/events", json=body, headers=headers(organiser)), 201)
    assert event["title"] == "宁大毕业季跳蚤市场" and event["kind"] == "campus_flea" and event["status"] == "open"
    # Sent without an offset: Beijing time; answered in UTC.
    assert _at(event["starts_at"]) == starts and _at(event["ends_at"]) == starts + timedelta(hours=4)
    # No deadline given: registration closes when the event starts.
    assert _at(event["registration_deadline"]) == starts
    assert event["stalls"] == 40 and event["stalls_taken"] == 0 and event["waitlisted"] == 0
    assert event["restriction"] == "campus" and event["campus"] == "nxu" and event["registration_open"] is True
    assert event["organiser"] == {"id": organiser.id, "display_name": organiser.display_name}
    assert event["cancel_reason"] is None
    assert event["url"] == f"http://localhost/events/{event['id']}"
    assert event["ics_url"] == f"http://localhost/events/{event['id']}.ics"
    # The organiser is not a participant: the service says why they need not register.
    assert event["me"]["registration"] is None and "组织者" in event["me"]["why_not_register"]
    assert _ok(api.get(f"{BASE}/events/{event['id']}"))["title"] == "宁大毕业季跳蚤市场"


def test_times_with_an_offset_are_taken_as_given(api, organiser, headers):
    body = _new_event(
        kind="community_swap",
        campus=None,
        restriction="none",
        starts_at="2031-06-01T02:00:00Z",
        ends_at="2031-06-01T12:00:00+08:00",
        registration_deadline="2031-05-31T20:00:00+08:00",
    )
    event = _ok(api.post(f"{BASE}/events", json=body, headers=headers(organiser)), 201)
    assert _at(event["starts_at"]) == datetime(2031, 6, 1, 2, tzinfo=UTC)
    assert _at(event["ends_at"]) == datetime(2031, 6, 1, 4, tzinfo=UTC)
    assert _at(event["registration_deadline"]) == datetime(2031, 5, 31, 12, tzinfo=UTC)


def test_creating_errors(api, organiser, resident, headers):
    url = f"{BASE}/events"
    _problem(api.post(url, json=_new_event()), 401)
    detail = _problem(api.post(url, json=_new_event(), headers=headers(resident)), 403)["detail"]
    assert "organiser" in detail
    errors = _problem(
        api.post(
            url,
            json=_new_event(ends_at=_new_event()["starts_at"], campus=None, capacity=5000, kind="garden_party"),
            headers=headers(organiser),
        ),
        422,
    )["errors"]
    assert {"capacity", "kind"} <= set(errors)
    # The service's rules, all at once, each on its field.
    body = _new_event(campus=None, restriction="none")
    body["ends_at"] = body["starts_at"]
    errors = _problem(api.post(url, json=body, headers=headers(organiser)), 422)["errors"]
    assert errors["ends_at"] == ["结束时间须晚于开始时间"] and errors["campus"] == ["校园跳蚤市场须选择举办的学校"]
    for bad in ("next friday", "0001-01-01T00:00", "2026-13-01T09:00"):
        errors = _problem(api.post(url, json=_new_event(starts_at=bad), headers=headers(organiser)), 422)["errors"]
        assert list(errors) == ["starts_at"], bad
    errors = _problem(api.post(url, json=_new_event(capacity="40"), headers=headers(organiser)), 422)["errors"]
    assert "capacity" in errors
    past = _new_event(starts_at="2020-01-01T09:00", ends_at="2020-01-01T12:00")
    errors = _problem(api.post(url, json=past, headers=headers(organiser)), 422)["errors"]
    assert errors["starts_at"] == ["开始时间须在将来"]
    assert _problem(api.post(url, data="x", headers=headers(organiser)), 415)


def test_the_organiser_edits_an_event(api, db, event, organiser, headers, make_student, register):
    students = [make_student("nxu") for _ in range(3)]
    for student in students:
        register(student, event)
    assert service.registration_of(students[2], event).status == "waitlisted"
    url = f"{BASE}/events/{event.id}"
    out = _ok(api.patch(url, json={"title": "宁大跳蚤市场（改期）", "capacity": 3}, headers=headers(organiser)))
    assert out["title"] == "宁大跳蚤市场（改期）" and out["stalls"] == 3 and out["stalls_taken"] == 3
    assert out["waitlisted"] == 0 and out["venue"] == event.venue
    errors = _problem(api.patch(url, json={"capacity": 1}, headers=headers(organiser)), 422)["errors"]
    assert "3" in errors["stalls"][0]
    out = _ok(api.patch(url, json={"registration_open": False}, headers=headers(organiser)))
    assert out["status"] == "closed" and out["registration_open"] is False
    out = _ok(api.patch(url, json={"registration_open": True}, headers=headers(organiser)))
    assert out["status"] == "open"
    _problem(api.patch(url, json={"title": "我的市场"}, headers=headers(students[0])), 403)
    _problem(api.patch(f"{BASE}/events/999999", json={"title": "x"}, headers=headers(organiser)), 404)


def test_a_campus_can_be_removed_from_a_swap_event(api, swap_event, organiser, headers):
    url = f"{BASE}/events/{swap_event.id}"
    assert _ok(api.patch(url, json={"campus": "nmu"}, headers=headers(organiser)))["campus"] == "nmu"
    assert _ok(api.patch(url, json={"campus": None}, headers=headers(organiser)))["campus"] is None


def test_the_organiser_cancels_an_event(api, event, organiser, nxu_student, register, headers, notices_of):
    register(nxu_student, event)
    url = f"{BASE}/events/{event.id}/cancel"
    assert "reason" in _problem(api.post(url, json={"reason": "不办"}, headers=headers(organiser)), 422)["errors"]
    _problem(api.post(url, json={"reason": "场地临时被征用"}, headers=headers(nxu_student)), 403)
    out = _ok(api.post(url, json={"reason": "场地临时被征用"}, headers=headers(organiser)))
    assert out["status"] == "cancelled" and out["cancel_reason"] == "场地临时被征用"
    assert ("event.cancelled", "event", event.id) in notices_of(nxu_student)
    _problem(api.post(url, json={"reason": "场地临时被征用"}, headers=headers(organiser)), 409)
    _problem(api.patch(f"{BASE}/events/{event.id}", json={"title": "再办"}, headers=headers(organiser)), 409)


# --- listing events --------------------------------------------------------------------------------------


def test_upcoming_events_soonest_first_with_filters_and_pages(api, make_event, make_past):
    later = make_event(starts_in=timedelta(days=6), title="下周的跳蚤市场")
    swap = make_event("community_swap")
    books = make_event("book_share", starts_in=timedelta(days=2), deadline_before=timedelta(hours=3), district="xixia")
    over = make_past(make_event(title="上个月的跳蚤市场"))
    page = _ok(api.get(f"{BASE}/events"))
    assert [e["id"] for e in page["items"]] == [books.id, swap.id, later.id] and page["next_cursor"] is None
    assert [e["id"] for e in _ok(api.get(f"{BASE}/events?kind=campus_flea"))["items"]] == [later.id]
    assert [e["id"] for e in _ok(api.get(f"{BASE}/events?district=xixia"))["items"]] == [books.id, later.id]
    first = _ok(api.get(f"{BASE}/events?limit=2"))
    assert [e["id"] for e in first["items"]] == [books.id, swap.id] and first["next_cursor"]
    second = _ok(api.get(f"{BASE}/events?limit=2&cursor={first['next_cursor']}"))
    assert [e["id"] for e in second["items"]] == [later.id] and second["next_cursor"] is None
    past = _ok(api.get(f"{BASE}/events?upcoming=false"))
    assert [e["id"] for e in past["items"]] == [over.id]


def test_past_events_page_latest_first(api, make_event, make_past):
    made = [make_past(make_event(title=f"第 {n} 场"), ended_ago=timedelta(days=n + 1)) for n in range(3)]
    first = _ok(api.get(f"{BASE}/events?upcoming=false&limit=2"))
    assert [e["id"] for e in first["items"]] == [made[0].id, made[1].id]
    second = _ok(api.get(f"{BASE}/events?upcoming=false&limit=2&cursor={first['next_cursor']}"))
    assert [e["id"] for e in second["items"]] == [made[2].id] and second["next_cursor"] is None


def test_the_waiting_list_length_is_shown(api, event, make_student, register):
    for _ in range(3):
        register(make_student("nxu"), event)
    (row,) = _ok(api.get(f"{BASE}/events"))["items"]
    assert row["stalls_taken"] == 2 and row["waitlisted"] == 1
    assert _ok(api.get(f"{BASE}/events/{event.id}"))["waitlisted"] == 1


@pytest.mark.parametrize(
    "query",
    ["cursor=abc", "cursor=20261205T013000000000Z_99999999999", "kind=party", "district=beijing", "limit=0", "x=1"],
)
def test_bad_list_queries(api, query):
    _problem(api.get(f"{BASE}/events?{query}"), 422)


def test_an_unknown_event(api):
    assert _problem(api.get(f"{BASE}/events/999999"), 404)["detail"] == "找不到该活动。"


# --- registrations ---------------------------------------------------------------------------------


def test_registering_a_stall_then_the_waiting_list(api, event, make_student, headers):
    url = f"{BASE}/events/{event.id}/registrations"
    a, b, c = (make_student("nxu") for _ in range(3))
    first = _ok(api.post(url, json={"role": "stall"}, headers=headers(a)), 201)
    assert first["status"] == "registered" and first["role"] == "stall" and first["waitlist_position"] is None
    assert len(first["checkin_code"]) == 8 and first["user"] == {"id": a.id, "display_name": a.display_name}
    assert first["event"]["id"] == event.id and first["late_if_cancelled_now"] is False
    _ok(api.post(url, json={"role": "stall"}, headers=headers(b)), 201)
    third = _ok(api.post(url, json={"role": "stall"}, headers=headers(c)), 201)
    assert third["status"] == "waitlisted" and third["waitlist_position"] == 1 and third["checkin_code"]
    # Twice: a conflict, whatever the role.
    assert "已经报名" in _problem(api.post(url, json={"role": "visitor"}, headers=headers(a)), 409)["detail"]
    # The event tells them where they stand.
    me = _ok(api.get(f"{BASE}/events/{event.id}", headers=headers(c)))["me"]
    assert me["registration"]["waitlist_position"] == 1 and me["why_not_register"] is None


def test_visitors_are_not_limited_by_stalls(api, event, make_student, headers):
    url = f"{BASE}/events/{event.id}/registrations"
    for _ in range(3):
        out = _ok(api.post(url, json={"role": "visitor"}, headers=headers(make_student("nxu"))), 201)
        assert out["status"] == "registered" and out["role"] == "visitor"


def test_who_may_not_register_is_told_why(api, event, nmu_student, resident, make_user, headers):
    url = f"{BASE}/events/{event.id}/registrations"
    detail = _problem(api.post(url, json={"role": "stall"}, headers=headers(resident)), 403)["detail"]
    assert "宁夏大学" in detail and "学生" in detail
    assert "宁夏大学" in _problem(api.post(url, json={"role": "stall"}, headers=headers(nmu_student)), 403)["detail"]
    unverified = make_user("nobody")
    assert "实名认证" in _problem(api.post(url, json={"role": "visitor"}, headers=headers(unverified)), 403)["detail"]
    # The event page says the same before one tries.
    me = _ok(api.get(f"{BASE}/events/{event.id}", headers=headers(resident)))["me"]
    assert "宁夏大学" in me["why_not_register"]
    _problem(api.post(url, json={"role": "stall"}), 401)
    assert "role" in _problem(api.post(url, json={"role": "dj"}, headers=headers(resident)), 422)["errors"]
    _problem(api.post(f"{BASE}/events/999999/registrations", json={"role": "stall"}, headers=headers(resident)), 404)


def test_my_registrations_and_one_registration(api, event, swap_event, nxu_student, resident, organiser, headers):
    mine = _ok(
        api.post(f"{BASE}/events/{event.id}/registrations", json={"role": "stall"}, headers=headers(nxu_student)), 201
    )
    _ok(
        api.post(f"{BASE}/events/{swap_event.id}/registrations", json={"role": "stall"}, headers=headers(resident)), 201
    )
    items = _ok(api.get(f"{BASE}/me/registrations", headers=headers(nxu_student)))["items"]
    assert [(r["id"], r["checkin_code"]) for r in items] == [(mine["id"], mine["checkin_code"])]
    assert _ok(api.get(f"{BASE}/me/registrations", headers=headers(organiser)))["items"] == []
    url = f"{BASE}/registrations/{mine['id']}"
    assert _ok(api.get(url, headers=headers(nxu_student)))["checkin_code"] == mine["checkin_code"]
    # The organiser checks people in with it; anyone else does not see the registration at all.
    assert _ok(api.get(url, headers=headers(organiser)))["checkin_code"] == mine["checkin_code"]
    _problem(api.get(url, headers=headers(resident)), 404)
    _problem(api.get(f"{BASE}/me/registrations"), 401)


def test_cancelling_a_registration_moves_the_waiting_list_up(api, event, make_student, headers, notices_of):
    url = f"{BASE}/events/{event.id}/registrations"
    a, b, c = (make_student("nxu") for _ in range(3))
    first = _ok(api.post(url, json={"role": "stall"}, headers=headers(a)), 201)
    _ok(api.post(url, json={"role": "stall"}, headers=headers(b)), 201)
    waiting = _ok(api.post(url, json={"role": "stall"}, headers=headers(c)), 201)
    cancel = f"{BASE}/registrations/{first['id']}/cancel"
    _problem(api.post(cancel, headers=headers(b)), 404)
    out = _ok(api.post(cancel, headers=headers(a)))
    assert out["status"] == "cancelled" and out["cancelled_at"] and out["late_cancellation"] is False
    promoted = _ok(api.get(f"{BASE}/registrations/{waiting['id']}", headers=headers(c)))
    assert promoted["status"] == "registered" and promoted["promoted_at"] and promoted["waitlist_position"] is None
    assert ("event.promoted", "event", event.id) in notices_of(c)
    _problem(api.post(cancel, headers=headers(a)), 409)


def test_the_organiser_may_see_but_not_cancel_a_registration(api, event, nxu_student, organiser, register, headers):
    registration = register(nxu_student, event)
    _problem(api.post(f"{BASE}/registrations/{registration.id}/cancel", headers=headers(organiser)), 403)


def test_a_late_cancellation_is_announced(api, db, event, nxu_student, register, reschedule, headers):
    registration = register(nxu_student, event)
    reschedule(event, utcnow() + timedelta(hours=10), registration_deadline=utcnow() + timedelta(hours=1))
    out = _ok(api.get(f"{BASE}/registrations/{registration.id}", headers=headers(nxu_student)))
    assert out["late_if_cancelled_now"] is True
    out = _ok(api.post(f"{BASE}/registrations/{registration.id}/cancel", headers=headers(nxu_student)))
    assert out["late_cancellation"] is True


def test_the_organisers_lists(api, event, make_student, register, organiser, headers):
    people = [make_student("nxu") for _ in range(4)]
    for person in people[:3]:
        register(person, event)
    register(people[3], event, "visitor")
    url = f"{BASE}/events/{event.id}/registrations"
    lists = _ok(api.get(url, headers=headers(organiser)))
    assert [r["user"]["id"] for r in lists["stall"]] == [people[0].id, people[1].id]
    assert [(r["user"]["id"], r["waitlist_position"]) for r in lists["waitlist"]] == [(people[2].id, 1)]
    assert [r["user"]["id"] for r in lists["visitor"]] == [people[3].id] and lists["cancelled"] == []
    assert all(r["checkin_code"] for r in lists["stall"])
    _problem(api.get(url, headers=headers(people[0])), 403)


# --- check-ins ---------------------------------------------------------------------------------------


def test_the_organiser_checks_people_in(api, db, event, nxu_student, organiser, register, make_running, headers):
    registration = register(nxu_student, event)
    url = f"{BASE}/events/{event.id}/checkins"
    code = registration.checkin_code
    # Days before the event: not yet.
    assert "签到时间" in _problem(api.post(url, json={"checkin_code": code}, headers=headers(organiser)), 409)["detail"]
    make_running(event)
    score = nxu_student.credit_score
    typed = f"{code[:4].lower()} {code[4:]}"
    out = _ok(api.post(url, json={"checkin_code": typed}, headers=headers(organiser)))
    assert out["registration_id"] == registration.id and out["role"] == "stall"
    assert out["display_name"] == nxu_student.display_name and _at(out["checked_in_at"]) <= utcnow()
    db.session.refresh(nxu_student)
    assert nxu_student.credit_score == score + 2
    assert "签到" in _problem(api.post(url, json={"checkin_code": code}, headers=headers(organiser)), 409)["detail"]
    _problem(api.post(url, json={"checkin_code": "ABCDEFGH"}, headers=headers(organiser)), 404)
    errors = _problem(api.post(url, json={"checkin_code": "ABC"}, headers=headers(organiser)), 422)["errors"]
    assert "checkin_code" in errors
    _problem(api.post(url, json={"checkin_code": code}, headers=headers(nxu_student)), 403)
    _problem(api.post(f"{BASE}/events/999999/checkins", json={"checkin_code": code}, headers=headers(organiser)), 404)


def test_a_code_of_another_event_is_not_found(
    api, event, swap_event, resident, organiser, register, make_running, headers
):
    other = register(resident, swap_event)
    make_running(event)
    url = f"{BASE}/events/{event.id}/checkins"
    _problem(api.post(url, json={"checkin_code": other.checkin_code}, headers=headers(organiser)), 404)


# --- listings at the event and swaps ---------------------------------------------------------------------


@pytest.fixture
def stalls(swap_event, make_resident, register):
    """Two residents with a stall each at the community swap."""
    a, b = make_resident("jinfeng", "stall_a"), make_resident("xingqing", "stall_b")
    register(a, swap_event)
    register(b, swap_event)
    return a, b


def test_a_stallholder_brings_listings(api, swap_event, stalls, make_listing_for, headers):
    a, b = stalls
    mine = [make_listing_for(a) for _ in range(2)]
    url = f"{BASE}/events/{swap_event.id}/listings"
    out = _ok(api.post(url, json={"listing_ids": [m.id for m in mine]}, headers=headers(a)))
    assert [row["id"] for row in out["items"]] == [mine[1].id, mine[0].id]
    assert out["items"][0]["seller"] == {"id": a.id, "display_name": a.display_name}
    found = _ok(api.get(url))
    assert {row["id"] for row in found["items"]} == {m.id for m in mine} and found["next_cursor"] is None
    assert [row["id"] for row in _ok(api.get(f"{url}?q=第 1 台"))["items"]] == [mine[0].id]
    assert _ok(api.get(f"{url}?limit=1"))["next_cursor"]
    # Someone else's listing, a stranger, a bad body.
    other = make_listing_for(b)
    errors = _problem(api.post(url, json={"listing_ids": [other.id]}, headers=headers(a)), 422)["errors"]
    assert errors["listing_ids"] == ["只能带自己的商品"]
    _problem(api.post(url, json={"listing_ids": []}, headers=headers(a)), 422)
    _problem(api.post(url, json={"listing_ids": ["1"]}, headers=headers(a)), 422)
    _problem(api.post(f"{BASE}/events/999999/listings", json={"listing_ids": [1]}, headers=headers(a)), 404)
    # Taking one back: it stays on sale.
    out = _ok(api.delete(f"{url}/{mine[0].id}", headers=headers(a)))
    assert [row["id"] for row in out["items"]] == [mine[1].id]
    _problem(api.delete(f"{url}/{mine[1].id}", headers=headers(b)), 403)
    _problem(api.delete(f"{url}/{mine[0].id}", headers=headers(a)), 404)


def test_only_stallholders_bring_listings(api, event, swap_event, resident, make_listing_for, register, headers):
    register(resident, swap_event, "visitor")
    listing = make_listing_for(resident)
    url = f"{BASE}/events/{swap_event.id}/listings"
    detail = _problem(api.post(url, json={"listing_ids": [listing.id]}, headers=headers(resident)), 403)["detail"]
    assert "摊主" in detail


def test_a_swap_offered_and_accepted(api, db, swap_event, stalls, bring, headers, notices_of):
    a, b = stalls
    (wanted,) = bring(a, swap_event, 1)
    given = bring(b, swap_event, 2)
    url = f"{BASE}/events/{swap_event.id}/swaps"
    body = {
        "want_listing_id": wanted.id,
        "offer_listing_id": given[0].id,
        "offer_listing_ids": [given[1].id],
        "message": "两台换你一台",
    }
    offer = _ok(api.post(url, json=body, headers=headers(b)), 201)
    assert offer["status"] == "pending" and offer["actions"] == ["withdraw"] and offer["orders"] == []
    assert offer["offerer"]["id"] == b.id and offer["owner"]["id"] == a.id and offer["message"] == "两台换你一台"
    assert offer["want_listing"]["id"] == wanted.id
    assert sorted(row["id"] for row in offer["offered_listings"]) == sorted(g.id for g in given)
    assert ("swap.offered", "swap", offer["id"]) in notices_of(a)
    seen = _ok(api.get(f"{BASE}/swaps/{offer['id']}", headers=headers(a)))
    assert seen["actions"] == ["accept", "decline"]
    # Only the owner accepts.
    _problem(api.post(f"{BASE}/swaps/{offer['id']}/accept", headers=headers(b)), 403)
    done = _ok(api.post(f"{BASE}/swaps/{offer['id']}/accept", headers=headers(a)))
    assert done["status"] == "accepted" and done["actions"] == [] and len(done["orders"]) == 3
    orders = db.session.scalars(sa.select(Order).where(Order.id.in_(done["orders"]))).all()
    assert {o.status for o in orders} == {"completed"} and {o.price_fen for o in orders} == {0}
    assert {(o.listing_id, o.buyer_id) for o in orders} == {(wanted.id, b.id), (given[0].id, a.id), (given[1].id, a.id)}
    statuses = db.session.scalars(sa.select(Listing.status).where(Listing.id.in_([wanted.id, *[g.id for g in given]])))
    assert set(statuses) == {"swapped"}
    assert _ok(api.get(f"{BASE}/swaps/{offer['id']}", headers=headers(b)))["orders"] == done["orders"]
    # The orders are the usual ones: both parties see them and may rate.
    order = _ok(api.get(f"{BASE}/orders/{done['orders'][0]}", headers=headers(b)))
    assert order["status"] == "completed" and "rate" in order["actions"]
    _problem(api.post(f"{BASE}/swaps/{offer['id']}/accept", headers=headers(a)), 409)


def test_declining_and_withdrawing(api, swap_event, stalls, bring, headers, make_resident):
    a, b = stalls
    wanted, other = bring(a, swap_event, 2)
    mine = bring(b, swap_event, 2)
    url = f"{BASE}/events/{swap_event.id}/swaps"
    first = _ok(
        api.post(url, json={"want_listing_id": wanted.id, "offer_listing_id": mine[0].id}, headers=headers(b)), 201
    )
    second = _ok(
        api.post(url, json={"want_listing_id": other.id, "offer_listing_id": mine[1].id}, headers=headers(b)), 201
    )
    _problem(api.post(f"{BASE}/swaps/{first['id']}/decline", headers=headers(b)), 403)
    assert _ok(api.post(f"{BASE}/swaps/{first['id']}/decline", headers=headers(a)))["status"] == "declined"
    _problem(api.post(f"{BASE}/swaps/{second['id']}/withdraw", headers=headers(a)), 403)
    assert _ok(api.post(f"{BASE}/swaps/{second['id']}/withdraw", headers=headers(b)))["status"] == "withdrawn"
    _problem(api.post(f"{BASE}/swaps/{second['id']}/withdraw", headers=headers(b)), 409)
    mine_lists = _ok(api.get(f"{BASE}/me/swaps", headers=headers(b)))
    assert [o["id"] for o in mine_lists["sent"]] == [second["id"], first["id"]] and mine_lists["received"] == []
    assert [o["id"] for o in _ok(api.get(f"{BASE}/me/swaps", headers=headers(a)))["received"]] == [
        second["id"],
        first["id"],
    ]
    stranger = make_resident("jinfeng", "stranger")
    _problem(api.get(f"{BASE}/swaps/{first['id']}", headers=headers(stranger)), 404)
    _problem(api.get(f"{BASE}/swaps/999999", headers=headers(a)), 404)


def test_swap_errors(api, swap_event, stalls, bring, make_listing_for, make_resident, headers):
    a, b = stalls
    (wanted,) = bring(a, swap_event, 1)
    (mine,) = bring(b, swap_event, 1)
    url = f"{BASE}/events/{swap_event.id}/swaps"
    outsider = make_resident("jinfeng", "outsider")
    body = {"want_listing_id": wanted.id, "offer_listing_id": make_listing_for(outsider).id}
    _problem(api.post(url, json=body, headers=headers(outsider)), 403)
    errors = _problem(
        api.post(url, json={"want_listing_id": mine.id, "offer_listing_id": mine.id}, headers=headers(b)), 422
    )
    assert errors["errors"]["want_listing_id"] == ["不能和自己交换"]
    errors = _problem(api.post(url, json={"want_listing_id": wanted.id}, headers=headers(b)), 422)["errors"]
    assert "offer_listing_ids" in errors
    _problem(api.post(url, json={"offer_listing_id": mine.id}, headers=headers(b)), 422)
    body = {"want_listing_id": wanted.id, "offer_listing_id": mine.id}
    _ok(api.post(url, json=body, headers=headers(b)), 201)
    _problem(api.post(url, json=body, headers=headers(b)), 409)
    _problem(api.post(f"{BASE}/events/999999/swaps", json=body, headers=headers(b)), 404)


# --- the summary -----------------------------------------------------------------------------------------


def test_the_summary(api, db, swap_event, stalls, bring, organiser, headers):
    a, b = stalls
    (wanted,) = bring(a, swap_event, 1)
    (mine,) = bring(b, swap_event, 1, category="books", grading=None, title="高等数学 第七版 上册")
    offer = _ok(
        api.post(
            f"{BASE}/events/{swap_event.id}/swaps",
            json={"want_listing_id": wanted.id, "offer_listing_id": mine.id},
            headers=headers(b),
        ),
        201,
    )
    _ok(api.post(f"{BASE}/swaps/{offer['id']}/accept", headers=headers(a)))
    url = f"{BASE}/events/{swap_event.id}/summary"
    out = _ok(api.get(url, headers=headers(organiser)))
    assert (out["listed"], out["swapped"], out["sold"], out["active"]) == (2, 2, 0, 0)
    assert out["weight_kg_total"] == 0.7 and out["includes_vehicles"] is False
    assert {row["category"]: row["kg"] for row in out["by_category"]} == {"books": 0.5, "phone": 0.2}
    assert out["registrations"] == {"stall": 2, "visitor": 0, "waitlisted": 0, "cancelled": 0}
    assert out["swaps"]["accepted"] == 1 and out["checked_in"] == 0 and out["no_shows"] == 0
    assert out["ended"] is False and out["settled"] is False
    _problem(api.get(url, headers=headers(a)), 403)
    _problem(api.get(url), 401)
    _problem(api.get(f"{BASE}/events/999999/summary", headers=headers(organiser)), 404)


# --- the document ------------------------------------------------------------------------------------------


def test_the_document_declares_the_events_routes(api):
    doc = _ok(api.get(f"{BASE}/openapi.json"))
    paths = doc["paths"]
    for path, method in [
        ("/api/v1/events", "get"),
        ("/api/v1/events", "post"),
        ("/api/v1/events/{event_id}", "get"),
        ("/api/v1/events/{event_id}", "patch"),
        ("/api/v1/events/{event_id}/cancel", "post"),
        ("/api/v1/events/{event_id}/registrations", "post"),
        ("/api/v1/registrations/{registration_id}/cancel", "post"),
        ("/api/v1/me/registrations", "get"),
        ("/api/v1/events/{event_id}/checkins", "post"),
        ("/api/v1/events/{event_id}/listings", "post"),
        ("/api/v1/events/{event_id}/swaps", "post"),
        ("/api/v1/swaps/{offer_id}/accept", "post"),
        ("/api/v1/swaps/{offer_id}/decline", "post"),
        ("/api/v1/swaps/{offer_id}", "get"),
        ("/api/v1/events/{event_id}/summary", "get"),
        ("/api/v1/events/{event_id}.ics", "get"),
        ("/api/v1/events.ics", "get"),
    ]:
        assert method in paths[path], (path, method)
    registration = paths["/api/v1/events/{event_id}/registrations"]["post"]["responses"]
    assert {"201", "403", "404", "409", "422"} <= set(registration)
    assert "text/calendar" in paths["/api/v1/events.ics"]["get"]["responses"]["200"]["content"]


def test_an_id_beyond_any_column_is_not_found(api, organiser, headers):
    # Werkzeug checks the converter's range after the method: on a path with two methods the second
    # one answers 405 (declared in the document as BEYOND_ID), never a 500.
    beyond = 2**31
    for method, path, status in [
        ("get", f"/events/{beyond}", 404),
        ("patch", f"/events/{beyond}", 405),
        ("get", f"/events/{beyond}.ics", 404),
        ("post", f"/events/{beyond}/registrations", 404),
        ("get", f"/events/{beyond}/registrations", 405),
        ("get", f"/events/{beyond}/listings", 404),
        ("post", f"/events/{beyond}/listings", 405),
        ("get", f"/swaps/{beyond}", 404),
    ]:
        _problem(getattr(api, method)(BASE + path, json={}, headers=headers(organiser)), status)
