"""The public boards and the supervisors' black-list review.

The red board (the current edition, masked names, a link to each seller's public
profile) and the black board (active entries: masked name, reason category and
dates; nothing that identifies the person) are public. Supervisors compute a red
edition on demand and confirm or reject a proposed black-list entry, each on a
confirmation page of its own; the two-person rule is the service's.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from marketplace import MAX_ID
from marketplace.accounts.forms import ConfirmForm
from marketplace.accounts.models import User
from marketplace.credit.policy import BAND_LABELS, band, policy
from marketplace.db import db, utcnow
from marketplace.errors import Conflict, Forbidden, Invalid
from marketplace.forms_util import apply_domain_error
from marketplace.listings import service as listings
from marketplace.pagecache import public_page
from marketplace.trust import redlist
from marketplace.trust import service as trust
from marketplace.trust.forms import ConfirmEntryForm, RejectEntryForm
from marketplace.trust.models import BlacklistEntry, RedListEntry

bp = Blueprint("trust", __name__)

BLACK_PAGE = 30
DONE = {
    "confirm": _l("已确认列入黑名单：该用户的在售商品已下架，登录已失效，本人会收到通知。"),
    "reject": _l("已不予确认：该用户的交易暂停已解除，本人会收到通知。"),
}


@bp.record_once
def _template_globals(state) -> None:
    state.app.jinja_env.globals.update(blacklist_reason_labels=trust.REASON_LABELS)


def _me() -> User | None:
    return current_user._get_current_object() if current_user.is_authenticated else None


def _before() -> int | None:
    value = request.args.get("before", "")
    if value.isascii() and value.isdigit() and len(value) < 11 and 0 < int(value) <= MAX_ID:
        return int(value)
    return None


def average_text(centi: int) -> str:
    """An average kept in hundredths as the board shows it: 494 → "4.94" (exact, no float rounding)."""
    return f"{centi // 100}.{centi % 100:02d}"


def red_rows(entries: list[RedListEntry]) -> list[dict]:
    """What the boards show of red-list entries: rank among those standing, masked name, figures."""
    names = trust.masked_names(entry.user for entry in entries)
    return [
        {
            "rank": rank,
            "user_id": entry.user_id,
            "name": names[entry.user_id],
            "score": entry.score,
            "band": band(entry.score),
            "band_label": BAND_LABELS.get(band(entry.score) or "", ""),
            "sales": entry.sales,
            "ratings": entry.ratings,
            "average": average_text(entry.average_centi),
        }
        for rank, entry in enumerate(entries, start=1)
    ]


# --- the red board --------------------------------------------------------------------------------------


@bp.get("/red")
@public_page
def red():
    """The red board: the current edition's sellers in rank order, and the rule that put them there."""
    edition = redlist.current()
    return render_template(
        "trust/red.html",
        edition=edition,
        rows=red_rows(redlist.standing(edition)),
        # The rule as the edition applied it (the policy may have changed since).
        rule=(edition.rule if edition is not None and edition.rule else None) or redlist.rule(),
        can_compute=trust.is_supervisor(_me()),
    )


@bp.route("/trust/red/compute", methods=["GET", "POST"])
@login_required
def compute_red():
    """A supervisor computes a new edition now (confirmed on this page); the monthly one is the CLI's."""
    actor = _me()
    if not trust.is_supervisor(actor):
        raise Forbidden(_("只有市场监督员可以重新生成红榜。"))
    if request.method == "POST":  # CSRFProtect checked the token before the view
        edition, _created = redlist.compute_edition(actor=actor, force=True)
        count = len(redlist.standing(edition))
        db.session.commit()
        flash(_("已生成 %(period)s 期红榜，共 %(n)s 位卖家。", period=edition.period, n=count), "success")
        return redirect(url_for("trust.red"))
    return render_template(
        "trust/compute_red.html",
        form=ConfirmForm(),
        edition=redlist.current(),
        eligible=len(redlist.candidates()),
        period=utcnow().strftime("%Y-%m"),
        rule=redlist.rule(),
    )


# --- the black board ------------------------------------------------------------------------------------


@bp.get("/black")
@public_page
def black():
    """The black board: entries in force, newest first, masked; keyset pages (?before=<id>)."""
    before_id = _before()
    entries = trust.board(before_id=before_id, limit=BLACK_PAGE + 1)
    page = entries[:BLACK_PAGE]
    return render_template(
        "trust/black.html",
        rows=trust.public_rows(page),
        next_before=page[-1].id if len(entries) > BLACK_PAGE else None,
        paged=before_id is not None,
        policy=policy(),
    )


# --- the supervisors' review -----------------------------------------------------------------------------


def after_review_url(entry_id: int) -> str:
    """Where a review ends: the supervisors' page of the entry, or the public board without it."""
    if "supervision.entry" in current_app.view_functions:
        return url_for("supervision.entry", entry_id=entry_id)
    return url_for("trust.black")


def _review_page(action: str, entry: BlacklistEntry, form, status: int = 200):
    decision_url = None
    if entry.decision_id is not None and "moderation.decision" in current_app.view_functions:
        decision_url = url_for("moderation.decision", decision_id=entry.decision_id)
    rule = trust.rule()
    months = rule["counterfeit_months"] if entry.reason == "counterfeit" else rule["months"]
    now = utcnow()
    return (
        render_template(
            "trust/review.html",
            action=action,
            entry=entry,
            form=form,
            public_name=trust.masked_name(entry.user),
            decision_url=decision_url,
            on_sale=len(listings.on_sale_of(entry.user_id)),
            months=months,
            ends=trust.add_months(now, months),
            on_red=redlist.on_current(entry.user_id),
            back_url=after_review_url(entry.id),
        ),
        status,
    )


def _review(action: str, entry_id: int):
    actor = _me()
    if not trust.is_supervisor(actor):
        raise Forbidden(_("只有市场监督员可以复核黑名单。"))
    entry = trust.get(entry_id)
    reason = trust.why_not_decide(actor, entry)
    if reason:
        raise Forbidden(reason)
    form = ConfirmEntryForm() if action == "confirm" else RejectEntryForm()
    if request.method == "GET":
        if entry.status != "pending":
            status = trust.STATUS_LABELS[entry.state(utcnow())]
            flash(_("该黑名单记录已%(status)s，不能再复核。", status=status), "info")
            return redirect(after_review_url(entry.id))
        return _review_page(action, entry, form)
    try:
        if action == "confirm":
            trust.confirm(actor, entry.id, form.note.data)
        else:
            trust.reject(actor, entry.id, form.note.data)
        db.session.commit()
    except Conflict as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(after_review_url(entry_id))
    except Invalid as exc:
        db.session.rollback()
        apply_domain_error(form, exc, free_text=("note",))
        return _review_page(action, trust.get(entry_id), form, exc.status)
    flash(str(DONE[action]), "success")
    return redirect(after_review_url(entry_id))


@bp.route("/trust/black/<int:entry_id>/confirm", methods=["GET", "POST"])
@login_required
def confirm(entry_id: int):
    """A supervisor other than the proposer confirms a proposed entry: what it does, then the button."""
    return _review("confirm", entry_id)


@bp.route("/trust/black/<int:entry_id>/reject", methods=["GET", "POST"])
@login_required
def reject(entry_id: int):
    """A supervisor other than the proposer rejects a proposed entry, with a reason."""
    return _review("reject", entry_id)
