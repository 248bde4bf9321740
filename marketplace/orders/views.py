"""Order pages: the buying request, the order page with its messages, confirmation pages for
every action, my purchases and sales, the moderators' disputes, and the listing page's panel.

Orders past their hand-over deadline complete lazily: every page that shows orders settles
them first (see `boundary.settle_overdue`), so no background thread is needed.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from marketplace import MAX_ID
from marketplace.accounts.forms import ConfirmForm
from marketplace.db import db, utcnow
from marketplace.errors import Conflict, Forbidden, Invalid
from marketplace.extensions import message_limit, order_limit
from marketplace.forms_util import apply_domain_error
from marketplace.listings import fields
from marketplace.listings import service as listings
from marketplace.listings.views import before_show
from marketplace.orders import labels, messages, queries, service
from marketplace.orders.boundary import settle_overdue
from marketplace.orders.forms import AcceptForm, MessageForm, ReasonForm, RequestForm, ResolveForm
from marketplace.pagecache import keep_until

bp = Blueprint("orders", __name__)

LIST_PAGE = 20
# The status filters of my purchases / my sales: key → the statuses it shows.
STATUS_FILTERS = {
    "requested": ("requested",),
    "accepted": ("accepted",),
    "completed": ("completed",),
    "closed": ("cancelled", "declined"),
    "disputed": ("disputed",),
}
FILTER_LABELS = {
    "": _l("全部"),
    "requested": _l("待确认"),
    "accepted": _l("待交接"),
    "completed": _l("已完成"),
    "closed": _l("已取消或关闭"),
    "disputed": _l("纠纷中"),
}
# Who may ever take each action (the state decides the rest): the parties, or a moderator who is not one.
ACTION_PARTIES = {
    "accept": ("seller",),
    "complete": ("buyer",),
    "cancel": ("buyer", "seller"),
    "dispute": ("buyer", "seller"),
    "resolve": (None,),
}
DONE = {
    "accept": _l("已接受购买请求，商品已为买家预留。请与买家约好时间当面交易。"),
    "complete": _l("已确认收货，交易完成。请在 14 天内评价对方。"),
    "cancel": _l("订单已取消。"),
    "dispute": _l("已提出纠纷，审核员会尽快处理。"),
    "resolve": _l("纠纷已处理，双方都会收到通知。"),
}


@bp.record_once
def _template_globals(state) -> None:
    state.app.jinja_env.globals.update(
        order_status_labels=labels.STATUS_LABELS,
        payment_labels=labels.PAYMENT_LABELS,
        order_event_labels=labels.EVENT_LABELS,
        order_party_labels=labels.PARTY_LABELS,
    )


def _me():
    return current_user._get_current_object() if current_user.is_authenticated else None


def _before(name: str = "before") -> int | None:
    value = request.args.get(name, "")
    if value.isascii() and value.isdigit() and len(value) < 11 and 0 < int(value) <= MAX_ID:
        return int(value)
    return None


# --- completing overdue orders before showing them ---------------------------------------------


def settle_if_overdue(order) -> None:
    """Settle one order a page is about to show, if it is past its deadline."""
    settle_overdue([order.id] if service.is_overdue(order) else [])


@before_show
def _settle_on_listing_page(listing_id: int) -> None:
    """The listing page (listings.views knows nothing of orders) shows the listing's status and open
    requests: an order past its deadline completes first, and a kept copy of the page for visitors
    lasts no longer than the next deadline (a kept copy is served without this hook)."""
    now = utcnow()
    due = service.deadlines_on_listing(listing_id)
    settle_overdue([order_id for order_id, at in due if at <= now])
    later = [at for _order_id, at in due if at > now]
    if later:
        keep_until(min(later))


# --- the listing page's panel ---------------------------------------------------------------------


@bp.app_template_global()
def order_panel(listing) -> dict:
    """What the viewer of a listing may do about buying it: request, follow their order, or (seller) the requests."""
    user = _me()
    on_sale = listing.status == "active" and not listing.recycle_only
    if user is None:
        target = url_for("orders.request_form", listing_id=listing.id)
        return {"role": "visitor", "can_request": on_sale, "login_url": url_for("accounts.login", next=target)}
    if user.id == listing.seller_id:
        return {"role": "seller", "requests": queries.requests_for(listing)}
    mine = queries.open_request_by(user, listing.id)
    return {"role": "buyer", "order": mine, "can_request": on_sale and mine is None}


# --- the buying request -----------------------------------------------------------------------------


@bp.route("/listings/<int:listing_id>/order", methods=["GET", "POST"])
@login_required
@order_limit
def request_form(listing_id: int):
    """Ask to buy a listing: a message, an offered price and how to pay (offline)."""
    user = _me()
    listing = listings.get_visible(user, listing_id)
    if listing.seller_id == user.id:
        raise Forbidden(_("不能购买自己发布的商品。"))
    existing = queries.open_request_by(user, listing.id)
    if existing is not None:
        flash(_("你已经向卖家发出了购买请求，这是你的订单。"), "info")
        return redirect(url_for("orders.detail", order_id=existing.id))
    service.check_can_order(user)
    form = RequestForm()
    if request.method == "GET":
        if listing.status != "active":
            raise Conflict(_("该商品%(status)s，不能下单。", status=listings.STATUS_LABELS[listing.status]))
        if listing.recycle_only:
            raise Conflict(_("该商品仅供回收，请联系回收站点，不能下单购买。"))
        form.price.data = fields.yuan_text(listing.price_fen)
        return render_template("orders/request.html", listing=listing, form=form)
    terms = service.Terms(price=form.price.data, payment_method=form.payment_method.data)
    try:
        order = service.request(user, listing.id, form.message.data, terms)
        db.session.commit()
    except (Invalid, Conflict) as exc:
        db.session.rollback()
        apply_domain_error(form, exc, free_text=("message",))
        listing = listings.get_visible(user, listing_id)
        return render_template("orders/request.html", listing=listing, form=form), exc.status
    flash(_("购买请求已发给卖家。卖家接受后商品会为你预留，你会收到通知。"), "success")
    return redirect(url_for("orders.detail", order_id=order.id))


# --- the order page -----------------------------------------------------------------------------------


def actor_label(order, event) -> str:
    """Who took a step of the timeline: buyer, seller, moderator, or the system."""
    if event.actor_id is None:
        return _("系统")
    if event.actor_id == order.buyer_id:
        return str(labels.PARTY_LABELS["buyer"])
    if event.actor_id == order.seller_id:
        return str(labels.PARTY_LABELS["seller"])
    return str(labels.PARTY_LABELS["moderator"])


def render_order(user, order, *, message_form=None, rating_form=None, status: int = 200):
    """The order page (also re-rendered by other views with a form that was refused)."""
    return (
        render_template(
            "orders/detail.html",
            order=order,
            party=order.party(user),
            allowed=service.actions(user, order),
            due=service.due_at(order),
            events=order.events,
            messages=messages.thread(user, order),
            message_form=message_form or MessageForm(),
            rating_form=rating_form,
            listing_visible=listings.can_view(user, order.listing),
            actor_label=actor_label,
        ),
        status,
    )


@bp.get("/orders/<int:order_id>")
@login_required
def detail(order_id: int):
    """An order: the listing, the parties, the terms, the timeline, the messages and what may be done."""
    user = _me()
    order = service.get(user, order_id)
    settle_if_overdue(order)
    return render_order(user, order)


@bp.post("/orders/<int:order_id>/messages")
@login_required
@message_limit
def post_message(order_id: int):
    """Write to the other party (plain text; no full phone or ID numbers)."""
    user = _me()
    order = service.get(user, order_id)
    form = MessageForm()
    try:
        messages.post(user, order, form.body.data)
        db.session.commit()
    except (Invalid, Conflict) as exc:
        db.session.rollback()
        apply_domain_error(form, exc, free_text=("body",))
        return render_order(user, service.get(user, order_id), message_form=form, status=exc.status)
    flash(_("消息已发送。"), "success")
    return redirect(url_for("orders.detail", order_id=order.id, _anchor="messages"))


# --- actions, each confirmed on a page of its own ---------------------------------------------------------


def _action_form(action: str, order):
    if action == "accept":
        form = AcceptForm()
        if request.method == "GET":
            form.price.data = fields.yuan_text(order.price_fen)
            form.payment_method.data = order.payment_method
        return form
    if action in ("cancel", "dispute"):
        return ReasonForm()
    if action == "resolve":
        return ResolveForm()
    return ConfirmForm()


def _check_may(user, order, action: str) -> None:
    """Forbidden when the user can never take this action on this order (the wrong party)."""
    party = order.party(user)
    if party not in ACTION_PARTIES[action] or (action == "resolve" and not service.is_moderator(user)):
        raise Forbidden(_("你不能对这个订单进行此操作。"))


def _perform(user, order, action: str, form) -> None:
    if action == "accept":
        terms = service.Terms(price=form.price.data, payment_method=form.payment_method.data)
        service.accept(user, order, terms)
    elif action == "complete":
        service.complete(user, order)
    elif action == "cancel":
        service.cancel(user, order, form.reason.data)
    elif action == "dispute":
        service.dispute(user, order, form.reason.data)
    else:
        service.resolve(user, order, form.outcome.data, form.note.data)


def _render_action(order, action: str, form, status: int = 200):
    return render_template("orders/action.html", order=order, action=action, form=form), status


@bp.route("/orders/<int:order_id>/<any(accept, complete, cancel, dispute, resolve):action>", methods=["GET", "POST"])
@login_required
def action(order_id: int, action: str):
    """Accept, complete, cancel, dispute or resolve: GET shows the confirmation page, POST does it."""
    user = _me()
    order = service.get(user, order_id)
    _check_may(user, order, action)
    settle_if_overdue(order)
    form = _action_form(action, order)
    if action not in service.actions(user, order):
        # Also after a POST: the order may have completed on its own a moment ago (settled above).
        if order.auto_completed:
            flash(_("订单已在卖家接受 7 天后自动完成，不能再进行此操作。"), "info")
        else:
            flash(_("订单%(status)s，不能进行此操作。", status=labels.STATUS_LABELS[order.status]), "error")
        return redirect(url_for("orders.detail", order_id=order.id))
    if request.method == "GET":
        return _render_action(order, action, form)
    try:
        _perform(user, order, action, form)
        db.session.commit()
    except (Invalid, Conflict) as exc:
        db.session.rollback()
        apply_domain_error(form, exc, free_text=("reason", "note"))
        return _render_action(service.get(user, order_id), action, form, exc.status)
    flash(str(DONE[action]), "success")
    return redirect(url_for("orders.detail", order_id=order_id))


# --- my purchases, my sales, disputes -------------------------------------------------------------------------


def _order_list(role: str, endpoint: str):
    user = _me()
    settle_overdue(service.overdue_ids(user=user))
    key = request.args.get("status", "")
    key = key if key in STATUS_FILTERS else ""
    before_id = _before()
    rows = queries.orders_of(user, role, status=STATUS_FILTERS.get(key), before_id=before_id, limit=LIST_PAGE + 1)
    page = rows[:LIST_PAGE]
    return render_template(
        "orders/list.html",
        role=role,
        endpoint=endpoint,
        orders=page,
        status_key=key,
        filters=FILTER_LABELS,
        next_before=page[-1].id if len(rows) > LIST_PAGE else None,
        paged=before_id is not None,
    )


@bp.get("/me/purchases")
@login_required
def purchases():
    """The orders I asked for, newest first."""
    return _order_list("buyer", "orders.purchases")


@bp.get("/me/sales")
@login_required
def sales():
    """The orders on my listings, newest first."""
    return _order_list("seller", "orders.sales")


@bp.get("/moderation/disputes")
@login_required
def disputes():
    """Moderators: the disputed orders, oldest first; each is resolved from its order page."""
    user = _me()
    if not service.is_moderator(user):
        raise Forbidden(_("只有审核员可以处理纠纷。"))
    after_id = _before("after")
    rows = queries.disputed(after_id=after_id, limit=LIST_PAGE + 1)
    page = rows[:LIST_PAGE]
    return render_template(
        "orders/disputes.html",
        orders=page,
        next_after=page[-1].id if len(rows) > LIST_PAGE else None,
        paged=after_id is not None,
    )
