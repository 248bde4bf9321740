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
    assert users["zhangwei"].credit_score == 600
    for demo in DEMO_USERS:
        assert demo.username in result.output
    assert verify_chain().ok


def test_seed_demo_if_empty_does_nothing_the_second_time(cli, db):
    assert cli("seed-demo", "--if-empty").exit_code == 0
    count = db.session.scalar(sa.select(sa.func.count()).select_from(User))
    second = cli("seed-demo", "--if-empty")
    assert second.exit_code == 0 and "nothing to do" in second.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == count
    assert cli("seed-demo").exit_code != 0
