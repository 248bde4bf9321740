"""JSON shapes of the supervision API: black-list entries with their history, the audit chain's check."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from marketplace.trust.models import BLACKLIST_REASONS, BLACKLIST_STATUSES

Reason = Literal[BLACKLIST_REASONS]  # type: ignore[valid-type]
State = Literal[BLACKLIST_STATUSES]  # type: ignore[valid-type]
EventKind = Literal[
    "proposed", "confirmed", "rejected", "taken_down", "appeal_filed", "appeal_decided", "revoked", "expired", "audit"
]


class FilterQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    proposed_from: str | None = Field(
        default=None, max_length=10, description="proposed on or after this day (YYYY-MM-DD, Asia/Shanghai)"
    )
    proposed_to: str | None = Field(
        default=None, max_length=10, description="proposed on or before this day (YYYY-MM-DD, Asia/Shanghai)"
    )
    reason: Reason | None = None
    state: State | None = Field(
        default=None, description="the state now: an active entry past its end counts as `expired`"
    )


class BlacklistQuery(FilterQuery):
    cursor: str | None = Field(default=None, max_length=20)
    limit: int = Field(default=20, ge=1, le=100)


class PersonOut(BaseModel):
    id: int
    display_name: str


class SubjectOut(PersonOut):
    real_name_masked: str | None = Field(description="the verified real name, masked (张*三); never the name itself")


class AppealOut(BaseModel):
    id: int
    status: Literal["pending", "upheld", "overturned"]
    reason: str
    created_at: datetime
    decider: PersonOut | None
    note: str | None
    decided_at: datetime | None


class DecisionOut(BaseModel):
    id: int
    report_id: int
    listing_id: int
    outcome: Literal["dismissed", "confirmed", "malicious"]
    violation: str | None
    note: str
    decider: PersonOut
    created_at: datetime
    appeal: AppealOut | None


class EventOut(BaseModel):
    at: datetime
    kind: EventKind
    actor: PersonOut | None = Field(description="who did it; null for what the system did (an expiry)")
    details: dict[str, Any]
    audit_seq: int | None = Field(description="the audit log entry that records the step")


class EntryOut(BaseModel):
    id: int
    user: SubjectOut
    reason: Reason
    status: State = Field(description="as stored")
    state: State = Field(description="as it stands now (an active entry past its end reads `expired`)")
    proposed_at: datetime
    proposed_by: PersonOut | None
    decided_by: PersonOut | None = Field(description="the supervisor who confirmed or rejected it")
    decided_at: datetime | None
    decision_note: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    closed_at: datetime | None
    closed_by: PersonOut | None
    taken_down: list[int] = Field(description="listings taken down when it was confirmed")
    decision: DecisionOut | None = Field(description="the moderator's decision that proposed it")
    history: list[EventOut] = Field(description="every step, oldest first")


class EntryPage(BaseModel):
    items: list[EntryOut]
    next_cursor: str | None


class ChainOut(BaseModel):
    ok: bool
    entries: int = Field(description="entries verified (before the first broken one)")
    first_bad: int | None = Field(description="sequence number of the first broken entry")
    head_seq: int | None = Field(description="the last verified entry's sequence number")
    head_hash: str | None = Field(description="the last verified entry's hash, to record elsewhere")
    checked_at: datetime
