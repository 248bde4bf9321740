"""Orders: a buyer's request, the seller's acceptance, the hand-over, and the ways an order ends.

requested → accepted (the listing is reserved) → completed (the buyer confirms the
hand-over, or 7 days pass) · cancelled (either party, with a reason; a seller who
cancels an order they accepted is in breach) · disputed (either party, while
accepted; a moderator resolves it). When the listing sells, the other requests are
declined. Money changes hands offline: the order records the agreed price and method.

Who gets a listing is decided by one conditional UPDATE of the listing (active →
reserved) whose row count is checked, never by reading first; a partial UNIQUE index
on held orders is the database's own guarantee. Services flush, never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _

from marketplace.accounts.models import User
from marketplace.audit.service import record
from marketplace.credit import service as credit
from marketplace.credit.policy import BAND_LABELS, band, policy
from marketplace.db import db, utcnow
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.listings import fields
from marketplace.listings import service as listings
from marketplace.listings.models import Listing
from marketplace.notices.service import notify
from marketplace.orders.labels import STATUS_LABELS
from marketplace.orders.models import HOLDING, MESSAGING, PAYMENT_METHODS, Order, OrderEvent
from marketplace.text import clean_plain
from marketplace.trading import check_can_trade

AUTO_COMPLETE_AFTER = timedelta(days=7)
REQUEST_MESSAGE_MAX = 500
REASON_MAX = 500


# --- who may do what ------------------------------------------------------------------


def is_moderator(user: User | None) -> bool:
    """Active moderators see every order and resolve disputes."""
    return bool(user and user.status == "active" and user.has_role("moderator"))


def can_view(user: User | None, order: Order) -> bool:
    """The two parties and moderators."""
    return order.party(user) is not None or is_moderator(user)


def check_can_order(user: User | None) -> None:
    """Raise Forbidden unless `user` may request to buy: an active account whose credit band allows orders."""
    if user is None or user.status != "active":
        raise Forbidden(_("该账户已停用或注销，不能下单。"))
    check_can_trade(user)
    code = band(user.credit_score)
    limits = policy().get("limits", {}).get(code) if code else None
    if limits and limits.get("can_order", True) is False:
        raise Forbidden(
            _(
                "你的信用分为 %(score)s，处于“%(band)s”档：暂时不能下单购买。"
                "按时履约、获得好评可以让信用分回升；请在“我的信用”中查看每一条扣分的原因。",
                score=user.credit_score,
                band=BAND_LABELS[code],
            )
        )


def due_at(order: Order) -> datetime | None:
    """When an accepted order completes on its own if the buyer has not confirmed."""
    return order.accepted_at + AUTO_COMPLETE_AFTER if order.accepted_at else None


def is_overdue(order: Order, now: datetime | None = None) -> bool:
    """Whether an accepted order is past its hand-over deadline (and so completes on its own)."""
    return order.status == "accepted" and order.accepted_at is not None and due_at(order) <= (now or utcnow())


def actions(user: User | None, order: Order) -> set[str]:
    """What `user` may do to `order` now: accept, complete, cancel, dispute, resolve, message."""
    party = order.party(user)
    allowed: set[str] = set()
    if user is None or user.status != "active":
        return allowed
    if party == "seller" and order.status == "requested":
        allowed.add("accept")
    if party == "buyer" and order.status == "accepted":
        allowed.add("complete")
    if party and order.status in ("requested", "accepted"):
        allowed.add("cancel")
    if party and order.status == "accepted":
        allowed.add("dispute")
    if party and order.status in MESSAGING:
        allowed.add("message")
    if party is None and is_moderator(user) and order.status == "disputed":
        allowed.add("resolve")
    return allowed


# --- reading ----------------------------------------------------------------------------


def get(user: User | None, order_id: int) -> Order:
    """The order if `user` may see it; NotFound otherwise (other people's orders are not probed)."""
    order = db.session.get(Order, order_id)
    if order is None or not can_view(user, order):
        raise NotFound(_("找不到该订单。"))
    return order


def lock(order_id: int) -> Order:
    """The order read afresh under a row lock, for a change that depends on its state."""
    # Read afresh under a row lock (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises
    # writers), so the state checked is still the state at the flush.
    return db.session.scalars(
        sa.select(Order).where(Order.id == order_id).with_for_update(of=Order).execution_options(populate_existing=True)
    ).one()


# --- input --------------------------------------------------------------------------------


@dataclass
class Terms:
    """The price and payment method of an order: yuan as typed (`price`, forms) or fen (`price_fen`, API)."""

    price: str | None = None
    price_fen: int | None = None
    payment_method: str | None = None


def _clean_terms(terms: Terms, default_fen: int, errors: dict[str, list[str]]) -> tuple[int, str]:
    fen = default_fen
    if terms.price is not None and terms.price.strip():
        try:
            fen = fields.parse_price(terms.price)
        except Invalid as exc:
            errors.update(exc.errors)
    elif terms.price_fen is not None:
        if isinstance(terms.price_fen, bool) or not isinstance(terms.price_fen, int):
            errors["price_fen"] = [_("价格须为整数（单位：分）")]
        elif not 0 <= terms.price_fen <= fields.PRICE_MAX_FEN:
            errors["price_fen"] = [_("价格须在 0 到 1 亿元之间")]
        else:
            fen = terms.price_fen
    method = terms.payment_method or "cash"
    if method not in PAYMENT_METHODS:
        errors["payment_method"] = [_("请选择付款方式")]
    return fen, method


def refuse(errors: dict[str, list[str]]) -> None:
    if errors:
        raise Invalid(_("信息有误，请检查标出的项目。"), errors=errors)


def _clean_reason(reason: str | None, required: str) -> str:
    errors: dict[str, list[str]] = {}
    text = clean_plain(reason, field="reason", errors=errors, max_len=REASON_MAX, required=required)
    refuse(errors)
    return text


# --- the life of an order ------------------------------------------------------------------


def _event(order: Order, kind: str, actor: User | None, note: str = "") -> None:
    db.session.add(
        OrderEvent(order_id=order.id, actor_id=actor.id if actor else None, kind=kind, note=note, at=utcnow())
    )


def tell(user_id: int, kind: str, order: Order, **extra) -> None:
    """Notify one party about the order (its id and the listing's title, and `extra` for the text)."""
    notify(user_id, kind, subject_type="order", subject_id=order.id, order=order.id, title=order.listing.title, **extra)


def _move(order: Order, to: str, allowed_from: tuple[str, ...], **values) -> None:
    # A conditional UPDATE: a concurrent change makes this one fail visibly, never overwrite it.
    result = db.session.execute(
        sa.update(Order)
        .where(Order.id == order.id, Order.status.in_(allowed_from))
        .values(status=to, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.refresh(order)
        raise Conflict(_("订单%(status)s，不能进行此操作。", status=STATUS_LABELS[order.status]))
    db.session.refresh(order)


def request(buyer: User, listing_id: int, message: str | None = None, terms: Terms | None = None) -> Order:
    """A buyer asks to buy an active listing: 403 for one's own, 409 when not on sale or already asked."""
    check_can_order(buyer)
    listing = listings.get_visible(buyer, listing_id)
    if listing.seller_id == buyer.id:
        raise Forbidden(_("不能购买自己发布的商品。"))
    if listing.status != "active":
        raise Conflict(_("该商品%(status)s，不能下单。", status=listings.STATUS_LABELS[listing.status]))
    if listing.recycle_only:
        raise Conflict(_("该商品仅供回收，请联系回收站点，不能下单购买。"))
    errors: dict[str, list[str]] = {}
    note = clean_plain(message, field="message", errors=errors, max_len=REQUEST_MESSAGE_MAX)
    price_fen, method = _clean_terms(terms or Terms(), listing.price_fen, errors)
    refuse(errors)
    order = Order(
        listing_id=listing.id,
        buyer_id=buyer.id,
        seller_id=listing.seller_id,
        status="requested",
        message=note,
        price_fen=price_fen,
        payment_method=method,
        created_at=utcnow(),
    )
    try:
        with db.session.begin_nested():
            db.session.add(order)
            db.session.flush()
    except sa.exc.IntegrityError:
        raise Conflict(_("你已经向卖家发出了购买请求，请等待卖家确认。")) from None
    _event(order, "requested", buyer, note)
    tell(order.seller_id, "order.requested", order)
    return order


def accept(seller: User, order: Order, terms: Terms | None = None) -> Order:
    """The seller accepts one request: the listing is reserved for it (409 if another order holds it)."""
    if order.party(seller) != "seller":
        raise Forbidden(_("只有卖家可以接受购买请求。"))
    if seller.status != "active":
        raise Forbidden(_("该账户已停用或注销，不能接受订单。"))
    check_can_trade(seller)
    if order.status != "requested":
        raise Conflict(_("订单%(status)s，不能再接受。", status=STATUS_LABELS[order.status]))
    if order.buyer.status != "active":
        raise Conflict(_("买家的账户已停用或注销，不能接受这个请求。"))
    errors: dict[str, list[str]] = {}
    price_fen, method = _clean_terms(terms or Terms(payment_method=order.payment_method), order.price_fen, errors)
    refuse(errors)
    # Who gets the listing: the one UPDATE active → reserved that changes a row.
    try:
        listings.hold_for_order(order.listing)
    except Conflict:
        raise Conflict(_("该商品已被预留给其他订单或已不在售，不能再接受这个请求。")) from None
    _move(order, "accepted", ("requested",), accepted_at=utcnow(), price_fen=price_fen, payment_method=method)
    _event(order, "accepted", seller)
    # The agreed price is in the notice: the seller may have changed the buyer's offer.
    tell(order.buyer_id, "order.accepted", order, price=fields.format_price(order.price_fen))
    return order


def _decline_others(order: Order) -> None:
    others = db.session.scalars(
        sa.select(Order).where(Order.listing_id == order.listing_id, Order.status == "requested", Order.id != order.id)
    ).all()
    for other in others:
        try:
            _move(other, "declined", ("requested",), cancelled_at=utcnow())
        except Conflict:
            continue  # its buyer withdrew it meanwhile: nothing left to decline
        _event(other, "declined", None)
        tell(other.buyer_id, "order.declined", other)


def _finish(
    order: Order,
    actor: User | None,
    *,
    at: datetime,
    auto: bool = False,
    allowed_from=("accepted",),
    record_event: bool = True,
) -> None:
    _move(order, "completed", allowed_from, completed_at=at, auto_completed=auto)
    listings.sell_to_order(order.listing)
    if record_event:
        _event(order, "auto_completed" if auto else "completed", actor)
    kind = "order.auto_completed" if auto else "order.completed"
    tell(order.buyer_id, kind, order)
    tell(order.seller_id, kind, order)
    _decline_others(order)


def complete(buyer: User, order: Order) -> Order:
    """The buyer confirms the hand-over: the order completes and the listing is sold."""
    if order.party(buyer) != "buyer":
        raise Forbidden(_("只有买家可以确认收货。"))
    order = lock(order.id)
    if settle(order):
        return order
    if order.status != "accepted":
        raise Conflict(_("订单%(status)s，不能确认收货。", status=STATUS_LABELS[order.status]))
    _finish(order, buyer, at=utcnow())
    return order


def cancel(user: User, order: Order, reason: str | None) -> Order:
    """Either party cancels before completion, with a reason; a seller cancelling an accepted order is a breach."""
    party = order.party(user)
    if party is None:
        raise Forbidden(_("只有买卖双方可以取消订单。"))
    text = _clean_reason(reason, _("请说明取消的原因"))
    order = lock(order.id)
    if settle(order):
        raise Conflict(_("订单已在接受 7 天后自动完成，不能再取消。"))
    if order.status == "disputed":
        raise Conflict(_("订单正在纠纷处理中，请等待审核员处理。"))
    was = order.status
    breach = party == "seller" and was == "accepted"
    _move(
        order,
        "cancelled",
        ("requested", "accepted"),
        cancelled_at=utcnow(),
        cancelled_by=party,
        cancel_reason=text,
        breach=breach,
    )
    if was == "accepted":
        listings.release_from_order(order.listing)
    _event(order, "cancelled", user, text)
    tell(order.counterparty_id(user), "order.cancelled", order)
    if breach:
        # The seller's breach costs credit (the policy's points); the reason stays on the order (free text).
        record(
            "order.breach", actor=user, subject_type="order", subject_id=order.id, data={"listing_id": order.listing_id}
        )
        credit.penalise(
            user,
            "breach",
            source="order",
            source_id=order.id,
            reason=f"接受订单 #{order.id}（“{order.listing.title}”）后又取消，属于违约。",
        )
    return order


def dispute(user: User, order: Order, reason: str | None) -> Order:
    """Either party opens a dispute on an accepted order; it waits for a moderator."""
    party = order.party(user)
    if party is None:
        raise Forbidden(_("只有买卖双方可以对订单提出纠纷。"))
    text = _clean_reason(reason, _("请说明纠纷的原因"))
    order = lock(order.id)
    if settle(order):
        raise Conflict(_("订单已在接受 7 天后自动完成；如有问题，请在评价中说明或举报该商品。"))
    _move(order, "disputed", ("accepted",), disputed_at=utcnow(), disputed_by=party, dispute_reason=text)
    _event(order, "disputed", user, text)
    tell(order.counterparty_id(user), "order.disputed", order)
    return order


RESOLUTIONS = ("completed", "cancelled")


def resolve(moderator: User, order: Order, outcome: str, note: str | None) -> Order:
    """A moderator who is not a party ends a dispute: the deal completed, or it is cancelled (audited)."""
    if not is_moderator(moderator):
        raise Forbidden(_("只有审核员可以处理纠纷。"))
    if order.party(moderator) is not None:
        raise Forbidden(_("不能处理自己参与的订单的纠纷。"))
    errors: dict[str, list[str]] = {}
    if outcome not in RESOLUTIONS:
        errors["outcome"] = [_("请选择处理结果")]
    text = clean_plain(note, field="note", errors=errors, max_len=REASON_MAX, required=_("请写明处理意见"))
    refuse(errors)
    order = lock(order.id)
    if order.status != "disputed":
        raise Conflict(_("订单%(status)s，没有待处理的纠纷。", status=STATUS_LABELS[order.status]))
    if outcome == "completed":
        # The "resolved" event below says who completed it and why (no "buyer confirmed" step).
        _finish(order, moderator, at=utcnow(), allowed_from=("disputed",), record_event=False)
    else:
        _move(order, "cancelled", ("disputed",), cancelled_at=utcnow(), cancelled_by="moderator", cancel_reason=text)
        listings.release_from_order(order.listing)
    _event(order, "resolved", moderator, text)
    tell(order.buyer_id, "order.resolved", order)
    tell(order.seller_id, "order.resolved", order)
    record(
        "order.dispute_resolved",
        actor=moderator,
        subject_type="order",
        subject_id=order.id,
        data={"outcome": outcome, "listing_id": order.listing_id, "disputed_by": order.disputed_by},
    )
    return order


# --- completing on their own ----------------------------------------------------------------


def settle(order: Order, now: datetime | None = None) -> bool:
    """Complete an accepted order past its deadline; True if it did.

    Called before anything else touches an order, by the order's pages and by
    `flask --app wsgi maintenance`: no background thread. The completion is dated when
    it is settled, not at the deadline: the parties' 14 days to rate start when they
    are told, even if nobody looked at the order for a while.
    """
    now = now or utcnow()
    if not is_overdue(order, now):
        return False
    try:
        _finish(order, None, at=now, auto=True)
    except Conflict:
        return False
    return True


def overdue_ids(now: datetime | None = None, *, user: User | None = None, limit: int | None = None) -> list[int]:
    """Ids of accepted orders past their deadline (of one user's, if given), oldest first."""
    cutoff = (now or utcnow()) - AUTO_COMPLETE_AFTER
    query = sa.select(Order.id).where(Order.status == "accepted", Order.accepted_at <= cutoff)
    if user is not None:
        query = query.where(sa.or_(Order.buyer_id == user.id, Order.seller_id == user.id))
    query = query.order_by(Order.accepted_at)
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query))


def deadlines_on_listing(listing_id: int) -> list[tuple[int, datetime]]:
    """(id, due) of the accepted orders on this listing, soonest due first (read only)."""
    rows = db.session.execute(
        sa.select(Order.id, Order.accepted_at)
        .where(Order.listing_id == listing_id, Order.status == "accepted", Order.accepted_at.is_not(None))
        .order_by(Order.accepted_at)
    )
    return [(order_id, accepted_at + AUTO_COMPLETE_AFTER) for order_id, accepted_at in rows]


def settle_ids(ids: list[int], now: datetime | None = None) -> int:
    """Settle the given orders (see `settle`); returns how many completed."""
    done = 0
    for order_id in ids:
        done += settle(lock(order_id), now)
    return done


# --- when the listing leaves sale outside an order -------------------------------------------


@listings.on_left_sale
def _listing_left_sale(listing: Listing, status: str) -> None:
    """Close what the orders hold on a listing its seller withdrew or sold elsewhere, or a moderator removed.

    Open requests are declined with a notice; an accepted or disputed order on a removed
    listing is cancelled (no one's breach), both parties told.
    """
    held = db.session.scalars(
        sa.select(Order).where(Order.listing_id == listing.id, Order.status.in_(("requested", *HOLDING)))
    ).all()
    for order in held:
        if order.status == "requested":
            try:
                _move(order, "declined", ("requested",), cancelled_at=utcnow())
            except Conflict:
                continue  # its buyer withdrew it meanwhile
            _event(order, "declined", None)
            tell(order.buyer_id, "order.closed", order)
        elif status == "removed":
            # Stored as data (the order page shows it as written), like the parties' own reasons.
            reason = "商品已被审核员下架，订单随之取消。"
            _move(order, "cancelled", HOLDING, cancelled_at=utcnow(), cancelled_by="moderator", cancel_reason=reason)
            _event(order, "cancelled", None, reason)
            tell(order.buyer_id, "order.closed", order)
            tell(order.seller_id, "order.closed", order)
