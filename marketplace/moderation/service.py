"""Reports against listings: opened by users, or by the system itself (a certification downgrade).

A report keeps a snapshot of the listing as it was when reported, so the moderator
later judges what the reporter saw, not what the seller edited afterwards.
"""

from __future__ import annotations

import json
import re

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from marketplace.accounts.models import User
from marketplace.audit.service import record
from marketplace.db import db, utcnow
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.listings.models import Listing
from marketplace.moderation.models import REPORT_REASONS, REPORT_SOURCES, Report

DETAIL_MAX = 1000
# Listings a visitor can still open: reports on them make sense (a sold item may prove counterfeit).
VISIBLE_STATUSES = ("active", "reserved", "sold", "swapped")
REASON_LABELS = {
    "exaggeration": _l("夸大宣传"),
    "hidden_defect": _l("隐瞒关键信息或缺陷"),
    "fake_transaction": _l("虚假交易"),
    "counterfeit": _l("假冒伪劣"),
    "prohibited": _l("违禁或不可交易物品"),
    "other": _l("其他"),
}
SOURCE_LABELS = {"user": _l("用户举报"), "certification": _l("验货结果"), "rating": _l("交易评价")}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# --- who may do what --------------------------------------------------------


def can_report(user: User | None, listing: Listing) -> bool:
    """Whether `user` may report `listing`: any active account but the seller's own."""
    return bool(user and user.status == "active" and listing.seller_id != user.id)


def can_review(user: User | None) -> bool:
    """Whether `user` may read the reports (moderators)."""
    return bool(user and user.status == "active" and user.has_role("moderator"))


# --- reading ------------------------------------------------------------------


def reportable_listing(reporter: User, listing_id: int) -> Listing:
    """The listing `reporter` may report; NotFound when it is not visible, Forbidden for one's own."""
    if reporter.status != "active":
        raise Forbidden(_("该账户已停用或注销，不能举报。"))
    listing = db.session.get(Listing, listing_id)
    if listing is None or listing.status not in VISIBLE_STATUSES:
        raise NotFound(_("找不到该商品。"))
    if listing.seller_id == reporter.id:
        raise Forbidden(_("不能举报自己发布的商品。"))
    return listing


def open_report_by(reporter: User, listing_id: int) -> Report | None:
    """The reporter's open report on the listing, if they have one."""
    return db.session.scalar(
        sa.select(Report).where(
            Report.listing_id == listing_id, Report.reporter_id == reporter.id, Report.status == "open"
        )
    )


def open_reports(actor: User, *, before_id: int | None = None, limit: int = 20) -> list[Report]:
    """Open reports, newest first (moderators only); keyset pages by id."""
    if not can_review(actor):
        raise Forbidden(_("只有审核员可以查看举报。"))
    # A moderator never handles reports about their own listings (nor sees them early: a rating's
    # report carries a rating that may still be hidden from its seller).
    query = (
        sa.select(Report)
        .join(Listing, Listing.id == Report.listing_id)
        .where(Report.status == "open", Listing.seller_id != actor.id)
    )
    if before_id is not None:
        query = query.where(Report.id < before_id)
    return list(db.session.scalars(query.order_by(Report.id.desc()).limit(limit)))


# --- evidence -----------------------------------------------------------------------


def _json_safe(value):
    # Evidence is a JSON column: dates and the like become strings, once, here.
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def listing_snapshot(listing: Listing) -> dict:
    """The listing as it is now, for a report's evidence."""
    return _json_safe(
        {
            "listing_id": listing.id,
            "seller_id": listing.seller_id,
            "category": listing.category,
            "title": listing.title,
            "description": listing.description,
            "price_fen": listing.price_fen,
            "district": listing.district,
            "status": listing.status,
            "grade": listing.grade,
            "standard_version": listing.standard_version,
            "grading": listing.grading,
            "photos": [photo.stem for photo in listing.photos],
            "at": utcnow().isoformat(),
        }
    )


# --- opening ---------------------------------------------------------------------------


def clean_report(reason: str | None, detail: str | None) -> tuple[str, str]:
    """Check the reason and the detail; Invalid naming each field at fault."""
    errors: dict[str, list[str]] = {}
    reason = (reason or "").strip()
    detail = (detail or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if reason not in REPORT_REASONS:
        errors["reason"] = [_("请选择举报理由")]
    if _CONTROL.search(detail):
        errors["detail"] = [_("说明中含有不可见的控制字符，请删除后重试")]
    elif len(detail) > DETAIL_MAX:
        errors["detail"] = [_("说明最多 %(n)s 个字", n=DETAIL_MAX)]
    elif reason == "other" and not detail:
        errors["detail"] = [_("选择“其他”时请说明具体问题")]
    if errors:
        raise Invalid(_("举报信息有误，请检查标出的字段。"), errors=errors)
    return reason, detail


def _opened(report: Report, actor: User | None) -> None:
    # Who reported is the actor; the detail stays out of the log (it is free text).
    record(
        "report.opened",
        actor=actor,
        subject_type="report",
        subject_id=report.id,
        data={"listing_id": report.listing_id, "reason": report.reason, "source": report.source},
    )


def report_listing(reporter: User, listing_id: int, reason: str | None, detail: str | None) -> Report:
    """Open a user's report on a listing, with a snapshot of the listing as evidence.

    One open report per reporter and listing: the partial UNIQUE index decides
    (Conflict), also against a report committed a moment ago by a parallel request.
    """
    listing = reportable_listing(reporter, listing_id)
    reason, detail = clean_report(reason, detail)
    report = Report(
        listing_id=listing.id,
        reporter_id=reporter.id,
        reason=reason,
        detail=detail,
        source="user",
        evidence={"listing": listing_snapshot(listing)},
        status="open",
        created_at=utcnow(),
    )
    try:
        # Added inside the savepoint: begin_nested() flushes what is pending before it.
        with db.session.begin_nested():
            db.session.add(report)
            db.session.flush()
    except sa.exc.IntegrityError:
        raise Conflict(_("你已举报过该商品，正在处理中")) from None
    _opened(report, reporter)
    return report


def open_system_report(listing: Listing, reason: str, source: str, evidence: dict, detail: str = "") -> Report:
    """Open a report the system raises itself (no reporter); the listing's snapshot is added to `evidence`."""
    if reason not in REPORT_REASONS or source not in REPORT_SOURCES or source == "user":
        raise ValueError(f"not a system report: {reason}/{source}")
    report = Report(
        listing_id=listing.id,
        reporter_id=None,
        reason=reason,
        detail=detail,
        source=source,
        evidence=_json_safe({"listing": listing_snapshot(listing), **evidence}),
        status="open",
        created_at=utcnow(),
    )
    db.session.add(report)
    db.session.flush()
    _opened(report, None)
    return report
