"""JSON shapes of the lists API: the public red and black boards (masked names) and supervisors' reviews."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from marketplace.trust.models import BLACKLIST_REASONS, BLACKLIST_STATUSES

Reason = Literal[BLACKLIST_REASONS]  # type: ignore[valid-type]
Status = Literal[BLACKLIST_STATUSES]  # type: ignore[valid-type]
# Longer than any service limit, so the service (which names the limit) answers the 422.
TEXT_MAX = 5000


class RedListEntryOut(BaseModel):
    position: int = Field(description="the rank the edition published (withdrawn entries leave their place empty)")
    user_id: int
    display_name: str = Field(description="masked: the masked real name, else the masked display name")
    score: int = Field(description="the credit score when the edition was computed")
    sales: int = Field(description="completed sales when the edition was computed")
    ratings: int = Field(description="revealed seller ratings counted")
    average: float = Field(description="the average seller rating, two decimals")


class RedListOut(BaseModel):
    id: int | None = Field(description="the edition; null before the first one")
    period: str | None = Field(description="YYYY-MM")
    computed_at: datetime | None
    entries: list[RedListEntryOut] = Field(description="in rank order; sellers withdrawn since are left out")


class BlackBoardRow(BaseModel):
    id: int
    display_name: str = Field(description="masked: the masked real name, else the masked display name")
    reason_category: Reason
    starts_at: datetime
    ends_at: datetime


class BlackBoardPage(BaseModel):
    items: list[BlackBoardRow] = Field(description="entries in force, newest first")
    next_cursor: str | None


class BoardQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=20)


class EntryConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=TEXT_MAX, description="optional, at most 500 characters")


class EntryRejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(max_length=TEXT_MAX, description="why, 4 to 500 characters; the user is told")


class EntryReviewedOut(BaseModel):
    id: int
    status: Status
    starts_at: datetime | None = Field(description="set when confirmed")
    ends_at: datetime | None = Field(description="set when confirmed: 12 months on (36 for a counterfeit)")
