"""JSON shapes of the listings API."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from marketplace.identity.places import DISTRICTS
from marketplace.identity.schemas import CreditOut, PublicProfileOut
from marketplace.listings.fields import PRICE_MAX_FEN
from marketplace.listings.models import CATEGORIES

Category = Literal[CATEGORIES]  # type: ignore[valid-type]
District = Literal[tuple(DISTRICTS)]  # type: ignore[valid-type]
ApiStatus = Literal["active", "reserved", "sold", "swapped", "removed"]
Sort = Literal["relevance", "newest", "price_asc", "price_desc"]
# A checklist answer: a gate or yes/no item, a number, or a choice/text/IMEI/VIN/date string.
Answer = bool | int | float | str | None


class ListingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(max_length=200, description="2–80 characters")
    description: str = Field(
        max_length=20000,
        description="plain text or a little HTML: p, br, ul, ol, li, strong, b are kept, everything else is removed",
    )
    category: Category
    price_fen: int = Field(strict=True, ge=0, le=PRICE_MAX_FEN, description="integer fen; 0 for a free item")
    district: District
    grading: dict[str, Answer] | None = Field(
        default=None,
        description="checklist answers {key: answer} for phone, appliance and vehicle (see /grading/standards)",
    )
    event_id: int | None = Field(default=None, description="a flea market or swap event to list it at")


class ListingPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=20000)
    price_fen: int | None = Field(default=None, strict=True, ge=0, le=PRICE_MAX_FEN)
    district: District | None = None
    grading: dict[str, Answer] | None = Field(default=None, description="the whole checklist again; regraded")
    status: Literal["active", "sold"] | None = Field(
        default=None, description="`sold` marks an active listing sold; `active` puts a withdrawn one back on sale"
    )


class PhotoOut(BaseModel):
    url: str
    thumb_url: str
    width: int
    height: int


class CertifiedOut(BaseModel):
    grade: str
    grade_label: str | None
    inspector: str = Field(description="the inspector's display name")
    at: datetime


class ListingOut(BaseModel):
    id: int
    title: str
    description: str = Field(description="sanitised HTML (p, br, ul, ol, li, strong, b; no attributes)")
    description_text: str
    category: Category
    price_fen: int
    district: str
    status: ApiStatus = Field(description="a listing its seller withdrew is `removed` too")
    grade: str | None = Field(description="a code from the standard's `grades`; null for ungraded categories")
    grade_label: str | None
    grading: dict[str, Any] | None = Field(description="the seller's checklist answers")
    standard_version: str | None
    safety_warning: bool = Field(description="an appliance past its safe service life")
    recycle_only: bool = Field(description="仅供回收: a gas or water-heating appliance past its safe life, price 0")
    certified: CertifiedOut | None
    seller: PublicProfileOut
    photos: list[PhotoOut]
    event_id: int | None
    created_at: datetime
    updated_at: datetime


class SellerSummary(BaseModel):
    id: int
    display_name: str
    verified: bool
    credit: CreditOut


class ListingSummary(BaseModel):
    id: int
    title: str
    category: Category
    price_fen: int
    district: str
    status: ApiStatus
    grade: str | None
    safety_warning: bool
    recycle_only: bool
    certified_grade: str | None
    thumb_url: str | None
    seller: SellerSummary
    created_at: datetime


class ListingPage(BaseModel):
    items: list[ListingSummary]
    next_cursor: str | None


class ListingQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    q: str | None = Field(default=None, max_length=100)
    category: Category | None = None
    grade: str | None = Field(default=None, max_length=8)
    district: District | None = None
    min_price_fen: int | None = Field(default=None, ge=0, le=PRICE_MAX_FEN)
    max_price_fen: int | None = Field(default=None, ge=0, le=PRICE_MAX_FEN)
    seller_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    sort: Sort | None = None
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=20, ge=1, le=100)
