"""Pages of a decision and its appeal: the decision, appealing it, the appeals queue, deciding an appeal.

They register on the moderation blueprint (imported at the end of moderation.views).
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from marketplace.db import db
from marketplace.errors import Conflict, Forbidden, Invalid
from marketplace.forms_util import apply_domain_error
from marketplace.moderation import appeals, decisions
from marketplace.moderation.forms import AppealDecisionForm, AppealForm
from marketplace.moderation.views import APPEAL_STATUS_LABELS, LIST_PAGE, _id_arg, _me, bp


def _events(decision) -> tuple[list, set[int]]:
    events = decisions.credit_events_of(decision)
    return events, {e.compensates_id for e in events if e.compensates_id}


@bp.get("/decisions/<int:decision_id>", endpoint="decision")
@login_required
def decision_page(decision_id: int):
    """A decision, for the person it penalised and for moderators and supervisors."""
    viewer = _me()
    decision = decisions.get(viewer, decision_id)
    events, compensated = _events(decision)
    penalised = viewer.id == decision.penalised_id
    return render_template(
        "moderation/decision.html",
        decision=decision,
        snapshot=(decision.report.evidence or {}).get("listing") or {},
        staff=viewer.has_role("moderator", "supervisor"),
        penalised=penalised,
        why_not_appeal=appeals.why_not_appeal(viewer, decision) if penalised else None,
        deadline=appeals.deadline(decision),
        events=events,
        compensated=compensated,
        entries=decisions.entries_of(decision),
    )


def _render_appeal(decision, form, why_not=None, status=200):
    return (
        render_template(
            "moderation/appeal.html",
            decision=decision,
            form=form,
            why_not=why_not,
            deadline=appeals.deadline(decision),
            reason_min=appeals.REASON_MIN,
        ),
        status,
    )


@bp.route("/decisions/<int:decision_id>/appeal", methods=["GET", "POST"], endpoint="appeal")
@login_required
def appeal_decision(decision_id: int):
    """The penalised person appeals a decision once, within the policy's days."""
    user = _me()
    decision = decisions.get(user, decision_id)
    if user.id != decision.penalised_id:
        # Moderators and supervisors read the decision, but only the penalised person appeals it.
        raise Forbidden(_("只有被处罚的当事人可以申诉。"))
    form = AppealForm()
    if request.method == "GET":
        return _render_appeal(decision, form, appeals.why_not_appeal(user, decision))
    try:
        appeals.file(user, decision.id, form.reason.data)
        db.session.commit()
    except Invalid as exc:
        db.session.rollback()
        apply_domain_error(form, exc, free_text=("reason",))
        return _render_appeal(decisions.get(user, decision_id), form, status=exc.status)
    except (Forbidden, Conflict) as exc:
        db.session.rollback()
        return _render_appeal(decisions.get(user, decision_id), form, str(exc.message), exc.status)
    flash(_("申诉已提交，将由原决定人以外的审核员或市场监督员处理，结果会通知你。"), "success")
    return redirect(url_for("moderation.decision", decision_id=decision_id))


@bp.get("/moderation/appeals", endpoint="appeals")
@login_required
def appeal_queue():
    """Pending appeals the viewer may decide, oldest first."""
    after = _id_arg("after")
    rows = appeals.pending(_me(), before_id=after, limit=LIST_PAGE + 1)
    page = rows[:LIST_PAGE]
    return render_template(
        "moderation/appeals.html",
        appeals=page,
        next_after=page[-1].id if len(rows) > LIST_PAGE else None,
        paged=after is not None,
    )


def _render_appeal_page(user, appeal, form, *, template="moderation/appeal_detail.html", status=200, **extra):
    events, compensated = _events(appeal.decision)
    may = appeals.can_decide_appeals(user)
    return (
        render_template(
            template,
            appeal=appeal,
            decision=appeal.decision,
            form=form,
            events=events,
            compensated=compensated,
            entries=decisions.entries_of(appeal.decision),
            why_not=appeals.why_not_decide(user, appeal) if may else None,
            staff=may,
            **extra,
        ),
        status,
    )


@bp.get("/appeals/<int:appeal_id>", endpoint="appeal_detail")
@login_required
def appeal_page(appeal_id: int):
    """An appeal with its decision, and the form for those who may decide it."""
    user = _me()
    return _render_appeal_page(user, appeals.get(user, appeal_id), AppealDecisionForm())


@bp.route("/appeals/<int:appeal_id>/decide", methods=["GET", "POST"], endpoint="decide_appeal")
@login_required
def decide_appeal_page(appeal_id: int):
    """GET: what each outcome does, and the form; POST: the consequences; POST with `confirm`: decided."""
    user = _me()
    appeal = appeals.get(user, appeal_id)
    why = appeals.why_not_decide(user, appeal)
    if why:
        raise Forbidden(why)
    if appeal.status != "pending":
        flash(_("该申诉已被处理。"), "info")
        return redirect(url_for("moderation.decision", decision_id=appeal.decision_id))
    form = AppealDecisionForm()
    page = {"template": "moderation/decide_appeal.html", "effects": appeals.preview_overturn(appeal)}
    if request.method == "GET" or request.form.get("back"):
        return _render_appeal_page(user, appeal, form, **page)
    try:
        outcome, note = appeals.clean_decision(form.outcome.data, form.note.data)
        if form.confirm.data != "1":
            return _render_appeal_page(user, appeal, form, outcome=outcome, note=note, **page)
        appeals.decide(user, appeal.id, outcome, note)
        db.session.commit()
    except Invalid as exc:
        db.session.rollback()
        apply_domain_error(form, exc, free_text=("note",))
        appeal = appeals.get(user, appeal_id)
        return _render_appeal_page(user, appeal, form, status=exc.status, **page)
    except Conflict as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("moderation.appeals"))
    flash(_("申诉已处理：%(outcome)s。申诉人会收到通知。", outcome=APPEAL_STATUS_LABELS[outcome]), "success")
    return redirect(url_for("moderation.decision", decision_id=appeal.decision_id))
