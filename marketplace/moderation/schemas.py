"""JSON shapes of the moderation API: reports and inspectors' certifications."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from marketplace.moderation.service import DETAIL_MAX

Reason = Literal["exaggeration", "hidden_defect", "fake_transaction", "counterfeit", "prohibited", "other"]
Source = Literal["user", "certification", "rating"]
Status = Literal["open", "dismissed", "confirmed", "malicious"]


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason
    detail: str = Field(default="", max_length=DETAIL_MAX, description="plain text; required for `other`")


class ReportOut(BaseModel):
    id: int
    listing_id: int
    reason: Reason
    source: Source
    status: Status
    created_at: datetime


class ReportItem(BaseModel):
    id: int
    listing_id: int
    reason: Reason
    source: Source
    created_at: datetime


class ReportPage(BaseModel):
    items: list[ReportItem]
    next_cursor: str | None


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=20)


class CertificationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grading: dict[str, Any] = Field(
        description="the inspector's answers {key: answer} over the gates and items of the listing's standard",
        max_length=200,
    )


class CertificationOut(BaseModel):
    id: int
    listing_id: int
    grade: str
    inspector_id: int
    created_at: datetime
    report_id: int | None = Field(description="the report opened automatically by this certification, if any")
