"""Event rules: creating and editing, cancelling, who may register, the waiting list, check-in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from marketplace.credit.models import CreditEvent
from marketplace.credit.policy import policy
from marketplace.db import utcnow
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.events import service, swaps
from marketplace.events.models import Registration

REASON = "场地临时被学校征用，改期另行通知"


def _refresh(db, *rows):
    for row in rows:
        db.session.refresh(row)
    return rows[0] if len(rows) == 1 else rows


def _checkins(db, user) -> list[int]:
    return list(
        db.session.scalars(
            sa.select(CreditEvent.points)
            .where(CreditEvent.user_id == user.id, CreditEvent.code == "checkin")
            .order_by(CreditEvent.id)
        )
    )


def _during(event) -> datetime:
    """A moment during the event (inside the check-in window)."""
    return event.starts_at + timedelta(hours=1)


# --- creating --------------------------------------------------------------------------------


def test_an_organiser_creates_an_open_event_recorded_in_the_audit_log(db, organiser, event_input, audit):
    event = service.create(organiser, event_input())
    db.session.commit()
    assert (event.status, event.stalls, event.stalls_taken) == ("open", 2, 0)
    assert (event.kind, event.restriction, event.campus, event.organiser_id) == (
        "campus_flea",
        "campus",
        "nxu",
        organiser.id,
    )
    assert audit("event.created") == [
        {"actor_id": organiser.id, "subject_id": event.id, "kind": "campus_flea"},
    ]


def test_only_organisers_create_events(db, nxu_student, event_input):
    with pytest.raises(Forbidden):
        service.create(nxu_student, event_input())


def test_times_are_typed_in_beijing_time(db, organiser, event_input):
    year = utcnow().year + 1
    event = service.create(
        organiser,
        event_input(
            starts_at=f"{year}-12-05T09:30", ends_at=f"{year}-12-05 16:00", registration_deadline=f"{year}-12-04T20:00"
        ),
    )
    db.session.commit()
    assert event.starts_at == datetime(year, 12, 5, 1, 30, tzinfo=UTC)
    assert event.ends_at == datetime(year, 12, 5, 8, 0, tzinfo=UTC)
    assert event.registration_deadline == datetime(year, 12, 4, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"hours": 0}, "ends_at"),
        ({"hours": -1}, "ends_at"),
        ({"hours": 24 * 7 + 1}, "ends_at"),
        ({"deadline_before": timedelta(minutes=-30)}, "registration_deadline"),
        ({"campus": None, "restriction": "none"}, "campus"),
        ({"starts_in": timedelta(hours=-1), "deadline_before": timedelta(hours=2)}, "starts_at"),
        ({"title": "  "}, "title"),
        ({"venue": ""}, "venue"),
        ({"stalls": "-1"}, "stalls"),
        ({"stalls": "两个"}, "stalls"),
        ({"district": "haidian"}, "district"),
        ({"kind": "concert"}, "kind"),
        ({"restriction": "campus", "campus": None, "kind": "community_swap"}, "campus"),
        ({"starts_at": "明天上午"}, "starts_at"),
    ],
)
def test_create_refuses_a_field_at_fault(db, organiser, event_input, overrides, field):
    with pytest.raises(Invalid) as exc:
        service.create(organiser, event_input(**overrides))
    assert list(exc.value.errors) == [field], exc.value.errors


def test_create_names_every_field_at_fault_at_once(db, organiser, event_input):
    starts = utcnow() - timedelta(hours=2)
    data = event_input(
        title="",
        campus=None,
        restriction="none",
        starts_at=starts,
        ends_at=starts - timedelta(hours=1),
        registration_deadline=starts + timedelta(minutes=30),
    )
    with pytest.raises(Invalid) as exc:
        service.create(organiser, data)
    assert set(exc.value.errors) == {"title", "campus", "starts_at", "ends_at", "registration_deadline"}
    assert exc.value.errors["ends_at"] == ["结束时间须晚于开始时间"]
    assert exc.value.errors["registration_deadline"] == ["报名须在活动开始前截止"]
    assert exc.value.errors["starts_at"] == ["开始时间须在将来"]
    assert exc.value.errors["campus"] == ["校园跳蚤市场须选择举办的学校"]


def test_a_community_swap_needs_no_campus(db, organiser, event_input):
    event = service.create(organiser, event_input("community_swap"))
    assert (event.restriction, event.campus) == ("none", None)


# --- editing ---------------------------------------------------------------------------------------


def test_stalls_cannot_shrink_below_those_taken(db, organiser, event, register, make_student):
    register(make_student(), event)
    register(make_student(), event)
    with pytest.raises(Invalid) as exc:
        service.edit(organiser, event, service.EventInput(stalls=1))
    assert list(exc.value.errors) == ["stalls"]
    db.session.rollback()
    assert _refresh(db, event).stalls == 2


def test_stalls_shrink_to_those_taken(db, organiser, event, register, nxu_student):
    register(nxu_student, event)
    service.edit(organiser, event, service.EventInput(stalls=1))
    db.session.commit()
    assert (_refresh(db, event).stalls, event.stalls_taken) == (1, 1)


def test_more_stalls_move_the_waiting_list_up_in_order(db, organiser, event, register, make_student, notices_of):
    people = [make_student() for _ in range(5)]
    regs = [register(person, event) for person in people]
    assert [r.status for r in regs] == ["registered"] * 2 + ["waitlisted"] * 3
    service.edit(organiser, event, service.EventInput(stalls=3))
    db.session.commit()
    _refresh(db, event, *regs)
    assert [r.status for r in regs] == ["registered"] * 3 + ["waitlisted"] * 2
    assert regs[2].promoted_at is not None and regs[0].promoted_at is None
    assert [service.waitlist_position(r) for r in regs[3:]] == [1, 2]
    assert event.stalls_taken == 3
    assert ("event.promoted", "event", event.id) in notices_of(people[2])
    assert all(kind != "event.promoted" for kind, *_ in notices_of(people[3]))

    service.edit(organiser, event, service.EventInput(stalls=10))
    db.session.commit()
    _refresh(db, event, *regs)
    assert [r.status for r in regs] == ["registered"] * 5
    assert event.stalls_taken == 5


def test_a_new_time_or_place_is_told_to_the_participants(db, organiser, event, register, make_student, notices_of):
    stall, visitor = make_student(), make_student()
    register(stall, event)
    register(visitor, event, "visitor")
    service.edit(organiser, event, service.EventInput(venue="宁夏大学文萃校区体育馆前"))
    db.session.commit()
    assert notices_of(stall)[-1] == ("event.changed", "event", event.id)
    assert notices_of(visitor)[-1] == ("event.changed", "event", event.id)


def test_only_the_events_organiser_edits_it(db, event, other_organiser, nxu_student):
    for who in (other_organiser, nxu_student):
        with pytest.raises(Forbidden):
            service.edit(who, event, service.EventInput(title="别人的活动"))
        db.session.rollback()


def test_an_ended_event_cannot_be_edited(db, organiser, event, make_past):
    make_past(event)
    with pytest.raises(Conflict):
        service.edit(organiser, event, service.EventInput(title="改个名字"))


# --- cancelling ----------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", [None, "", "   ", "下雨"])
def test_cancelling_needs_a_reason(db, organiser, event, reason):
    with pytest.raises(Invalid) as exc:
        service.cancel(organiser, event, reason)
    assert list(exc.value.errors) == ["reason"]
    db.session.rollback()
    assert _refresh(db, event).status == "open"


def test_cancelling_tells_everyone_frees_listings_voids_swaps_and_is_audited(
    db, organiser, swap_event, register, make_resident, bring, notices_of, audit
):
    swap_event = _refresh(db, swap_event)
    a, b, waiting, visitor, gone = (make_resident() for _ in range(5))
    for person in (a, b, waiting):
        register(person, swap_event)
    register(visitor, swap_event, "visitor")
    left = register(gone, swap_event, "visitor")
    service.cancel_registration(gone, left)
    db.session.commit()
    (mine,), (theirs,) = bring(a, swap_event), bring(b, swap_event)
    offer = swaps.make_offer(a, swap_event, theirs.id, [mine.id], "换吗？")
    db.session.commit()

    service.cancel(organiser, swap_event, REASON)
    db.session.commit()
    _refresh(db, swap_event, mine, theirs, offer)
    assert (swap_event.status, swap_event.cancel_reason) == ("cancelled", REASON)
    for person in (a, b, waiting, visitor):
        assert ("event.cancelled", "event", swap_event.id) in notices_of(person)
    assert all(kind != "event.cancelled" for kind, *_ in notices_of(gone))
    assert (mine.event_id, mine.status, theirs.event_id, theirs.status) == (None, "active", None, "active")
    assert offer.status == "void"
    assert audit("event.cancelled") == [{"actor_id": organiser.id, "subject_id": swap_event.id, "reason": REASON}]


def test_a_cancelled_event_takes_no_registrations_and_cannot_be_cancelled_again(db, organiser, event, nxu_student):
    service.cancel(organiser, event, REASON)
    db.session.commit()
    assert service.why_not_register(nxu_student, event) == "活动已取消。"
    with pytest.raises(Forbidden):
        service.register(nxu_student, event.id, "visitor")
    with pytest.raises(Conflict):
        service.cancel(organiser, event, REASON)


def test_only_the_organiser_cancels(db, event, other_organiser):
    with pytest.raises(Forbidden):
        service.cancel(other_organiser, event, REASON)


# --- closing and opening registration ---------------------------------------------------------------


def test_the_organiser_closes_and_reopens_registration(db, organiser, event, nxu_student, nmu_student):
    service.set_registration_open(organiser, event, False)
    db.session.commit()
    assert event.status == "closed"
    assert service.why_not_register(nxu_student, event) == "报名已截止。"
    with pytest.raises(Forbidden):
        service.register(nxu_student, event.id, "stall")
    db.session.rollback()
    service.set_registration_open(organiser, event, True)
    db.session.commit()
    assert event.status == "open"
    assert service.register(nxu_student, event.id, "stall").status == "registered"


def test_registration_cannot_reopen_after_the_deadline(db, organiser, event, reschedule):
    starts = utcnow() + timedelta(hours=10)
    reschedule(event, starts, registration_deadline=utcnow() - timedelta(hours=1))
    service.set_registration_open(organiser, event, False)
    db.session.commit()
    with pytest.raises(Conflict):
        service.set_registration_open(organiser, event, True)


def test_only_the_organiser_closes_registration(db, event, nxu_student):
    with pytest.raises(Forbidden):
        service.set_registration_open(nxu_student, event, False)


# --- who may register --------------------------------------------------------------------------------


def test_a_student_of_the_campus_may_register(db, event, nxu_student):
    assert service.why_not_register(nxu_student, event) is None
    registration = service.register(nxu_student, event.id, "stall")
    db.session.commit()
    assert (registration.status, registration.role, registration.user_id) == ("registered", "stall", nxu_student.id)
    assert len(registration.checkin_code) == service.CODE_LENGTH
    assert set(registration.checkin_code) <= set(service.CODE_ALPHABET)
    assert _refresh(db, event).stalls_taken == 1


@pytest.mark.parametrize("who", ["resident", "nmu_student"])
def test_a_campus_only_event_refuses_others_naming_the_campus(db, event, request, who):
    person = request.getfixturevalue(who)
    reason = service.why_not_register(person, event)
    assert reason is not None and "宁夏大学" in reason
    with pytest.raises(Forbidden) as exc:
        service.register(person, event.id, "visitor")
    assert exc.value.message == reason
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration)) == 0


def test_an_unverified_user_is_refused(db, swap_event, make_user, submit_request):
    plain = make_user("plain")
    assert "实名认证" in service.why_not_register(plain, swap_event)
    submit_request(plain)  # pending is not verified
    with pytest.raises(Forbidden) as exc:
        service.register(plain, swap_event.id, "visitor")
    assert "实名认证" in exc.value.message


def test_the_organiser_does_not_register_for_their_own_event(db, organiser, swap_event):
    with pytest.raises(Forbidden):
        service.register(organiser, swap_event.id, "visitor")


def test_the_restricted_credit_band_is_refused_with_the_score(db, swap_event, resident):
    resident.credit_score = 350
    db.session.commit()
    reason = service.why_not_register(resident, swap_event)
    assert reason is not None and "350" in reason and "受限" in reason
    with pytest.raises(Forbidden):
        service.register(resident, swap_event.id, "stall")
    db.session.rollback()
    resident.credit_score = 400  # poor, but above restricted
    db.session.commit()
    assert service.why_not_register(resident, swap_event) is None


def test_a_proposed_black_list_entry_suspends_registration(db, swap_event, resident, moderator):
    from marketplace.trust import service as trust

    trust.propose(resident, reason="low_score", proposer=moderator, decision_id=None)
    db.session.commit()
    reason = service.why_not_register(resident, swap_event)
    assert reason is not None and "黑名单" in reason
    with pytest.raises(Forbidden):
        service.register(resident, swap_event.id, "visitor")


def test_a_district_event_takes_residents_of_the_district_only(db, make_event, make_resident, make_student):
    event = make_event("community_swap", restriction="district", district="jinfeng")
    local, other, student = make_resident("jinfeng"), make_resident("xingqing"), make_student("nxu")
    assert service.why_not_register(local, event) is None
    assert service.register(local, event.id, "stall").status == "registered"
    for outsider in (other, student):
        reason = service.why_not_register(outsider, event)
        assert reason is not None and "金凤区" in reason
        with pytest.raises(Forbidden):
            service.register(outsider, event.id, "visitor")


def test_registration_closes_at_the_deadline(db, swap_event, resident, reschedule):
    reschedule(swap_event, utcnow() + timedelta(hours=10), registration_deadline=utcnow() - timedelta(minutes=1))
    assert service.why_not_register(resident, swap_event) == "报名已截止。"
    with pytest.raises(Forbidden):
        service.register(resident, swap_event.id, "visitor")


def test_registering_twice_is_a_conflict_but_again_after_cancelling_is_fine(db, swap_event, resident):
    first = service.register(resident, swap_event.id, "visitor")
    db.session.commit()
    for role in ("visitor", "stall"):
        with pytest.raises(Conflict):
            service.register(resident, swap_event.id, role)
        db.session.rollback()
    service.cancel_registration(resident, first)
    db.session.commit()
    again = service.register(resident, swap_event.id, "stall")
    db.session.commit()
    assert again.id != first.id and again.status == "registered"
    assert service.registration_of(resident, swap_event).id == again.id


def test_an_unknown_role_is_invalid(db, swap_event, resident):
    with pytest.raises(Invalid) as exc:
        service.register(resident, swap_event.id, "vip")
    assert list(exc.value.errors) == ["role"]


def test_an_unknown_event_is_not_found(db, resident):
    with pytest.raises(NotFound):
        service.register(resident, 999, "visitor")


# --- the waiting list -------------------------------------------------------------------------------


def test_the_third_stallholder_waits_and_moves_up_when_a_stall_is_given_up(
    db, event, register, make_student, notices_of
):
    first, second, third, fourth = (make_student() for _ in range(4))
    a, b = register(first, event), register(second, event)
    c, d = register(third, event), register(fourth, event)
    assert [r.status for r in (a, b, c, d)] == ["registered", "registered", "waitlisted", "waitlisted"]
    assert [service.waitlist_position(r) for r in (a, c, d)] == [None, 1, 2]
    assert _refresh(db, event).stalls_taken == 2

    service.cancel_registration(second, b)
    db.session.commit()
    _refresh(db, event, b, c, d)
    assert (b.status, b.late_cancellation) == ("cancelled", False)
    assert (c.status, d.status) == ("registered", "waitlisted")
    assert c.promoted_at is not None
    assert service.waitlist_position(d) == 1
    assert event.stalls_taken == 2
    assert notices_of(third) == [("event.promoted", "event", event.id)]
    assert notices_of(fourth) == []


def test_a_waiting_stallholder_who_cancels_frees_no_stall(db, event, register, make_student):
    regs = [register(make_student(), event) for _ in range(4)]
    service.cancel_registration(regs[2].user, regs[2])
    db.session.commit()
    _refresh(db, event, *regs)
    assert [r.status for r in regs] == ["registered", "registered", "cancelled", "waitlisted"]
    assert service.waitlist_position(regs[3]) == 1
    assert event.stalls_taken == 2


def test_a_cancelled_stall_takes_its_listings_back_from_the_event(db, swap_event, register, make_resident, bring):
    seller = make_resident()
    registration = register(seller, swap_event)
    (listing,) = bring(seller, swap_event)
    service.cancel_registration(seller, registration)
    db.session.commit()
    _refresh(db, listing)
    assert (listing.event_id, listing.status) == (None, "active")


def test_visitors_are_not_limited_by_stalls(db, make_event, register, make_student):
    event = make_event(stalls=0)
    regs = [register(make_student(), event, "visitor") for _ in range(5)]
    assert {r.status for r in regs} == {"registered"}
    assert _refresh(db, event).stalls_taken == 0
    stall = register(make_student(), event)
    assert stall.status == "waitlisted"


def test_only_the_participant_cancels_their_registration(db, event, register, nxu_student, organiser):
    registration = register(nxu_student, event)
    with pytest.raises(Forbidden):
        service.cancel_registration(organiser, registration)
    db.session.rollback()
    service.cancel_registration(nxu_student, registration)
    db.session.commit()
    with pytest.raises(Conflict):
        service.cancel_registration(nxu_student, registration)


def test_a_checked_in_participant_cannot_cancel(db, organiser, event, register, nxu_student, make_student):
    registration = register(nxu_student, event)
    register(make_student(), event)  # the other stall
    waiting = register(make_student(), event)
    service.check_in(organiser, event, registration.checkin_code, now=_during(event))
    db.session.commit()
    with pytest.raises(Conflict):
        service.cancel_registration(nxu_student, registration, now=_during(event))
    db.session.rollback()  # as the request would
    _refresh(db, registration, waiting, event)
    assert (registration.status, waiting.status, event.stalls_taken) == ("registered", "waitlisted", 2)


def test_no_cancelling_once_the_event_is_over(db, event, register, nxu_student):
    registration = register(nxu_student, event)
    with pytest.raises(Conflict):
        service.cancel_registration(nxu_student, registration, now=event.ends_at + timedelta(minutes=1))
    db.session.rollback()
    assert (_refresh(db, registration).status, registration.late_cancellation) == ("registered", False)


def test_no_one_moves_up_at_a_cancelled_event(db, organiser, event, register, make_student, notices_of):
    holder, waiting = make_student(), make_student()
    held = register(holder, event)
    register(make_student(), event)
    line = register(waiting, event)
    service.cancel(organiser, event, REASON)
    db.session.commit()
    service.cancel_registration(holder, held)
    db.session.commit()
    assert _refresh(db, line).status == "waitlisted"
    assert notices_of(waiting) == [("event.cancelled", "event", event.id)]


# --- check-in ----------------------------------------------------------------------------------------


def test_a_check_in_pays_the_reward_once(db, organiser, event, register, nxu_student):
    registration = register(nxu_student, event)
    now = _during(event)
    checked = service.check_in(organiser, event, registration.checkin_code, now=now)
    db.session.commit()
    assert (checked.checked_in_at, checked.checked_in_by) == (now, organiser.id)
    points = policy()["rewards"]["checkin"]["points"]
    assert _checkins(db, nxu_student) == [points]
    assert _refresh(db, nxu_student).credit_score == policy()["initial_score"] + points
    ledger = db.session.scalars(sa.select(CreditEvent).where(CreditEvent.code == "checkin")).one()
    assert (ledger.source, ledger.source_id) == ("event", registration.id)

    with pytest.raises(Conflict):
        service.check_in(organiser, event, registration.checkin_code, now=now)
    db.session.rollback()
    assert _checkins(db, nxu_student) == [points]


def test_a_code_is_read_without_case_spaces_or_dashes(db, organiser, event, register, nxu_student):
    registration = register(nxu_student, event, "visitor")
    code = registration.checkin_code
    typed = f" {code[:4].lower()}-{code[4:]} "
    assert service.check_in(organiser, event, typed, now=_during(event)).id == registration.id


def test_an_unknown_code_is_not_found(db, organiser, event, register, nxu_student):
    registration = register(nxu_student, event)
    unknown = "ABCDEFGH" if registration.checkin_code != "ABCDEFGH" else "HGFEDCBA"
    with pytest.raises(NotFound):
        service.check_in(organiser, event, unknown, now=_during(event))
    with pytest.raises(Invalid) as exc:
        service.check_in(organiser, event, "ABC", now=_during(event))
    assert list(exc.value.errors) == ["checkin_code"]


def test_the_code_of_another_event_is_not_found(db, organiser, event, make_event, register, nxu_student):
    other = make_event(title="另一场跳蚤市场")
    elsewhere = register(nxu_student, other)
    with pytest.raises(NotFound):
        service.check_in(organiser, event, elsewhere.checkin_code, now=_during(event))
    assert _refresh(db, elsewhere).checked_in_at is None


def test_a_waiting_or_cancelled_stallholder_cannot_check_in(db, organiser, make_event, register, make_student):
    event = make_event(stalls=1)
    holder, waiting = register(make_student(), event), register(make_student(), event)
    visitor = register(make_student(), event, "visitor")
    service.cancel_registration(visitor.user, visitor)
    db.session.commit()
    for registration in (waiting, visitor):
        with pytest.raises(Conflict):
            service.check_in(organiser, event, registration.checkin_code, now=_during(event))
        db.session.rollback()
    assert _refresh(db, holder).status == "registered"
    assert (
        db.session.scalar(sa.select(sa.func.count()).select_from(CreditEvent).where(CreditEvent.code == "checkin")) == 0
    )


def test_check_in_is_open_only_around_the_event(db, organiser, event, register, nxu_student):
    registration = register(nxu_student, event)
    opens, closes = service.checkin_window(event)
    assert opens == event.starts_at - timedelta(hours=policy()["events"]["checkin_opens_hours"])
    assert closes == event.ends_at + timedelta(hours=policy()["events"]["checkin_closes_hours"])
    for when in (opens - timedelta(minutes=1), closes + timedelta(minutes=1), utcnow()):
        with pytest.raises(Conflict):
            service.check_in(organiser, event, registration.checkin_code, now=when)
        db.session.rollback()
    assert _refresh(db, registration).checked_in_at is None
    assert service.check_in(organiser, event, registration.checkin_code, now=opens).checked_in_at == opens


def test_only_the_organiser_checks_people_in(db, event, register, nxu_student, make_student):
    registration = register(nxu_student, event)
    with pytest.raises(Forbidden):
        service.check_in(make_student(), event, registration.checkin_code, now=_during(event))
    with pytest.raises(Forbidden):
        service.check_in(nxu_student, event, registration.checkin_code, now=_during(event))


def test_a_cancelled_event_checks_no_one_in(db, organiser, event, register, nxu_student):
    registration = register(nxu_student, event)
    service.cancel(organiser, event, REASON)
    db.session.commit()
    with pytest.raises(Conflict):
        service.check_in(organiser, event, registration.checkin_code, now=_during(event))


def test_check_in_rewards_stop_at_the_cap(db, organiser, make_event, register, resident):
    rule = policy()["rewards"]["checkin"]
    events = [
        make_event("community_swap", title=f"社区换物日 第 {n} 场") for n in range(rule["cap"] // rule["points"] + 1)
    ]
    for event in events:
        registration = register(resident, event, "visitor")
        service.check_in(organiser, event, registration.checkin_code, now=_during(event))
        db.session.commit()
    assert sum(_checkins(db, resident)) == rule["cap"]
    assert len(_checkins(db, resident)) == rule["cap"] // rule["points"]
    assert _refresh(db, resident).credit_score == policy()["initial_score"] + rule["cap"]
