"""The demo city."""

import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.audit.service import verify_chain
from marketplace.identity import service as identity
from marketplace.seed import DEMO_USERS


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
