"""Moderation pages: reporting a listing; inspectors' certification queue and checklist form.

Two blueprints: `moderation` (reports) and `inspection` (certification, the service in
moderation.certification; the view parses the checklist form and passes the answers).
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from marketplace import MAX_ID
from marketplace.accounts.forms import ConfirmForm
from marketplace.db import db
from marketplace.errors import Conflict, Forbidden, Invalid
from marketplace.forms_util import apply_domain_error
from marketplace.grading import engine
from marketplace.grading.forms import parse_form
from marketplace.moderation import certification, service
from marketplace.moderation.forms import ReportForm

bp = Blueprint("moderation", __name__)
inspection = Blueprint("inspection", __name__)
blueprints = [bp, inspection]

QUEUE_PAGE = 20


@bp.app_context_processor
def _labels():
    return {"report_reason_labels": service.REASON_LABELS, "report_source_labels": service.SOURCE_LABELS}


def _me():
    return current_user._get_current_object()


def listing_url(listing_id: int) -> str:
    """The listing's page (the listings feature owns it)."""
    return url_for("listings.detail", listing_id=listing_id)


# --- reporting a listing ---------------------------------------------------------


def _render_report(listing, form, *, existing=None, status=200):
    return (
        render_template(
            "moderation/report.html",
            listing=listing,
            form=form,
            existing=existing,
            listing_href=listing_url(listing.id),
        ),
        status,
    )


@bp.route("/listings/<int:listing_id>/report", methods=["GET", "POST"])
@login_required
def report_listing(listing_id: int):
    """Report a listing: a reason and a detail; one open report per person and listing."""
    reporter = _me()
    listing = service.reportable_listing(reporter, listing_id)
    form = ReportForm()
    if request.method == "GET":
        return _render_report(listing, form, existing=service.open_report_by(reporter, listing.id))
    # The CSRF token was checked before the view (CSRFProtect); the reason and the detail are the service's.
    try:
        service.report_listing(reporter, listing.id, form.reason.data, form.detail.data)
        db.session.commit()
    except (Invalid, Conflict) as exc:
        db.session.rollback()
        apply_domain_error(form, exc)
        return _render_report(listing, form, status=exc.status)
    flash(_("举报已提交，审核员会尽快处理。感谢你帮助维护诚信交易。"), "success")
    return redirect(listing_url(listing.id))


# --- inspectors: certification ------------------------------------------------------


def _require_inspector():
    user = _me()
    if not certification.can_certify(user):
        raise Forbidden(_("只有验货员可以进行验货认证。"))
    return user


@inspection.get("/inspect")
@login_required
def queue():
    """Active graded listings still waiting for an inspector, newest first."""
    inspector = _require_inspector()
    before = request.args.get("before", type=int)
    if before is not None and not 0 < before <= MAX_ID:
        before = None
    rows = certification.certification_queue(inspector, before_id=before, limit=QUEUE_PAGE + 1)
    page = rows[:QUEUE_PAGE]
    next_before = page[-1].id if len(rows) > QUEUE_PAGE else None
    return render_template(
        "moderation/inspect_queue.html",
        listings=page,
        next_before=next_before,
        paged=before is not None,
        listing_url=listing_url,
    )


def _render_certify(listing, answers, errors, status=200):
    return (
        render_template(
            "moderation/certify.html",
            listing=listing,
            standard=certification.standard_for(listing),
            answers=answers,
            errors=errors,
            declared=certification.declared_answers(listing),
            form=ConfirmForm(),
            listing_href=listing_url(listing.id),
        ),
        status,
    )


@inspection.route("/listings/<int:listing_id>/certify", methods=["GET", "POST"])
@login_required
def certify(listing_id: int):
    """The inspector's own checklist for a listing; the engine computes the certified grade."""
    inspector = _require_inspector()
    listing = certification.certifiable_listing(inspector, listing_id)
    if request.method == "GET":
        return _render_certify(listing, {}, {})
    answers = parse_form(certification.standard_for(listing), request.form)
    try:
        cert = certification.certify(inspector, listing.id, answers)
        db.session.commit()
    except Invalid as exc:
        # Anything else (another inspector was quicker, the listing was sold) is the error page's.
        db.session.rollback()
        flash(str(exc.message), "error")
        return _render_certify(listing, answers, exc.errors, exc.status)
    grade = engine.grade_label(listing.category, cert.grade) or ""
    if cert.opened_report is not None:
        flash(
            _("已认证为 %(grade)s。结果与卖家申报不符，已自动提交举报，由审核员处理。", grade=grade),
            "warning",
        )
    else:
        flash(_("已认证为 %(grade)s。", grade=grade), "success")
    return redirect(url_for("inspection.queue"))
