"""JSON shapes of the ratings API: giving a rating, reading revealed ones, replies and folding."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

RaterRole = Literal["buyer", "seller"]
# JSON integers only: true, 3.0 or "3" are not scores.
Score = Annotated[int, Field(ge=1, le=5, strict=True)]


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scores: dict[str, Score] = Field(
        max_length=10,
        description=(
            "1–5 per dimension. The buyer rates the seller on `accuracy` (描述相符), `communication` and "
            "`punctuality`; the seller rates the buyer on `punctuality` and `communication`. A missing or "
            "extra dimension is a 422 under `scores.<dimension>`."
        ),
    )
    comment: str | None = Field(
        default=None, max_length=5000, description="optional plain text, at most 500 characters"
    )


class RatingOut(BaseModel):
    """A rating as one of the order's parties sees it (their own, or the other's once revealed)."""

    id: int
    order_id: int
    rater_role: RaterRole = Field(description="`buyer`: the buyer rated the seller; `seller`: the other way round")
    scores: dict[str, int]
    comment: str
    created_at: datetime
    visible: bool = Field(
        description="revealed to the other party and everyone: both have rated, or the 14-day window closed"
    )
    reply: str | None = Field(description="the rated party's one public reply")
    replied_at: datetime | None
    folded: bool = Field(description="folded by a moderator as abusive: show it collapsed with `fold_reason`")
    fold_reason: str | None


class RaterOut(BaseModel):
    id: int
    display_name: str


class PublicRatingOut(BaseModel):
    """A revealed rating as anyone sees it on the rated user's profile."""

    id: int
    order_id: int
    rater: RaterOut
    rater_role: RaterRole = Field(description="`buyer`: given to the user as a seller; `seller`: as a buyer")
    scores: dict[str, int]
    comment: str = Field(description="when `folded`, show collapsed behind `fold_reason`")
    created_at: datetime
    visible: bool = Field(description="always true in a user's list; a moderator may fold one not yet revealed")
    reply: str | None
    replied_at: datetime | None
    folded: bool = Field(description="folded by a moderator as abusive; left out of the reputation summary")
    fold_reason: str | None


class RatingPage(BaseModel):
    items: list[PublicRatingOut]
    next_cursor: str | None


class RatingQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cursor: str | None = Field(default=None, max_length=20)
    limit: int = Field(default=20, ge=1, le=100)


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reply: str = Field(max_length=5000, description="plain text, at most 500 characters")


class FoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=2000, description="why it is folded (shown with it), at most 200 characters")
