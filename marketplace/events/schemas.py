"""JSON shapes of the events API: events, registrations, check-ins, listings at an event, swap offers, summaries."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from marketplace.events.models import (
    EVENT_KINDS,
    EVENT_STATUSES,
    NO_SHOW_APPEAL_STATUSES,
    REGISTRATION_ROLES,
    REGISTRATION_STATUSES,
    RESTRICTIONS,
    SWAP_STATUSES,
)
from marketplace.events.service import MAX_STALLS, parse_local
from marketplace.identity.places import CAMPUSES, DISTRICTS
from marketplace.listings.models import CATEGORIES

Kind = Literal[EVENT_KINDS]  # type: ignore[valid-type]
EventStatus = Literal[EVENT_STATUSES]  # type: ignore[valid-type]
Restriction = Literal[RESTRICTIONS]  # type: ignore[valid-type]
Campus = Literal[tuple(CAMPUSES)]  # type: ignore[valid-type]
District = Literal[tuple(DISTRICTS)]  # type: ignore[valid-type]
Role = Literal[REGISTRATION_ROLES]  # type: ignore[valid-type]
RegistrationStatus = Literal[REGISTRATION_STATUSES]  # type: ignore[valid-type]
AppealStatus = Literal[NO_SHOW_APPEAL_STATUSES]  # type: ignore[valid-type]
SwapStatus = Literal[SWAP_STATUSES]  # type: ignore[valid-type]
Category = Literal[CATEGORIES]  # type: ignore[valid-type]
ListingStatus = Literal["active", "reserved", "sold", "swapped", "removed"]
SwapAction = Literal["accept", "decline", "withdraw"]
# Longer than any service limit, so the service (which names the limit) answers the 422.
TEXT_MAX = 5000
ID_MAX = 2**31 - 1
ListingId = Annotated[int, Field(strict=True, ge=1, le=ID_MAX)]


def _moment(value: str) -> str:
    # Read as the service will read it; a time it cannot hold (year 0, year 10000) is a format error too.
    try:
        parse_local(value)
    except (ValueError, OverflowError):
        raise ValueError("not an ISO 8601 time") from None
    return value


Moment = Annotated[
    str,
    Field(
        max_length=40,
        description="ISO 8601, e.g. `2026-12-05T09:30:00+08:00`; without an offset it is Beijing time",
    ),
    AfterValidator(_moment),
]


# --- events ---------------------------------------------------------------------------------------


class PersonOut(BaseModel):
    id: int
    display_name: str


class EventOut(BaseModel):
    id: int
    title: str
    kind: Kind = Field(description="`campus_flea` 校园跳蚤市场, `community_swap` 社区换物, `book_share` 旧书分享")
    status: EventStatus = Field(description="`open`, `closed` (registration closed by the organiser), `cancelled`")
    registration_open: bool = Field(description="whether one may register now (open and before the deadline)")
    description: str = Field(description="plain text with line breaks")
    venue: str
    district: District
    starts_at: datetime
    ends_at: datetime
    registration_deadline: datetime
    stalls: int = Field(description="the number of stalls (the capacity for stallholders)")
    stalls_taken: int
    waitlisted: int = Field(description="stallholders waiting for a stall")
    restriction: Restriction = Field(
        description="who may register: `none` anyone verified, `campus` verified students of `campus`, "
        "`district` residents of `district`"
    )
    campus: Campus | None
    organiser: PersonOut
    cancel_reason: str | None
    url: str = Field(description="the event's page on the site")
    ics_url: str = Field(description="the event as an iCalendar file")
    created_at: datetime
    updated_at: datetime


class MyPlace(BaseModel):
    registration: "RegistrationOut | None" = Field(description="the caller's live registration, if any")
    why_not_register: str | None = Field(description="why the caller may not register now; null when they may")


class EventDetail(EventOut):
    me: MyPlace | None = Field(description="the caller's registration and eligibility; null without a token")


class EventPage(BaseModel):
    items: list[EventOut]
    next_cursor: str | None


class EventQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Kind | None = None
    district: District | None = None
    upcoming: bool = Field(
        default=True, description="true: events not over yet, soonest first; false: past events, latest first"
    )
    cursor: str | None = Field(default=None, max_length=40)
    limit: int = Field(default=20, ge=1, le=100)


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(max_length=TEXT_MAX, description="at most 80 characters")
    kind: Kind
    venue: str = Field(max_length=TEXT_MAX, description="where, in words (no map), at most 120 characters")
    district: District
    starts_at: Moment
    ends_at: Moment
    registration_deadline: Moment | None = Field(default=None, description="the start if left out")
    capacity: int = Field(strict=True, ge=0, le=MAX_STALLS, description="the number of stalls")
    restriction: Restriction = "none"
    campus: Campus | None = Field(
        default=None, description="required for a `campus_flea` and for `restriction` `campus`"
    )
    description: str = Field(default="", max_length=20000, description="plain text, at most 4000 characters")


class EventPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, max_length=TEXT_MAX)
    kind: Kind | None = None
    venue: str | None = Field(default=None, max_length=TEXT_MAX)
    district: District | None = None
    starts_at: Moment | None = None
    ends_at: Moment | None = None
    registration_deadline: Moment | None = None
    capacity: int | None = Field(
        default=None, strict=True, ge=0, le=MAX_STALLS, description="not fewer than the stalls taken"
    )
    restriction: Restriction | None = None
    campus: Campus | None = Field(default=None, description="null (sent) removes the campus")
    description: str | None = Field(default=None, max_length=20000)
    registration_open: bool | None = Field(
        default=None, description="false closes registration early; true opens it again before the deadline"
    )


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=TEXT_MAX, description="4 to 500 characters; every participant is told")


# --- registrations and check-ins -----------------------------------------------------------------------


class EventRef(BaseModel):
    id: int
    title: str
    status: EventStatus
    venue: str
    starts_at: datetime
    ends_at: datetime


class RegistrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role = Field(description="`stall`: a stallholder (a stall, else the waiting list); `visitor`")


class RegistrationOut(BaseModel):
    id: int
    event: EventRef
    user: PersonOut
    role: Role
    status: RegistrationStatus
    checkin_code: str | None = Field(description="shown to the holder and the organiser only")
    waitlist_position: int | None = Field(description="1 for the first in line; null when not waiting")
    created_at: datetime
    promoted_at: datetime | None = Field(description="when a waiting stallholder got a stall")
    cancelled_at: datetime | None
    late_cancellation: bool = Field(description="a stall given up less than 24 hours before the start")
    late_if_cancelled_now: bool = Field(
        description="a stall given up now would count as a no-show (less than 24 hours before the start)"
    )
    checked_in_at: datetime | None
    no_show: bool
    appeal_status: AppealStatus | None


class RegistrationList(BaseModel):
    items: list[RegistrationOut] = Field(description="the next event first, then the past ones")


class EventRegistrations(BaseModel):
    stall: list[RegistrationOut] = Field(description="stallholders with a stall, in order of registration")
    waitlist: list[RegistrationOut] = Field(description="the waiting list, first in line first")
    visitor: list[RegistrationOut]
    cancelled: list[RegistrationOut]


class CheckinIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    checkin_code: str = Field(
        max_length=64, description="the participant's 8-character code (case, spaces and dashes ignored)"
    )


class CheckinOut(BaseModel):
    registration_id: int
    display_name: str
    role: Role
    checked_in_at: datetime


# --- listings at an event and swaps ---------------------------------------------------------------------


class EventListingOut(BaseModel):
    id: int
    title: str
    category: Category
    price_fen: int
    status: ListingStatus
    seller: PersonOut


class EventListingPage(BaseModel):
    items: list[EventListingOut]
    next_cursor: str | None


class EventListingQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    q: str | None = Field(default=None, max_length=100, description="words to search the listings at the event for")
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=20, ge=1, le=100)


class AttachIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    listing_ids: list[ListingId] = Field(max_length=100, description="one's own active listings (30 at most)")


class AttachedOut(BaseModel):
    items: list[EventListingOut] = Field(description="the caller's listings at the event, newest first")


class SwapIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    want_listing_id: ListingId = Field(description="a listing at the event, of another participant")
    offer_listing_id: ListingId | None = Field(default=None, description="one of one's own active listings")
    offer_listing_ids: list[ListingId] | None = Field(
        default=None, max_length=20, description="or several (at most 5); both may be given"
    )
    message: str | None = Field(default=None, max_length=TEXT_MAX, description="at most 500 characters")


class SwapOut(BaseModel):
    id: int
    event_id: int
    status: SwapStatus
    offerer: PersonOut
    owner: PersonOut = Field(description="the owner of the wanted listing, who accepts or declines")
    want_listing: EventListingOut
    offered_listings: list[EventListingOut]
    message: str
    created_at: datetime
    decided_at: datetime | None
    orders: list[int] = Field(description="the completed orders an accepted swap made, one per listing")
    actions: list[SwapAction] = Field(description="what the caller may do now")


class SwapLists(BaseModel):
    received: list[SwapOut] = Field(description="offers for my listings, newest first")
    sent: list[SwapOut] = Field(description="my offers, newest first")


# --- summary -----------------------------------------------------------------------------------------------


class CategoryWeight(BaseModel):
    category: Category
    label: str
    listed: int
    count: int = Field(description="items swapped or sold")
    kg: float = Field(description="the estimated weight of those items")


class RegistrationCounts(BaseModel):
    stall: int
    visitor: int
    waitlisted: int
    cancelled: int


class SwapCounts(BaseModel):
    pending: int
    accepted: int
    declined: int
    withdrawn: int
    void: int


class SummaryOut(BaseModel):
    listed: int = Field(description="listings brought to the event")
    swapped: int
    sold: int
    active: int
    by_category: list[CategoryWeight]
    weight_kg_total: float = Field(
        description="estimated weight kept out of waste: items swapped or sold at rough average weights per category"
    )
    includes_vehicles: bool = Field(description="the total counts a car at its kerb weight")
    registrations: RegistrationCounts
    checked_in: int
    no_shows: int = Field(description="counted at settlement; before it, the stallholders who would be")
    ended: bool
    settled: bool
    swaps: SwapCounts


MyPlace.model_rebuild()
EventDetail.model_rebuild()
