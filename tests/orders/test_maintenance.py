"""Auto-completion: an accepted order completes 7 days after acceptance, lazily or by `flask maintenance`."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.db import utcnow
from marketplace.errors import Conflict
from marketplace.notices.models import Notice
from marketplace.orders import service
from marketplace.orders.models import Order

REASON = "卖家一直不回消息"


def _accepted_days_ago(db, order: Order, days: float) -> Order:
    order.accepted_at = utcnow() - timedelta(days=days)
    db.session.commit()
    return order


def _notice_kinds(db, user_id: int) -> list[str]:
    return list(db.session.scalars(sa.select(Notice.kind).where(Notice.user_id == user_id).order_by(Notice.id)))


@pytest.fixture
def accepted(db, make_order):
    return make_order(status="accepted")


def test_an_order_eight_days_after_acceptance_settles_when_it_is_next_seen(db, accepted, phone):
    order = _accepted_days_ago(db, accepted, 8)
    assert service.is_overdue(order)
    assert service.settle(order) is True
    db.session.commit()
    assert order.status == "completed" and order.auto_completed
    assert order.completed_at >= order.accepted_at + timedelta(days=7)
    db.session.refresh(phone)
    assert phone.status == "sold"
    assert [e.kind for e in order.events][-1] == "auto_completed" and order.events[-1].actor_id is None
    for party in (order.buyer_id, order.seller_id):
        assert "order.auto_completed" in _notice_kinds(db, party)
    assert service.settle(order) is False  # once


def test_an_order_six_days_after_acceptance_does_not_settle(db, accepted, phone):
    order = _accepted_days_ago(db, accepted, 6)
    assert not service.is_overdue(order)
    assert service.settle(order) is False
    assert service.overdue_ids() == []
    db.session.refresh(phone)
    assert order.status == "accepted" and phone.status == "reserved"


def test_only_accepted_orders_settle(db, make_order):
    order = make_order(status="disputed")
    _accepted_days_ago(db, order, 30)
    assert service.settle(order) is False and service.overdue_ids() == []
    assert order.status == "disputed"


def test_confirming_an_overdue_order_completes_it_on_its_own(db, accepted, buyer):
    order = _accepted_days_ago(db, accepted, 8)
    service.complete(buyer, order)
    db.session.commit()
    db.session.refresh(order)
    assert order.status == "completed" and order.auto_completed
    assert order.completed_at >= order.accepted_at + timedelta(days=7)


@pytest.mark.parametrize("action", [service.cancel, service.dispute])
@pytest.mark.parametrize("who", ["buyer", "seller"])
def test_an_overdue_order_can_no_longer_be_cancelled_or_disputed(db, accepted, phone, action, who):
    order = _accepted_days_ago(db, accepted, 8)
    with pytest.raises(Conflict) as exc:
        action(getattr(order, who), order, REASON)
    assert "自动完成" in exc.value.message
    db.session.rollback()
    db.session.refresh(order)
    assert order.status == "accepted" and not order.breach  # the refusal changed nothing ...
    assert service.settle_ids(service.overdue_ids()) == 1  # ... and the next look settles it
    db.session.commit()
    db.session.refresh(phone)
    assert order.status == "completed" and phone.status == "sold"


def test_overdue_ids_of_one_user(db, make_order, make_listing, verified_user, buyer):
    mine = _accepted_days_ago(db, make_order(status="accepted"), 8)
    other_buyer = verified_user("buyer2")
    theirs = _accepted_days_ago(db, make_order(make_listing(title="小米手环 8"), other_buyer, "accepted"), 9)
    assert service.overdue_ids() == [theirs.id, mine.id]  # oldest first
    assert service.overdue_ids(user=buyer) == [mine.id]
    assert service.overdue_ids(limit=1) == [theirs.id]


def test_the_maintenance_command_completes_every_overdue_order_once(cli, db, make_order, make_listing, verified_user):
    overdue = [
        _accepted_days_ago(
            db, make_order(make_listing(title=f"二手手机 {n}"), verified_user(f"b{n}"), "accepted"), 7 + n
        )
        for n in range(1, 4)
    ]
    fresh = _accepted_days_ago(db, make_order(status="accepted"), 6)
    result = cli("maintenance", "--batch", "2")
    assert result.exit_code == 0, result.output
    assert "orders completed automatically: 3" in result.output
    db.session.expire_all()
    for order in overdue:
        assert (order.status, order.auto_completed, order.listing.status) == ("completed", True, "sold")
        assert order.completed_at >= order.accepted_at + timedelta(days=7)
    assert fresh.status == "accepted" and fresh.listing.status == "reserved"
    again = cli("maintenance")
    assert again.exit_code == 0 and "orders completed automatically: 0" in again.output
    kinds = [k for o in overdue for k in _notice_kinds(db, o.buyer_id)]
    assert kinds.count("order.auto_completed") == 3  # no second notice from the second run


def test_an_order_nobody_looked_at_for_weeks_still_leaves_14_days_to_rate(db, make_order, buyer):
    from marketplace.ratings import service as ratings

    order = make_order(status="accepted")
    order.accepted_at -= timedelta(days=22)
    db.session.commit()
    assert service.settle(order) is True
    db.session.commit()
    # Completed when it was settled: the 14 days to rate start now, not at the long-past deadline.
    assert ratings.can_rate(buyer, order)
    rating = ratings.rate(buyer, order, {"accuracy": 5, "communication": 5, "punctuality": 5})
    assert rating.visible_from >= order.completed_at + timedelta(days=14) - timedelta(seconds=1)
