"""Moderation API: reports and the risk queue, decisions, appeals, flagged sellers, inspectors' certifications.

The report queue and the flagged sellers are computed as a whole (ordered by risk and
seriousness), so their cursors are opaque offsets into that order; appeals page by id.
"""

from __future__ import annotations

from marketplace.api import endpoint, id_cursor
from marketplace.db import utcnow
from marketplace.extensions import report_limit
from marketplace.identity.privacy import shown_name
from marketplace.moderation import appeals, certification, decisions, flagged, risk, service
from marketplace.moderation.schemas import (
    AppealDecisionIn,
    AppealIn,
    AppealOut,
    AppealPage,
    AppealRef,
    CertificationIn,
    CertificationOut,
    DecisionCreditEvent,
    DecisionDetailOut,
    DecisionIn,
    DecisionOut,
    EntryBrief,
    EntryRef,
    FlaggedOut,
    FlaggedPage,
    OffsetPageQuery,
    PageQuery,
    QueueFactor,
    ReportIn,
    ReportItem,
    ReportOut,
    ReportPage,
)

TAGS = ("moderation",)


def _report_out(report) -> ReportOut:
    return ReportOut(
        id=report.id,
        listing_id=report.listing_id,
        reason=report.reason,
        source=report.source,
        status=report.status,
        created_at=report.created_at,
    )


@endpoint(
    "/listings/<int:listing_id>/reports",
    "POST",
    summary="Report a listing (one open report per reporter and listing)",
    tags=TAGS,
    body=ReportIn,
    response=ReportOut,
    status=201,
    errors=(403, 404, 409, 422),
    decorators=(report_limit,),
)
def create_report(*, user, listing_id: int, body: ReportIn):
    return _report_out(service.report_listing(user, listing_id, body.reason, body.detail))


def _offset_page(rows: list, cursor: str | None, limit: int) -> tuple[list, str | None]:
    """One page of a computed list and the cursor of the next (an offset, opaque to clients)."""
    # Same digits-only parsing and 422 as an id cursor.
    start = id_cursor(cursor) or 0
    end = start + limit
    return rows[start:end], (str(end) if end < len(rows) else None)


@endpoint(
    "/moderation/reports",
    summary=(
        "Open reports in the queue's order: the riskiest listing first (ties: its oldest report first), each "
        "report with its listing's `risk` and the `factors` that made it; a listing's reports follow one another. "
        "Reports on the caller's own listings, or on listings they reported, are left out."
    ),
    tags=TAGS,
    query=OffsetPageQuery,
    response=ReportPage,
    roles=("moderator",),
)
def list_reports(*, user, query: OffsetPageQuery):
    rows = [
        ReportItem(
            id=report.id,
            listing_id=report.listing_id,
            reason=report.reason,
            source=report.source,
            created_at=report.created_at,
            risk=item.risk,
            factors=[QueueFactor(code=code, points=points) for code, points in item.factors],
        )
        for item in risk.queue(user)
        for report in item.reports
    ]
    page, next_cursor = _offset_page(rows, query.cursor, query.limit)
    return ReportPage(items=page, next_cursor=next_cursor)


def _credit_events(events) -> list[DecisionCreditEvent]:
    return [DecisionCreditEvent(id=e.id, delta=e.points, reason=e.reason, code=e.code) for e in events]


def _decision_fields(decision, events) -> dict:
    # No reporter ids: the penalised seller reads this too.
    return {
        "id": decision.id,
        "report_id": decision.report_id,
        "listing_id": decision.listing_id,
        "outcome": decision.outcome,
        "violation": decision.violation,
        "note": decision.note,
        "penalised_id": decision.penalised_id,
        "took_down": decision.took_down,
        "created_at": decision.created_at,
        "credit_events": _credit_events(events),
    }


@endpoint(
    "/moderation/reports/<int:report_id>/decision",
    "POST",
    summary=(
        "Decide an open report: `dismissed`, `confirmed` with the `violation` (the policy's penalty is recorded, "
        "every open report on the listing closes, the listing is taken down, a black-list entry may be proposed) "
        "or `malicious` (the reporter is penalised). 403 for a report on one's own listing or one filed oneself; "
        "409 when it was decided already."
    ),
    tags=TAGS,
    body=DecisionIn,
    response=DecisionOut,
    roles=("moderator",),
    errors=(403, 404, 409, 422),
)
def decide_report(*, user, report_id: int, body: DecisionIn):
    decision = decisions.decide(user, report_id, body.outcome, body.violation, body.note)
    entry = decision.blacklist_entry
    return DecisionOut(
        **_decision_fields(decision, decision.credit_events),
        blacklist_entry=EntryRef(id=entry.id, status=entry.status) if entry is not None else None,
    )


@endpoint(
    "/decisions/<int:decision_id>",
    summary=(
        "A decision, for the penalised person, moderators and supervisors (404 for anyone else): its ledger "
        "events (with any compensations), the black-list entries it proposed, its appeal, the appeal deadline and "
        "whether the caller may appeal now"
    ),
    tags=TAGS,
    response=DecisionDetailOut,
    errors=(404,),
)
def get_decision(*, user, decision_id: int):
    decision = decisions.get(user, decision_id)
    now = utcnow()
    appeal = decision.appeal
    return DecisionDetailOut(
        **_decision_fields(decision, decisions.credit_events_of(decision)),
        blacklist_entries=[
            EntryBrief(id=e.id, status=e.state(now), reason=e.reason) for e in decisions.entries_of(decision)
        ],
        appeal=AppealRef(id=appeal.id, status=appeal.status) if appeal is not None else None,
        appeal_deadline=appeals.deadline(decision) if decision.penalised_id is not None else None,
        can_appeal=appeals.why_not_appeal(user, decision, now) is None,
    )


def _appeal_out(appeal) -> AppealOut:
    return AppealOut(
        id=appeal.id,
        decision_id=appeal.decision_id,
        status=appeal.status,
        reason=appeal.reason,
        created_at=appeal.created_at,
        decider_id=appeal.decider_id,
        note=appeal.note,
        decided_at=appeal.decided_at,
    )


@endpoint(
    "/decisions/<int:decision_id>/appeal",
    "POST",
    summary=(
        "The penalised person appeals a decision, once, within the policy's days (15), with a `reason`; someone "
        "other than the original decider decides. 403 for anyone else or once the deadline passed; 409 when the "
        "decision was appealed already."
    ),
    tags=TAGS,
    body=AppealIn,
    response=AppealOut,
    status=201,
    errors=(403, 404, 409, 422),
)
def file_appeal(*, user, decision_id: int, body: AppealIn):
    return _appeal_out(appeals.file(user, decision_id, body.reason))


@endpoint(
    "/moderation/appeals",
    summary="Pending appeals the caller may decide (not of their own decisions), oldest first; pages by `cursor`",
    tags=TAGS,
    query=PageQuery,
    response=AppealPage,
    roles=("moderator", "supervisor"),
)
def list_appeals(*, user, query: PageQuery):
    rows = appeals.pending(user, before_id=id_cursor(query.cursor), limit=query.limit + 1)
    page = rows[: query.limit]
    return AppealPage(
        items=[_appeal_out(a) for a in page], next_cursor=str(page[-1].id) if len(rows) > query.limit else None
    )


@endpoint(
    "/appeals/<int:appeal_id>/decision",
    "POST",
    summary=(
        "A moderator other than the original decider, or a supervisor, decides a pending appeal: `upheld` or "
        "`overturned` (compensating ledger events, revoked black-list entries, the listing back on sale), with a "
        "`note` the appellant reads. 403 for the original decider; 409 when it was decided already."
    ),
    tags=TAGS,
    body=AppealDecisionIn,
    response=AppealOut,
    roles=("moderator", "supervisor"),
    errors=(403, 404, 409, 422),
)
def decide_appeal(*, user, appeal_id: int, body: AppealDecisionIn):
    return _appeal_out(appeals.decide(user, appeal_id, body.outcome, body.note))


@endpoint(
    "/moderation/flagged",
    summary=(
        "Flagged sellers, most serious first: several standing violations, several open reports or a sharp fall "
        "of their score, with their black-list entry in force if any"
    ),
    tags=TAGS,
    query=OffsetPageQuery,
    response=FlaggedPage,
    roles=("moderator",),
)
def list_flagged(*, user, query: OffsetPageQuery):
    rows = [
        FlaggedOut(
            user_id=item.user.id,
            display_name=shown_name(item.user),
            violations=item.violations,
            open_reports=item.open_reports,
            fall=item.fall,
            reasons=item.reasons,
            entry=EntryRef(id=item.entry.id, status=item.entry.status) if item.entry is not None else None,
        )
        for item in flagged.flagged(user)
    ]
    page, next_cursor = _offset_page(rows, query.cursor, query.limit)
    return FlaggedPage(items=page, next_cursor=next_cursor)


@endpoint(
    "/listings/<int:listing_id>/certification",
    "POST",
    summary=(
        "Certify a listing's grade with the inspector's own checklist; a grade two or more steps "
        "below the declared one opens a report automatically (`report_id`)"
    ),
    tags=("moderation", "listings"),
    body=CertificationIn,
    response=CertificationOut,
    status=201,
    roles=("inspector",),
    errors=(404, 409, 422),
)
def certify_listing(*, user, listing_id: int, body: CertificationIn):
    cert = certification.certify(user, listing_id, body.grading)
    return CertificationOut(
        id=cert.id,
        listing_id=cert.listing_id,
        grade=cert.grade,
        inspector_id=cert.inspector_id,
        created_at=cert.created_at,
        report_id=cert.opened_report.id if cert.opened_report is not None else None,
    )
