"""The credit service: an append-only ledger, idempotent events, capped rewards, audited adjustments, who may read."""

from __future__ import annotations

import json
from datetime import timedelta
from unittest import mock

import pytest
import sqlalchemy as sa

from marketplace.audit.models import AuditEntry
from marketplace.credit import service
from marketplace.credit.models import CreditEvent
from marketplace.db import utcnow
from marketplace.errors import Forbidden, Invalid, NotFound

REASON = "经核实后人工调整"


@pytest.fixture
def member(verified_user):
    """A verified user: 600, one event."""
    return verified_user("member")


@pytest.fixture
def supervisor(make_user):
    return make_user("sup", roles=("supervisor",))


def _events(db, user) -> list[tuple[str, int, str, int | None]]:
    return [(e.code, e.points, e.source, e.source_id) for e in service.ledger(user)]


def _audit(db, action: str) -> list[dict]:
    rows = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq))
    return [{"actor_id": r.actor_id, "subject_id": r.subject_id, **json.loads(r.data)} for r in rows]


# --- append-only ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE credit_events SET points = 1000 WHERE id = :id",
        "UPDATE credit_events SET reason = '' WHERE id = :id",
        "DELETE FROM credit_events WHERE id = :id",
    ],
)
def test_the_ledger_is_append_only_in_the_database(db, member, statement):
    (event,) = service.ledger(member)
    db.session.commit()
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        db.session.execute(sa.text(statement), {"id": event.id})
        db.session.flush()
    db.session.rollback()
    db.session.expire_all()
    assert _events(db, member) == [("verification", 600, "verification", event.source_id)]
    assert db.session.get(CreditEvent, event.id).reason


def test_the_ledger_cannot_be_truncated_on_postgresql(db, member):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's (SQLite has no such statement)")
    db.session.commit()
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        db.session.execute(sa.text("TRUNCATE credit_events CASCADE"))
    db.session.rollback()
    assert len(service.ledger(member)) == 1


# --- opening, penalties, compensations ---------------------------------------------------------------------------


def test_the_account_is_opened_once_with_the_initial_score(db, make_user):
    user = make_user("newcomer")
    assert user.credit_score is None and service.score_of(service.ledger(user)) is None
    event = service.open_account(user, source_id=7)
    assert (event.code, event.points, event.source, event.source_id, event.ages) == (
        "verification",
        600,
        "verification",
        7,
        False,
    )
    assert user.credit_score == 600
    assert service.open_account(user) is None
    assert service.open_account(user, source_id=8) is None
    assert len(service.ledger(user)) == 1 and user.credit_score == 600


def test_a_penalty_is_recorded_once_per_user_code_and_source(db, member, verified_user):
    first = service.penalise(member, "breach", source="order", source_id=1, reason="违约")
    assert service.penalise(member, "breach", source="order", source_id=1, reason="又一次") is first
    assert member.credit_score == 585
    # Another source object, another code or another user: a new event each.
    service.penalise(member, "breach", source="order", source_id=2, reason="违约")
    service.penalise(member, "malicious_report", source="order", source_id=1, reason="恶意举报")
    other = verified_user("other")
    service.penalise(other, "breach", source="order", source_id=1, reason="违约")
    assert [e.points for e in service.ledger(member)] == [600, -15, -15, -20]
    assert member.credit_score == 550 and other.credit_score == 585


def test_a_repeated_penalty_keeps_its_first_multiplier(db, member):
    first = service.penalise(member, "hidden_defect", source="decision", source_id=1, reason="隐瞒")
    second = service.penalise(member, "hidden_defect", source="decision", source_id=2, reason="隐瞒")
    assert (first.multiplier, second.multiplier) == (1, 2)
    # Recording the first decision again neither re-weighs it nor counts as a third violation.
    assert service.penalise(member, "hidden_defect", source="decision", source_id=1, reason="隐瞒") is first
    assert service.violations_within_window(member) == 2
    assert member.credit_score == 600 - 60 - 120


def test_only_violations_are_multiplied(db, member):
    for n in range(4):
        assert service.penalise(member, "breach", source="order", source_id=n, reason="违约").multiplier == 1
    assert service.violations_within_window(member) == 0
    assert member.credit_score == 600 - 4 * 15


def test_a_compensated_violation_no_longer_counts_toward_repeats(db, member, supervisor):
    first = service.penalise(member, "exaggeration", source="decision", source_id=1, reason="夸大")
    service.compensate(first, source="appeal", source_id=1, reason="申诉成立", actor=supervisor)
    assert member.credit_score == 600 and service.violations_within_window(member) == 0
    second = service.penalise(member, "exaggeration", source="decision", source_id=2, reason="夸大")
    assert (second.multiplier, second.points) == (1, -30)


def test_an_event_is_compensated_once(db, member, supervisor):
    penalty = service.penalise(member, "counterfeit", source="decision", source_id=1, reason="假冒")
    assert member.credit_score == 400
    first = service.compensate(penalty, source="appeal", source_id=1, reason="申诉成立", actor=supervisor)
    assert (first.code, first.points, first.compensates_id, first.actor_id) == (
        "compensation",
        200,
        penalty.id,
        supervisor.id,
    )
    # A second appeal of the same event (another source) does not cancel it twice over.
    assert service.compensate(penalty, source="appeal", source_id=2, reason="再次申诉", actor=supervisor) is first
    assert member.credit_score == 600 and len(service.ledger(member)) == 3


def test_a_compensation_cancels_what_an_aged_penalty_counts_now(db, member, supervisor):
    penalty = service._add(
        member, "fake_transaction", -100, "decision", 1, "刷单", ages=True, at=utcnow() - timedelta(days=400)
    )
    assert member.credit_score == 550  # counts half now
    service.compensate(penalty, source="appeal", source_id=1, reason="申诉成立", actor=supervisor)
    assert member.credit_score == 600
    rows = {row["event"].code: row for row in service.details(member, member.id)["events"]}
    assert rows["fake_transaction"]["counts"] == -50 and rows["fake_transaction"]["aged"]
    assert rows["fake_transaction"]["overturned"]
    assert rows["compensation"]["counts"] == 50


def test_the_score_has_a_floor(db, member):
    for n in range(4):
        service.penalise(member, "counterfeit", source="decision", source_id=n, reason="假冒")
    assert member.credit_score == 0  # 600 − 200 − 400 − 600 − 600
    assert sum(e.points for e in service.ledger(member)) == -1200


def test_the_score_has_a_ceiling(db, member, supervisor):
    for _ in range(3):
        service.adjust(supervisor, member, 200, REASON)
    assert member.credit_score == 1000
    assert sum(e.points for e in service.ledger(member)) == 1200


# --- rewards ----------------------------------------------------------------------------------------------------


def test_an_unverified_user_earns_no_reward(db, make_user):
    user = make_user("newcomer")
    assert service.reward(user, "good_rating", source="rating", source_id=1, reason="好评") is None
    assert service.reward(user, "checkin", source="event", source_id=1, reason="签到") is None
    assert service.ledger(user) == [] and user.credit_score is None


@pytest.mark.parametrize(
    ("code", "source", "points", "cap"), [("good_rating", "rating", 3, 30), ("checkin", "event", 2, 10)]
)
def test_rewards_are_capped_per_period(db, member, code, source, points, cap):
    paid = [service.reward(member, code, source=source, source_id=n, reason="奖励") for n in range(cap // points + 2)]
    assert [e.points for e in paid if e is not None] == [points] * (cap // points)
    assert paid[-2:] == [None, None]
    assert member.credit_score == 600 + cap
    # A month later the period has moved on: the next reward is paid again.
    later = utcnow() + timedelta(days=30, seconds=1)
    with mock.patch.object(service, "utcnow", lambda: later):
        assert service.reward(member, code, source=source, source_id=100, reason="奖励").points == points
    assert member.credit_score == 600 + cap + points


def test_a_reward_is_paid_once_per_source(db, member):
    assert service.reward(member, "good_rating", source="rating", source_id=1, reason="好评").points == 3
    assert service.reward(member, "good_rating", source="rating", source_id=1, reason="好评") is None
    assert member.credit_score == 603


def test_the_cap_counts_only_its_own_reward(db, member):
    for n in range(5):
        service.reward(member, "checkin", source="event", source_id=n, reason="签到")
    assert service.reward(member, "good_rating", source="rating", source_id=1, reason="好评").points == 3
    assert member.credit_score == 613


# --- manual adjustments -------------------------------------------------------------------------------------------


def test_a_supervisor_adjusts_with_a_reason_and_it_is_audited(db, member, supervisor):
    event = service.adjust(supervisor, member, -200, f"  {REASON}  ")
    assert (event.code, event.points, event.source, event.actor_id, event.reason) == (
        "adjustment",
        -200,
        "adjustment",
        supervisor.id,
        REASON,
    )
    assert member.credit_score == 400
    assert _audit(db, "credit.adjusted") == [
        {"actor_id": supervisor.id, "subject_id": member.id, "event_id": event.id, "points": -200, "score": 400}
    ]


@pytest.mark.parametrize("roles", [("resident",), ("moderator",), ("organiser", "inspector", "admin")])
def test_only_supervisors_adjust(db, member, make_user, roles):
    with pytest.raises(Forbidden):
        service.adjust(make_user("someone", roles=roles), member, 10, REASON)
    assert len(service.ledger(member)) == 1 and _audit(db, "credit.adjusted") == []


def test_a_suspended_supervisor_cannot_adjust(db, member, supervisor):
    supervisor.status = "suspended"
    with pytest.raises(Forbidden):
        service.adjust(supervisor, member, 10, REASON)


def test_a_supervisor_cannot_adjust_their_own_score(db, verified_user):
    own = verified_user("self_sup", roles=("supervisor",))
    with pytest.raises(Forbidden):
        service.adjust(own, own, 100, REASON)
    assert own.credit_score == 600


@pytest.mark.parametrize("points", [0, 201, -201, 1000, True, "10", 10.0, None])
def test_the_points_are_a_nonzero_whole_number_within_200(db, member, supervisor, points):
    with pytest.raises(Invalid) as exc:
        service.adjust(supervisor, member, points, REASON)
    assert list(exc.value.errors) == ["points"]
    assert len(service.ledger(member)) == 1


@pytest.mark.parametrize("points", [1, -1, 200, -200])
def test_the_ends_of_the_range_are_allowed(db, member, supervisor, points):
    assert service.adjust(supervisor, member, points, REASON).points == points
    assert member.credit_score == 600 + points


@pytest.mark.parametrize("reason", [None, "", "    ", "太低了", "  核实  ", "好" * 501])
def test_the_reason_is_4_to_500_characters(db, member, supervisor, reason):
    with pytest.raises(Invalid) as exc:
        service.adjust(supervisor, member, 10, reason)
    assert list(exc.value.errors) == ["reason"]


@pytest.mark.parametrize("reason", ["核实情况", "好" * 500])
def test_reasons_of_4_and_500_characters_are_fine(db, member, supervisor, reason):
    assert service.adjust(supervisor, member, 10, reason).reason == reason


def test_an_unverified_user_has_no_score_to_adjust(db, make_user, supervisor):
    user = make_user("newcomer")
    with pytest.raises(Invalid) as exc:
        service.adjust(supervisor, user, 10, REASON)
    assert list(exc.value.errors) == ["points"]
    assert service.ledger(user) == [] and user.credit_score is None


# --- reading -------------------------------------------------------------------------------------------------------


def test_details_are_for_the_user_moderators_and_supervisors(db, member, make_user, verified_user, supervisor):
    for viewer in (member, make_user("mod", roles=("moderator",)), supervisor):
        shown = service.details(viewer, member.id)
        assert (shown["user"], shown["score"], shown["band"]) == (member, 600, "fair")
    for viewer in (None, verified_user("neighbour"), make_user("org", roles=("organiser", "inspector", "admin"))):
        with pytest.raises(NotFound):
            service.details(viewer, member.id)
    suspended = make_user("old_mod", roles=("moderator",), status="suspended")
    with pytest.raises(NotFound):
        service.details(suspended, member.id)
    with pytest.raises(NotFound):
        service.details(supervisor, 999_999)


def test_details_list_the_events_newest_first_with_what_each_counts(db, member, supervisor):
    breach = service.penalise(member, "breach", source="order", source_id=3, reason="违约")
    service.reward(member, "good_rating", source="rating", source_id=4, reason="好评")
    service.compensate(breach, source="appeal", source_id=5, reason="申诉成立", actor=supervisor)
    rows = service.details(member, member.id)["events"]
    assert [(r["event"].code, r["counts"], r["aged"], r["overturned"]) for r in rows] == [
        ("compensation", 15, False, False),
        ("good_rating", 3, False, False),
        ("breach", -15, False, True),
        ("verification", 600, False, False),
    ]
    assert service.details(member, member.id)["score"] == 603


def test_ageing_users_are_those_with_a_penalty_past_the_ageing_period(db, member, verified_user, supervisor):
    now = utcnow()
    recent, old_reward, old = verified_user("recent"), verified_user("old_reward"), verified_user("old_penalty")
    service._add(recent, "breach", -15, "order", 1, "违约", ages=True, at=now - timedelta(days=364))
    service._add(old_reward, "good_rating", 3, "rating", 2, "好评", at=now - timedelta(days=500))
    service._add(old, "breach", -15, "order", 3, "违约", ages=True, at=now - timedelta(days=366))
    service._add(old, "breach", -15, "order", 4, "违约", ages=True, at=now - timedelta(days=700))
    db.session.commit()
    assert service.ageing_users(now) == [old.id]
    assert sorted(service.ageing_users(now + timedelta(days=2))) == sorted([recent.id, old.id])
    # Exactly at the end of the period the penalty already counts half (and is no longer a repeat).
    exactly = now - timedelta(days=365)
    service._add(member, "exaggeration", -30, "decision", 5, "夸大", ages=True, multiplier=1, at=exactly)
    assert member.id in service.ageing_users(now)
    assert service.recompute(member, now) == 585
    assert service.violations_within_window(member, now) == 0
