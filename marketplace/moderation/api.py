"""Moderation API: reporting a listing, the moderators' report list, inspectors' certifications."""

from __future__ import annotations

from marketplace.api import endpoint, id_cursor
from marketplace.moderation import certification, service
from marketplace.moderation.schemas import (
    CertificationIn,
    CertificationOut,
    PageQuery,
    ReportIn,
    ReportItem,
    ReportOut,
    ReportPage,
)


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
    tags=("moderation",),
    body=ReportIn,
    response=ReportOut,
    status=201,
    errors=(403, 404, 409, 422),
)
def create_report(*, user, listing_id: int, body: ReportIn):
    return _report_out(service.report_listing(user, listing_id, body.reason, body.detail))


@endpoint(
    "/moderation/reports",
    summary="Open reports, newest first (the risk ordering comes with the moderation work)",
    tags=("moderation",),
    query=PageQuery,
    response=ReportPage,
    roles=("moderator",),
)
def list_reports(*, user, query: PageQuery):
    rows = service.open_reports(user, before_id=id_cursor(query.cursor), limit=query.limit + 1)
    page = rows[: query.limit]
    items = [
        ReportItem(id=r.id, listing_id=r.listing_id, reason=r.reason, source=r.source, created_at=r.created_at)
        for r in page
    ]
    return ReportPage(items=items, next_cursor=str(page[-1].id) if len(rows) > query.limit else None)


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
