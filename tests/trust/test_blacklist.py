"""The black list: a proposal suspends trading, a second person confirms or rejects it, it ends on its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from marketplace.accounts import service as accounts
from marketplace.db import utcnow
from marketplace.errors import Conflict, Forbidden, Invalid
from marketplace.listings.models import Listing
from marketplace.orders import service as orders
from marketplace.trust import service as trust
from marketplace.trust.models import BlacklistEntry


@pytest.fixture
def proposed(violate):
    """A pending entry: the seller's counterfeit confirmed by `moderator`."""
    return violate("counterfeit").blacklist_entry


def _set_ends(db, entry: BlacklistEntry, ends_at: datetime) -> None:
    db.session.execute(sa.update(BlacklistEntry).where(BlacklistEntry.id == entry.id).values(ends_at=ends_at))
    db.session.commit()
    db.session.refresh(entry)


# --- suspension --------------------------------------------------------------------------------------------


def test_a_proposal_suspends_the_seller_from_trading_and_says_why(
    db, seller, buyer, make_listing, violate, verified_user
):
    kept = make_listing(title="华为 Mate 60 雅丹黑")
    waiting = orders.request(buyer, kept.id, "周末可以看货吗？")
    elsewhere = make_listing(user=verified_user("neighbour", real_name="王邻"), title="小米手环 8")
    db.session.commit()

    violate("counterfeit")
    for attempt in (
        lambda: make_listing(title="又一台手机"),
        lambda: orders.request(seller, elsewhere.id, "还在吗？"),
        lambda: orders.accept(seller, waiting),
    ):
        with pytest.raises(Forbidden) as caught:
            attempt()
        assert "暂停交易" in caught.value.message and "申诉" in caught.value.message
        db.session.rollback()
    assert kept.status == "active" and waiting.status == "requested"


# --- confirming -------------------------------------------------------------------------------------------------


def test_only_a_supervisor_confirms(db, proposed, moderator2):
    with pytest.raises(Forbidden):
        trust.confirm(moderator2, proposed.id)
    db.session.rollback()
    assert trust.get(proposed.id).status == "pending"


def test_the_proposer_cannot_confirm_their_own_proposal(
    db, seller, make_listing, reporters, report, decide, verified_user
):
    both = verified_user("modsup", roles=("moderator", "supervisor"), real_name="郑双")
    decision = decide(both, report(reporters[0], make_listing(), reason="counterfeit"), "confirmed", "counterfeit")

    with pytest.raises(Forbidden) as caught:
        trust.confirm(both, decision.blacklist_entry.id, "确认属实")
    assert "提议人" in caught.value.message
    db.session.rollback()
    assert trust.get(decision.blacklist_entry.id).status == "pending"


@pytest.mark.parametrize(("violation", "months"), [("counterfeit", 36), ("exaggeration", 12)])
def test_a_confirmed_entry_lasts_the_policys_months(db, seller, violate, supervisor, violation, months):
    if violation == "counterfeit":
        entry = violate("counterfeit").blacklist_entry
    else:
        entry = [violate("exaggeration") for _ in range(3)][-1].blacklist_entry
    assert entry.reason == ("counterfeit" if violation == "counterfeit" else "repeat_violations")

    trust.confirm(supervisor, entry.id, "核实属实")
    db.session.commit()
    assert entry.status == "active" and entry.decided_by_id == supervisor.id
    assert entry.starts_at <= utcnow() < entry.ends_at
    assert entry.ends_at == trust.add_months(entry.starts_at, months)
    assert trust.in_force(seller.id).id == entry.id


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (datetime(2025, 1, 31, 9, 30, tzinfo=UTC), 1, datetime(2025, 2, 28, 9, 30, tzinfo=UTC)),
        (datetime(2024, 1, 31, 9, 30, tzinfo=UTC), 1, datetime(2024, 2, 29, 9, 30, tzinfo=UTC)),
        (datetime(2025, 1, 31, 9, 30, tzinfo=UTC), 12, datetime(2026, 1, 31, 9, 30, tzinfo=UTC)),
        (datetime(2024, 2, 29, 23, 59, tzinfo=UTC), 12, datetime(2025, 2, 28, 23, 59, tzinfo=UTC)),
        (datetime(2024, 2, 29, 23, 59, tzinfo=UTC), 36, datetime(2027, 2, 28, 23, 59, tzinfo=UTC)),
        (datetime(2024, 2, 29, 23, 59, tzinfo=UTC), 48, datetime(2028, 2, 29, 23, 59, tzinfo=UTC)),
        (datetime(2025, 12, 31, tzinfo=UTC), 2, datetime(2026, 2, 28, tzinfo=UTC)),
    ],
)
def test_months_are_counted_on_the_calendar(start, months, end):
    assert trust.add_months(start, months) == end


def test_confirming_takes_everything_on_sale_down_and_ends_every_session(
    db, seller, phone, make_listing, make_order, violate, supervisor, notices_of
):
    on_sale = phone
    reserved = make_listing(title="小米手环 8")
    held = make_order(reserved, status="accepted")
    raw, _token = accounts.issue_token(seller, timedelta(days=30))
    db.session.commit()
    assert accounts.user_for_token(raw).id == seller.id
    entry = violate("counterfeit").blacklist_entry
    version = seller.session_version

    trust.confirm(supervisor, entry.id, "假冒商品属实")
    db.session.commit()
    db.session.expire_all()
    assert (on_sale.status, reserved.status) == ("removed", "removed")
    assert sorted(entry.taken_down) == sorted([on_sale.id, reserved.id])
    assert held.status == "cancelled" and not held.breach
    assert seller.session_version == version + 1
    assert accounts.user_for_token(raw) is None
    assert ("blacklist.confirmed", "decision", entry.decision_id) in notices_of(seller)


def test_confirming_is_audited_once_with_what_it_took_down(db, seller, make_listing, violate, supervisor, audit):
    on_sale = make_listing()
    entry = violate("counterfeit").blacklist_entry

    trust.confirm(supervisor, entry.id)
    db.session.commit()
    (confirmed,) = audit("blacklist.confirmed")
    assert confirmed["subject_id"] == entry.id and confirmed["actor_id"] == supervisor.id
    assert confirmed["taken_down"] == [on_sale.id] and confirmed["proposed_by"] == entry.proposed_by_id


# --- rejecting ----------------------------------------------------------------------------------------------------


def test_a_rejection_needs_a_reason(db, proposed, supervisor):
    for note in (None, "", "不对"):
        with pytest.raises(Invalid) as caught:
            trust.reject(supervisor, proposed.id, note)
        assert "note" in caught.value.errors
        db.session.rollback()
    assert trust.get(proposed.id).status == "pending"


def test_a_rejection_ends_the_suspension(db, seller, make_listing, proposed, supervisor, notices_of):
    trust.reject(supervisor, proposed.id, "证据不足以认定为假冒")
    db.session.commit()

    assert proposed.status == "rejected" and proposed.decision_note == "证据不足以认定为假冒"
    assert trust.in_force(seller.id) is None
    assert make_listing(title="恢复交易后的新商品").status == "active"
    assert ("blacklist.rejected", "decision", proposed.decision_id) in notices_of(seller)


def test_a_rejected_entry_cannot_be_confirmed_afterwards(db, seller, proposed, supervisor, supervisor2):
    trust.reject(supervisor, proposed.id, "证据不足以认定为假冒")
    db.session.commit()

    with pytest.raises(Conflict):
        trust.confirm(supervisor2, proposed.id, "我认为属实")
    db.session.rollback()
    assert trust.get(proposed.id).status == "rejected"
    assert trust.in_force(seller.id) is None


def test_a_confirmed_entry_cannot_be_confirmed_or_rejected_again(db, proposed, supervisor, supervisor2, audit):
    trust.confirm(supervisor, proposed.id)
    db.session.commit()

    for attempt in (
        lambda: trust.confirm(supervisor2, proposed.id),
        lambda: trust.reject(supervisor2, proposed.id, "证据不足，再看看"),
    ):
        with pytest.raises(Conflict):
            attempt()
        db.session.rollback()
    assert trust.get(proposed.id).decided_by_id == supervisor.id
    assert len(audit("blacklist.confirmed")) == 1 and audit("blacklist.rejected") == []


# --- the end of an entry ---------------------------------------------------------------------------------------


def test_an_active_entry_past_its_end_no_longer_holds_the_user(db, seller, make_listing, proposed, supervisor):
    trust.confirm(supervisor, proposed.id)
    db.session.commit()
    assert trust.in_force(seller.id, now=proposed.ends_at - timedelta(seconds=1)).id == proposed.id
    assert trust.in_force(seller.id, now=proposed.ends_at) is None

    _set_ends(db, proposed, utcnow() - timedelta(minutes=1))
    # Before maintenance marks it: it reads as expired and the seller trades again.
    assert proposed.status == "active" and proposed.state(utcnow()) == "expired"
    assert trust.in_force(seller.id) is None
    assert make_listing(title="到期后的新商品").status == "active"


def test_expire_due_marks_past_entries_once_and_audits_them(db, seller, proposed, supervisor, audit):
    trust.confirm(supervisor, proposed.id)
    db.session.commit()
    assert trust.expire_due() == []

    later = proposed.ends_at + timedelta(seconds=1)
    assert trust.expire_due(later) == [proposed.id]
    db.session.commit()
    assert trust.expire_due(later) == []
    db.session.commit()
    db.session.refresh(proposed)
    assert proposed.status == "expired" and proposed.closed_at == later
    assert [a["subject_id"] for a in audit("blacklist.expired")] == [proposed.id]


# --- the public board ------------------------------------------------------------------------------------------


def test_the_board_shows_only_active_unexpired_entries(
    db, verified_user, make_listing, reporters, report, decide, moderator, supervisor
):
    def counterfeit(username, real_name):
        user = verified_user(username, real_name=real_name)
        decision = decide(moderator, report(reporters[0], make_listing(user=user), reason="counterfeit"), "confirmed")
        return decision.blacklist_entry

    pending = counterfeit("pend", "钱多多")
    active = counterfeit("act", "孙大圣")
    rejected = counterfeit("rej", "李逍遥")
    expired = counterfeit("exp", "周小周")
    trust.confirm(supervisor, active.id)
    trust.confirm(supervisor, expired.id)
    trust.reject(supervisor, rejected.id, "证据不足以认定为假冒")
    db.session.commit()
    _set_ends(db, expired, utcnow() - timedelta(minutes=1))

    assert [entry.id for entry in trust.board()] == [active.id]
    assert pending.status == "pending"


def test_the_board_row_shows_a_masked_name_only(db, seller, proposed, supervisor):
    trust.confirm(supervisor, proposed.id)
    db.session.commit()

    (row,) = trust.public_rows([proposed])
    assert set(row) == {"id", "display_name", "reason_category", "starts_at", "ends_at"}
    assert row["display_name"] == "张*三"
    shown = " ".join(str(value) for value in row.values())
    for secret in ("张小三", seller.display_name, seller.username):
        assert secret not in shown
    assert row["reason_category"] == "counterfeit"


def test_the_board_pages_newest_first(
    db, verified_user, make_listing, reporters, report, decide, moderator, supervisor
):
    ids = []
    for n, name in enumerate(("钱一", "钱二", "钱三")):
        user = verified_user(f"fake{n}", real_name=name)
        decision = decide(moderator, report(reporters[0], make_listing(user=user), reason="counterfeit"), "confirmed")
        trust.confirm(supervisor, decision.blacklist_entry.id)
        db.session.commit()
        ids.append(decision.blacklist_entry.id)

    first = trust.board(limit=2)
    assert [e.id for e in first] == [ids[2], ids[1]]
    assert [e.id for e in trust.board(before_id=first[-1].id, limit=2)] == [ids[0]]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Listing).where(Listing.status == "removed")) == 3
