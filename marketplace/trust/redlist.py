"""The red list: editions computed from the rule in the policy file, a seller withdrawn at once on a violation.

Rule (policy.json "red_list"): verified, score at least `min_score`, at least
`min_sales` completed sales, an average seller rating of at least `min_average`
over at least `min_ratings` revealed, unfolded ratings, and no confirmed violation
(one that no appeal overturned) within `clean_days`; nobody with a black-list entry
in force. `flask --app wsgi trust red-list` computes the month's edition once (cron);
a supervisor may compute another on demand. The current edition is the newest.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.audit.service import record
from marketplace.credit.models import CreditEvent
from marketplace.credit.policy import policy
from marketplace.db import db, utcnow
from marketplace.identity.models import IdentityVerification
from marketplace.orders.models import Order
from marketplace.ratings.models import Rating
from marketplace.trust.models import BlacklistEntry, RedListEdition, RedListEntry


def rule() -> dict:
    """The red-list numbers of the policy file."""
    return policy()["red_list"]


def current() -> RedListEdition | None:
    """The newest edition, or None before the first one."""
    return db.session.scalar(sa.select(RedListEdition).order_by(RedListEdition.id.desc()).limit(1))


def standing(edition: RedListEdition | None) -> list[RedListEntry]:
    """The edition's entries not withdrawn, in rank order."""
    if edition is None:
        return []
    return [entry for entry in edition.entries if entry.withdrawn_at is None]


def on_current(user_id: int) -> bool:
    """Whether the user stands on the current edition (one indexed query: profiles ask it on every view)."""
    newest = sa.select(sa.func.max(RedListEdition.id)).scalar_subquery()
    return (
        db.session.scalar(
            sa.select(RedListEntry.id)
            .where(
                RedListEntry.edition_id == newest,
                RedListEntry.user_id == user_id,
                RedListEntry.withdrawn_at.is_(None),
            )
            .limit(1)
        )
        is not None
    )


def candidates(now: datetime | None = None) -> list[dict]:
    """Sellers meeting the rule now, best first: {user_id, score, sales, ratings, average_centi}."""
    now = now or utcnow()
    r = rule()
    verified = sa.select(IdentityVerification.user_id).where(IdentityVerification.status == "verified")
    users = dict(
        db.session.execute(
            sa.select(User.id, User.credit_score).where(
                User.status == "active", User.credit_score >= r["min_score"], User.id.in_(verified)
            )
        ).all()
    )
    if not users:
        return []
    sales = dict(
        db.session.execute(
            sa.select(Order.seller_id, sa.func.count())
            .where(Order.status == "completed", Order.seller_id.in_(users))
            .group_by(Order.seller_id)
        ).all()
    )
    # Seller ratings: the buyer's three dimensions of revealed, unfolded ratings; summed, so the rule is
    # compared exactly in integers (an average of 4.795 does not pass a 4.8 rule by rounding).
    points = Rating.accuracy + Rating.communication + Rating.punctuality
    ratings = {
        user_id: (n, total)
        for user_id, n, total in db.session.execute(
            sa.select(Rating.ratee_id, sa.func.count(), sa.func.sum(points))
            .where(
                Rating.ratee_id.in_(users),
                Rating.rater_role == "buyer",
                Rating.visible_from <= now,
                Rating.folded_at.is_(None),
            )
            .group_by(Rating.ratee_id)
        )
    }
    since = now - timedelta(days=r["clean_days"])
    compensation = sa.orm.aliased(CreditEvent)
    violators = set(
        db.session.scalars(
            sa.select(CreditEvent.user_id)
            .outerjoin(compensation, compensation.compensates_id == CreditEvent.id)
            .where(
                CreditEvent.user_id.in_(users),
                CreditEvent.code.in_(policy()["violations"]),
                CreditEvent.at > since,
                compensation.id.is_(None),
            )
        )
    )
    listed = set(
        db.session.scalars(
            sa.select(BlacklistEntry.user_id).where(
                BlacklistEntry.user_id.in_(users),
                sa.or_(
                    BlacklistEntry.status == "pending",
                    sa.and_(BlacklistEntry.status == "active", BlacklistEntry.ends_at > now),
                ),
            )
        )
    )
    out = []
    for user_id, score in users.items():
        count, total = ratings.get(user_id, (0, 0))
        dimensions = 3 * count
        if (
            sales.get(user_id, 0) >= r["min_sales"]
            and count >= r["min_ratings"]
            and total * 100 >= round(r["min_average"] * 100) * dimensions
            and user_id not in violators
            and user_id not in listed
        ):
            out.append(
                {
                    "user_id": user_id,
                    "score": score,
                    "sales": sales[user_id],
                    "ratings": count,
                    "average_centi": total * 100 // dimensions,
                }
            )
    out.sort(key=lambda c: (-c["score"], -c["average_centi"], -c["sales"], c["user_id"]))
    return out


def compute_edition(*, actor: User | None = None, now: datetime | None = None, force: bool = False):
    """Publish an edition for this month (once, unless `force`); returns (edition, created)."""
    now = now or utcnow()
    period = now.strftime("%Y-%m")
    existing = db.session.scalar(
        sa.select(RedListEdition).where(RedListEdition.period == period).order_by(RedListEdition.id.desc()).limit(1)
    )
    if existing is not None and not force:
        return existing, False
    edition = RedListEdition(period=period, computed_at=now, computed_by_id=getattr(actor, "id", None), rule=rule())
    db.session.add(edition)
    db.session.flush()
    for position, row in enumerate(candidates(now), start=1):
        db.session.add(RedListEntry(edition_id=edition.id, position=position, **row))
    db.session.flush()
    db.session.expire(edition, ["entries"])
    record(
        "redlist.published",
        actor=actor,
        subject_type="red_list_edition",
        subject_id=edition.id,
        data={"period": period, "users": [e.user_id for e in edition.entries]},
    )
    return edition, True


def withdraw(user_id: int, *, actor: User | None, reason: str) -> RedListEntry | None:
    """Withdraw the user from the current edition at once (a confirmed violation); None if not on it."""
    edition = current()
    if edition is None:
        return None
    entry = db.session.scalar(
        sa.select(RedListEntry).where(
            RedListEntry.edition_id == edition.id, RedListEntry.user_id == user_id, RedListEntry.withdrawn_at.is_(None)
        )
    )
    if entry is None:
        return None
    result = db.session.execute(
        sa.update(RedListEntry)
        .where(RedListEntry.id == entry.id, RedListEntry.withdrawn_at.is_(None))
        .values(withdrawn_at=utcnow(), withdrawn_reason=reason)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    db.session.refresh(entry)
    record(
        "redlist.withdrawn",
        actor=actor,
        subject_type="red_list_entry",
        subject_id=entry.id,
        data={"user_id": user_id, "edition_id": edition.id},
    )
    return entry
