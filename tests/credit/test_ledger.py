"""The credit ledger under random histories (hypothesis).

Each example gets fresh users and a simulated clock (the credit service's `utcnow` is
replaced, so events carry the simulated time and every "now" of the service is it),
then plays a random sequence of verifications, penalties, repeats of a penalty,
rewards, compensations and supervisor adjustments, each after a random pause. After
every step the ledger is checked against a model of the policy written independently
of the service: the kept score is the replay (also from a fresh session), it stays
within the bounds, the k-th violation within the window weighs k times (at most the
maximum), old penalties count half, compensations cancel what their event counts now,
and rewards never exceed their cap within any rolling period.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from unittest import mock

import hypothesis
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.accounts.models import User
from marketplace.credit import service
from marketplace.credit.models import CreditEvent
from marketplace.credit.policy import policy
from marketplace.db import write_intent
from marketplace.errors import Invalid

POLICY = policy()
PENALTIES = sorted(POLICY["penalties"])
VIOLATIONS = set(POLICY["violations"])
REWARDS = sorted(POLICY["rewards"])
WINDOW = timedelta(days=POLICY["repeat"]["window_days"])
MAX_MULTIPLIER = POLICY["repeat"]["max_multiplier"]
AGES_AFTER = timedelta(days=POLICY["aging"]["after_days"])
AGED_PERCENT = POLICY["aging"]["weight_percent"]
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
USERS = 2
DAY = 86400

_names = itertools.count(1)
_sources = itertools.count(1)


# --- the model: the policy worked out without the service -------------------------------------------


@dataclass
class Expected:
    id: int
    code: str
    points: int
    at: datetime
    source_id: int | None = None
    compensates: int | None = None


def aged(points: int) -> int:
    """The policy's share of a penalty, rounded toward zero."""
    share = abs(points) * AGED_PERCENT // 100
    return -share if points < 0 else share


class Model:
    def __init__(self) -> None:
        self.events: list[list[Expected]] = [[] for _ in range(USERS)]

    def verified(self, u: int) -> bool:
        return any(e.code == "verification" for e in self.events[u])

    def compensated(self, u: int) -> dict[int, Expected]:
        return {e.compensates: e for e in self.events[u] if e.compensates is not None}

    def penalties(self, u: int) -> list[Expected]:
        return [e for e in self.events[u] if e.code in POLICY["penalties"]]

    def counts(self, event: Expected, now: datetime) -> int:
        """What one event counts for now."""
        if event.compensates is not None:
            original = next(e for u in self.events for e in u if e.id == event.compensates)
            return -self.counts(original, now)
        if event.code in POLICY["penalties"] and now - event.at >= AGES_AFTER:
            return aged(event.points)
        return event.points

    def score(self, u: int, now: datetime) -> int | None:
        if not self.verified(u):
            return None
        overturned = self.compensated(u)
        # A compensated penalty and its compensation cancel out, whatever their age.
        total = sum(self.counts(e, now) for e in self.events[u] if e.compensates is None and e.id not in overturned)
        return max(POLICY["min_score"], min(POLICY["max_score"], total))

    def violations(self, u: int, now: datetime) -> int:
        overturned = self.compensated(u)
        return sum(1 for e in self.events[u] if e.code in VIOLATIONS and now - e.at < WINDOW and e.id not in overturned)

    def reward_due(self, u: int, code: str, now: datetime) -> int:
        rule = POLICY["rewards"][code]
        period = timedelta(days=rule["period_days"])
        earned = sum(e.points for e in self.events[u] if e.code == code and now - e.at < period)
        return min(rule["points"], rule["cap"] - earned)


# --- the operations -------------------------------------------------------------------------------------

KINDS = (
    "verify",
    "penalise",
    "penalise",
    "repeat",
    "reward",
    "rewards",
    "compensate",
    "compensate",
    "adjust",
    "adjust",
)
# Most pauses are short (caps and repeats bite within a month), some cross a month or a year.
pauses = st.one_of(
    st.just(0),
    st.integers(1, 3 * DAY),
    st.integers(1, 3 * DAY),
    st.integers(25 * DAY, 35 * DAY),
    st.integers(360 * DAY, 370 * DAY),
)
operations = st.tuples(pauses, st.sampled_from(KINDS), st.integers(0, USERS - 1), st.integers(0, 10**6))
# The first user is verified from the start; the second may be, or may be later (or never).
histories = st.tuples(st.booleans(), st.lists(operations, min_size=3, max_size=40))


def reached(label: str) -> None:
    """Count what the examples reached (shown by --hypothesis-show-statistics)."""
    hypothesis.event(label)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def adjustment_points(arg: int) -> int:
    """A nonzero adjustment within ±200 from a drawn integer: a third of them at the ends, to reach the bounds."""
    magnitude = service.ADJUST_MAX if arg % 3 == 0 else 1 + arg % service.ADJUST_MAX
    return -magnitude if (arg // 3) % 2 else magnitude


def play(db, model: Model, users: list[User], supervisor: User, clock: Clock, kind: str, u: int, arg: int) -> None:
    """One operation through the service, checked against what the model expects of it."""
    user, now = users[u], clock.at
    before = len(service.ledger(user))
    added: CreditEvent | None = None
    if kind == "verify":
        event = service.open_account(user)
        if model.verified(u):
            assert event is None
        else:
            assert (event.code, event.points, event.source) == ("verification", POLICY["initial_score"], "verification")
            added = event
    elif kind == "penalise":
        code = PENALTIES[arg % len(PENALTIES)]
        k = min(model.violations(u, now) + 1, MAX_MULTIPLIER) if code in VIOLATIONS else 1
        event = service.penalise(user, code, source="decision", source_id=next(_sources), reason="违规")
        reached(f"multiplier {k}")
        # (c) the k-th confirmed violation within the window is recorded k times over.
        assert (event.code, event.multiplier, event.points, event.ages) == (
            code,
            k,
            -POLICY["penalties"][code] * k,
            True,
        )
        added = event
    elif kind == "repeat":
        earlier = model.penalties(u)
        if not earlier:
            return
        original = earlier[arg % len(earlier)]
        event = service.penalise(user, original.code, source="decision", source_id=original.source_id, reason="再次")
        assert event.id == original.id  # once per (user, code, source, source id)
    elif kind == "rewards":
        # A busy day: up to a dozen rewards of one kind in a row, each one checked.
        for n in range(1 + arg % 12):
            play(db, model, users, supervisor, clock, "reward", u, arg + n * len(REWARDS))
        return
    elif kind == "reward":
        code = REWARDS[arg % len(REWARDS)]
        due = model.reward_due(u, code, now)
        source = "rating" if code == "good_rating" else "event"
        event = service.reward(user, code, source=source, source_id=next(_sources), reason="奖励")
        if not model.verified(u) or due <= 0:
            reached("reward refused" if model.verified(u) else "reward before verification")
            assert event is None
        else:
            assert (event.code, event.points) == (code, due)
            added = event
    elif kind == "compensate":
        earlier = model.penalties(u)
        if not earlier:
            return
        original = earlier[arg % len(earlier)]
        db_original = db.session.get(CreditEvent, original.id)
        already = model.compensated(u).get(original.id)
        event = service.compensate(
            db_original, source="appeal", source_id=next(_sources), reason="申诉成立", actor=supervisor
        )
        if already is not None:
            reached("compensated twice")
            assert event.id == already.id  # an event is cancelled once, not twice
        else:
            assert (event.code, event.points, event.compensates_id) == ("compensation", -original.points, original.id)
            added = event
    elif kind == "adjust":
        points = adjustment_points(arg)
        if not model.verified(u):
            with pytest.raises(Invalid):
                service.adjust(supervisor, user, points, "人工核实后调整")
        else:
            event = service.adjust(supervisor, user, points, "人工核实后调整")
            assert (event.code, event.points, event.actor_id) == ("adjustment", points, supervisor.id)
            added = event
    if added is None:
        assert len(service.ledger(user)) == before
        return
    assert added.at == now and added.user_id == user.id
    assert len(service.ledger(user)) == before + 1
    model.events[u].append(Expected(added.id, added.code, added.points, now, added.source_id, added.compensates_id))


def maintenance(db, users: list[User]) -> None:
    """What `flask maintenance` does for ageing penalties, for this example's users."""
    ageing = set(service.ageing_users())
    for user in users:
        if user.id in ageing:
            service.recompute(user)


def check(db, model: Model, users: list[User], now: datetime) -> None:
    for u, user in enumerate(users):
        expected = model.score(u, now)
        # (a) the kept score is the replay, in a fresh session (a reader: no write lock) and in this one.
        reading = write_intent.set(False)
        try:
            with sa.orm.Session(db.engine) as fresh:
                kept = fresh.scalar(sa.select(User.credit_score).where(User.id == user.id))
                query = sa.select(CreditEvent).where(CreditEvent.user_id == user.id).order_by(CreditEvent.id)
                replayed = service.score_of(fresh.scalars(query), now)
        finally:
            write_intent.reset(reading)
        assert kept == replayed == expected
        events = service.ledger(user)
        db.session.refresh(user)
        assert user.credit_score == service.score_of(events, now) == expected
        # (b) no score before verification; within the bounds after.
        if model.verified(u):
            if user.credit_score in (POLICY["min_score"], POLICY["max_score"]):
                reached(f"score at {user.credit_score}")
            assert POLICY["min_score"] <= user.credit_score <= POLICY["max_score"]
        else:
            assert user.credit_score is None
        # (d) old penalties count half; a compensation cancels exactly what its event counts now.
        by_id = {e.id: e for e in events}
        assert [e.id for e in events] == [e.id for e in model.events[u]]
        for event, mine in zip(events, model.events[u], strict=True):
            assert service.counts(event, by_id, now) == model.counts(mine, now)
            if event.compensates_id is not None:
                assert service.counts(event, by_id, now) == -service.weight(by_id[event.compensates_id], now)
            elif event.ages and now - event.at >= AGES_AFTER:
                reached("an aged penalty")
                assert service.weight(event, now) == aged(event.points)
                assert abs(service.weight(event, now)) == abs(event.points) // 2
            else:
                assert service.weight(event, now) == event.points
        # (e) rewards within their cap in every rolling period (the worst period ends at one of them).
        for code, rule in POLICY["rewards"].items():
            period = timedelta(days=rule["period_days"])
            paid = [e for e in events if e.code == code]
            for last in paid:
                assert sum(e.points for e in paid if last.at - period < e.at <= last.at) <= rule["cap"]


@pytest.fixture
def supervisor(make_user):
    return make_user("ledger_sup", roles=("supervisor",))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=histories)
def test_the_kept_score_is_always_the_replay_of_the_ledger_under_the_policy(db, make_user, supervisor, history):
    second_verified, steps = history
    # Fresh users for every example: the ledger is append-only, nothing is deleted between examples.
    users = [make_user(f"ledger{next(_names)}") for _ in range(USERS)]
    model = Model()
    clock = Clock(T0)
    with mock.patch.object(service, "utcnow", clock):
        for u in (0, 1) if second_verified else (0,):
            play(db, model, users, supervisor, clock, "verify", u, 0)
        db.session.commit()
        check(db, model, users, clock.at)
        for pause, kind, u, arg in steps:
            if pause:
                clock.at += timedelta(seconds=pause)
                maintenance(db, users)
            play(db, model, users, supervisor, clock, kind, u, arg)
            db.session.commit()
            check(db, model, users, clock.at)


def test_the_third_violation_within_a_year_weighs_three_times_and_the_fourth_too(db, make_user):
    """A fixed history next to the random ones: 1×, 2×, 3×, 3×; after a year the first ones leave the window."""
    user = make_user("repeat_offender")
    clock = Clock(T0)
    with mock.patch.object(service, "utcnow", clock):
        service.open_account(user)
        multipliers = []
        for n in range(4):
            clock.at = T0 + timedelta(days=30 * n)
            multipliers.append(
                service.penalise(user, "exaggeration", source="decision", source_id=n, reason="夸大").multiplier
            )
        assert multipliers == [1, 2, 3, 3]
        assert user.credit_score == 600 - 30 * (1 + 2 + 3 + 3)
        # 365 days after the first: it has left the window (three remain) and counts half.
        clock.at = T0 + timedelta(days=365)
        assert service.violations_within_window(user) == 3
        assert service.ageing_users() == [user.id]
        assert service.recompute(user) == 600 - 15 - 30 * (2 + 3 + 3)
