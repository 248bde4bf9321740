"""Supervision API: the black list with every entry's history, the audit chain's check, the CSV export."""

from __future__ import annotations

from marketplace.api import endpoint, id_cursor
from marketplace.db import utcnow
from marketplace.identity.privacy import shown_name
from marketplace.supervision import service
from marketplace.supervision.export import export_response
from marketplace.supervision.schemas import (
    AppealOut,
    BlacklistQuery,
    ChainOut,
    DecisionOut,
    EntryOut,
    EntryPage,
    EventOut,
    FilterQuery,
    PersonOut,
    SubjectOut,
)

TAGS = ("supervision",)


def _person(user) -> PersonOut | None:
    return PersonOut(id=user.id, display_name=shown_name(user)) if user is not None else None


def _decision(row: service.Row) -> DecisionOut | None:
    decision, appeal = row.decision, row.appeal
    if decision is None:
        return None
    return DecisionOut(
        id=decision.id,
        report_id=decision.report_id,
        listing_id=decision.listing_id,
        outcome=decision.outcome,
        violation=decision.violation,
        note=decision.note,
        decider=_person(decision.decider),
        created_at=decision.created_at,
        appeal=AppealOut(
            id=appeal.id,
            status=appeal.status,
            reason=appeal.reason,
            created_at=appeal.created_at,
            decider=_person(appeal.decider),
            note=appeal.note,
            decided_at=appeal.decided_at,
        )
        if appeal is not None
        else None,
    )


def entry_out(row: service.Row, history: list[service.Event], now) -> EntryOut:
    """An entry as supervisors read it: masked names only, its decision, appeal and history."""
    entry = row.entry
    return EntryOut(
        id=entry.id,
        user=SubjectOut(id=entry.user_id, display_name=shown_name(entry.user), real_name_masked=row.real_name_masked),
        reason=entry.reason,
        status=entry.status,
        state=entry.state(now),
        proposed_at=entry.proposed_at,
        proposed_by=_person(entry.proposed_by),
        decided_by=_person(entry.decided_by),
        decided_at=entry.decided_at,
        decision_note=entry.decision_note,
        starts_at=entry.starts_at,
        ends_at=entry.ends_at,
        closed_at=entry.closed_at,
        closed_by=_person(entry.closed_by),
        taken_down=list(entry.taken_down or []),
        decision=_decision(row),
        history=[
            EventOut(at=e.at, kind=e.kind, actor=_person(e.actor), details=e.details, audit_seq=e.audit_seq)
            for e in history
        ],
    )


@endpoint(
    "/supervision/blacklist",
    summary=(
        "Every black-list entry, newest first, with its decision, appeal, deciders and history (proposal, "
        "review, listings taken down, appeal, revocation or expiry, each with its audit entry). Filters: "
        "`proposed_from`/`proposed_to` (YYYY-MM-DD, Asia/Shanghai days, inclusive), `reason`, `state` (now). "
        "Supervisors only."
    ),
    tags=TAGS,
    query=BlacklistQuery,
    response=EntryPage,
    roles=("supervisor",),
)
def supervision_blacklist(*, user, query: BlacklistQuery):
    filters = service.clean_filters(query.model_dump(include=set(service.FILTER_FIELDS)))
    now = utcnow()
    found = service.blacklist_entries(user, filters, before_id=id_cursor(query.cursor), limit=query.limit + 1, now=now)
    page = found[: query.limit]
    rows = service.rows_for(page)
    histories = service.histories(rows, now)
    return EntryPage(
        items=[entry_out(row, histories[row.entry.id], now) for row in rows],
        next_cursor=str(page[-1].id) if len(found) > query.limit else None,
    )


@endpoint(
    "/supervision/audit/verify",
    summary=(
        "Verify the audit log's hash chain now: `ok`, the entries verified, the first broken entry's `first_bad` "
        "sequence number, and the head (`head_seq`, `head_hash`: the last verified entry) to record elsewhere. "
        "Supervisors only."
    ),
    tags=TAGS,
    response=ChainOut,
    roles=("supervisor",),
)
def verify_audit_chain(*, user):
    check = service.check_chain(user)
    return ChainOut(
        ok=check.ok,
        entries=check.entries,
        first_bad=check.first_bad,
        head_seq=check.head_seq,
        head_hash=check.head_hash,
        checked_at=check.checked_at,
    )


@endpoint(
    "/supervision/export/blacklist.csv",
    summary=(
        "The black-list entries matching the filters as CSV (UTF-8 with a byte-order mark, a header row, cells "
        "that a spreadsheet would run as formulas prefixed with '). The export is audited. Supervisors only."
    ),
    tags=TAGS,
    query=FilterQuery,
    roles=("supervisor",),
    content_type="text/csv",
)
def export_blacklist_csv(*, user, query: FilterQuery):
    service.require_supervisor(user)
    filters = service.clean_filters(query.model_dump())
    return export_response(user, "csv", filters)
