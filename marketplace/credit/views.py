"""Credit pages: my credit (score, band, what it allows, every ledger event explained), the
public credit rules generated from the policy file, a user's ledger for moderators and
supervisors, and the supervisors' manual adjustment (confirmed on a page of its own).
"""

from __future__ import annotations

import re

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import Optional

from marketplace.accounts.models import User
from marketplace.credit import service
from marketplace.credit.policy import BAND_LABELS, band, policy
from marketplace.db import db
from marketplace.errors import Invalid
from marketplace.forms_util import apply_domain_error, mask_numbers
from marketplace.identity.service import is_verified

bp = Blueprint("credit", __name__)

# Ledgers are short; a page shows at most this many events (newest first) and says so when there are more.
MAX_ROWS = 500
# Ledger sources whose pages exist: the event links to them.
SOURCE_PAGES = {
    "order": lambda source_id: url_for("orders.detail", order_id=source_id),
    "decision": lambda source_id: url_for("moderation.decision", decision_id=source_id),
}


@bp.record_once
def _template_globals(state) -> None:
    # Globals, not a context processor: the listing card macros are imported without the page's context.
    state.app.jinja_env.globals.update(
        credit_listing_warning=listing_warning,
        credit_limits_listing=limits_listing,
        credit_code_labels=service.CODE_LABELS,
        credit_source_labels=service.SOURCE_LABELS,
    )


@bp.app_template_filter("signed")
def _signed(points: int) -> str:
    """Points with their sign: +3, −15 (a true minus sign, read as "minus")."""
    return f"+{points}" if points > 0 else f"−{-points}" if points < 0 else "0"


def _me():
    return current_user._get_current_object() if current_user.is_authenticated else None


# --- what a band means ----------------------------------------------------------------------------------


def listing_warning(user: User | None) -> bool:
    """Whether `user`'s listings carry the low-credit warning (the band's `listing_warning` in the policy)."""
    if user is None:
        return False
    code = band(user.credit_score)
    return bool(code and policy().get("limits", {}).get(code, {}).get("listing_warning"))


def limits_listing(user: User | None) -> bool:
    """Whether a refusal to list is the credit band's doing: an active, verified user in a band with limits.

    (The listing service checks the account, then verification, then the band: past the first
    two, only the band can refuse.)
    """
    if user is None or user.status != "active" or not is_verified(user):
        return False
    code = band(user.credit_score)
    return bool(code and policy().get("limits", {}).get(code))


def band_rules(code: str) -> list[str]:
    """What the band forbids or limits, in words, from the policy's `limits` (empty: no limits)."""
    limits = policy().get("limits", {}).get(code) or {}
    rules = []
    if limits.get("can_list") is False:
        rules.append(_("不能发布新商品"))
    if limits.get("can_order") is False:
        rules.append(_("不能下单购买"))
    if limits.get("can_register_events") is False:
        rules.append(_("不能报名活动"))
    if limits.get("max_active_listings") is not None:
        rules.append(_("最多同时在售 %(n)s 件商品", n=limits["max_active_listings"]))
    if limits.get("listing_warning"):
        rules.append(_("发布的商品会显示“卖家信用%(band)s”的提示", band=BAND_LABELS[code]))
    return rules


def bands() -> list[dict]:
    """Every band, best first: code, label, range (min..max), and its limits in words."""
    entries = policy()["bands"]
    rows = []
    for i, entry in enumerate(entries):
        top = policy()["max_score"] if i == 0 else entries[i - 1]["min"] - 1
        rows.append(
            {"code": entry["code"], "label": BAND_LABELS[entry["code"]], "min": entry["min"], "max": top}
            | {"rules": band_rules(entry["code"])}
        )
    return rows


def next_band(score: int | None) -> dict | None:
    """The band above the score's and how many points it takes (None at the top or without a score)."""
    if score is None:
        return None
    entries = policy()["bands"]
    index = next(i for i, entry in enumerate(entries) if entry["code"] == band(score))
    if index == 0:
        return None
    above = entries[index - 1]
    label = BAND_LABELS[above["code"]]
    return {"code": above["code"], "label": label, "min": above["min"], "gap": above["min"] - score}


# --- the ledger pages -------------------------------------------------------------------------------------


def _rows(details: dict) -> list[dict]:
    rows = []
    for row in details["events"][:MAX_ROWS]:
        event = row["event"]
        page = SOURCE_PAGES.get(event.source)
        rows.append(
            row
            | {
                "label": service.CODE_LABELS.get(event.code, event.code),
                "source_label": service.SOURCE_LABELS.get(event.source, event.source),
                "source_url": page(event.source_id) if page and event.source_id else None,
            }
        )
    return rows


def _render_ledger(viewer: User, user_id: int, template: str):
    details = service.details(viewer, user_id)
    code = details["band"]
    return render_template(
        template,
        subject=details["user"],
        own=details["user"].id == viewer.id,
        score=details["score"],
        band=code,
        band_label=BAND_LABELS[code] if code else None,
        band_rules=band_rules(code) if code else [],
        next_band=next_band(details["score"]),
        rows=_rows(details),
        total=len(details["events"]),
        max_rows=MAX_ROWS,
        policy=policy(),
        aging=policy()["aging"],
        can_adjust=may_adjust(viewer, details["user"]),
        adjust_max=service.ADJUST_MAX,
    )


@bp.get("/credit")
@login_required
def mine():
    """My credit: the score, the band and what it allows, and every event of my ledger with its reason."""
    user = _me()
    return _render_ledger(user, user.id, "credit/mine.html")


@bp.get("/credit/rules")
def rules():
    """The public credit rules, generated from the policy file (E-Commerce Law Art. 39)."""
    doc = policy()
    penalties = [
        {
            "code": code,
            "label": service.CODE_LABELS.get(code, code),
            "points": points,
            "repeats": code in doc["violations"],
        }
        for code, points in doc["penalties"].items()
    ]
    rewards = [
        {"code": code, "label": service.CODE_LABELS.get(code, code)} | rule for code, rule in doc["rewards"].items()
    ]
    return render_template("credit/rules.html", policy=doc, penalties=penalties, rewards=rewards, bands=bands())


@bp.get("/users/<int:user_id>/credit")
@login_required
def user(user_id: int):
    """A user's ledger, for moderators and supervisors (and the user themself); 404 for anyone else."""
    return _render_ledger(_me(), user_id, "credit/user.html")


# --- the supervisors' manual adjustment ---------------------------------------------------------------------


class AdjustForm(FlaskForm):
    points = StringField(_l("调整分值（加分填正数，扣分填负数）"), validators=[Optional()])
    reason = TextAreaField(_l("调整原因"), validators=[Optional()])


def may_adjust(viewer: User | None, user: User) -> bool:
    """Whether the adjustment form is offered: an active supervisor, not about themself (the service decides)."""
    return bool(viewer and viewer.status == "active" and viewer.has_role("supervisor") and viewer.id != user.id)


_POINTS = re.compile(r"[+\-−]?[0-9]{1,6}")


def parse_points(text: str | None):
    """The typed points as an integer, or the text itself (which the service refuses with its message)."""
    text = (text or "").strip().replace(" ", "")
    if _POINTS.fullmatch(text):
        return int(text.replace("−", "-"))
    return text


@bp.route("/users/<int:user_id>/credit/adjust", methods=["GET", "POST"])
@login_required
def adjust(user_id: int):
    """A supervisor adjusts a user's score by hand, with a reason (audited): GET shows the form, POST does it."""
    actor = _me()
    subject = service.adjustable(actor, user_id)
    form = AdjustForm()
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            flash(_("表单已过期，请重新提交。"), "error")
            status = 400
        else:
            try:
                service.adjust(actor, subject, parse_points(form.points.data), form.reason.data)
                db.session.commit()
            except Invalid as exc:
                db.session.rollback()
                apply_domain_error(form, exc)
                status = exc.status
                subject = db.session.get(User, user_id)
            else:
                flash(_("已调整信用分，现为 %(score)s 分。", score=subject.credit_score), "success")
                return redirect(url_for("credit.user", user_id=subject.id))
        form.reason.data = mask_numbers(form.reason.data)
    return (
        render_template(
            "credit/adjust.html",
            subject=subject,
            form=form,
            score=subject.credit_score,
            band=band(subject.credit_score),
            limit=service.ADJUST_MAX,
        ),
        status,
    )
