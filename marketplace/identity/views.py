"""Identity pages: profile, real-name verification, the moderators' queue, my data, closing the account."""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, logout_user

from marketplace.accounts.forms import ConfirmForm
from marketplace.accounts.models import ROLE_LABELS
from marketplace.credit.policy import BAND_LABELS
from marketplace.db import db
from marketplace.errors import Conflict, DomainError, Forbidden, problem, wants_problem_json
from marketplace.extensions import verification_limit
from marketplace.forms_util import apply_domain_error
from marketplace.identity import privacy, service
from marketplace.identity.crypto import KeyFileError, check_keys_at_startup
from marketplace.identity.forms import CloseAccountForm, RejectForm, VerificationForm
from marketplace.identity.masking import looks_like_pii
from marketplace.identity.places import campus_label

bp = Blueprint("identity", __name__)
bp.add_app_template_filter(privacy.shown_name, "display_name")

KIND_LABELS = {"resident": _l("居民"), "student": _l("学生"), "business": _l("商家")}
STATUS_LABELS = {
    "unverified": _l("未认证"),
    "pending": _l("审核中"),
    "verified": _l("已认证"),
    "rejected": _l("未通过"),
    "withdrawn": _l("已撤回"),
}


def _key_file_error(exc: KeyFileError):
    """Missing or wrong identity keys: a clear 503 and a log line for the operator, not a bare 500."""
    db.session.rollback()
    current_app.logger.error("identity data unavailable on %s %s: %s", request.method, request.path, exc)
    title = _("实名信息暂时无法使用")
    detail = _("实名认证和实名信息暂时无法使用，我们已记录这个问题。请稍后再试。")
    if wants_problem_json():
        return problem(503, title, detail, slug="identity-unavailable")
    return render_template("errors/error.html", status=503, title=title, detail=detail), 503


@bp.record_once
def _on_register(state: BlueprintSetupState) -> None:
    state.app.register_error_handler(KeyFileError, _key_file_error)
    check_keys_at_startup(state.app)


@bp.context_processor
def _labels():
    return {
        "kind_labels": KIND_LABELS,
        "status_labels": STATUS_LABELS,
        "band_labels": BAND_LABELS,
        "campus_label": campus_label,
        "role_labels": ROLE_LABELS,
    }


def _me():
    return current_user._get_current_object()


def _status(ok: bool) -> int:
    return 200 if ok else 422


@bp.after_request
def _no_store(response):
    # These pages show personal data (masked): no copies in shared or back-button caches.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/me")
@login_required
def profile():
    """The signed-in user's own profile with the verification state."""
    user = _me()
    latest = service.latest_request(user)
    return render_template(
        "identity/profile.html",
        summary=service.me(user),
        identity=service.masked(latest) if latest is not None and latest.status != "withdrawn" else None,
    )


@bp.route("/me/verification", methods=["GET", "POST"])
@login_required
@verification_limit
def verify():
    """The real-name verification form (or the state of the request already made)."""
    user = _me()
    status = service.verification_status(user)
    latest = service.latest_request(user)
    if status in ("pending", "verified"):
        return render_template("identity/verify_done.html", status=status, identity=service.masked(latest))
    form = VerificationForm()
    if form.validate_on_submit():
        data = service.VerificationInput(
            kind=form.kind.data,
            real_name=form.real_name.data or "",
            id_number=form.id_number.data or "",
            phone=form.phone.data or "",
            campus=form.campus.data or None,
            student_no=form.student_no.data or None,
            credit_code=form.credit_code.data or None,
        )
        try:
            req = service.submit(user, data)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            apply_domain_error(form, exc)
        else:
            if req.status == "verified":
                flash(_("实名认证已通过。"), "success")
            else:
                flash(_("认证申请已提交，审核员会尽快处理。"), "success")
            return redirect(url_for("identity.profile"))
    form.clear_secrets()
    rejected = service.masked(latest) if status == "rejected" else None
    return render_template("identity/verify.html", form=form, rejected=rejected), _status(request.method == "GET")


# --- moderators ---------------------------------------------------------------------


def _require_moderator():
    user = _me()
    if not service.can_decide(user):
        raise Forbidden(_("只有审核员可以处理认证申请。"))
    return user


@bp.get("/moderation/verifications")
@login_required
def queue():
    """Pending verification requests, oldest first."""
    moderator = _require_moderator()
    # The list shows the stored masked name only: nothing is decrypted for it.
    requests = service.pending_requests(moderator, limit=100)
    return render_template("identity/queue.html", requests=requests, me=moderator)


def _render_review(moderator, req, reject_form, status=200):
    return (
        render_template(
            "identity/review.html",
            req=req,
            identity=service.masked(req),
            shared_phone=service.shared_phone_accounts(req),
            own=req.user_id == moderator.id,
            approve_form=ConfirmForm(),
            reject_form=reject_form,
        ),
        status,
    )


@bp.get("/moderation/verifications/<int:request_id>")
@login_required
def review(request_id: int):
    """One request: masked data, approve, or reject with a reason."""
    moderator = _require_moderator()
    req = service.get_request(moderator, request_id)
    return _render_review(moderator, req, RejectForm())


@bp.post("/moderation/verifications/<int:request_id>/approve")
@login_required
def approve(request_id: int):
    """Approve a request."""
    moderator = _require_moderator()
    form = ConfirmForm()
    if not form.validate_on_submit():
        return redirect(url_for("identity.review", request_id=request_id))
    try:
        service.approve(moderator, request_id)
        db.session.commit()
    except (Conflict, Forbidden) as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("identity.review", request_id=request_id))
    flash(_("已通过该认证申请。"), "success")
    return redirect(url_for("identity.queue"))


@bp.post("/moderation/verifications/<int:request_id>/reject")
@login_required
def reject(request_id: int):
    """Reject a request with a reason the applicant will read."""
    moderator = _require_moderator()
    req = service.get_request(moderator, request_id)
    form = RejectForm()
    if form.validate_on_submit():
        try:
            service.reject(moderator, request_id, form.reason.data)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            if not exc.errors:
                flash(str(exc.message), "error")
                return redirect(url_for("identity.review", request_id=request_id))
            if looks_like_pii(form.reason.data):
                form.reason.data = ""  # never echo a number that may be someone's ID or phone
            apply_domain_error(form, exc)
        else:
            flash(_("已驳回该认证申请。"), "success")
            return redirect(url_for("identity.queue"))
    return _render_review(moderator, req, form, 422)


# --- my data ----------------------------------------------------------------------------


@bp.get("/me/data")
@login_required
def my_data():
    """Everything we hold about the user, masked."""
    return render_template("identity/my_data.html", data=privacy.export_data(_me(), for_json=False))


@bp.get("/me/data.json")
@login_required
def download_data():
    """The same data as a JSON download."""
    user = _me()
    body = json.dumps(privacy.export_data(user), ensure_ascii=False, indent=2, default=str)
    return Response(
        body,
        mimetype="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="my-data-{user.id}.json"',
            "Cache-Control": "no-store",
        },
    )


@bp.route("/me/close", methods=["GET", "POST"])
@login_required
def close_account():
    """Close the account, after a confirmation page of its own and the password."""
    form = CloseAccountForm()
    if form.validate_on_submit():
        try:
            privacy.close_account(_me(), form.password.data)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            apply_domain_error(form, exc)
        else:
            logout_user()
            flash(_("账户已注销。实名信息已删除，感谢你曾经的使用。"), "success")
            return redirect(url_for("home.index"))
    return render_template("identity/close.html", form=form), _status(request.method == "GET")
