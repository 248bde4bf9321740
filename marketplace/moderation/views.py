"""Moderation pages: reporting a listing; the report queue, the report page and the two-step decision;
flagged sellers; a decision's page, appealing it and deciding appeals; inspectors' certification.

Two blueprints: `moderation` (reports, decisions, appeals) and `inspection` (certification, the
service in moderation.certification; the view parses the checklist form and passes the answers).
Anything that hurts someone is decided on a confirmation page that says what will happen.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from markupsafe import Markup

from marketplace import MAX_ID
from marketplace.accounts.forms import ConfirmForm
from marketplace.credit.policy import policy
from marketplace.db import db, utcnow
from marketplace.errors import Conflict, Forbidden, Invalid
from marketplace.extensions import report_limit
from marketplace.forms_util import apply_domain_error
from marketplace.grading import engine
from marketplace.grading.forms import parse_form
from marketplace.listings.fields import sanitise_stored
from marketplace.moderation import certification, decisions, risk, service
from marketplace.moderation import flagged as flags
from marketplace.moderation.forms import DecideForm, ReportForm
from marketplace.trust import service as trust

bp = Blueprint("moderation", __name__)
inspection = Blueprint("inspection", __name__)
blueprints = [bp, inspection]

QUEUE_PAGE = 20
LIST_PAGE = 20
DECISION_LABELS = {"dismissed": _l("驳回举报"), "confirmed": _l("确认违规"), "malicious": _l("恶意举报")}
APPEAL_STATUS_LABELS = {"pending": _l("待处理"), "upheld": _l("维持原决定"), "overturned": _l("申诉成立，原决定已撤销")}
# What raised a listing's risk, in words (risk.RISK has the points; per-reporter signals are counted).
FACTOR_LABELS = {
    "certification": _l("验货等级比申报低两级或以上"),
    "rating": _l("买家评价“描述相符”1–2 分"),
    "severe": _l("举报涉及假冒伪劣或违禁物品"),
    "accurate_reporter": _l("举报人以往的举报多数属实"),
    "inaccurate_reporter": _l("举报人以往的举报多数被驳回"),
    "malicious_reporter": _l("举报人曾被认定恶意举报"),
    "reporter_credit": _l("举报人的信用分"),
    "seller_violations": _l("卖家一年内有确认违规"),
}


@bp.app_context_processor
def _labels():
    return {"report_reason_labels": service.REASON_LABELS, "report_source_labels": service.SOURCE_LABELS}


@bp.app_template_global()
def has_endpoint(name: str) -> bool:
    """Whether a page exists: links to features not installed (or not built yet) are left out."""
    return name in current_app.view_functions


@bp.context_processor
def _decision_labels():
    return {
        "decision_labels": DECISION_LABELS,
        "appeal_status_labels": APPEAL_STATUS_LABELS,
        "blacklist_reason_labels": trust.REASON_LABELS,
        "blacklist_status_labels": trust.STATUS_LABELS,
        "age_of": age_of,
        "snapshot_time": snapshot_time,
        "appeal_days": policy()["appeal_days"],
        "now": utcnow(),
    }


def _me():
    return current_user._get_current_object()


def listing_url(listing_id: int) -> str:
    """The listing's page (the listings feature owns it)."""
    return url_for("listings.detail", listing_id=listing_id)


def age_of(moment) -> str:
    """How long ago, coarsely: hours within a day, then days."""
    seconds = max(0, (utcnow() - moment).total_seconds())
    if seconds < 3600:
        return _("不到 1 小时")
    if seconds < 86400:
        return _("%(n)s 小时", n=int(seconds // 3600))
    return _("%(n)s 天", n=int(seconds // 86400))


def snapshot_time(snapshot: dict) -> datetime | None:
    """When a report's snapshot of the listing was taken (stored as an ISO string)."""
    try:
        return datetime.fromisoformat(snapshot.get("at") or "")
    except ValueError:
        return None


def _id_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    if value.isascii() and value.isdigit() and len(value) < 11 and 0 < int(value) <= MAX_ID:
        return int(value)
    return None


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
@report_limit
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


# --- the report queue and the report page ----------------------------------------------------------


def factor_words(item: risk.QueueItem) -> list[tuple[str, int]]:
    """The queue item's risk factors in words with their points; per-reporter signals counted together."""
    grouped: dict[str, list[int]] = {}
    for code, points in item.factors:
        grouped.setdefault(code, []).append(points)
    words = []
    for code, points in grouped.items():
        if code == "reporters":
            label = _("%(n)s 位举报人", n=len({r.reporter_id for r in item.reports if r.reporter_id is not None}))
        elif len(points) > 1:
            label = _("%(label)s（%(n)s 位）", label=FACTOR_LABELS.get(code, code), n=len(points))
        else:
            label = str(FACTOR_LABELS.get(code, code))
        words.append((label, sum(points)))
    return words


@bp.get("/moderation/reports", endpoint="queue")
@login_required
def report_queue():
    """Open reports grouped by listing, riskiest first, a page at a time."""
    items = risk.queue(_me())
    pages = max(1, -(-len(items) // QUEUE_PAGE))
    page = min(max(request.args.get("page", 1, type=int), 1), pages)
    return render_template(
        "moderation/queue.html",
        items=items[(page - 1) * QUEUE_PAGE : page * QUEUE_PAGE],
        total=len(items),
        page=page,
        pages=pages,
        first_number=(page - 1) * QUEUE_PAGE + 1,
        factor_words=factor_words,
        risk=risk.RISK,
    )


def evidence_of(report) -> dict:
    """What a system report brings beyond the listing: the inspector's grades, or the buyer's rating."""
    evidence = report.evidence or {}
    if report.source == "certification":
        standard = engine.get_standard(report.listing.category)
        labels = {x.key: x.label for x in (*standard.gates, *standard.items)} if standard else {}
        return {
            "declared": (evidence.get("declared") or {}).get("grade"),
            "certified": (evidence.get("certified") or {}).get("grade"),
            "steps": evidence.get("grade_steps"),
            "blocked": [labels.get(key, key) for key in evidence.get("blocked_by") or []],
            "differences": [labels.get(d.get("key"), d.get("key")) for d in evidence.get("differences") or []],
        }
    if report.source == "rating":
        return {k: evidence.get(k) for k in ("order_id", "accuracy", "comment")}
    return {}


def _render_review(data: dict, form: DecideForm, status: int = 200):
    return (
        render_template(
            "moderation/review.html",
            **data,
            form=form,
            snapshot_description=Markup(sanitise_stored(data["snapshot"].get("description"))),  # noqa: S704 - nh3
            evidence_of=evidence_of,
            seller_entry=trust.in_force(data["seller"].id),
        ),
        status,
    )


@bp.get("/moderation/reports/<int:report_id>", endpoint="review")
@login_required
def review_report(report_id: int):
    """A report: the listing as reported, the evidence, every report on it, the seller's record, the form."""
    return _render_review(decisions.review(_me(), report_id), DecideForm())


@bp.route("/moderation/reports/<int:report_id>/decide", methods=["GET", "POST"], endpoint="decide")
@login_required
def decide_report(report_id: int):
    """GET: the form; POST: the consequences to confirm; POST with `confirm`: the decision, applied."""
    user = _me()
    data = decisions.review(user, report_id)
    report = data["report"]
    form = DecideForm()
    if request.method == "GET":
        return _render_review(data, form)
    if report.status != "open":
        flash(_("该举报已被其他审核员处理。"), "error")
        return redirect(url_for("moderation.queue"))
    if data["why_not"]:
        raise Forbidden(data["why_not"])
    if request.form.get("back"):
        return _render_review(data, form)
    try:
        outcome, violation, note = decisions.clean_decision(
            form.outcome.data, form.violation.data, form.note.data, report
        )
    except Invalid as exc:
        apply_domain_error(form, exc, free_text=("note",))
        return _render_review(data, form, exc.status)
    if form.confirm.data != "1":
        effects = decisions.preview(report, outcome, violation)
        return render_template(
            "moderation/decide.html",
            report=report,
            form=form,
            outcome=outcome,
            violation=violation,
            note=note,
            effects=effects,
        )
    try:
        decision = decisions.decide(user, report.id, outcome, violation, note)
        db.session.commit()
    except Conflict as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("moderation.queue"))
    flash(_("已作出审核决定：%(outcome)s。", outcome=DECISION_LABELS[decision.outcome]), "success")
    return redirect(url_for("moderation.decision", decision_id=decision.id))


@bp.get("/moderation/flagged", endpoint="flagged")
@login_required
def flagged_sellers():
    """Sellers whose record as a whole asks for a look: violations, open reports, a falling score."""
    return render_template("moderation/flagged.html", rows=flags.flagged(_me()), flags=flags)


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


# The decision and appeal pages register on the same blueprint.
from marketplace.moderation import decision_views  # noqa: E402, F401
