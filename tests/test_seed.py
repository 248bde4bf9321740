"""The demo city."""

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.audit.service import verify_chain
from marketplace.identity import service as identity
from marketplace.seed import DEMO_USERS

pytestmark = pytest.mark.usefixtures("cheap_password_hashing")


def test_seed_demo_builds_a_city_with_every_role_and_state(cli, db):
    result = cli("seed-demo")
    assert result.exit_code == 0, result.output
    users = {u.username: u for u in db.session.scalars(sa.select(User))}
    assert set(users) == {d.username for d in DEMO_USERS}
    roles = {r for u in users.values() for r in u.roles}
    assert roles == {"resident", "organiser", "inspector", "moderator", "supervisor", "admin"}
    states = {identity.verification_status(u) for u in users.values()}
    assert states == {"verified", "pending", "rejected", "unverified"}
    assert identity.student_campus(users["nxu_lin"]) == "nxu"
    # Verified at 600; good ratings since have added their rewards, and every kept score is its ledger's.
    assert users["zhangwei"].credit_score > 600
    from marketplace.credit.service import replay_differences

    assert replay_differences() == []
    for demo in DEMO_USERS:
        assert demo.username in result.output
    assert verify_chain().ok
    _check_listings(db, users)
    _check_moderation(db, users)
    _check_events(db, users)
    # What an operator runs after seeding: the kept scores replay from their ledgers, the audit chain holds.
    recompute = cli("credit", "recompute", "--check")
    assert recompute.exit_code == 0 and "0 of the kept scores differ" in recompute.output, recompute.output
    audit = cli("audit", "verify")
    assert audit.exit_code == 0 and audit.output.startswith("ok "), audit.output


def _check_listings(db, users):
    """A few hundred listings in every category and district, graded, by verified sellers only."""
    from marketplace.identity.places import DISTRICTS
    from marketplace.listings.models import CATEGORIES, Listing, ListingPhoto

    listings = list(db.session.scalars(sa.select(Listing)))
    assert len(listings) >= 250
    assert {listing.category for listing in listings} == set(CATEGORIES)
    assert {listing.district for listing in listings} == set(DISTRICTS)
    sellers = {listing.seller_id for listing in listings}
    assert all(identity.verification_status(u) == "verified" for u in users.values() if u.id in sellers)
    grades = {(listing.category, listing.grade) for listing in listings}
    assert {("phone", g) for g in "SABCD"} <= grades and ("vehicle", "5") in grades
    assert any(listing.safety_warning and not listing.recycle_only for listing in listings)
    (heater,) = [listing for listing in listings if listing.recycle_only]
    assert heater.price_fen == 0 and heater.grading["type"] == "electric_water_heater"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ListingPhoto)) > 0


def test_seed_demo_if_empty_does_nothing_the_second_time(cli, db):
    assert cli("seed-demo", "--if-empty").exit_code == 0
    count = db.session.scalar(sa.select(sa.func.count()).select_from(User))
    second = cli("seed-demo", "--if-empty")
    assert second.exit_code == 0 and "nothing to do" in second.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == count
    assert cli("seed-demo").exit_code != 0


def _by(db, column) -> dict[str, int]:
    return dict(db.session.execute(sa.select(column, sa.func.count()).group_by(column)).all())


def _check_moderation(db, users):
    """Open reports riskiest first, entries and appeals in every state, decided by a second person; a red list."""
    from marketplace.credit import service as credit
    from marketplace.errors import Forbidden
    from marketplace.moderation import risk
    from marketplace.moderation.models import Appeal, Decision, Report
    from marketplace.trading import check_can_trade
    from marketplace.trust import redlist
    from marketplace.trust import service as trust
    from marketplace.trust.models import BlacklistEntry

    assert _by(db, Decision.outcome) == {"confirmed": 5, "dismissed": 1, "malicious": 1}
    assert _by(db, BlacklistEntry.status) == {"pending": 1, "active": 1, "rejected": 1}
    assert _by(db, Appeal.status) == {"pending": 1, "upheld": 1, "overturned": 1}
    assert _by(db, Report.status)["open"] == 5

    queue = risk.queue(users["mod_li"])
    sellers = {u.id: name for name, u in users.items()}
    # Three residents on one phone, the system's report of a poor rating, a lone report by a malicious reporter.
    assert [(sellers[item.listing.seller_id], len(item.reports)) for item in queue] == [
        ("liuyang", 3),
        ("zhouxin", 1),
        ("huanbao_shop", 1),
    ]
    assert [r.source for r in queue[1].reports] == ["rating"]
    assert "malicious_reporter" in dict(queue[2].factors)

    # Two people for every step: the black list's second look and each appeal's decider.
    entries = {e.user.username: e for e in db.session.scalars(sa.select(BlacklistEntry))}
    assert entries["yangfan"].reason == "repeat_violations" and entries["yangfan"].status == "pending"
    assert entries["mahui"].status == "active" and entries["nxu_he"].status == "rejected"
    for entry in entries.values():
        assert entry.decided_by_id in (None, users["sup_ma"].id, users["sup_na"].id)
        assert entry.decided_by_id != entry.proposed_by_id
    for appeal in db.session.scalars(sa.select(Appeal).where(Appeal.status != "pending")):
        assert appeal.decider_id not in (None, appeal.decision.decider_id, appeal.appellant_id)
    (board,) = trust.public_rows(trust.board())
    assert board["display_name"] == "马*" and board["reason_category"] == "counterfeit"
    for name in ("yangfan", "mahui"):
        with pytest.raises(Forbidden):
            check_can_trade(users[name])

    # The overturned appeal compensated the penalty and put the book back on sale; the malicious reporter paid.
    (overturned,) = db.session.scalars(sa.select(Appeal).where(Appeal.status == "overturned"))
    assert overturned.decision.listing.status == "active"
    assert [e.points for e in credit.ledger(users["nxu_he"])][-2:] == [-200, 200]
    assert [e.code for e in credit.ledger(users["nmu_ma"])][-1] == "malicious_report"

    edition = redlist.current()
    assert [e.user_id for e in redlist.standing(edition)] == [users["zhangwei"].id]
    assert users["zhangwei"].credit_score >= redlist.rule()["min_score"]


def _check_events(db, users):
    """A past and an upcoming flea market at each campus, community swaps, settled no-shows, swaps with orders."""
    from marketplace.db import utcnow
    from marketplace.events import service as events
    from marketplace.events import swaps
    from marketplace.events.models import Event, Registration, SwapOffer

    every = list(db.session.scalars(sa.select(Event)))
    assert len(every) >= 6
    now = utcnow()
    for campus in ("nxu", "nmu"):
        markets = [e for e in every if e.kind == "campus_flea" and e.campus == campus]
        assert any(e.ends_at <= now for e in markets) and any(e.starts_at > now for e in markets), campus
    assert {"campus_flea", "community_swap", "book_share"} <= {e.kind for e in every}
    swap_districts = {e.district for e in every if e.kind == "community_swap"}
    assert len(swap_districts) >= 2
    assert any(e.restriction == "district" for e in every) and any(e.restriction == "campus" for e in every)
    # Past events are settled, their check-ins inside the window; each campus market had one no-show.
    for event in every:
        if event.ends_at <= now:
            assert event.settled_at is not None and event.settled_at >= event.ends_at
            opens, closes = events.checkin_window(event)
            came = sa.select(Registration).where(
                Registration.event_id == event.id, Registration.checked_in_at.is_not(None)
            )
            assert all(opens <= r.checked_in_at <= closes for r in db.session.scalars(came))
    no_shows = list(db.session.scalars(sa.select(Registration).where(Registration.no_show)))
    assert {r.event.campus for r in no_shows} == {"nxu", "nmu"}
    assert all(r.role == "stall" and r.checked_in_at is None for r in no_shows)
    assert db.session.scalar(sa.select(sa.func.count()).where(Registration.status == "waitlisted")) >= 1
    for event in every:
        assert event.stalls_taken == db.session.scalar(
            sa.select(sa.func.count()).where(
                Registration.event_id == event.id, Registration.role == "stall", Registration.status == "registered"
            )
        )
        assert event.stalls_taken <= event.stalls
    # An accepted swap: both listings swapped, a completed order of price 0 for each side, rated both ways.
    accepted = list(db.session.scalars(sa.select(SwapOffer).where(SwapOffer.status == "accepted")))
    assert accepted
    rated = 0
    for offer in accepted:
        orders = swaps.orders_of(offer)
        assert len(orders) == 1 + len(offer.items) >= 2
        assert all(o.status == "completed" and o.price_fen == 0 for o in orders)
        assert {o.listing.status for o in orders} == {"swapped"}
        assert {o.buyer_id for o in orders} == {offer.offerer_id, offer.owner_id}
        rated += sum(len(ratings_of(db, o)) == 2 for o in orders)
    assert rated >= 2
    # The campus-only market refuses a resident with the reason, and takes the campus's students.
    (campus_only,) = [e for e in every if e.restriction == "campus" and e.starts_at > now]
    reason = events.why_not_register(users["zhangwei"], campus_only)
    assert reason and "宁夏大学" in reason
    assert events.registration_of(users["nxu_lin"], campus_only).role == "stall"
    assert events.attached(users["nxu_lin"], campus_only)


def ratings_of(db, order):
    from marketplace.ratings.models import Rating

    return list(db.session.scalars(sa.select(Rating).where(Rating.order_id == order.id)))
