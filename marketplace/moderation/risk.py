"""The report queue, riskiest first: open reports grouped by listing, scored by signals a moderator can read.

The signals and their points are RISK below; the queue page lists, for each listing, the
factors that made its number, so the order is never a black box.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from flask_babel import gettext as _

from marketplace.accounts.models import User
from marketplace.credit.models import CreditEvent
from marketplace.credit.policy import policy
from marketplace.db import db, utcnow
from marketplace.errors import Forbidden
from marketplace.listings.models import Listing
from marketplace.moderation.models import Report
from marketplace.moderation.service import can_review

QUEUE_MAX = 2000  # open reports read to order the queue; more than this is a backlog to raise elsewhere
# How much each signal adds to a listing's risk (documented on the queue page).
RISK = {
    "reporter": 20,  # per distinct reporter, at most 5 counted
    "certification": 40,  # an inspector's grade two steps below the declared one
    "rating": 30,  # a buyer's accuracy rating of 1 or 2
    "severe": 15,  # counterfeit or prohibited reported
    "accurate_reporter": 10,  # per reporter whose earlier reports were mostly confirmed
    "inaccurate_reporter": -10,  # per reporter whose earlier reports were mostly dismissed
    "malicious_reporter": -25,  # per reporter once found malicious
    "seller_violation": 15,  # per standing violation of the seller in the repeat window, at most 3
}


@dataclass
class QueueItem:
    """The open reports on one listing, with the risk that orders the queue and what made it."""

    listing: Listing
    reports: list[Report]
    risk: int = 0
    factors: list[tuple[str, int]] = field(default_factory=list)

    @property
    def first(self) -> Report:
        return self.reports[0]


def _reporter_records(reporter_ids: set[int]) -> dict[int, dict[str, int]]:
    """{reporter: {status: count}} over their decided reports."""
    if not reporter_ids:
        return {}
    rows = db.session.execute(
        sa.select(Report.reporter_id, Report.status, sa.func.count())
        .where(Report.reporter_id.in_(reporter_ids), Report.status != "open")
        .group_by(Report.reporter_id, Report.status)
    )
    out: dict[int, dict[str, int]] = {}
    for reporter_id, status, n in rows:
        out.setdefault(reporter_id, {})[status] = n
    return out


def standing_violations(user_ids: set[int]) -> dict[int, int]:
    """{user: confirmed violations within the repeat window that no appeal overturned}."""
    if not user_ids:
        return {}
    since = utcnow() - timedelta(days=policy()["repeat"]["window_days"])
    compensation = sa.orm.aliased(CreditEvent)
    rows = db.session.execute(
        sa.select(CreditEvent.user_id, sa.func.count())
        .outerjoin(compensation, compensation.compensates_id == CreditEvent.id)
        .where(
            CreditEvent.user_id.in_(user_ids),
            CreditEvent.code.in_(policy()["violations"]),
            CreditEvent.at > since,
            compensation.id.is_(None),
        )
        .group_by(CreditEvent.user_id)
    )
    return dict(rows.all())


def queue(actor: User) -> list[QueueItem]:
    """Open reports grouped by listing, riskiest first (ties: oldest report first)."""
    if not can_review(actor):
        raise Forbidden(_("只有审核员可以查看举报。"))
    own_filed = sa.select(Report.listing_id).where(Report.reporter_id == actor.id, Report.status == "open")
    reports = list(
        db.session.scalars(
            sa.select(Report)
            .join(Listing, Listing.id == Report.listing_id)
            .where(Report.status == "open", Listing.seller_id != actor.id, Report.listing_id.not_in(own_filed))
            .order_by(Report.id)
            .limit(QUEUE_MAX)
            .options(sa.orm.contains_eager(Report.listing))
        )
    )
    items: dict[int, QueueItem] = {}
    for report in reports:
        items.setdefault(report.listing_id, QueueItem(report.listing, [])).reports.append(report)
    reporter_ids = {r.reporter_id for r in reports if r.reporter_id is not None}
    records = _reporter_records(reporter_ids)
    scores = dict(db.session.execute(sa.select(User.id, User.credit_score).where(User.id.in_(reporter_ids))).all())
    violations = standing_violations({item.listing.seller_id for item in items.values()})
    for item in items.values():
        _score(item, records, scores, violations)
    return sorted(items.values(), key=lambda i: (-i.risk, i.first.id))


def _score(item: QueueItem, records, scores, violations) -> None:
    factors: list[tuple[str, int]] = []
    reporters = sorted({r.reporter_id for r in item.reports if r.reporter_id is not None})
    if reporters:
        factors.append(("reporters", RISK["reporter"] * min(len(reporters), 5)))
    for source in ("certification", "rating"):
        if any(r.source == source for r in item.reports):
            factors.append((source, RISK[source]))
    if any(r.reason in ("counterfeit", "prohibited") for r in item.reports):
        factors.append(("severe", RISK["severe"]))
    credit_points = 0
    for reporter_id in reporters:
        record_ = records.get(reporter_id, {})
        decided = sum(record_.values())
        if record_.get("malicious"):
            factors.append(("malicious_reporter", RISK["malicious_reporter"]))
        elif decided >= 2:
            key = "accurate_reporter" if record_.get("confirmed", 0) * 2 > decided else "inaccurate_reporter"
            factors.append((key, RISK[key]))
        score = scores.get(reporter_id)
        if score is not None:
            # A reporter in good standing weighs a little more, one with a poor score a little less.
            credit_points += max(-10, min(10, (score - 600) // 20))
    if credit_points:
        factors.append(("reporter_credit", credit_points))
    standing = violations.get(item.listing.seller_id, 0)
    if standing:
        factors.append(("seller_violations", RISK["seller_violation"] * min(standing, 3)))
    item.factors = factors
    item.risk = sum(points for _, points in factors)
