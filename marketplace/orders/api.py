"""Orders API: request a listing, accept, complete, cancel, dispute and resolve; messages; my orders.

Accepted orders complete on their own 7 days after acceptance, evaluated lazily: reading an
order (or one's list of orders) that is past due settles it first, in its own write
transaction, so what is returned is already the completed order.
"""

from __future__ import annotations

from marketplace.api import endpoint, id_cursor
from marketplace.extensions import message_limit, order_limit
from marketplace.identity.privacy import shown_name
from marketplace.listings.api import api_status
from marketplace.orders import messages, queries, service
from marketplace.orders.boundary import settle_overdue
from marketplace.orders.models import Order, OrderMessage
from marketplace.orders.schemas import (
    AcceptIn,
    ListingRef,
    MessageIn,
    MessageList,
    MessageOut,
    OrderIn,
    OrderOut,
    OrderPage,
    OrderQuery,
    OrderRatings,
    OrderSummary,
    PartyOut,
    ReasonIn,
    ResolveIn,
)
from marketplace.ratings import service as ratings
from marketplace.ratings.api import rating_out

TAGS = ("orders",)
# Werkzeug checks the id converter's range after the method: an id beyond any column on the
# messages path, which has GET and POST, answers POST with 405, not 404 (as in listings/api.py).
BEYOND_ID = 405


# --- shapes ---------------------------------------------------------------------------------


def _party(user) -> PartyOut:
    return PartyOut(id=user.id, display_name=shown_name(user))


def _listing(order: Order) -> ListingRef:
    listing = order.listing
    return ListingRef(id=listing.id, title=listing.title, price_fen=listing.price_fen, status=api_status(listing))


def _completes_at(order: Order):
    return service.due_at(order) if order.status == "accepted" else None


def order_out(order: Order, viewer) -> OrderOut:
    """The whole order as `viewer` (a party or a moderator) sees it, with what they may do now."""
    seen = ratings.for_order(viewer, order)
    actions = set(service.actions(viewer, order))
    if seen["can_rate"]:
        actions.add("rate")
    return OrderOut(
        **_common(order),
        message=order.message,
        auto_completed=order.auto_completed,
        cancelled_at=order.cancelled_at,
        cancelled_by=order.cancelled_by,
        cancel_reason=order.cancel_reason,
        breach=order.breach,
        disputed_at=order.disputed_at,
        disputed_by=order.disputed_by,
        dispute_reason=order.dispute_reason,
        actions=sorted(actions),
        ratings=OrderRatings(
            mine=rating_out(seen["mine"]) if seen["mine"] is not None else None,
            theirs=rating_out(seen["theirs"]) if seen["theirs"] is not None else None,
            they_rated=seen["they_rated"],
            deadline=seen["deadline"],
        ),
    )


def _common(order: Order) -> dict:
    """The fields an order has in a list and on its own."""
    return {
        "id": order.id,
        "listing": _listing(order),
        "buyer": _party(order.buyer),
        "seller": _party(order.seller),
        "status": order.status,
        "price_fen": order.price_fen,
        "payment_method": order.payment_method,
        "created_at": order.created_at,
        "accepted_at": order.accepted_at,
        "completes_at": _completes_at(order),
        "completed_at": order.completed_at,
    }


def _summary(order: Order) -> OrderSummary:
    return OrderSummary(**_common(order))


def _message_out(message: OrderMessage, viewer) -> MessageOut:
    return MessageOut(
        id=message.id,
        sender_id=message.sender_id,
        from_me=message.sender_id == viewer.id,
        body=message.body,
        created_at=message.created_at,
    )


# --- routes ---------------------------------------------------------------------------------------


@endpoint(
    "/listings/<int:listing_id>/orders",
    "POST",
    summary=(
        "Ask to buy an active listing: the order starts `requested` and the seller is told. Optional note, "
        "offered `price_fen` (the listing's price if left out) and `payment_method` (cash if left out); money "
        "changes hands offline. 403 for one's own listing or a restricted credit band; 404 for a listing one "
        "may not see; 409 when the listing is not on sale (reserved, sold, withdrawn, recycle-only) or one "
        "already has an open request for it."
    ),
    tags=TAGS,
    body=OrderIn,
    response=OrderOut,
    status=201,
    errors=(403, 404, 409, 422),
    decorators=(order_limit,),
)
def create_order(*, user, listing_id: int, body: OrderIn):
    terms = service.Terms(price_fen=body.price_fen, payment_method=body.payment_method)
    order = service.request(user, listing_id, body.message, terms)
    return order_out(order, user)


@endpoint(
    "/orders/<int:order_id>",
    summary=(
        "An order, for its two parties and moderators (404 for anyone else): its state and dates, "
        "`completes_at` (while accepted: 7 days after acceptance it completes on its own), `actions` the "
        "caller may take now (`accept`, `complete`, `cancel`, `dispute`, `resolve`, `message`, `rate`), "
        "and `ratings`: the caller's own and the other party's once revealed (double-blind)."
    ),
    tags=TAGS,
    response=OrderOut,
    errors=(404,),
)
def get_order(*, user, order_id: int):
    order = service.get(user, order_id)
    if service.is_overdue(order):
        settle_overdue([order.id])
        order = service.get(user, order_id)
    return order_out(order, user)


@endpoint(
    "/orders/<int:order_id>/accept",
    "POST",
    summary=(
        "The seller accepts a request: the listing is reserved for it, optionally at an agreed `price_fen` "
        "and `payment_method`. 409 when the order is no longer `requested` or another order holds the listing."
    ),
    tags=TAGS,
    body=AcceptIn,
    response=OrderOut,
    errors=(403, 404, 409, 422),
)
def accept_order(*, user, order_id: int, body: AcceptIn):
    order = service.get(user, order_id)
    terms = None
    if body.price_fen is not None or body.payment_method is not None:
        terms = service.Terms(price_fen=body.price_fen, payment_method=body.payment_method or order.payment_method)
    return order_out(service.accept(user, order, terms), user)


@endpoint(
    "/orders/<int:order_id>/complete",
    "POST",
    summary="The buyer confirms the hand-over: the order completes, the listing is sold, ratings open for 14 days",
    tags=TAGS,
    response=OrderOut,
    errors=(403, 404, 409),
)
def complete_order(*, user, order_id: int):
    return order_out(service.complete(user, service.get(user, order_id)), user)


@endpoint(
    "/orders/<int:order_id>/cancel",
    "POST",
    summary=(
        "Either party cancels a requested or accepted order, with a `reason`; a reserved listing goes back "
        "on sale. A seller cancelling an order they accepted is a breach (it counts against their credit)."
    ),
    tags=TAGS,
    body=ReasonIn,
    response=OrderOut,
    errors=(403, 404, 409, 422),
)
def cancel_order(*, user, order_id: int, body: ReasonIn):
    return order_out(service.cancel(user, service.get(user, order_id), body.reason), user)


@endpoint(
    "/orders/<int:order_id>/dispute",
    "POST",
    summary="Either party disputes an accepted order, with a `reason`; a moderator resolves it",
    tags=TAGS,
    body=ReasonIn,
    response=OrderOut,
    errors=(403, 404, 409, 422),
)
def dispute_order(*, user, order_id: int, body: ReasonIn):
    return order_out(service.dispute(user, service.get(user, order_id), body.reason), user)


@endpoint(
    "/orders/<int:order_id>/resolve",
    "POST",
    summary=(
        "A moderator who is not a party ends a dispute: `completed` (the listing is sold) or `cancelled` "
        "(it goes back on sale), with a `note` (audited)"
    ),
    tags=TAGS,
    body=ResolveIn,
    response=OrderOut,
    errors=(403, 404, 409, 422),
)
def resolve_order(*, user, order_id: int, body: ResolveIn):
    return order_out(service.resolve(user, service.get(user, order_id), body.outcome, body.note), user)


@endpoint(
    "/orders/<int:order_id>/messages",
    summary="The order's message thread between the two parties, oldest first (parties and moderators)",
    tags=TAGS,
    response=MessageList,
    errors=(404,),
)
def list_order_messages(*, user, order_id: int):
    order = service.get(user, order_id)
    return MessageList(items=[_message_out(m, user) for m in messages.thread(user, order)])


@endpoint(
    "/orders/<int:order_id>/messages",
    "POST",
    summary=(
        "A party writes to the other (plain text, at most 1000 characters; full phone or ID numbers are "
        "refused: contact details are exchanged face to face). 409 once the order is cancelled or declined."
    ),
    tags=TAGS,
    body=MessageIn,
    response=MessageOut,
    status=201,
    errors=(403, 404, BEYOND_ID, 409, 422),
    decorators=(message_limit,),
)
def post_order_message(*, user, order_id: int, body: MessageIn):
    return _message_out(messages.post(user, service.get(user, order_id), body.body), user)


@endpoint(
    "/me/orders",
    summary=(
        "My orders, newest first: purchases (`role=buyer`, the default) or sales (`role=seller`), "
        "optionally of one `status`; pages by `cursor`. Overdue accepted orders are completed first."
    ),
    tags=TAGS,
    query=OrderQuery,
    response=OrderPage,
    errors=(422,),
)
def list_my_orders(*, user, query: OrderQuery):
    overdue = service.overdue_ids(user=user)
    if overdue:
        settle_overdue(overdue)
    rows = queries.orders_of(
        user, query.role, status=query.status, before_id=id_cursor(query.cursor), limit=query.limit + 1
    )
    page = rows[: query.limit]
    return OrderPage(
        items=[_summary(order) for order in page],
        next_cursor=str(page[-1].id) if len(rows) > query.limit else None,
    )
