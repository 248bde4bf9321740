"""The four races of issue 7 end to end: 50 HTTP clients released at once against gunicorn.

Each client is a thread with its own connection and its own user's bearer token (the API routes of
API.md); a threading.Barrier lets them all go at the same moment. Two gunicorn servers, started as
`make serve` starts one, serve the test's own database (SQLite, or PostgreSQL with
TEST_DATABASE_URL) side by side: one with 4 sync workers (production's kind), one with 2 gthread
workers of 8 threads; the clients take turns between them, so every race has both kinds of worker
and up to 20 transactions in 6 processes at once. The service-level races (tests/races.py and its
users) stay; these add the HTTP layer, the processes, the connection pools and the commit at the
request boundary.

For each race: every answer has a documented status (no 5xx, no lock or serialisation error in any
body, none in the server's log), the database holds exactly the allowed outcome, and the audit
chain verifies. A one-line summary of the statuses is printed per race.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from types import SimpleNamespace

import pytest
import requests
import sqlalchemy as sa

from tests.reliability.races_world import (
    JOIN,
    Answer,
    Call,
    community_swap,
    counted,
    listings_for,
    more_tokens,
    offers_of_one_listing,
    proposed_entry,
    requested_order,
    rush,
    stallholders,
)
from tests.reliability.server import make_users

RUSH = 50
STALLS = 5
SERVERS = {
    "sync4": {"workers": 4},
    "gthread2x8": {"workers": 2, "env": {"GUNICORN_WORKER_CLASS": "gthread", "GUNICORN_THREADS": "8"}},
}
# What a lost race must never show: the database's own words for a lock, a deadlock or a failed
# serialisation, or a crash.
LOCK_TEXT = re.compile(
    r"database is locked|database table is locked|deadlock|could not serialize|serialization failure"
    r"|lock timeout|OperationalError|IntegrityError|UniqueViolation|Traceback|Internal Server Error",
    re.IGNORECASE,
)
LOG_TEXT = re.compile(LOCK_TEXT.pattern + r"|Exception on |\[ERROR\]|\[CRITICAL\]|WORKER TIMEOUT", re.IGNORECASE)


def wrong_answers(answers: list[Answer], allowed: dict[str, set[int]]) -> list[str]:
    """Answers outside the documented statuses, with a lock error in the body, or an error not in problem+json."""
    wrong = []
    for answer in answers:
        where = (
            f"{answer.call.label} {answer.call.method} {answer.call.path} via {answer.server} → {answer.status}"
            f" after {answer.seconds:.1f} s"
        )
        if answer.status not in allowed[answer.call.label]:
            wrong.append(f"{where}: not one of {sorted(allowed[answer.call.label])}: {answer.text[:300]}")
        elif LOCK_TEXT.search(answer.text):
            wrong.append(f"{where}: {LOCK_TEXT.search(answer.text).group()!r} in the body: {answer.text[:300]}")
        elif answer.status >= 400 and not (
            answer.content_type.startswith("application/problem+json") and answer.data.get("status") == answer.status
        ):
            wrong.append(f"{where}: not an RFC 9457 problem ({answer.content_type}): {answer.text[:300]}")
    return wrong


@pytest.fixture
def racing(live_database, live_server, capsys):
    """The race's world: `.app` to seed and check, `.start()` the two servers, `.report(...)` the summary line."""
    app = live_database.app()
    started: dict = {}
    began = time.monotonic()

    def start() -> dict:
        for name, settings in SERVERS.items():
            started[name] = live_server(**settings)
        return started

    def report(race: str, *rounds: list[Answer]) -> None:
        won = [f"{a.call.label} won via {a.server}" for answers in rounds for a in answers if a.status == 200]
        slowest = max(a.seconds for answers in rounds for a in answers)
        line = " | ".join(counted(answers) for answers in rounds) + f"; slowest answer {slowest:.1f} s"
        with capsys.disabled():
            print(
                f"\n[races] {race} on {live_database.dialect}: {line}"
                f"{' (' + ', '.join(won) + ')' if won else ''}; {time.monotonic() - began:.1f} s with seeding"
            )

    def expect(answers: list[Answer], allowed: dict[str, set[int]]) -> None:
        """Every answer documented, none a lock error."""
        assert wrong_answers(answers, allowed) == []

    world = SimpleNamespace(app=app, dialect=live_database.dialect, start=start, report=report, expect=expect)
    yield world
    # Whatever the race left: nothing in either server's log, and the audit chain whole.
    for name, server in started.items():
        log = server.log_text(tail=10**7)
        found = LOG_TEXT.search(log)
        assert found is None, f"{found.group()!r} in {name}'s log:\n{log[max(0, found.start() - 2000) :][:6000]}"
    from marketplace.audit.service import verify_chain
    from marketplace.db import db

    with app.app_context():
        chain = verify_chain()
        db.session.remove()
    assert chain.ok, f"the audit chain breaks at entry {chain.first_bad}"


def rows(app, query):
    """The rows of a select, read afresh in their own app context."""
    from marketplace.db import db

    with app.app_context():
        try:
            return list(db.session.execute(query))
        finally:
            db.session.remove()


def scalar(app, query):
    from marketplace.db import db

    with app.app_context():
        try:
            return db.session.scalar(query)
        finally:
            db.session.remove()


def count(model, *where):
    return sa.select(sa.func.count()).select_from(model).where(*where)


# --- 1. reservation --------------------------------------------------------------------------------------


def test_fifty_buyers_ask_then_the_sellers_devices_and_latecomers_race_for_the_listing(racing):
    """Requests are many (all 201); then one acceptance reserves the listing while others accept and ask."""
    from marketplace.listings.models import Listing
    from marketplace.notices.models import Notice
    from marketplace.orders.models import Order, OrderEvent

    app, devices_n, late_n = racing.app, RUSH // 2, RUSH // 2
    [seller] = make_users(app, 1, prefix="seller", verified=True)
    buyers = make_users(app, RUSH + late_n, prefix="buyer")
    [listing_id] = listings_for(app, seller["id"])
    devices = more_tokens(app, seller["id"], devices_n)
    servers = racing.start()
    ask = f"/api/v1/listings/{listing_id}/orders"

    asks = rush(servers, [Call("request", "POST", ask, b["headers"], {"message": "还在吗？"}) for b in buyers[:RUSH]])

    racing.expect(asks, {"request": {201}})
    orders = rows(app, sa.select(Order.id, Order.buyer_id, Order.status).where(Order.listing_id == listing_id))
    assert sorted(o.id for o in orders) == sorted(a.data["id"] for a in asks)
    assert sorted(o.buyer_id for o in orders) == sorted(b["id"] for b in buyers[:RUSH])
    assert {o.status for o in orders} == {"requested"}
    told = count(Notice, Notice.user_id == seller["id"], Notice.kind == "order.requested")
    assert scalar(app, told) == RUSH

    # The seller's devices accept different requests while latecomers ask for the same listing.
    accepting = sorted(o.id for o in orders)[:devices_n]
    accept = "/api/v1/orders/{}/accept"
    calls = [Call("accept", "POST", accept.format(oid), h, {}) for oid, h in zip(accepting, devices, strict=True)]
    calls += [Call("late request", "POST", ask, b["headers"], {"message": "我也要"}) for b in buyers[RUSH:]]
    second = rush(servers, calls)

    racing.expect(second, {"accept": {200, 409}, "late request": {201, 409}})
    won = [a for a in second if a.call.label == "accept" and a.status == 200]
    assert len(won) == 1, counted(second)
    winner = won[0].data["id"]
    assert won[0].data["status"] == "accepted"
    late = [a.data["id"] for a in second if a.call.label == "late request" and a.status == 201]
    assert scalar(app, sa.select(Listing.status).where(Listing.id == listing_id)) == "reserved"
    orders = rows(app, sa.select(Order.id, Order.status).where(Order.listing_id == listing_id))
    assert len(orders) == RUSH + len(late)
    assert [o.id for o in orders if o.status == "accepted"] == [winner]
    # Every other order, a late one accepted before the reservation included, still waits.
    assert {o.status for o in orders if o.id != winner} == {"requested"}
    assert set(late) <= {o.id for o in orders}
    accepted = rows(app, sa.select(OrderEvent.order_id).where(OrderEvent.kind == "accepted"))
    assert [e.order_id for e in accepted] == [winner]
    buyer_told = count(Notice, Notice.kind == "order.accepted")
    assert scalar(app, buyer_told) == 1
    racing.report("reservation", asks, second)


# --- 2. swap ---------------------------------------------------------------------------------------------


def test_fifty_stallholders_offer_for_one_listing_then_fifty_accept_offers_of_it(racing):
    """50 offers for one listing (all 201); then 50 owners accept offers of it at once: it is swapped once."""
    from marketplace.events.models import SwapOffer
    from marketplace.listings.models import Listing
    from marketplace.orders.models import Order

    app = racing.app
    [organiser] = make_users(app, 1, prefix="organiser", roles=("organiser",), verified=True)
    [holder] = make_users(app, 1, prefix="holder", verified=True)
    people = make_users(app, RUSH, prefix="stall", verified=True)
    event_id = community_swap(app, organiser["id"], stalls=RUSH + 1)
    [prize] = stallholders(app, event_id, [holder["id"]]).values()
    theirs = stallholders(app, event_id, [p["id"] for p in people])
    servers = racing.start()

    offer = f"/api/v1/events/{event_id}/swaps"
    calls = [
        Call("offer", "POST", offer, p["headers"], {"offer_listing_id": theirs[p["id"]], "want_listing_id": prize})
        for p in people
    ]
    offers = rush(servers, calls)

    racing.expect(offers, {"offer": {201}})
    pending = rows(app, sa.select(SwapOffer.id, SwapOffer.offerer_id).where(SwapOffer.want_listing_id == prize))
    assert sorted(o.offerer_id for o in pending) == sorted(p["id"] for p in people)

    # The holder offers the same listing to each of them; all fifty accept at the same moment.
    made = offers_of_one_listing(app, event_id, holder["id"], prize, [theirs[p["id"]] for p in people])
    accept = "/api/v1/swaps/{}/accept"
    calls = [Call("accept", "POST", accept.format(oid), p["headers"]) for oid, p in zip(made, people, strict=True)]
    accepts = rush(servers, calls)

    racing.expect(accepts, {"accept": {200, 409}})
    won = [a for a in accepts if a.status == 200]
    assert len(won) == 1, counted(accepts)
    winner_offer = won[0].data["id"]
    winner = people[made.index(winner_offer)]
    statuses = dict(rows(app, sa.select(Listing.id, Listing.status).where(Listing.id.in_([prize, *theirs.values()]))))
    assert statuses.pop(prize) == "swapped"
    assert statuses.pop(theirs[winner["id"]]) == "swapped"
    assert set(statuses.values()) == {"active"}
    offers_now = dict(rows(app, sa.select(SwapOffer.id, SwapOffer.status).where(SwapOffer.event_id == event_id)))
    assert offers_now.pop(winner_offer) == "accepted"
    # The winner's own offer for the listing and every other offer naming it lapsed.
    assert len(offers_now) == 2 * RUSH - 1 and set(offers_now.values()) == {"void"}
    orders = rows(app, sa.select(Order.id, Order.listing_id, Order.buyer_id, Order.status, Order.swap_offer_id))
    assert sorted(won[0].data["orders"]) == sorted(o.id for o in orders)
    assert {(o.listing_id, o.buyer_id, o.status, o.swap_offer_id) for o in orders} == {
        (prize, winner["id"], "completed", winner_offer),
        (theirs[winner["id"]], holder["id"], "completed", winner_offer),
    }
    racing.report("swap", offers, accepts)


# --- 3. stall registration ---------------------------------------------------------------------------------


def test_fifty_residents_register_for_five_stalls_at_once(racing):
    """Exactly five stalls taken, the other 45 waitlisted in the order of their rows, the counter as the rows."""
    from marketplace.events import service
    from marketplace.events.models import Event, Registration

    app = racing.app
    [organiser] = make_users(app, 1, prefix="organiser", roles=("organiser",), verified=True)
    people = make_users(app, RUSH, prefix="resident", verified=True)
    event_id = community_swap(app, organiser["id"], stalls=STALLS)
    servers = racing.start()

    path = f"/api/v1/events/{event_id}/registrations"
    answers = rush(servers, [Call("register", "POST", path, p["headers"], {"role": "stall"}) for p in people])

    racing.expect(answers, {"register": {201}})
    told = {a.data["user"]["id"]: a.data["status"] for a in answers}
    assert sorted(Counter(told.values()).items()) == [("registered", STALLS), ("waitlisted", RUSH - STALLS)]
    from marketplace.db import db

    with app.app_context():
        stored = db.session.scalars(
            sa.select(Registration).where(Registration.event_id == event_id).order_by(Registration.id)
        ).all()
        assert {r.user_id: r.status for r in stored} == told
        # First come first served: the stalls went to the first rows written, the rest wait in that order.
        statuses = [r.status for r in stored]
        assert statuses == ["registered"] * STALLS + ["waitlisted"] * (RUSH - STALLS)
        waiting = [service.waitlist_position(r) for r in stored if r.status == "waitlisted"]
        assert waiting == list(range(1, RUSH - STALLS + 1))
        assert len({r.checkin_code for r in stored}) == RUSH
        assert db.session.get(Event, event_id).stalls_taken == statuses.count("registered") == STALLS
        db.session.remove()
    racing.report("stall registration", answers)


# --- 4. black-list confirmation -------------------------------------------------------------------------


def test_fifty_supervisors_confirm_the_same_proposed_entry_at_once(racing):
    """One confirmation: one entry in force, listings down once, sessions ended once, one audit entry; 409 for 49."""
    from marketplace.accounts.models import ApiToken, User
    from marketplace.audit.models import AuditEntry
    from marketplace.listings.models import Listing
    from marketplace.notices.models import Notice
    from marketplace.orders.models import Order, OrderEvent
    from marketplace.trust.models import BlacklistEntry

    app = racing.app
    [moderator] = make_users(app, 1, prefix="mod", roles=("moderator",))
    supervisors = make_users(app, RUSH, prefix="sup", roles=("supervisor",))
    [target, buyer] = make_users(app, 2, prefix="person", verified=True)
    on_sale = listings_for(app, target["id"], 2)
    order_id = requested_order(app, buyer["id"], on_sale[0])
    entry_id = proposed_entry(app, target["id"], moderator["id"])
    versions = sa.select(User.session_version).where(User.id == target["id"])
    version = scalar(app, versions)
    servers = racing.start()
    assert requests.get(servers["sync4"].url("/api/v1/me"), headers=target["headers"], timeout=JOIN).status_code == 200

    path = f"/api/v1/trust/black/{entry_id}/confirm"
    calls = [Call("confirm", "POST", path, s["headers"], {"note": "复核属实，确认列入。"}) for s in supervisors]
    answers = rush(servers, calls)

    racing.expect(answers, {"confirm": {200, 409}})
    won = [a for a in answers if a.status == 200]
    assert len(won) == 1, counted(answers)
    assert (won[0].data["id"], won[0].data["status"]) == (entry_id, "active")
    winner = supervisors[answers.index(won[0])]
    [entry] = rows(app, sa.select(BlacklistEntry.status, BlacklistEntry.decided_by_id, BlacklistEntry.taken_down))
    assert (entry.status, entry.decided_by_id, sorted(entry.taken_down)) == ("active", winner["id"], on_sale)
    audit = sa.select(AuditEntry.actor_id, AuditEntry.subject_id)
    confirmed = rows(app, audit.where(AuditEntry.action == "blacklist.confirmed"))
    assert [tuple(row) for row in confirmed] == [(winner["id"], entry_id)]
    removed = rows(app, audit.where(AuditEntry.action == "listing.removed"))
    assert sorted(r.subject_id for r in removed) == on_sale
    listed = rows(app, sa.select(Listing.status).where(Listing.id.in_(on_sale)))
    assert [r.status for r in listed] == ["removed", "removed"]
    # The buyer's open request was closed once, and the person told once.
    assert scalar(app, sa.select(Order.status).where(Order.id == order_id)) == "declined"
    assert scalar(app, count(OrderEvent, OrderEvent.order_id == order_id, OrderEvent.kind == "declined")) == 1
    told = count(Notice, Notice.user_id == target["id"], Notice.kind == "blacklist.confirmed")
    assert scalar(app, told) == 1
    # Sessions ended exactly once: one step of the version, every token revoked, the old one refused.
    assert scalar(app, versions) == version + 1
    live = count(ApiToken, ApiToken.user_id == target["id"], ApiToken.revoked_at.is_(None))
    assert scalar(app, live) == 0
    assert requests.get(servers["sync4"].url("/api/v1/me"), headers=target["headers"], timeout=JOIN).status_code == 401
    racing.report("black-list confirmation", answers)
