"""Inspectors' certification: the same checklist, filled in by a third party, graded by the engine.

A certified grade two or more steps below the seller's declared one opens a false-listing
report ("exaggeration") with both checklists as evidence. A gate the inspector answers
"yes" (an account-locked or stolen phone, a mortgaged car) makes the item untradable:
the certification is still recorded, with the standard's worst grade, so the listing
shows what the inspector found, and a "prohibited" report is opened for a moderator to
decide (the listing itself is not taken down here: removing it is a moderator's call).

It lives in moderation because it opens reports: moderation → listings → grading.
The views parse the checklist form; this module takes the answers as a dict.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from marketplace.accounts.models import User
from marketplace.audit.service import record
from marketplace.db import db, utcnow
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.grading import engine
from marketplace.listings.models import GRADED_CATEGORIES, Certification, Listing
from marketplace.moderation.service import open_system_report

CERTIFIABLE_STATUSES = ("active", "reserved")
# How far below the declared grade a certified grade must be to open a report (DESIGN.md).
REPORT_STEPS = 2


# --- who may do what --------------------------------------------------------


def can_certify(user: User | None) -> bool:
    """Whether `user` may certify listings (inspectors)."""
    return bool(user and user.status == "active" and user.has_role("inspector"))


# --- reading ------------------------------------------------------------------


def certifiable_listing(inspector: User, listing_id: int, *, lock: bool = False) -> Listing:
    """The listing `inspector` may certify now; Forbidden, NotFound or Conflict explain why not."""
    if not can_certify(inspector):
        raise Forbidden(_("只有验货员可以进行验货认证。"))
    query = sa.select(Listing).where(Listing.id == listing_id)
    if lock:
        # Two inspectors at once on PostgreSQL: the second waits and then sees the first one's certificate.
        query = query.with_for_update(of=Listing)
    listing = db.session.scalars(query).unique().first()
    if listing is None or listing.status in ("removed", "withdrawn"):
        raise NotFound(_("找不到该商品。"))
    if listing.seller_id == inspector.id:
        raise Forbidden(_("不能为自己发布的商品验货。"))
    if listing.category not in GRADED_CATEGORIES or not listing.grading:
        raise Conflict(_("该类商品没有成色标准，无需验货认证。"))
    if listing.status not in CERTIFIABLE_STATUSES:
        raise Conflict(_("该商品已售出或已下架，不能再验货认证。"))
    if listing.certified is not None:  # current: made after the seller's last edit
        raise Conflict(_("该商品已有验货认证，卖家修改商品后才能重新认证。"))
    return listing


def certification_queue(inspector: User, *, before_id: int | None = None, limit: int = 20) -> list[Listing]:
    """Active graded listings of others without a current certification, newest first (keyset by id)."""
    if not can_certify(inspector):
        raise Forbidden(_("只有验货员可以进行验货认证。"))
    query = sa.select(Listing).where(
        Listing.status == "active",
        Listing.category.in_(GRADED_CATEGORIES),
        Listing.seller_id != inspector.id,
        # Edited since certified: the certification is out of date, so the listing waits again.
        ~sa.exists().where(Certification.listing_id == Listing.id, Certification.created_at >= Listing.updated_at),
    )
    if before_id is not None:
        query = query.where(Listing.id < before_id)
    return list(db.session.scalars(query.order_by(Listing.id.desc()).limit(limit)).unique())


def standard_for(listing: Listing):
    """The grading standard of the listing's category."""
    return engine.get_standard(listing.category)


def declared_answers(listing: Listing) -> dict:
    """The seller's checklist answers, for reference beside the inspector's form."""
    return dict(listing.grading or {})


def _steps_below(listing: Listing, grade: str) -> int | None:
    """How many steps `grade` lies below the declared grade; None when they cannot be compared."""
    if not listing.grade:
        return None
    try:
        return engine.grade_steps(listing.category, listing.grade, grade)
    except ValueError:  # a declared grade from a standard version that no longer has it
        return None


# --- certifying -----------------------------------------------------------------


def _differences(standard, declared: dict, certified: dict) -> list[dict]:
    """Item by item, where the inspector's answer differs from the seller's."""
    keys = [*(g.key for g in standard.gates), *(i.key for i in standard.items)]
    keys += [k for k in (*declared, *certified) if k not in keys]
    return [
        {"key": key, "declared": declared.get(key), "certified": certified.get(key)}
        for key in dict.fromkeys(keys)
        if declared.get(key) != certified.get(key)
    ]


def _evidence(listing: Listing, cert: Certification, standard, blocked: list[str]) -> dict:
    return {
        "certification_id": cert.id,
        "inspector_id": cert.inspector_id,
        "standard_version": cert.standard_version,
        "declared": {
            "grade": listing.grade,
            "standard_version": listing.standard_version,
            "answers": declared_answers(listing),
        },
        "certified": {"grade": cert.grade, "standard_version": cert.standard_version, "answers": cert.grading},
        "grade_steps": _steps_below(listing, cert.grade),
        "blocked_by": blocked,
        "differences": _differences(standard, declared_answers(listing), cert.grading),
    }


def certify(inspector: User, listing_id: int, answers: dict) -> Certification:
    """Record an inspector's checklist and the grade the engine gives it.

    Invalid (with `grading.<key>` field errors) for an incomplete or malformed checklist.
    The returned certification carries `opened_report`: the report it opened, or None.
    """
    listing = certifiable_listing(inspector, listing_id, lock=True)
    standard = standard_for(listing)
    result = engine.assess(listing.category, answers or {})
    if result.errors:
        raise Invalid(_("验货清单有误，请检查标出的项目。"), errors=result.errors)
    blocked = [key for key, _label in result.blocked]
    # An untradable item gets the standard's worst grade: the listing must not look better than that.
    grade = standard.grades[-1].code if blocked else result.grade
    cert = Certification(
        listing=listing,
        inspector_id=inspector.id,
        grading=result.answers,
        grade=grade,
        standard_version=result.version or standard.version,
        created_at=utcnow(),
    )
    db.session.add(cert)
    db.session.flush()
    steps = _steps_below(listing, grade)
    reason = "prohibited" if blocked else "exaggeration" if steps is not None and steps >= REPORT_STEPS else None
    report = None
    if reason is not None:
        report = open_system_report(listing, reason, "certification", _evidence(listing, cert, standard, blocked))
    record(
        "listing.certified",
        actor=inspector,
        subject_type="listing",
        subject_id=listing.id,
        data={
            "certification_id": cert.id,
            "category": listing.category,
            "declared_grade": listing.grade,
            "grade": grade,
            "steps_below": steps,
            "blocked_by": blocked,
            "report_id": report.id if report is not None else None,
        },
    )
    cert.opened_report = report
    return cert
