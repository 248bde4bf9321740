"""Reputation: what a user's revealed ratings add up to, as a seller and as a buyer.

Per role: the number of ratings, the average of each dimension, and the share of
positive ratings (average score of 4 or more) over the last 12 months. Folded
ratings are left out. Ratings from the same counterparty count once per 7 days, so
a friend rating a seller over and over cannot lift them.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.db import db, utcnow
from marketplace.ratings.models import DIMENSIONS, Rating

SAME_COUNTERPARTY = timedelta(days=7)
POSITIVE_PERIOD = timedelta(days=365)
POSITIVE_MIN = 4.0
# Which rater role rates the user in which capacity: buyers rate sellers.
CAPACITY = {"as_seller": "buyer", "as_buyer": "seller"}


def _counted(rows) -> list:
    """Rows (rater_id, created_at, ...) sorted by rater and time, with repeats within 7 days dropped."""
    kept = []
    last: dict[int, object] = {}
    for row in sorted(rows, key=lambda r: (r.rater_id, r.created_at)):
        previous = last.get(row.rater_id)
        if previous is not None and row.created_at - previous < SAME_COUNTERPARTY:
            continue
        last[row.rater_id] = row.created_at
        kept.append(row)
    return kept


def _side(rows, role: str, now) -> dict:
    dims = DIMENSIONS[role]
    rows = _counted(rows)
    averages = {d: round(sum(getattr(r, d) for r in rows) / len(rows), 2) if rows else None for d in dims}
    recent = [r for r in rows if r.created_at >= now - POSITIVE_PERIOD]
    positive = sum(1 for r in recent if sum(getattr(r, d) for d in dims) / len(dims) >= POSITIVE_MIN)
    return {
        "count": len(rows),
        "averages": averages,
        "positive_share": round(positive / len(recent), 3) if recent else None,
        "recent_count": len(recent),
    }


def summary(user: User | int) -> dict:
    """The user's reputation: `count` and `average` over both roles, and `as_seller`, `as_buyer` in detail."""
    user_id = getattr(user, "id", user)
    now = utcnow()
    rows = db.session.execute(
        sa.select(
            Rating.rater_id,
            Rating.rater_role,
            Rating.created_at,
            Rating.accuracy,
            Rating.communication,
            Rating.punctuality,
        ).where(Rating.ratee_id == user_id, Rating.visible_from <= now, Rating.folded_at.is_(None))
    ).all()
    sides = {
        capacity: _side([r for r in rows if r.rater_role == role], role, now) for capacity, role in CAPACITY.items()
    }
    count = sum(side["count"] for side in sides.values())
    means = [
        sum(side["averages"][d] for d in side["averages"]) / len(side["averages"]) * side["count"]
        for side in sides.values()
        if side["count"]
    ]
    return {"count": count, "average": round(sum(means) / count, 2) if count else None, **sides}


def _register() -> None:
    from marketplace.identity.service import register_profile_section

    register_profile_section("ratings", summary)


_register()
