"""The notice centre: the user's notices, newest first; opening one marks it read and leads to its subject."""

from __future__ import annotations

from flask import Blueprint, flash, has_request_context, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from marketplace import MAX_ID
from marketplace.db import db
from marketplace.errors import NotFound
from marketplace.notices import service
from marketplace.notices.models import Notice

bp = Blueprint("notices", __name__)

PAGE = 20
# subject_type → (endpoint, its id argument); a notice about anything else leads back here.
SUBJECTS = {
    "order": ("orders.detail", "order_id"),
    "decision": ("moderation.decision", "decision_id"),
    "listing": ("listings.detail", "listing_id"),
    "event": ("events.detail", "event_id"),
    "registration": ("events.registration", "registration_id"),
    "swap": ("events.swap", "offer_id"),
}
# Where on the subject's page a kind of notice points.
ANCHORS = {"order.message": "messages", "rating.": "ratings"}


@bp.app_context_processor
def _unread_notices():
    # The header's "通知 (3)": one COUNT query per page for a signed-in user.
    if not has_request_context() or not current_user.is_authenticated:
        return {"unread_notices": 0}
    return {"unread_notices": service.unread_count(current_user)}


def _me():
    return current_user._get_current_object()


def subject_url(notice: Notice) -> str:
    """Where a notice leads: its subject's page (the order), else the notice centre."""
    target = SUBJECTS.get(notice.subject_type or "")
    if target is None or notice.subject_id is None:
        return url_for("notices.index")
    endpoint, arg = target
    anchor = next((a for prefix, a in ANCHORS.items() if notice.kind.startswith(prefix)), None)
    return url_for(endpoint, **{arg: notice.subject_id}, _anchor=anchor)


@bp.get("/notices")
@login_required
def index():
    """My notices, newest first, unread ones marked; opening the page does not mark them read."""
    user = _me()
    value = request.args.get("before", "")
    before_id = int(value) if value.isascii() and value.isdigit() and len(value) < 11 else None
    if before_id is not None and not 0 < before_id <= MAX_ID:
        before_id = None
    rows = service.page(user, before_id=before_id, limit=PAGE + 1)
    page = rows[:PAGE]
    return render_template(
        "notices/index.html",
        notices=page,
        text=service.text,
        subject_url=subject_url,
        next_before=page[-1].id if len(rows) > PAGE else None,
        paged=before_id is not None,
    )


@bp.post("/notices/read")
@login_required
def read_all():
    """Mark every notice read."""
    count = service.mark_read(_me())
    db.session.commit()
    flash(_("已将 %(n)s 条通知标为已读。", n=count) if count else _("没有未读的通知。"), "success")
    return redirect(url_for("notices.index"))


@bp.post("/notices/<int:notice_id>", endpoint="open")
@login_required
def open_notice(notice_id: int):
    """Follow an unread notice (a POST from the notice centre): it is marked read, then its subject opens."""
    user = _me()
    notice = db.session.get(Notice, notice_id)
    if notice is None or notice.user_id != user.id:
        raise NotFound(_("找不到该通知。"))
    service.mark_read(user, [notice_id])
    db.session.commit()
    return redirect(subject_url(notice))
