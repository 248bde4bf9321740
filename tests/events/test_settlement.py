"""After an event: who is a no-show (once, a small explained penalty), and the one appeal against it."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.credit.models import CreditEvent
from marketplace.credit.policy import policy
from marketplace.db import utcnow
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.events import service, settlement
from marketplace.events.models import Event, Registration

INITIAL = policy()["initial_score"]
PENALTY = policy()["penalties"]["no_show"]
APPEAL = "那天早上发高烧去了医院，来不及提前取消，有病历可以证明。"
REASON = "场地临时被学校征用，改期另行通知"


def _ledger(db, user) -> list[tuple[str, int]]:
    return [
        (e.code, e.points)
        for e in db.session.scalars(
            sa.select(CreditEvent)
            .where(CreditEvent.user_id == user.id, CreditEvent.code != "verification")
            .order_by(CreditEvent.id)
        )
    ]


def _score(db, user) -> int:
    db.session.refresh(user)
    return user.credit_score


def _settle(db, event, now=None) -> int:
    count = settlement.settle(event, now=now)
    db.session.commit()
    db.session.refresh(event)
    return count


@pytest.fixture
def fair(make_event):
    return make_event("community_swap", stalls=5)


@pytest.fixture
def no_show(db, fair, make_resident, register, make_past):
    """(registration, user): a stallholder of `fair` who never came; the event settled."""
    user = make_resident(username="absent")
    registration = register(user, fair)
    make_past(fair)
    assert _settle(db, fair) == 1
    db.session.refresh(registration)
    return registration, user


# --- settling ----------------------------------------------------------------------------------


def test_a_stallholder_who_never_came_is_penalised_once(
    db, fair, make_resident, register, make_past, notices_of, audit
):
    user = make_resident()
    registration = register(user, fair)
    make_past(fair)

    assert _settle(db, fair) == 1
    db.session.refresh(registration)
    assert registration.no_show is True
    assert fair.settled_at is not None
    assert _ledger(db, user) == [("no_show", -PENALTY)]
    penalty = db.session.scalars(sa.select(CreditEvent).where(CreditEvent.code == "no_show")).one()
    assert (penalty.source, penalty.source_id, penalty.ages) == ("event", registration.id, True)
    assert fair.title in penalty.reason
    assert _score(db, user) == INITIAL - PENALTY
    assert notices_of(user)[-1] == ("event.no_show", "registration", registration.id)
    assert audit("event.no_show") == [
        {"actor_id": None, "subject_id": registration.id, "event_id": fair.id, "user_id": user.id}
    ]

    # Settling again (the command ran twice, or two workers at once) changes nothing.
    assert _settle(db, fair) == 0
    assert settlement.settle(fair, now=utcnow() + timedelta(days=1)) == 0
    db.session.commit()
    assert _ledger(db, user) == [("no_show", -PENALTY)]
    assert _score(db, user) == INITIAL - PENALTY
    assert len(audit("event.no_show")) == 1
    assert [n for n in notices_of(user) if n[0] == "event.no_show"] == [
        ("event.no_show", "registration", registration.id)
    ]


def test_nothing_is_settled_before_the_grace_hours_after_the_end(db, fair, make_resident, register, make_past):
    registration = register(make_resident(), fair)
    hours = policy()["events"]["settle_after_hours"]
    make_past(fair, ended_ago=timedelta(hours=hours) - timedelta(minutes=5))
    assert _settle(db, fair) == 0
    assert fair.settled_at is None
    assert _settle(db, fair, now=fair.ends_at + timedelta(hours=hours)) == 1
    assert db.session.get(Registration, registration.id).no_show is True


def test_who_is_a_no_show_and_who_is_not(db, organiser, make_event, make_resident, register, reschedule, make_past):
    event = make_event("community_swap", stalls=4)
    came, absent, early, late, waiting, visitor = (make_resident() for _ in range(6))
    came_reg = register(came, event)
    register(absent, event)
    early_reg = register(early, event)
    late_reg = register(late, event)
    waiting_reg = register(waiting, event)
    visitor_reg = register(visitor, event, "visitor")
    assert waiting_reg.status == "waitlisted"

    # Three days ahead: in time. Then the event draws near: ten hours before is too late.
    service.cancel_registration(early, early_reg)
    db.session.commit()
    reschedule(event, utcnow() + timedelta(hours=10))
    assert service.is_late_cancellation(late_reg)
    service.cancel_registration(late, late_reg)
    db.session.commit()
    # The freed stalls went to the one waiting, who then came too.
    assert db.session.get(Registration, waiting_reg.id).status == "registered"
    during = event.starts_at + timedelta(hours=1)
    for reg in (came_reg, db.session.get(Registration, waiting_reg.id), visitor_reg):
        service.check_in(organiser, event, reg.checkin_code, now=during)
    db.session.commit()
    make_past(event)

    assert _settle(db, event) == 2
    registrations = db.session.scalars(sa.select(Registration).where(Registration.event_id == event.id)).all()
    assert len(registrations) == 6
    assert {r.user_id for r in registrations if r.no_show} == {absent.id, late.id}
    for person in (absent, late):
        assert _ledger(db, person) == [("no_show", -PENALTY)]
    for person in (came, waiting, visitor):
        assert _ledger(db, person) == [("checkin", policy()["rewards"]["checkin"]["points"])]
    assert _ledger(db, early) == []


def test_twenty_four_hours_ahead_is_in_time(db, fair, make_resident, register):
    registration = register(make_resident(), fair)
    hours = policy()["events"]["no_show_cancel_hours"]
    deadline = fair.starts_at - timedelta(hours=hours)
    assert not service.is_late_cancellation(registration, deadline)
    assert service.is_late_cancellation(registration, deadline + timedelta(seconds=1))


def test_a_stallholder_who_never_got_a_stall_is_never_a_no_show(db, make_event, make_resident, register, make_past):
    event = make_event("community_swap", stalls=1)
    holder, waiting = make_resident(), make_resident()
    register(holder, event)
    register(waiting, event)
    make_past(event)
    assert _settle(db, event) == 1
    assert _ledger(db, waiting) == []
    assert _ledger(db, holder) == [("no_show", -PENALTY)]


def test_visitors_are_never_no_shows(db, fair, make_resident, register, make_past):
    visitor = make_resident()
    registration = register(visitor, fair, "visitor")
    make_past(fair)
    assert _settle(db, fair) == 0
    assert fair.settled_at is not None
    db.session.refresh(registration)
    assert registration.no_show is False
    assert _ledger(db, visitor) == []


def test_a_cancelled_event_is_never_settled(db, organiser, fair, make_resident, register, make_past, audit):
    user = make_resident()
    register(user, fair)
    service.cancel(organiser, fair, REASON)
    db.session.commit()
    make_past(fair)
    assert fair.id not in settlement.due_for_settlement()
    assert _settle(db, fair) == 0
    assert fair.settled_at is None
    assert _ledger(db, user) == []
    assert audit("event.no_show") == []


def test_due_for_settlement_lists_ended_unsettled_live_events(db, organiser, make_event, make_past):
    due = make_past(make_event("community_swap", title="已结束"))
    recent = make_past(make_event("community_swap", title="刚结束"), ended_ago=timedelta(minutes=30))
    make_event("community_swap", title="还没开始")
    cancelled = make_event("community_swap", title="已取消")
    service.cancel(organiser, cancelled, REASON)
    db.session.commit()
    make_past(cancelled)
    settled = make_past(make_event("community_swap", title="已结算"))
    _settle(db, settled)

    assert settlement.due_for_settlement() == [due.id]
    hours = policy()["events"]["settle_after_hours"]
    assert settlement.due_for_settlement(now=recent.ends_at + timedelta(hours=hours)) == [due.id, recent.id]
    _settle(db, due)
    assert settlement.due_for_settlement() == []


# --- appeals ------------------------------------------------------------------------------------


def test_a_no_show_appeals_once_and_the_organiser_is_told(db, organiser, no_show, notices_of, audit):
    registration, user = no_show
    assert settlement.can_appeal(user, registration)
    settlement.appeal(user, registration, APPEAL)
    db.session.commit()
    assert (registration.appeal_status, registration.appeal_reason) == ("pending", APPEAL)
    assert notices_of(organiser)[-1] == ("event.no_show_appealed", "event", registration.event_id)
    assert audit("event.no_show_appealed") == [{"actor_id": user.id, "subject_id": registration.id}]
    assert settlement.pending_appeals(registration.event) == [registration]
    assert not settlement.can_appeal(user, registration)
    with pytest.raises(Conflict):
        settlement.appeal(user, registration, APPEAL)


def test_an_appeal_needs_a_reason(db, no_show):
    registration, user = no_show
    with pytest.raises(Invalid) as exc:
        settlement.appeal(user, registration, "生病了")
    assert list(exc.value.errors) == ["reason"]


def test_only_the_no_show_appeals(db, no_show, make_resident):
    registration, _user = no_show
    with pytest.raises(NotFound):
        settlement.appeal(make_resident(), registration, APPEAL)
    assert not settlement.can_appeal(make_resident(), registration)


def test_nothing_to_appeal_without_a_no_show(db, make_event, make_resident, register, make_past):
    event = make_event("community_swap")
    visitor = make_resident()
    registration = register(visitor, event, "visitor")
    make_past(event)
    _settle(db, event)
    with pytest.raises(Conflict):
        settlement.appeal(visitor, registration, APPEAL)


def test_appeals_close_after_the_appeal_days(db, no_show):
    registration, user = no_show
    days = policy()["appeal_days"]
    event = registration.event
    assert settlement.appeal_deadline(registration) == event.settled_at + timedelta(days=days)
    db.session.execute(
        sa.update(Event)
        .where(Event.id == event.id)
        .values(settled_at=utcnow() - timedelta(days=days, minutes=1))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    db.session.refresh(event)
    assert not settlement.can_appeal(user, registration)
    with pytest.raises(Conflict):
        settlement.appeal(user, registration, APPEAL)


def test_the_organiser_excuses_and_the_score_is_restored(db, organiser, no_show, notices_of, audit):
    registration, user = no_show
    settlement.appeal(user, registration, APPEAL)
    db.session.commit()
    assert settlement.can_decide(organiser, registration)
    settlement.decide(organiser, registration, "excused", "有病历，免除。")
    db.session.commit()
    assert (registration.appeal_status, registration.appeal_decided_by) == ("excused", organiser.id)
    assert _ledger(db, user) == [("no_show", -PENALTY), ("compensation", PENALTY)]
    penalty, compensation = db.session.scalars(
        sa.select(CreditEvent).where(CreditEvent.user_id == user.id, CreditEvent.code != "verification")
    )
    assert compensation.compensates_id == penalty.id
    assert _score(db, user) == INITIAL
    # The penalty stays in the ledger: the flag says what happened, the ledger why the score is back.
    assert registration.no_show is True
    assert notices_of(user)[-1] == ("event.no_show_excused", "registration", registration.id)
    assert audit("event.no_show_decided") == [
        {"actor_id": organiser.id, "subject_id": registration.id, "outcome": "excused"}
    ]
    with pytest.raises(Conflict):
        settlement.decide(organiser, registration, "upheld", "改主意了")


def test_an_upheld_no_show_keeps_its_penalty(db, organiser, no_show, notices_of):
    registration, user = no_show
    settlement.appeal(user, registration, APPEAL)
    db.session.commit()
    settlement.decide(organiser, registration, "upheld", "没有证明材料。")
    db.session.commit()
    assert registration.appeal_status == "upheld"
    assert _ledger(db, user) == [("no_show", -PENALTY)]
    assert _score(db, user) == INITIAL - PENALTY
    assert notices_of(user)[-1] == ("event.no_show_upheld", "registration", registration.id)


def test_a_moderator_may_decide_but_never_the_appellant(
    db, fair, make_student, make_resident, register, make_past, moderator
):
    # The appellant is a moderator themself: still not their own judge.
    appellant = make_resident(roles=("moderator",))
    registration = register(appellant, fair)
    make_past(fair)
    _settle(db, fair)
    db.session.refresh(registration)
    settlement.appeal(appellant, registration, APPEAL)
    db.session.commit()
    assert not settlement.can_decide(appellant, registration)
    with pytest.raises(Forbidden):
        settlement.decide(appellant, registration, "excused", "我自己免除")
    db.session.rollback()
    assert _score(db, appellant) == INITIAL - PENALTY
    for stranger in (make_student(), make_resident()):
        with pytest.raises(Forbidden):
            settlement.decide(stranger, registration, "excused", "")
        db.session.rollback()
    assert settlement.can_decide(moderator, registration)
    settlement.decide(moderator, registration, "excused", "情况属实")
    db.session.commit()
    assert _score(db, appellant) == INITIAL


def test_an_outcome_must_be_excused_or_upheld(db, organiser, no_show):
    registration, user = no_show
    settlement.appeal(user, registration, APPEAL)
    db.session.commit()
    with pytest.raises(Invalid) as exc:
        settlement.decide(organiser, registration, "forgiven", "")
    assert list(exc.value.errors) == ["outcome"]


def test_an_appeal_not_filed_cannot_be_decided(db, organiser, no_show):
    registration, _user = no_show
    with pytest.raises(Conflict):
        settlement.decide(organiser, registration, "excused", "")


# --- at the same moment ---------------------------------------------------------------------------


def test_two_workers_settling_at_once_penalise_once(app, db, fair, make_resident, register, make_past, audit):
    from tests.races import race

    user = make_resident()
    register(user, fair)
    make_past(fair)
    event_id = fair.id
    counts: dict = {}

    def settle(name):
        def work(s):
            counts[name] = settlement.settle(s.get(Event, event_id))

        return work

    outcome = race(app, db, {"cron": settle("cron"), "manual": settle("manual")})

    assert outcome == {"cron": "ok", "manual": "ok"}
    assert sorted(counts.values()) == [0, 1]
    assert _ledger(db, user) == [("no_show", -PENALTY)]
    assert _score(db, user) == INITIAL - PENALTY
    assert len(audit("event.no_show")) == 1


def test_the_organiser_and_a_moderator_deciding_at_once_decide_once(app, db, organiser, moderator, no_show, audit):
    from marketplace.accounts.models import User
    from tests.races import race

    registration, user = no_show
    settlement.appeal(user, registration, APPEAL)
    db.session.commit()
    ids = (registration.id, organiser.id, moderator.id)

    def decide(actor_id, outcome):
        return lambda s: settlement.decide(s.get(User, actor_id), s.get(Registration, ids[0]), outcome, "")

    outcome = race(app, db, {"organiser": decide(ids[1], "excused"), "moderator": decide(ids[2], "excused")})

    assert sorted(outcome.values()) == ["Conflict", "ok"], outcome
    assert _ledger(db, user) == [("no_show", -PENALTY), ("compensation", PENALTY)]
    assert _score(db, user) == INITIAL
    assert len(audit("event.no_show_decided")) == 1
