"""Rating pages: rating on the order page (double-blind), replying once, a moderator's fold,
and the public profile with the reputation and the ratings received."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from marketplace import MAX_ID
from marketplace.accounts.models import User
from marketplace.db import db, utcnow
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.forms_util import apply_domain_error
from marketplace.identity.privacy import shown_name
from marketplace.identity.service import public_profile
from marketplace.listings import service as listings
from marketplace.listings.search import SearchParams, search_listings
from marketplace.orders import service as orders
from marketplace.orders.views import render_order
from marketplace.pagecache import public_page
from marketplace.ratings import service
from marketplace.ratings.forms import FoldForm, RatingForm, ReplyForm
from marketplace.ratings.models import DIMENSIONS

bp = Blueprint("ratings", __name__)

PROFILE_PAGE = 20
PROFILE_LISTINGS = 6


@bp.record_once
def _template_globals(state) -> None:
    state.app.jinja_env.globals.update(
        dimension_labels=service.DIMENSION_LABELS,
        rating_role_labels=service.ROLE_LABELS,
        rating_dimensions=DIMENSIONS,
        is_rating_moderator=service.is_moderator,
    )


def _me():
    return current_user._get_current_object() if current_user.is_authenticated else None


@bp.app_template_global()
def rating_block(order, form=None) -> dict | None:
    """The ratings of a completed order as the viewer may see them, with the form when they may rate."""
    viewer = _me()
    if viewer is None or order.status != "completed":
        return None
    data = service.for_order(viewer, order)
    role = order.party(viewer)
    window_open = data["deadline"] is not None and utcnow() <= data["deadline"]
    data.update(role=role, dims=DIMENSIONS.get(role, ()), form=form or RatingForm(), window_open=window_open)
    return data


# --- rating, replying, folding ----------------------------------------------------------------------


def _place_score_errors(exc) -> None:
    # The service names score errors "scores.<dimension>"; the form's fields are the dimensions.
    exc.errors = {key.removeprefix("scores."): messages for key, messages in exc.errors.items()}


@bp.post("/orders/<int:order_id>/rate")
@login_required
def rate(order_id: int):
    """Rate the other party of a completed order (hidden until both have rated or the window closes)."""
    user = _me()
    order = orders.get(user, order_id)
    form = RatingForm()
    role = order.party(user)
    scores = {name: getattr(form, name).data for name in DIMENSIONS.get(role, ())}
    try:
        service.rate(user, order, scores, form.comment.data)
        db.session.commit()
    except (Invalid, Conflict) as exc:
        db.session.rollback()
        _place_score_errors(exc)
        apply_domain_error(form, exc, free_text=("comment",))
        return render_order(user, orders.get(user, order_id), rating_form=form, status=exc.status)
    flash(_("评价已提交。对方评价你之后，或评价期结束后，双方的评价会同时公开。"), "success")
    return redirect(url_for("orders.detail", order_id=order_id, _anchor="ratings"))


@bp.route("/ratings/<int:rating_id>/reply", methods=["GET", "POST"])
@login_required
def reply(rating_id: int):
    """The rated party replies publicly to a revealed rating, once."""
    user = _me()
    rating = service.get(rating_id, user)
    if rating.ratee_id != user.id:
        raise Forbidden(_("只有被评价的一方可以回复。"))
    form = ReplyForm()
    back = url_for("orders.detail", order_id=rating.order_id, _anchor="ratings")
    if request.method == "GET":
        if rating.reply is not None or not rating.is_visible():
            flash(_("评价公开后才能回复，且只能回复一次。"), "error")
            return redirect(back)
        return render_template("ratings/reply.html", rating=rating, form=form, back=back)
    try:
        service.reply(user, rating, form.reply.data)
        db.session.commit()
    except (Invalid, Conflict) as exc:
        db.session.rollback()
        apply_domain_error(form, exc, free_text=("reply",))
        rating = service.get(rating_id, user)
        return render_template("ratings/reply.html", rating=rating, form=form, back=back), exc.status
    flash(_("回复已发布。"), "success")
    return redirect(back)


@bp.route("/ratings/<int:rating_id>/fold", methods=["GET", "POST"])
@login_required
def fold(rating_id: int):
    """A moderator folds an abusive rating with a reason, after a page of its own (audited)."""
    user = _me()
    if not service.is_moderator(user):
        raise Forbidden(_("只有审核员可以折叠评价。"))
    rating = service.get(rating_id, user)
    if not service.may_moderate(user, rating):
        raise Forbidden(_("不能处理与自己有关的评价。"))
    form = FoldForm()
    if request.method == "GET":
        if rating.folded_at is not None:
            flash(_("这条评价已被折叠。"), "info")
            return redirect(url_for("ratings.profile", user_id=rating.ratee_id, _anchor=f"rating-{rating.id}"))
        return render_template("ratings/fold.html", rating=rating, form=form)
    try:
        service.fold(user, rating, form.reason.data)
        db.session.commit()
    except (Invalid, Conflict) as exc:
        db.session.rollback()
        apply_domain_error(form, exc, free_text=("reason",))
        return render_template("ratings/fold.html", rating=service.get(rating_id, user), form=form), exc.status
    flash(_("已折叠这条评价，评价双方都会收到通知。"), "success")
    return redirect(url_for("ratings.profile", user_id=rating.ratee_id, _anchor=f"rating-{rating.id}"))


# --- the public profile ----------------------------------------------------------------------------------


def _before() -> int | None:
    value = request.args.get("before", "")
    if value.isascii() and value.isdigit() and len(value) < 11 and 0 < int(value) <= MAX_ID:
        return int(value)
    return None


@bp.get("/users/<int:user_id>")
@public_page
def profile(user_id: int):
    """Anyone's public profile: name, verified mark, credit band, reputation, the ratings received."""
    person = db.session.get(User, user_id)
    if person is None:
        raise NotFound(_("找不到该用户。"))
    summary = public_profile(user_id)
    before_id = _before()
    rows = service.revealed_of(user_id, before_id=before_id, limit=PROFILE_PAGE + 1)
    page = rows[:PROFILE_PAGE]
    on_sale = []
    if person.status != "closed":
        on_sale = search_listings(SearchParams(seller_id=user_id, limit=PROFILE_LISTINGS + 1)).items
    return render_template(
        "ratings/profile.html",
        person=person,
        name=shown_name(person),
        profile=summary,
        reputation=summary.get("ratings") or {},
        ratings=page,
        next_before=page[-1].id if len(rows) > PROFILE_PAGE else None,
        paged=before_id is not None,
        listings=on_sale[:PROFILE_LISTINGS],
        more_listings=len(on_sale) > PROFILE_LISTINGS,
        verified=listings.verified_sellers(on_sale),
    )
