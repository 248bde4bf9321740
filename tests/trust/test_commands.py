"""`flask trust red-list [--force]` and the black-list part of `flask maintenance`."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from marketplace.audit.models import AuditEntry
from marketplace.audit.service import verify_chain
from marketplace.db import utcnow
from marketplace.trust import redlist
from marketplace.trust import service as trust
from marketplace.trust.models import BlacklistEntry, RedListEdition
from tests.trust.test_views import make_star_seller


def _editions(db) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(RedListEdition))


def _audited(db, action: str) -> list[int]:
    return list(db.session.scalars(sa.select(AuditEntry.subject_id).where(AuditEntry.action == action)))


def test_red_list_publishes_the_months_edition_once(cli, db, seller, buyer, make_listing):
    make_star_seller(db, seller, buyer, make_listing())
    result = cli("trust", "red-list")
    assert result.exit_code == 0, result.output
    period = utcnow().strftime("%Y-%m")
    assert f"red list {period} published" in result.output and "1 sellers" in result.output
    edition = redlist.current()
    assert [entry.user_id for entry in redlist.standing(edition)] == [seller.id]

    # Cron may run it twice: the month keeps its one edition.
    again = cli("trust", "red-list")
    assert again.exit_code == 0, again.output
    assert "published already" in again.output and "1 sellers" in again.output
    assert _editions(db) == 1 and _audited(db, "redlist.published") == [edition.id]

    forced = cli("trust", "red-list", "--force")
    assert forced.exit_code == 0 and "published (edition" in forced.output
    assert _editions(db) == 2 and redlist.current().id != edition.id


def test_red_list_with_nobody_eligible_publishes_an_empty_edition(cli, db, seller):
    result = cli("trust", "red-list")
    assert result.exit_code == 0 and "0 sellers" in result.output
    assert redlist.standing(redlist.current()) == []


def test_maintenance_expires_entries_past_their_end_and_the_chain_holds(
    cli, db, client, seller, make_listing, violate, supervisor, make_user
):
    entry = violate("counterfeit").blacklist_entry
    trust.confirm(supervisor, entry.id, "仿品属实")
    db.session.commit()
    other = make_user("zhouwu", display_name="周五")
    running = BlacklistEntry(
        user_id=other.id,
        reason="low_score",
        status="active",
        proposed_by_id=supervisor.id,
        starts_at=utcnow() - timedelta(days=30),
        ends_at=utcnow() + timedelta(days=300),
        taken_down=[],
    )
    db.session.add(running)
    db.session.commit()
    db.session.execute(
        sa.update(BlacklistEntry).where(BlacklistEntry.id == entry.id).values(ends_at=utcnow() - timedelta(days=1))
    )
    db.session.commit()

    result = cli("maintenance")
    assert result.exit_code == 0, result.output
    assert "black-list entries expired: 1" in result.output
    db.session.expire_all()
    assert entry.status == "expired" and entry.closed_at is not None
    assert running.status == "active"
    assert trust.in_force(seller.id) is None
    assert _audited(db, "blacklist.expired") == [entry.id]
    assert verify_chain().ok
    page = client.get("/black").get_data(as_text=True)
    assert "张*三" not in page and "周*" in page

    again = cli("maintenance")
    assert again.exit_code == 0 and "black-list entries expired: 0" in again.output
    assert _audited(db, "blacklist.expired") == [entry.id]
