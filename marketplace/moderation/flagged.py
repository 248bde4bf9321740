"""Flagged sellers: people whose record asks a moderator to look at them as a whole, not listing by listing.

A seller is flagged by several confirmed violations still standing in the repeat
window, by several open reports on their listings, by a sharp fall of their
score (the penalties of the last days, net of overturned ones), or by a score
below the black-list threshold with no entry in force (a breach or an
adjustment took them there, not a decision that would have proposed one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from flask_babel import gettext as _

from marketplace.accounts.models import User
from marketplace.credit.models import CreditEvent
from marketplace.db import db, utcnow
from marketplace.errors import Forbidden
from marketplace.listings.models import Listing
from marketplace.moderation.models import Report
from marketplace.moderation.risk import standing_violations
from marketplace.moderation.service import can_review
from marketplace.trust.service import in_force_by_user
from marketplace.trust.service import rule as trust_rule

# Thresholds (moderation practice, not policy: they only decide who is looked at first).
MIN_VIOLATIONS = 2
MIN_OPEN_REPORTS = 3
FALL_POINTS = 100
FALL_DAYS = 30


@dataclass
class Flagged:
    user: User
    violations: int = 0
    open_reports: int = 0
    fall: int = 0
    reasons: list[str] = field(default_factory=list)
    entry: object | None = None


def _open_reports_by_seller() -> dict[int, int]:
    rows = db.session.execute(
        sa.select(Listing.seller_id, sa.func.count(Report.id))
        .join(Report, Report.listing_id == Listing.id)
        .where(Report.status == "open")
        .group_by(Listing.seller_id)
        .having(sa.func.count(Report.id) >= MIN_OPEN_REPORTS)
    )
    return dict(rows.all())


def _falls(since) -> dict[int, int]:
    """{user: points lost since `since`, net of compensations} for those who lost FALL_POINTS or more."""
    compensation = sa.orm.aliased(CreditEvent)
    rows = db.session.execute(
        sa.select(CreditEvent.user_id, sa.func.sum(CreditEvent.points))
        .outerjoin(compensation, compensation.compensates_id == CreditEvent.id)
        .where(CreditEvent.points < 0, CreditEvent.at > since, compensation.id.is_(None))
        .group_by(CreditEvent.user_id)
        .having(sa.func.sum(CreditEvent.points) <= -FALL_POINTS)
    )
    return {user_id: -points for user_id, points in rows}


def flagged(actor: User) -> list[Flagged]:
    """Flagged sellers other than `actor`, most serious first."""
    if not can_review(actor):
        raise Forbidden(_("只有审核员可以查看重点关注的卖家。"))
    reports = _open_reports_by_seller()
    falls = _falls(utcnow() - timedelta(days=FALL_DAYS))
    candidates = set(reports) | set(falls)
    # Standing violations of everyone with any violation recently is a small set; read it whole.
    violators = standing_violations(
        set(
            db.session.scalars(
                sa.select(CreditEvent.user_id)
                .where(CreditEvent.at > utcnow() - timedelta(days=365), CreditEvent.points < 0)
                .distinct()
            )
        )
    )
    candidates |= {u for u, n in violators.items() if n >= MIN_VIOLATIONS}
    # Below the black-list score, whatever brought them there (breaches, adjustments): a moderator looks.
    low = dict(
        db.session.execute(
            sa.select(User.id, User.credit_score).where(
                User.status == "active", User.credit_score < trust_rule()["score_below"]
            )
        ).all()
    )
    candidates |= set(low)
    candidates.discard(actor.id)
    if not candidates:
        return []
    users = {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(candidates)))}
    entries = in_force_by_user(candidates)
    out = []
    for user_id in candidates:
        item = Flagged(
            users[user_id],
            violations=violators.get(user_id, 0),
            open_reports=reports.get(user_id, 0),
            fall=falls.get(user_id, 0),
        )
        if item.violations >= MIN_VIOLATIONS:
            item.reasons.append("violations")
        if item.open_reports >= MIN_OPEN_REPORTS:
            item.reasons.append("open_reports")
        if item.fall >= FALL_POINTS:
            item.reasons.append("fall")
        if user_id in low:
            item.reasons.append("low_score")
        item.entry = entries.get(user_id)
        if item.reasons == ["low_score"] and item.entry is not None:
            continue  # already proposed or listed: nothing more to look at
        out.append(item)
    return sorted(out, key=lambda f: (-f.violations, -f.open_reports, -f.fall, f.user.id))
