"""Events API: flea markets and swap events, registrations, check-ins, listings at an event, swaps, summaries.

Times are ISO 8601: sent without an offset they are Beijing time; answered in UTC. The
iCalendar documents of the site (`/events/{id}.ics`, `/events.ics`) are served here too.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import url_for
from flask_babel import gettext as _

from marketplace.api import endpoint
from marketplace.db import db, utcnow
from marketplace.errors import Invalid, NotFound
from marketplace.events import feeds, service, swaps
from marketplace.events import summary as summaries
from marketplace.events.models import Event, Registration, SwapOffer
from marketplace.events.schemas import (
    AttachedOut,
    AttachIn,
    CancelIn,
    CheckinIn,
    CheckinOut,
    EventDetail,
    EventIn,
    EventListingOut,
    EventListingPage,
    EventListingQuery,
    EventOut,
    EventPage,
    EventPatch,
    EventQuery,
    EventRef,
    EventRegistrations,
    MyPlace,
    PersonOut,
    RegistrationIn,
    RegistrationList,
    RegistrationOut,
    SummaryOut,
    SwapIn,
    SwapLists,
    SwapOut,
)
from marketplace.identity.privacy import shown_name
from marketplace.listings.models import Listing
from marketplace.listings.search import SearchParams, search_listings

TAGS = ("events",)
# Werkzeug checks the id converter's range after the method: an id beyond any column on a path
# that also has other methods answers 405, not 404 (as in listings/api.py and orders/api.py).
BEYOND_ID = 405


# --- shapes ---------------------------------------------------------------------------------------


def _person(user) -> PersonOut:
    return PersonOut(id=user.id, display_name=shown_name(user))


def waitlisted_counts(event_ids: list[int]) -> dict[int, int]:
    """Stallholders waiting for a stall, per event: one GROUP BY for a whole page."""
    if not event_ids:
        return {}
    rows = db.session.execute(
        sa.select(Registration.event_id, sa.func.count())
        .where(Registration.event_id.in_(event_ids), Registration.status == "waitlisted")
        .group_by(Registration.event_id)
    ).all()
    return dict(rows)


def event_out(event: Event, waitlisted: int) -> EventOut:
    return EventOut(**_event_fields(event, waitlisted))


def _event_fields(event: Event, waitlisted: int) -> dict:
    return {
        "id": event.id,
        "title": event.title,
        "kind": event.kind,
        "status": event.status,
        "registration_open": event.status == "open" and utcnow() < event.registration_deadline,
        "description": event.description or "",
        "venue": event.venue,
        "district": event.district,
        "starts_at": event.starts_at,
        "ends_at": event.ends_at,
        "registration_deadline": event.registration_deadline,
        "stalls": event.stalls,
        "stalls_taken": event.stalls_taken,
        "waitlisted": waitlisted,
        "restriction": event.restriction,
        "campus": event.campus,
        "organiser": _person(event.organiser),
        "cancel_reason": event.cancel_reason,
        "url": url_for("events.detail", event_id=event.id, _external=True),
        "ics_url": url_for("event_feeds.event_ics", event_id=event.id, _external=True),
        "created_at": event.created_at,
        "updated_at": event.updated_at,
    }


def event_detail(event: Event, viewer) -> EventDetail:
    fields = _event_fields(event, waitlisted_counts([event.id]).get(event.id, 0))
    me = None
    if viewer is not None:
        mine = service.registration_of(viewer, event)
        me = MyPlace(
            registration=registration_out(mine, viewer) if mine is not None else None,
            why_not_register=None if mine is not None else service.why_not_register(viewer, event),
        )
    return EventDetail(**fields, me=me)


def registration_out(registration: Registration, viewer, position: int | None = None) -> RegistrationOut:
    """A registration as `viewer` sees it; `position` in the waiting list when the caller knows it already."""
    event = registration.event
    # The code is the holder's ticket: shown to them and to whoever checks people in, no one else.
    sees_code = viewer is not None and (registration.user_id == viewer.id or service.can_manage(viewer, event))
    live_stall = registration.role == "stall" and registration.status == "registered"
    return RegistrationOut(
        id=registration.id,
        event=EventRef(
            id=event.id,
            title=event.title,
            status=event.status,
            venue=event.venue,
            starts_at=event.starts_at,
            ends_at=event.ends_at,
        ),
        user=_person(registration.user),
        role=registration.role,
        status=registration.status,
        checkin_code=registration.checkin_code if sees_code else None,
        waitlist_position=position if position is not None else service.waitlist_position(registration),
        created_at=registration.created_at,
        promoted_at=registration.promoted_at,
        cancelled_at=registration.cancelled_at,
        late_cancellation=registration.late_cancellation,
        late_if_cancelled_now=live_stall
        and registration.checked_in_at is None
        and service.is_late_cancellation(registration),
        checked_in_at=registration.checked_in_at,
        no_show=registration.no_show,
        appeal_status=registration.appeal_status,
    )


def listing_out(listing: Listing) -> EventListingOut:
    return EventListingOut(
        id=listing.id,
        title=listing.title,
        category=listing.category,
        price_fen=listing.price_fen,
        status="removed" if listing.status == "withdrawn" else listing.status,
        seller=_person(listing.seller),
    )


def swap_out(offer: SwapOffer, viewer, orders: list[int] | None = None) -> SwapOut:
    actions: list[str] = []
    if offer.status == "pending":
        if viewer.id == offer.owner_id:
            actions += ["accept", "decline"]
        if viewer.id == offer.offerer_id:
            actions.append("withdraw")
    if orders is None:
        orders = [order.id for order in swaps.orders_of(offer)] if offer.status == "accepted" else []
    return SwapOut(
        id=offer.id,
        event_id=offer.event_id,
        status=offer.status,
        offerer=_person(offer.offerer),
        owner=_person(offer.owner),
        want_listing=listing_out(offer.want_listing),
        offered_listings=[listing_out(listing) for listing in offer.offered_listings],
        message=offer.message or "",
        created_at=offer.created_at,
        decided_at=offer.decided_at,
        orders=orders,
        actions=actions,
    )


# --- paging events by (starts_at, id) ------------------------------------------------------------------

_CURSOR = re.compile(r"([0-9]{8}T[0-9]{12})Z_([0-9]{1,10})")


def encode_cursor(event: Event) -> str:
    """The position after `event`: its start (UTC, to the microsecond) and id, e.g. `20261205T013000000000Z_12`."""
    return f"{event.starts_at.astimezone(UTC).strftime('%Y%m%dT%H%M%S%f')}Z_{event.id}"


def decode_cursor(value: str | None) -> tuple[datetime, int] | None:
    """The (starts_at, id) in a cursor; None for the first page; Invalid if it is not one of ours."""
    if not value:
        return None
    match = _CURSOR.fullmatch(value)
    try:
        if match is None or int(match.group(2)) > 2**31 - 1:
            raise ValueError(value)
        moment = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC)
    except ValueError:
        raise Invalid(_("查询参数有误。"), errors={"cursor": [_("格式不正确")]}) from None
    return moment, int(match.group(2))


# --- events -------------------------------------------------------------------------------------------


@endpoint(
    "/events",
    summary=(
        "Flea markets, swap events and book-sharing days: by default the upcoming ones (not over yet, cancelled "
        "ones included and marked), soonest first; `upcoming=false` lists past events, latest first. Filters "
        "`kind` and `district`; pages by `cursor`."
    ),
    tags=TAGS,
    query=EventQuery,
    response=EventPage,
    auth="none",
    errors=(422,),
)
def list_events(*, user, query: EventQuery):
    position = decode_cursor(query.cursor)
    if query.upcoming:
        rows = service.upcoming(kind=query.kind, district=query.district, after=position, limit=query.limit + 1)
    else:
        rows = service.past(kind=query.kind, district=query.district, before=position, limit=query.limit + 1)
    page = rows[: query.limit]
    waiting = waitlisted_counts([event.id for event in page])
    return EventPage(
        items=[event_out(event, waiting.get(event.id, 0)) for event in page],
        next_cursor=encode_cursor(page[-1]) if len(rows) > query.limit else None,
    )


@endpoint(
    "/events/<int:event_id>",
    summary=(
        "An event: when and where, stalls taken and the waiting list's length, who may register, the organiser; "
        "with a token, `me`: the caller's registration and, if they may not register, why"
    ),
    tags=TAGS,
    response=EventDetail,
    auth="optional",
    errors=(401, 404, BEYOND_ID),
)
def get_event(*, user, event_id: int):
    return event_detail(service.get(event_id), user)


@endpoint(
    "/events",
    "POST",
    summary=(
        "An organiser announces an event, open for registration at once: `capacity` is the number of stalls; "
        "a `campus_flea` names its `campus`; `restriction` `campus` admits only verified students of it, "
        "`district` only residents of the district. The registration deadline is the start if left out."
    ),
    tags=TAGS,
    body=EventIn,
    response=EventDetail,
    status=201,
    roles=("organiser", "admin"),
    errors=(403, 422),
)
def create_event(*, user, body: EventIn):
    event = service.create(
        user,
        service.EventInput(
            title=body.title,
            kind=body.kind,
            description=body.description,
            venue=body.venue,
            district=body.district,
            starts_at=body.starts_at,
            ends_at=body.ends_at,
            registration_deadline=body.registration_deadline or body.starts_at,
            stalls=body.capacity,
            restriction=body.restriction,
            campus=body.campus,
        ),
    )
    return event_detail(event, user)


@endpoint(
    "/events/<int:event_id>",
    "PATCH",
    summary=(
        "The organiser edits an event: only the fields sent change (participants are told of a new time or "
        "venue; more stalls move the waiting list up). `registration_open` closes registration early or opens "
        "it again. 409 once the event is cancelled or over."
    ),
    tags=TAGS,
    body=EventPatch,
    response=EventDetail,
    errors=(403, 404, BEYOND_ID, 409, 422),
)
def patch_event(*, user, event_id: int, body: EventPatch):
    event = service.get_managed(user, event_id)
    changes = body.model_dump(exclude_unset=True)
    registration_open = changes.pop("registration_open", None)
    if "capacity" in changes:
        changes["stalls"] = changes.pop("capacity")
    if "campus" in changes and changes["campus"] is None:
        changes["campus"] = ""  # sent as null: the campus is removed
    changes = {name: value for name, value in changes.items() if value is not None}
    if changes or registration_open is None:
        event = service.edit(user, event, service.EventInput(**changes))
    if registration_open is not None:
        event = service.set_registration_open(user, event, registration_open)
    return event_detail(event, user)


@endpoint(
    "/events/<int:event_id>/cancel",
    "POST",
    summary=(
        "The organiser cancels an event with a `reason`: every participant is told, listings brought to it go "
        "back to plain sale, pending swap offers lapse. 409 if already cancelled or over."
    ),
    tags=TAGS,
    body=CancelIn,
    response=EventDetail,
    errors=(403, 404, 409, 422),
)
def cancel_event(*, user, event_id: int, body: CancelIn):
    event = service.get_managed(user, event_id)
    return event_detail(service.cancel(user, event, body.reason), user)


@endpoint(
    "/events/<int:event_id>/summary",
    summary=(
        "The organiser's summary: listings brought, swapped, sold; registrations, check-ins, no-shows; swap offers; "
        "and an estimate of the weight kept out of waste by category (rough average weights per category)"
    ),
    tags=TAGS,
    response=SummaryOut,
    errors=(403, 404),
)
def get_event_summary(*, user, event_id: int):
    return SummaryOut.model_validate(summaries.of(service.get_managed(user, event_id)))


# --- registrations ------------------------------------------------------------------------------------


@endpoint(
    "/events/<int:event_id>/registrations",
    "POST",
    summary=(
        "Register as a stallholder (`stall`: a stall while there are any, else the waiting list, `waitlisted` "
        "with its `waitlist_position`) or a `visitor`. The answer holds the `checkin_code` to show at the event. "
        "403 with the reason when the caller may not register (not verified, not a student of the campus, not "
        "a resident of the district, restricted credit, registration closed); 409 when already registered."
    ),
    tags=TAGS,
    body=RegistrationIn,
    response=RegistrationOut,
    status=201,
    errors=(403, 404, BEYOND_ID, 409, 422),
)
def create_registration(*, user, event_id: int, body: RegistrationIn):
    return registration_out(service.register(user, event_id, body.role), user)


@endpoint(
    "/events/<int:event_id>/registrations",
    summary=(
        "The organiser's lists: stallholders, the waiting list in order, visitors and cancelled registrations, "
        "with their check-in codes"
    ),
    tags=TAGS,
    response=EventRegistrations,
    errors=(403, 404, BEYOND_ID),
)
def list_event_registrations(*, user, event_id: int):
    event = service.get_managed(user, event_id)
    groups = service.registrations(event)
    out = {name: [registration_out(row, user) for row in rows] for name, rows in groups.items() if name != "waitlist"}
    # The waiting list comes in order: its positions are known without a query each.
    out["waitlist"] = [registration_out(row, user, n) for n, row in enumerate(groups["waitlist"], start=1)]
    return EventRegistrations(**out)


@endpoint(
    "/registrations/<int:registration_id>",
    summary="A registration, for its holder, the event's organiser and moderators (404 for anyone else)",
    tags=TAGS,
    response=RegistrationOut,
    errors=(404,),
)
def get_registration(*, user, registration_id: int):
    return registration_out(service.get_registration(user, registration_id), user)


@endpoint(
    "/registrations/<int:registration_id>/cancel",
    "POST",
    summary=(
        "The holder cancels their registration; a freed stall goes to the first on the waiting list. A stall "
        "given up less than 24 hours before the start still counts as a no-show (`late_cancellation`). "
        "409 when already cancelled, checked in, or the event is over."
    ),
    tags=TAGS,
    response=RegistrationOut,
    errors=(403, 404, 409),
)
def cancel_registration(*, user, registration_id: int):
    registration = service.get_registration(user, registration_id)
    return registration_out(service.cancel_registration(user, registration), user)


@endpoint(
    "/me/registrations",
    summary="My registrations with their check-in codes: the next event first, then the past ones",
    tags=TAGS,
    response=RegistrationList,
)
def list_my_registrations(*, user):
    return RegistrationList(items=[registration_out(row, user) for row in service.my_registrations(user)])


@endpoint(
    "/events/<int:event_id>/checkins",
    "POST",
    summary=(
        "The organiser checks a participant in by their `checkin_code` (from 2 hours before the start to 2 hours "
        "after the end); the check-in earns the policy's credit reward. 404 for a code not of this event; "
        "409 when already checked in, waitlisted, cancelled, or outside the check-in hours."
    ),
    tags=TAGS,
    body=CheckinIn,
    response=CheckinOut,
    errors=(403, 404, 409, 422),
)
def create_checkin(*, user, event_id: int, body: CheckinIn):
    registration = service.check_in(user, service.get(event_id), body.checkin_code)
    return CheckinOut(
        registration_id=registration.id,
        display_name=shown_name(registration.user),
        role=registration.role,
        checked_in_at=registration.checked_in_at,
    )


# --- listings at the event ------------------------------------------------------------------------------


@endpoint(
    "/events/<int:event_id>/listings",
    summary="Listings on sale at the event, newest first, or best match for `q`; pages by `cursor`",
    tags=TAGS,
    query=EventListingQuery,
    response=EventListingPage,
    auth="none",
    errors=(404, BEYOND_ID, 422),
)
def list_event_listings(*, user, event_id: int, query: EventListingQuery):
    event = service.get(event_id)
    page = search_listings(
        SearchParams(
            q=query.q or "",
            event_id=event.id,
            sort="relevance" if query.q else "newest",
            cursor=query.cursor,
            limit=query.limit,
        )
    )
    return EventListingPage(items=[listing_out(listing) for listing in page.items], next_cursor=page.next_cursor)


@endpoint(
    "/events/<int:event_id>/listings",
    "POST",
    summary=(
        'A stallholder with a stall brings active listings of their own to the event (the "at the event" '
        "badge; 30 at most). Answers the caller's listings at the event."
    ),
    tags=TAGS,
    body=AttachIn,
    response=AttachedOut,
    errors=(403, 404, BEYOND_ID, 422),
)
def attach_listings(*, user, event_id: int, body: AttachIn):
    event = service.get(event_id)
    service.attach(user, event, body.listing_ids)
    return AttachedOut(items=[listing_out(listing) for listing in service.attached(user, event)])


@endpoint(
    "/events/<int:event_id>/listings/<int:listing_id>",
    "DELETE",
    summary="The seller takes a listing back from the event (it stays on sale). Answers their listings still there.",
    tags=TAGS,
    response=AttachedOut,
    errors=(403, 404),
)
def detach_listing(*, user, event_id: int, listing_id: int):
    event = service.get(event_id)
    listing = db.session.get(Listing, listing_id)
    if listing is None or listing.event_id != event.id:
        raise NotFound(_("这件商品不在这个活动中。"))
    service.detach(user, listing)
    return AttachedOut(items=[listing_out(row) for row in service.attached(user, event)])


# --- swaps ------------------------------------------------------------------------------------------------


@endpoint(
    "/events/<int:event_id>/swaps",
    "POST",
    summary=(
        "A participant with a stall or a visitor's place offers one of their active listings "
        "(`offer_listing_id`) or several (`offer_listing_ids`, at most 5) for a listing at the event "
        "(`want_listing_id`); its owner is told. 403 for someone not registered (or still waitlisted); "
        "409 when the event is over or cancelled, or an offer for that listing is already pending."
    ),
    tags=TAGS,
    body=SwapIn,
    response=SwapOut,
    status=201,
    errors=(403, 404, 409, 422),
)
def create_swap(*, user, event_id: int, body: SwapIn):
    event = service.get(event_id)
    offered = list(body.offer_listing_ids or [])
    if body.offer_listing_id is not None:
        offered.append(body.offer_listing_id)
    offer = swaps.make_offer(user, event, body.want_listing_id, offered, body.message)
    return swap_out(offer, user, orders=[])


@endpoint(
    "/swaps/<int:offer_id>",
    summary="A swap offer, for its two parties and the event's organiser (404 for anyone else)",
    tags=TAGS,
    response=SwapOut,
    errors=(404,),
)
def get_swap(*, user, offer_id: int):
    return swap_out(swaps.get(user, offer_id), user)


@endpoint(
    "/swaps/<int:offer_id>/accept",
    "POST",
    summary=(
        "The owner of the wanted listing accepts: every listing in the swap is marked `swapped` and a completed "
        "order of price 0 is made for each (`orders`), so both parties rate each other; other pending offers "
        "for those listings lapse. All or nothing: 409 if any listing is no longer on sale."
    ),
    tags=TAGS,
    response=SwapOut,
    errors=(403, 404, 409),
)
def accept_swap(*, user, offer_id: int):
    offer = swaps.get(user, offer_id)
    orders = swaps.accept(user, offer)
    return swap_out(offer, user, orders=[order.id for order in orders])


@endpoint(
    "/swaps/<int:offer_id>/decline",
    "POST",
    summary="The owner of the wanted listing declines a pending offer; the offerer is told",
    tags=TAGS,
    response=SwapOut,
    errors=(403, 404, 409),
)
def decline_swap(*, user, offer_id: int):
    return swap_out(swaps.decline(user, swaps.get(user, offer_id)), user)


@endpoint(
    "/swaps/<int:offer_id>/withdraw",
    "POST",
    summary="The offerer takes back a pending offer",
    tags=TAGS,
    response=SwapOut,
    errors=(403, 404, 409),
)
def withdraw_swap(*, user, offer_id: int):
    return swap_out(swaps.withdraw(user, swaps.get(user, offer_id)), user)


@endpoint(
    "/me/swaps",
    summary="Swap offers made to me and by me, at every event, newest first (the last 100 of each)",
    tags=TAGS,
    response=SwapLists,
)
def list_my_swaps(*, user):
    mine = swaps.for_user(user)
    orders = swaps.order_ids_of([*mine["received"], *mine["sent"]])
    return SwapLists(
        received=[swap_out(offer, user, orders.get(offer.id, [])) for offer in mine["received"]],
        sent=[swap_out(offer, user, orders.get(offer.id, [])) for offer in mine["sent"]],
    )


# --- iCalendar --------------------------------------------------------------------------------------------


@endpoint(
    "/events/<int:event_id>.ics",
    summary="The event as an iCalendar file (a cancelled one with STATUS:CANCELLED)",
    tags=TAGS,
    auth="none",
    errors=(404,),
    content_type="text/calendar",
)
def get_event_ics(*, user, event_id: int):
    return feeds.event_calendar(service.get(event_id))


@endpoint(
    "/events.ics",
    summary="Every upcoming event as an iCalendar feed (at most 200, soonest first), to subscribe to",
    tags=TAGS,
    auth="none",
    content_type="text/calendar",
)
def get_events_ics(*, user):
    return feeds.upcoming_calendar()
