"""Fixtures for decisions, appeals and the lists: verified people in every role, reports made through the service.

Shared by tests/trust, tests/supervision, tests/api and tests/e2e: a conftest or a test module
imports them with `from tests.trust.factories import *` (imported fixtures take precedence over the
root conftest's, so `moderator` here is a verified one).
"""

from __future__ import annotations

import pytest


@pytest.fixture
def reporters(verified_user):
    """Three verified residents who report listings."""
    return [verified_user(f"reporter{i}", real_name=name) for i, name in enumerate(("赵一", "赵二", "赵三"), 1)]


@pytest.fixture
def moderator(verified_user):
    return verified_user("mod1", roles=("moderator",), real_name="钱审")


@pytest.fixture
def moderator2(verified_user):
    return verified_user("mod2", roles=("moderator",), real_name="孙审")


@pytest.fixture
def supervisor(verified_user):
    return verified_user("sup1", roles=("supervisor",), real_name="周监")


@pytest.fixture
def report(db):
    """report(reporter, listing, reason="hidden_defect", detail=...) → a committed open report."""
    from marketplace.moderation import service

    def make(reporter, listing, reason="hidden_defect", detail="实物屏幕有划痕，描述说无划痕。"):
        made = service.report_listing(reporter, listing.id, reason, detail)
        db.session.commit()
        return made

    return make


@pytest.fixture
def decide(db):
    """decide(moderator, report, outcome="confirmed", violation=None, note=...) → a committed decision."""
    from marketplace.moderation import decisions

    def make(actor, report, outcome="confirmed", violation=None, note="照片与实物不符，确认违规。"):
        decision = decisions.decide(actor, report.id, outcome, violation, note)
        db.session.commit()
        return decision

    return make


@pytest.fixture
def violate(make_listing, report, decide, reporters, moderator):
    """violate(violation="hidden_defect") → a confirmed decision against the seller on a fresh listing."""

    def make(violation="hidden_defect", actor=None):
        listing = make_listing()
        made = report(reporters[0], listing, reason=violation)
        return decide(actor or moderator, made, "confirmed", violation)

    return make


@pytest.fixture
def supervisor2(verified_user):
    return verified_user("sup2", roles=("supervisor",), real_name="吴监")


@pytest.fixture
def audit(db):
    """audit(action) → the log's entries of that action, oldest first: {actor_id, subject_id, **data}."""
    import json

    import sqlalchemy as sa

    from marketplace.audit.models import AuditEntry

    def read(action: str) -> list[dict]:
        rows = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq))
        return [{"actor_id": r.actor_id, "subject_id": r.subject_id, **json.loads(r.data)} for r in rows]

    return read


@pytest.fixture
def notices_of(db):
    """notices_of(user) → [(kind, subject_type, subject_id)] of the user's notices, oldest first."""
    import sqlalchemy as sa

    from marketplace.notices.models import Notice

    def read(user) -> list[tuple[str, str | None, int | None]]:
        rows = db.session.execute(
            sa.select(Notice.kind, Notice.subject_type, Notice.subject_id)
            .where(Notice.user_id == user.id)
            .order_by(Notice.id)
        )
        return [tuple(row) for row in rows]

    return read


# Five buyer ratings averaging exactly 4.8 (72 points over 15 scores): the red list's threshold.
RED_RATINGS = ((5, 5, 5),) * 4 + ((4, 4, 4),)


@pytest.fixture
def qualify(db, make_user, supervisor):
    """qualify(user, sales=10, ratings=RED_RATINGS, score=750) → the user with that record, committed.

    Completed sales (sold listings and their orders) and revealed buyer ratings are written
    with the models, as the demo's history is; the score is set by a supervisor's adjustment.
    """
    from datetime import timedelta

    from marketplace.credit import service as credit
    from marketplace.db import utcnow
    from marketplace.listings.models import Listing
    from marketplace.orders.models import Order
    from marketplace.ratings.models import Rating

    buyers = iter(range(1, 1000))

    def make(user, *, sales: int = 10, ratings=RED_RATINGS, score: int = 750):
        assert len(ratings) <= sales, "one rating per completed order"
        buyer = make_user(f"redbuyer{next(buyers)}_{user.id}")
        long_ago = utcnow() - timedelta(days=40)
        for n in range(sales):
            listing = Listing(
                seller_id=user.id,
                category="books",
                title=f"旧书一套（第 {n + 1} 件）",
                description="书脊完好，无笔记。",
                price_fen=3500,
                district="xingqing",
                status="sold",
            )
            db.session.add(listing)
            db.session.flush()
            order = Order(
                listing_id=listing.id,
                buyer_id=buyer.id,
                seller_id=user.id,
                status="completed",
                price_fen=3500,
                created_at=long_ago,
                accepted_at=long_ago,
                completed_at=long_ago,
            )
            db.session.add(order)
            db.session.flush()
            if n < len(ratings):
                accuracy, communication, punctuality = ratings[n]
                db.session.add(
                    Rating(
                        order_id=order.id,
                        rater_id=buyer.id,
                        ratee_id=user.id,
                        rater_role="buyer",
                        accuracy=accuracy,
                        communication=communication,
                        punctuality=punctuality,
                        created_at=long_ago,
                        visible_from=long_ago + timedelta(days=1),
                    )
                )
        db.session.flush()
        while user.credit_score != score:
            step = max(-credit.ADJUST_MAX, min(credit.ADJUST_MAX, score - user.credit_score))
            credit.adjust(supervisor, user, step, "测试准备：设定信用分")
        db.session.commit()
        return user

    return make
