"""JSON shapes of the orders API: requests, the order and its timeline fields, messages, my orders."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from marketplace.listings.fields import PRICE_MAX_FEN
from marketplace.listings.schemas import ApiStatus
from marketplace.orders.models import ORDER_STATUSES, PAYMENT_METHODS
from marketplace.ratings.schemas import RatingOut

OrderStatus = Literal[ORDER_STATUSES]  # type: ignore[valid-type]
PaymentMethod = Literal[PAYMENT_METHODS]  # type: ignore[valid-type]
Action = Literal["accept", "complete", "cancel", "dispute", "resolve", "message", "rate"]
Role = Literal["buyer", "seller"]
# Longer than any service limit, so the service (which names the limit) answers the 422.
TEXT_MAX = 5000


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str | None = Field(
        default=None, max_length=TEXT_MAX, description="a note to the seller, plain text, at most 500 characters"
    )
    price_fen: int | None = Field(
        default=None,
        strict=True,
        ge=0,
        le=PRICE_MAX_FEN,
        description="the price offered, integer fen; the listing's price if left out",
    )
    payment_method: PaymentMethod | None = Field(default=None, description="paid face to face; `cash` if left out")


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    price_fen: int | None = Field(
        default=None,
        strict=True,
        ge=0,
        le=PRICE_MAX_FEN,
        description="the agreed price in fen; the requested price if left out",
    )
    payment_method: PaymentMethod | None = Field(default=None, description="the requested method if left out")


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=TEXT_MAX, description="plain text, at most 500 characters; shown to the other party")


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["completed", "cancelled"] = Field(
        description="`completed`: the deal stands and the listing is sold; `cancelled`: the listing goes back on sale"
    )
    note: str = Field(max_length=TEXT_MAX, description="the moderator's reasoning, at most 500 characters")


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(
        max_length=TEXT_MAX, description="plain text, at most 1000 characters; no full phone or ID numbers"
    )


class MessageOut(BaseModel):
    id: int
    sender_id: int
    from_me: bool
    body: str
    created_at: datetime


class MessageList(BaseModel):
    items: list[MessageOut] = Field(description="the whole thread, oldest first")


class ListingRef(BaseModel):
    id: int
    title: str
    price_fen: int = Field(
        description="the listing's asking price (the order's agreed price is the order's `price_fen`)"
    )
    status: ApiStatus


class PartyOut(BaseModel):
    id: int
    display_name: str


class OrderRatings(BaseModel):
    mine: RatingOut | None = Field(description="the rating the caller gave, if any")
    theirs: RatingOut | None = Field(description="the other party's rating: null until revealed (double-blind)")
    they_rated: bool = Field(description="whether the other party has rated (its content stays hidden until revealed)")
    deadline: datetime | None = Field(description="when the 14-day rating window closes (completed orders)")


class OrderOut(BaseModel):
    id: int
    listing: ListingRef
    buyer: PartyOut
    seller: PartyOut
    status: OrderStatus
    message: str = Field(description="the buyer's note with the request")
    price_fen: int = Field(description="the agreed price, integer fen; paid offline")
    payment_method: PaymentMethod
    created_at: datetime
    accepted_at: datetime | None
    completes_at: datetime | None = Field(
        description="while accepted: when the order completes on its own if the buyer has not confirmed (7 days)"
    )
    completed_at: datetime | None
    auto_completed: bool
    cancelled_at: datetime | None = Field(description="also when a request was declined because the listing sold")
    cancelled_by: Literal["buyer", "seller", "moderator"] | None
    cancel_reason: str | None
    breach: bool = Field(description="the seller cancelled after accepting")
    disputed_at: datetime | None
    disputed_by: Role | None
    dispute_reason: str | None
    actions: list[Action] = Field(description="what the caller may do now")
    ratings: OrderRatings


class OrderSummary(BaseModel):
    id: int
    listing: ListingRef
    buyer: PartyOut
    seller: PartyOut
    status: OrderStatus
    price_fen: int
    payment_method: PaymentMethod
    created_at: datetime
    accepted_at: datetime | None
    completes_at: datetime | None
    completed_at: datetime | None


class OrderPage(BaseModel):
    items: list[OrderSummary]
    next_cursor: str | None


class OrderQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role = Field(default="buyer", description="`buyer`: my purchases; `seller`: my sales")
    status: OrderStatus | None = None
    cursor: str | None = Field(default=None, max_length=20)
    limit: int = Field(default=20, ge=1, le=100)
