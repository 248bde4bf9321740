"""Fixtures for the events tests: organisers, students and residents, events made through the service.

Times are relative to now: by default an event starts in 3 days, lasts 4 hours and closes
registration a day before. `reschedule`, `make_running` and `make_past` move an event's times
with a direct UPDATE (the service refuses to create events in the past).
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
import sqlalchemy as sa

# Verified people in every role, `audit(action)` and `notices_of(user)`.
from tests.trust.factories import *  # noqa: F403

_student_numbers = itertools.count(20230001)


# --- people -------------------------------------------------------------------------------------


@pytest.fixture
def make_student(verified_user):
    """make_student(campus="nxu", username=None, roles=...) → a committed, verified student of that campus."""

    def make(campus: str = "nxu", username: str | None = None, *, roles=("resident",), **fields):
        values = {"kind": "student", "campus": campus, "student_no": str(next(_student_numbers))}
        values.update(fields)
        return verified_user(username, roles=roles, **values)

    return make


@pytest.fixture
def organiser(make_student):
    """A verified student of 宁夏大学 with the organiser role."""
    return make_student("nxu", "organiser1", roles=("organiser",))


@pytest.fixture
def other_organiser(make_student):
    return make_student("nmu", "organiser2", roles=("organiser",))


@pytest.fixture
def nxu_student(make_student):
    return make_student("nxu", "nxu1")


@pytest.fixture
def nmu_student(make_student):
    return make_student("nmu", "nmu1")


@pytest.fixture
def make_resident(verified_user):
    """make_resident(district="xingqing", username=None) → a verified resident whose ID number was issued there."""
    from marketplace.identity.places import REGION_CODES
    from tests.identity.factories import make_id_number

    def make(district: str = "xingqing", username: str | None = None, **fields):
        fields.setdefault("id_number", make_id_number(REGION_CODES[district]))
        return verified_user(username, kind="resident", **fields)

    return make


@pytest.fixture
def resident(make_resident):
    """A verified resident of 兴庆区, not a student."""
    return make_resident("xingqing", "resident1")


# --- events -------------------------------------------------------------------------------------


@pytest.fixture
def event_input():
    """event_input(kind="campus_flea", **overrides) → an EventInput with times relative to now.

    starts_in (timedelta, default 3 days), hours (default 4) and deadline_before (default 1 day)
    set the times unless starts_at / ends_at / registration_deadline are given. A campus_flea is
    held at nxu for its students only; the other kinds are open to anyone verified.
    """
    from marketplace.db import utcnow
    from marketplace.events.service import EventInput

    def make(
        kind: str = "campus_flea",
        *,
        starts_in: timedelta = timedelta(days=3),
        hours: float = 4,
        deadline_before: timedelta = timedelta(days=1),
        **overrides,
    ) -> EventInput:
        starts = (utcnow() + starts_in).replace(microsecond=0)
        values = {
            "title": {"campus_flea": "宁大毕业季跳蚤市场", "community_swap": "金凤社区换物日"}.get(kind, "旧书分享日"),
            "kind": kind,
            "description": "带上闲置，换点用得上的。\n\n请准时到场。",
            "venue": "宁夏大学怀远校区东门广场" if kind == "campus_flea" else "金凤区万达广场北侧",
            "district": "xixia" if kind == "campus_flea" else "jinfeng",
            "starts_at": starts,
            "ends_at": starts + timedelta(hours=hours),
            "registration_deadline": starts - deadline_before,
            "stalls": 2,
            "restriction": "campus" if kind == "campus_flea" else "none",
            "campus": "nxu" if kind == "campus_flea" else None,
        }
        values.update(overrides)
        return EventInput(**values)

    return make


@pytest.fixture
def make_event(db, organiser, event_input):
    """make_event(kind="campus_flea", organiser=None, **overrides) → a committed event made through the service.

    Overrides are EventInput fields or event_input's starts_in / hours / deadline_before.
    """
    from marketplace.events import service

    def make(kind: str = "campus_flea", *, by=None, **overrides):
        event = service.create(by or organiser, event_input(kind, **overrides))
        db.session.commit()
        return event

    return make


@pytest.fixture
def event(make_event):
    """A campus flea market at nxu, nxu students only, 2 stalls, in 3 days."""
    return make_event()


@pytest.fixture
def swap_event(make_event):
    """A community swap open to anyone verified, 2 stalls, in 3 days."""
    return make_event("community_swap")


@pytest.fixture
def reschedule(db):
    """reschedule(event, starts_at, ends_at=None, registration_deadline=None) → the event with those times, committed.

    ends_at defaults to 4 hours after the start, the deadline to a day before it.
    """
    from marketplace.events.models import Event

    def move(event, starts_at, ends_at=None, registration_deadline=None):
        ends_at = ends_at or starts_at + timedelta(hours=4)
        registration_deadline = registration_deadline or starts_at - timedelta(days=1)
        db.session.execute(
            sa.update(Event)
            .where(Event.id == event.id)
            .values(starts_at=starts_at, ends_at=ends_at, registration_deadline=registration_deadline)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        db.session.refresh(event)
        return event

    return move


@pytest.fixture
def make_running(reschedule):
    """make_running(event) → the event started an hour ago and ends in 3 hours ("now" is during it)."""
    from marketplace.db import utcnow

    def move(event):
        now = utcnow().replace(microsecond=0)
        return reschedule(event, now - timedelta(hours=1), now + timedelta(hours=3))

    return move


@pytest.fixture
def make_past(reschedule):
    """make_past(event, ended_ago=timedelta(hours=3)) → the event over: it ended `ended_ago` ago, after 4 hours."""
    from marketplace.db import utcnow

    def move(event, ended_ago: timedelta = timedelta(hours=3)):
        ends = utcnow().replace(microsecond=0) - ended_ago
        return reschedule(event, ends - timedelta(hours=4), ends)

    return move


# --- registrations and listings -------------------------------------------------------------------


@pytest.fixture
def register(db):
    """register(user, event, role="stall") → the committed registration made through the service."""
    from marketplace.events import service

    def make(user, event, role: str = "stall"):
        registration = service.register(user, event.id, role)
        db.session.commit()
        return registration

    return make


@pytest.fixture
def make_listing_for(db):
    """make_listing_for(user, **fields) → an active listing of that user made through the service (an A-grade phone)."""
    from marketplace.listings import service
    from tests.listings.sellers import phone_answers

    titles = itertools.count(1)

    def make(user, **fields):
        values = {
            "title": f"华为 Mate 60 手机 256GB 第 {next(titles)} 台",
            "description": "自用一年，一直带壳贴膜。\n\n送原装充电器。",
            "category": "phone",
            "price_fen": 329900,
            "district": "xixia",
            "grading": phone_answers(),
        }
        values.update(fields)
        listing = service.create(user, service.ListingInput(**values))
        db.session.commit()
        return listing

    return make


@pytest.fixture
def bring(db, make_listing_for):
    """bring(user, event, count=1, **fields) → `count` new listings of a stallholder, attached to the event."""
    from marketplace.events import service

    def make(user, event, count: int = 1, **fields):
        made = [make_listing_for(user, **fields) for _ in range(count)]
        service.attach(user, event, [listing.id for listing in made])
        db.session.commit()
        return made

    return make
