"""Lists API: the public red and black boards (masked names only) and supervisors confirming or rejecting entries."""

from __future__ import annotations

from marketplace.api import endpoint, id_cursor
from marketplace.trust import redlist, service
from marketplace.trust.schemas import (
    BlackBoardPage,
    BlackBoardRow,
    BoardQuery,
    EntryConfirmIn,
    EntryRejectIn,
    EntryReviewedOut,
    RedListEntryOut,
    RedListOut,
)

TAGS = ("trust",)


@endpoint(
    "/trust/red",
    summary=(
        "The current red list (the newest edition): sellers meeting the published rule, in rank order, with "
        "masked names; sellers withdrawn since (a confirmed violation) are left out"
    ),
    tags=TAGS,
    response=RedListOut,
    auth="none",
)
def get_red_list(*, user):
    edition = redlist.current()
    if edition is None:
        return RedListOut(id=None, period=None, computed_at=None, entries=[])
    names = service.masked_names(entry.user for entry in redlist.standing(edition))
    return RedListOut(
        id=edition.id,
        period=edition.period,
        computed_at=edition.computed_at,
        entries=[
            RedListEntryOut(
                position=entry.position,
                user_id=entry.user_id,
                display_name=names[entry.user_id],
                score=entry.score,
                sales=entry.sales,
                ratings=entry.ratings,
                average=round(entry.average_centi / 100, 2),
            )
            for entry in redlist.standing(edition)
        ],
    )


@endpoint(
    "/trust/black",
    summary=(
        "The black list: entries confirmed and in force, newest first, with a masked name, the reason category "
        "and the dates; pages by `cursor`"
    ),
    tags=TAGS,
    query=BoardQuery,
    response=BlackBoardPage,
    auth="none",
)
def list_black_list(*, user, query: BoardQuery):
    rows = service.board(before_id=id_cursor(query.cursor), limit=query.limit + 1)
    page = rows[: query.limit]
    return BlackBoardPage(
        items=[BlackBoardRow(**row) for row in service.public_rows(page)],
        next_cursor=str(page[-1].id) if len(rows) > query.limit else None,
    )


def _reviewed(entry) -> EntryReviewedOut:
    return EntryReviewedOut(id=entry.id, status=entry.status, starts_at=entry.starts_at, ends_at=entry.ends_at)


@endpoint(
    "/trust/black/<int:entry_id>/confirm",
    "POST",
    summary=(
        "A supervisor other than the proposer confirms a proposed entry, optionally with a `note`: it starts now, "
        "the user's listings on sale come down and their sessions end. 403 for the proposer; 409 when the entry "
        "is no longer pending."
    ),
    tags=TAGS,
    body=EntryConfirmIn,
    response=EntryReviewedOut,
    roles=("supervisor",),
    errors=(403, 404, 409, 422),
)
def confirm_blacklist_entry(*, user, entry_id: int, body: EntryConfirmIn):
    return _reviewed(service.confirm(user, entry_id, body.note))


@endpoint(
    "/trust/black/<int:entry_id>/reject",
    "POST",
    summary=(
        "A supervisor other than the proposer rejects a proposed entry with a `note` (the user is told): the "
        "suspension ends. 403 for the proposer; 409 when the entry is no longer pending."
    ),
    tags=TAGS,
    body=EntryRejectIn,
    response=EntryReviewedOut,
    roles=("supervisor",),
    errors=(403, 404, 409, 422),
)
def reject_blacklist_entry(*, user, entry_id: int, body: EntryRejectIn):
    return _reviewed(service.reject(user, entry_id, body.note))
