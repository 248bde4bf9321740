"""JSON shapes of the identity API. Personal data in them is always masked."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from marketplace.credit.service import ADJUST_MAX

Verification = Literal["unverified", "pending", "verified", "rejected"]
ListStatus = Literal["none", "red", "black", "suspended"]
Kind = Literal["resident", "student", "business"]


class CreditOut(BaseModel):
    score: int | None
    band: str | None


class CreditEventOut(BaseModel):
    id: int
    at: datetime
    delta: int = Field(
        description="what the event counts for in the score now: its points, or the aged share of an old "
        "penalty (a compensation cancels exactly what its event counts now)"
    )
    points: int = Field(description="the points as recorded (a repeated violation already multiplied)")
    code: str = Field(
        description="what happened, as the policy names it: verification, exaggeration, hidden_defect, "
        "fake_transaction, counterfeit, prohibited, breach, malicious_report, good_rating, checkin, adjustment, "
        "compensation"
    )
    label: str = Field(description="the code in words, in the caller's language")
    reason: str = Field(description="the explanation as recorded")
    source: str = Field(description="what caused it: verification, decision, order, rating, event, adjustment, appeal")
    source_id: int | None = Field(description="the id of the source object (the order for `order`), if any")
    aged: bool = Field(description="true when `delta` differs from `points` because the penalty has aged")
    overturned: bool = Field(description="true when a later compensating event cancels this one (appeal upheld)")


class CreditDetailsOut(BaseModel):
    score: int | None = Field(description="0–1000; null before real-name verification")
    band: str | None = Field(description="excellent, good, fair, poor or restricted; null without a score")
    events: list[CreditEventOut] = Field(description="the credit ledger, newest first")


class CreditAdjustmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    points: int = Field(strict=True, description=f"a nonzero integer from -{ADJUST_MAX} to {ADJUST_MAX}")
    reason: str = Field(max_length=2000, description="why, 4 to 500 characters (the user reads it)")


class MeOut(BaseModel):
    id: int
    username: str
    display_name: str
    roles: list[str]
    verification: Verification
    credit: CreditOut
    list_status: ListStatus


class VerificationIn(BaseModel):
    # Formats and check digits are checked by the service, which names the field at fault.
    model_config = ConfigDict(extra="forbid")
    real_name: str = Field(max_length=100)
    id_number: str = Field(max_length=40)
    phone: str = Field(max_length=40)
    kind: Kind = "resident"
    campus: str | None = Field(default=None, max_length=16)
    student_no: str | None = Field(default=None, max_length=40)
    credit_code: str | None = Field(default=None, max_length=40)


class VerificationOut(BaseModel):
    id: int
    user_id: int
    kind: Kind
    status: Literal["pending", "verified", "rejected", "withdrawn"]
    real_name: str | None = Field(description="masked: 张* / 张*三")
    id_number: str | None = Field(description="masked: first and last character")
    phone: str | None = Field(description="masked: 138****5678")
    campus: str | None
    submitted_at: datetime
    decided_at: datetime | None
    reason: str | None


class QueueItem(BaseModel):
    id: int
    user_id: int
    kind: Kind
    submitted_at: datetime
    real_name: str | None
    campus: str | None


class QueueOut(BaseModel):
    items: list[QueueItem]
    next_cursor: str | None


class QueueQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=20)


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=2000)


class RatingSide(BaseModel):
    count: int = Field(description="revealed, unfolded ratings in this capacity (one per rater per 7 days)")
    averages: dict[str, float | None] = Field(
        description="the average of each dimension: as a seller accuracy, communication, punctuality; "
        "as a buyer punctuality, communication (null without ratings)"
    )
    positive_share: float | None = Field(
        description="share of the last 12 months' ratings averaging 4 or more (0–1; null without any)"
    )
    recent_count: int = Field(description="ratings in the last 12 months")


class RatingsSummary(BaseModel):
    count: int = Field(description="revealed ratings received, both capacities")
    average: float | None = Field(description="the mean score over both capacities (null without ratings)")
    as_seller: RatingSide = Field(description="how buyers rated this user")
    as_buyer: RatingSide = Field(description="how sellers rated this user")


class PublicProfileOut(BaseModel):
    id: int
    display_name: str
    real_name: str | None = Field(description="masked")
    verified: bool
    kind: Kind | None
    credit: CreditOut
    ratings: RatingsSummary
    list_status: ListStatus
