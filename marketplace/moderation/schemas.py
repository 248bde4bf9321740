"""JSON shapes of the moderation API: reports, the risk queue, decisions, appeals, flagged sellers, certifications."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from marketplace.moderation.models import APPEAL_STATUSES, DECISION_OUTCOMES, VIOLATIONS
from marketplace.moderation.service import DETAIL_MAX
from marketplace.trust.models import BLACKLIST_REASONS, BLACKLIST_STATUSES

Reason = Literal["exaggeration", "hidden_defect", "fake_transaction", "counterfeit", "prohibited", "other"]
Source = Literal["user", "certification", "rating"]
Status = Literal["open", "dismissed", "confirmed", "malicious"]
Outcome = Literal[DECISION_OUTCOMES]  # type: ignore[valid-type]
Violation = Literal[VIOLATIONS]  # type: ignore[valid-type]
AppealStatus = Literal[APPEAL_STATUSES]  # type: ignore[valid-type]
EntryStatus = Literal[BLACKLIST_STATUSES]  # type: ignore[valid-type]
EntryReason = Literal[BLACKLIST_REASONS]  # type: ignore[valid-type]
FactorCode = Literal[
    "reporters",
    "certification",
    "rating",
    "severe",
    "malicious_reporter",
    "accurate_reporter",
    "inaccurate_reporter",
    "reporter_credit",
    "seller_violations",
]
FlagReason = Literal["violations", "open_reports", "fall", "low_score"]
# Longer than any service limit, so the service (which names the limit) answers the 422.
TEXT_MAX = 5000


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


class QueueFactor(BaseModel):
    code: FactorCode = Field(description="what added to (or took from) the listing's risk")
    points: int


class ReportItem(BaseModel):
    id: int
    listing_id: int
    reason: Reason
    source: Source
    created_at: datetime
    risk: int = Field(description="the risk of the report's listing (all its open reports together)")
    factors: list[QueueFactor] = Field(description="what made the listing's risk")


class ReportPage(BaseModel):
    items: list[ReportItem] = Field(
        description="open reports, one item each, riskiest listing first (ties: oldest report first); "
        "a listing's reports follow one another, oldest first"
    )
    next_cursor: str | None


class OffsetPageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(
        default=None, max_length=20, description="opaque: the `next_cursor` of the previous page"
    )


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


# --- decisions ---------------------------------------------------------------------------------------------


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Outcome = Field(
        description="`dismissed`; `confirmed` (the seller is penalised, the listing taken down); "
        "`malicious` (the reporter is penalised)"
    )
    violation: Violation | None = Field(
        default=None, description="for `confirmed`: the violation; the report's reason if left out and it is one"
    )
    note: str | None = Field(
        default=None,
        max_length=TEXT_MAX,
        description="plain text, at most 1000 characters; required (at least 4) for `confirmed` and `malicious`: "
        "the penalised person reads it",
    )


class DecisionCreditEvent(BaseModel):
    id: int
    delta: int = Field(description="the points the ledger event recorded (negative: a penalty)")
    reason: str
    code: str = Field(description="the policy's name of the event: a violation, malicious_report, compensation")


class EntryRef(BaseModel):
    id: int
    status: EntryStatus


class EntryBrief(BaseModel):
    id: int
    status: EntryStatus = Field(description="as it stands now (an active entry past its end reads `expired`)")
    reason: EntryReason


class AppealRef(BaseModel):
    id: int
    status: AppealStatus


class DecisionFields(BaseModel):
    id: int
    report_id: int
    listing_id: int
    outcome: Outcome
    violation: Violation | None
    note: str = Field(description="the moderator's explanation, which the penalised person reads")
    penalised_id: int | None = Field(description="the seller (`confirmed`) or the reporter (`malicious`)")
    took_down: bool = Field(description="whether the decision took the listing down")
    created_at: datetime
    credit_events: list[DecisionCreditEvent] = Field(description="the ledger events the decision recorded")


class DecisionOut(DecisionFields):
    blacklist_entry: EntryRef | None = Field(description="the black-list entry the decision proposed, if any")


class DecisionDetailOut(DecisionFields):
    blacklist_entries: list[EntryBrief] = Field(description="black-list entries the decision proposed")
    appeal: AppealRef | None
    appeal_deadline: datetime | None = Field(description="the last moment to appeal; null when nobody was penalised")
    can_appeal: bool = Field(description="whether the caller may appeal now")


# --- appeals -------------------------------------------------------------------------------------------------


class AppealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=TEXT_MAX, description="plain text, 10 to 1000 characters")


class AppealDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["upheld", "overturned"] = Field(
        description="`upheld`: the decision stands; `overturned`: its penalties are compensated, its black-list "
        "entries revoked and its listing put back"
    )
    note: str = Field(max_length=TEXT_MAX, description="plain text, at most 1000 characters; the appellant reads it")


class AppealOut(BaseModel):
    id: int
    decision_id: int
    status: AppealStatus
    reason: str
    created_at: datetime
    decider_id: int | None = Field(description="who decided the appeal; null while pending")
    note: str | None
    decided_at: datetime | None


class AppealPage(BaseModel):
    items: list[AppealOut] = Field(description="pending appeals the caller may decide, oldest first")
    next_cursor: str | None


# --- flagged sellers --------------------------------------------------------------------------------------------


class FlaggedOut(BaseModel):
    user_id: int
    display_name: str
    violations: int = Field(description="confirmed violations standing in the repeat window")
    open_reports: int = Field(description="open reports on their listings")
    fall: int = Field(description="points lost in the last 30 days, net of overturned penalties")
    reasons: list[FlagReason] = Field(description="what made them flagged")
    entry: EntryRef | None = Field(description="their black-list entry in force, if any")


class FlaggedPage(BaseModel):
    items: list[FlaggedOut] = Field(description="most serious first")
    next_cursor: str | None
