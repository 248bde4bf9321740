"""Swap offers at an event: my listing (or several) for yours.

Accepting is one transaction: the offer moves from pending with a conditional UPDATE,
every listing in it moves from active to swapped with another (all or none), and each
listing that changes hands gets a completed order of price 0, so the two parties rate
each other as after any deal. Offers that named those listings are void.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from marketplace.accounts.models import User
from marketplace.db import db, utcnow
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.events.models import Event, Registration, SwapItem, SwapOffer
from marketplace.events.service import is_live, registration_of
from marketplace.listings import service as listings
from marketplace.listings.models import Listing
from marketplace.notices.service import notify
from marketplace.orders.models import Order, OrderEvent
from marketplace.trading import check_can_trade

STATUS_LABELS = {
    "pending": _l("等待对方答复"),
    "accepted": _l("已成交"),
    "declined": _l("对方已婉拒"),
    "withdrawn": _l("已撤回"),
    "void": _l("已失效"),
}
MAX_OFFERED = 5


def _participant(user: User, event: Event) -> Registration:
    registration = registration_of(user, event)
    if registration is None or registration.status != "registered":
        raise Forbidden(_("只有已报名（不在候补名单上）的参加者可以在活动中换物。"))
    return registration


def get(user: User, offer_id: int) -> SwapOffer:
    """An offer its two parties (or the event's organiser) may see; NotFound for anyone else."""
    offer = db.session.get(SwapOffer, offer_id)
    if offer is None or user is None or not user.is_authenticated:
        raise NotFound(_("找不到该交换请求。"))
    from marketplace.events.service import can_manage

    if user.id not in (offer.offerer_id, offer.owner_id) and not can_manage(user, offer.event):
        raise NotFound(_("找不到该交换请求。"))
    return offer


def make_offer(
    user: User, event: Event, want_listing_id: int, offer_listing_ids: list[int], message: str | None = None
) -> SwapOffer:
    """Offer one or several of my active listings for one listing at the event."""
    if not is_live(event):
        raise Conflict(_("活动已取消或已结束，不能再换物。"))
    _participant(user, event)
    check_can_trade(user)
    want = db.session.get(Listing, want_listing_id) if want_listing_id else None
    errors: dict[str, list[str]] = {}
    if want is None or want.event_id != event.id:
        errors["want_listing_id"] = [_("请选择本活动中的一件商品")]
    elif want.seller_id == user.id:
        errors["want_listing_id"] = [_("不能和自己交换")]
    elif want.status != "active":
        errors["want_listing_id"] = [_("这件商品已经不在了")]
    ids = sorted({int(i) for i in offer_listing_ids or []})
    offered = db.session.scalars(sa.select(Listing).where(Listing.id.in_(ids))).all() if ids else []
    if not ids:
        errors["offer_listing_ids"] = [_("请选择你要拿来交换的商品")]
    elif len(ids) > MAX_OFFERED:
        errors["offer_listing_ids"] = [_("一次最多拿 %(n)s 件商品来换", n=MAX_OFFERED)]
    elif len(offered) != len(ids) or any(row.seller_id != user.id for row in offered):
        errors["offer_listing_ids"] = [_("只能拿自己的商品来换")]
    elif any(row.status != "active" for row in offered):
        errors["offer_listing_ids"] = [_("只能拿在售的商品来换")]
    text = (message or "").strip()
    if len(text) > 500:
        errors["message"] = [_("最多 %(n)s 个字", n=500)]
    if errors:
        raise Invalid(errors=errors)
    owner_registration = registration_of(want.seller, event)
    if owner_registration is None or owner_registration.status != "registered":
        raise Conflict(_("这件商品的主人已经不再参加本活动。"))
    duplicate = db.session.scalar(
        sa.select(SwapOffer.id).where(
            SwapOffer.offerer_id == user.id, SwapOffer.want_listing_id == want.id, SwapOffer.status == "pending"
        )
    )
    if duplicate is not None:
        raise Conflict(_("你已经为这件商品发出了交换请求，请等对方答复。"))
    offer = SwapOffer(
        event_id=event.id,
        offerer_id=user.id,
        owner_id=want.seller_id,
        want_listing_id=want.id,
        message=text,
        status="pending",
        created_at=utcnow(),
    )
    offer.items = [SwapItem(listing_id=row.id) for row in offered]
    db.session.add(offer)
    db.session.flush()
    notify(offer.owner_id, "swap.offered", subject_type="swap", subject_id=offer.id, title=want.title)
    return offer


def _move(offer: SwapOffer, to: str) -> None:
    result = db.session.execute(
        sa.update(SwapOffer)
        .where(SwapOffer.id == offer.id, SwapOffer.status == "pending")
        .values(status=to, decided_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(offer)
    if result.rowcount != 1:
        raise Conflict(_("这个交换请求已经%(status)s。", status=STATUS_LABELS[offer.status]))


def accept(owner: User, offer: SwapOffer) -> list[Order]:
    """The owner accepts: both sides' listings swapped and a completed order for each, or nothing at all."""
    if offer.owner_id != owner.id:
        raise Forbidden(_("只有被请求交换的一方可以接受。"))
    if not is_live(offer.event):
        raise Conflict(_("活动已取消或已结束，不能再换物。"))
    # Every listing of the offer locked first, in id order (as everywhere listings are locked
    # together): two accepts sharing a listing, or an accept and the event's cancellation,
    # then wait for each other instead of deadlocking.
    ids = sorted([offer.want_listing_id, *(item.listing_id for item in offer.items)])
    db.session.execute(sa.select(Listing.id).where(Listing.id.in_(ids)).order_by(Listing.id).with_for_update())
    check_can_trade(owner)
    check_can_trade(offer.offerer)
    for party in (offer.owner, offer.offerer):
        registration = registration_of(party, offer.event)
        if registration is None or registration.status != "registered":
            raise Conflict(_("交换的一方已经不再参加本活动，这次交换不能完成。"))
    _move(offer, "accepted")
    want = offer.want_listing
    given = offer.offered_listings
    # All or none: Conflict (and the whole request rolled back) if any is no longer active.
    listings.swap_away([want, *given])
    now = utcnow()
    orders = [_completed_order(offer, want, buyer_id=offer.offerer_id, now=now)]
    orders += [_completed_order(offer, listing, buyer_id=offer.owner_id, now=now) for listing in given]
    _void_others(offer, [want.id, *(listing.id for listing in given)])
    for order in orders:
        notify(order.buyer_id, "swap.accepted", subject_type="order", subject_id=order.id, title=order.listing.title)
    return orders


def _completed_order(offer: SwapOffer, listing: Listing, *, buyer_id: int, now) -> Order:
    order = Order(
        listing_id=listing.id,
        buyer_id=buyer_id,
        seller_id=listing.seller_id,
        status="completed",
        message="",
        price_fen=0,
        payment_method="other",
        created_at=now,
        accepted_at=now,
        completed_at=now,
        swap_offer_id=offer.id,
    )
    db.session.add(order)
    db.session.flush()
    # Stored as data, like the parties' own notes: the order page shows it as written.
    db.session.add(OrderEvent(order_id=order.id, actor_id=offer.owner_id, kind="completed", note="活动换物", at=now))
    return order


def _void_others(offer: SwapOffer, listing_ids: list[int]) -> None:
    """Other pending offers that wanted or gave one of these listings can no longer happen."""
    given = sa.select(SwapItem.offer_id).where(SwapItem.listing_id.in_(listing_ids))
    others = db.session.scalars(
        sa.select(SwapOffer).where(
            SwapOffer.status == "pending",
            SwapOffer.id != offer.id,
            sa.or_(SwapOffer.want_listing_id.in_(listing_ids), SwapOffer.id.in_(given)),
        )
    ).all()
    for other in others:
        try:
            _move(other, "void")
        except Conflict:
            continue
        notify(other.offerer_id, "swap.void", subject_type="swap", subject_id=other.id, title=other.want_listing.title)


def void_pending(event: Event, user: User | None = None) -> None:
    """An event cancelled (or one participant gone from it): its (their) pending offers lapse."""
    query = sa.select(SwapOffer).where(SwapOffer.event_id == event.id, SwapOffer.status == "pending")
    if user is not None:
        query = query.where(sa.or_(SwapOffer.offerer_id == user.id, SwapOffer.owner_id == user.id))
    for offer in db.session.scalars(query.order_by(SwapOffer.id)).all():
        try:
            _move(offer, "void")
        except Conflict:
            continue


def decline(owner: User, offer: SwapOffer) -> SwapOffer:
    """The owner says no."""
    if offer.owner_id != owner.id:
        raise Forbidden(_("只有被请求交换的一方可以婉拒。"))
    _move(offer, "declined")
    notify(offer.offerer_id, "swap.declined", subject_type="swap", subject_id=offer.id, title=offer.want_listing.title)
    return offer


def withdraw(offerer: User, offer: SwapOffer) -> SwapOffer:
    """The offerer takes the offer back while it waits."""
    if offer.offerer_id != offerer.id:
        raise Forbidden(_("只有发起交换的一方可以撤回。"))
    _move(offer, "withdrawn")
    return offer


def for_user(user: User, event: Event | None = None) -> dict[str, list[SwapOffer]]:
    """Offers made to me and by me (at one event, or all), newest first."""
    query = sa.select(SwapOffer).order_by(SwapOffer.id.desc()).limit(100)
    if event is not None:
        query = query.where(SwapOffer.event_id == event.id)
    received = db.session.scalars(query.where(SwapOffer.owner_id == user.id)).all()
    sent = db.session.scalars(query.where(SwapOffer.offerer_id == user.id)).all()
    _load_parts([*received, *sent])
    return {"received": list(received), "sent": list(sent)}


def _load_parts(offers: list[SwapOffer]) -> None:
    """The wanted listing, event and parties of every offer in a few queries (not a few per offer)."""
    if not offers:
        return
    db.session.scalars(
        sa.select(SwapOffer)
        .where(SwapOffer.id.in_([offer.id for offer in offers]))
        .options(
            sa.orm.selectinload(SwapOffer.want_listing),
            sa.orm.selectinload(SwapOffer.event),
            sa.orm.selectinload(SwapOffer.offerer),
            sa.orm.selectinload(SwapOffer.owner),
        )
        .execution_options(populate_existing=True)
    ).all()


def orders_of(offer: SwapOffer) -> list[Order]:
    """The completed orders an accepted offer made."""
    return list(db.session.scalars(sa.select(Order).where(Order.swap_offer_id == offer.id).order_by(Order.id)))


def order_ids_of(offers: list[SwapOffer]) -> dict[int, list[int]]:
    """{offer id: the ids of the orders it made} for the accepted ones among `offers`, in one query."""
    accepted = [offer.id for offer in offers if offer.status == "accepted"]
    out: dict[int, list[int]] = {offer_id: [] for offer_id in accepted}
    if accepted:
        rows = db.session.execute(
            sa.select(Order.swap_offer_id, Order.id).where(Order.swap_offer_id.in_(accepted)).order_by(Order.id)
        )
        for offer_id, order_id in rows:
            out[offer_id].append(order_id)
    return out
