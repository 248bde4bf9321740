"""JSON shapes of the notices API."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

NoticeId = Annotated[int, Field(ge=1, le=2**31 - 1)]


class NoticeOut(BaseModel):
    id: int
    kind: str = Field(description="what happened, e.g. `order.requested`, `order.accepted`, `rating.revealed`")
    text: str = Field(description="the notice in the caller's language")
    subject_type: str | None = Field(description="what it is about (`order`), and so where it leads")
    subject_id: int | None
    created_at: datetime
    read: bool


class NoticePage(BaseModel):
    items: list[NoticeOut]
    next_cursor: str | None
    unread: int = Field(description="how many of the caller's notices are unread (all of them, not just this page)")


class NoticeQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unread: bool = Field(default=False, description="only the unread ones")
    cursor: str | None = Field(default=None, max_length=20)
    limit: int = Field(default=20, ge=1, le=100)


class MarkReadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[NoticeId] | None = Field(
        default=None, max_length=500, description="the notices to mark read; all of the caller's if left out"
    )


class MarkedOut(BaseModel):
    marked: int = Field(description="how many notices changed from unread to read")
