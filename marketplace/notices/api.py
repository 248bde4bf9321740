"""Notices API: what happened to my orders and ratings, and marking notices read."""

from __future__ import annotations

from marketplace.api import endpoint, id_cursor
from marketplace.notices import service
from marketplace.notices.models import Notice
from marketplace.notices.schemas import MarkedOut, MarkReadIn, NoticeOut, NoticePage, NoticeQuery

TAGS = ("notices",)


def _out(notice: Notice) -> NoticeOut:
    return NoticeOut(
        id=notice.id,
        kind=notice.kind,
        text=service.text(notice),
        subject_type=notice.subject_type,
        subject_id=notice.subject_id,
        created_at=notice.created_at,
        read=notice.read_at is not None,
    )


@endpoint(
    "/me/notices",
    summary=(
        "My notices, newest first (only the unread ones with `unread=true`); pages by `cursor`. "
        "`unread` in the answer counts all my unread notices."
    ),
    tags=TAGS,
    query=NoticeQuery,
    response=NoticePage,
    errors=(422,),
)
def list_my_notices(*, user, query: NoticeQuery):
    rows = service.page(user, before_id=id_cursor(query.cursor), limit=query.limit + 1, unread=query.unread)
    page = rows[: query.limit]
    return NoticePage(
        items=[_out(n) for n in page],
        next_cursor=str(page[-1].id) if len(rows) > query.limit else None,
        unread=service.unread_count(user),
    )


@endpoint(
    "/me/notices/read",
    "POST",
    summary="Mark my notices read: those in `ids` (others' ids are ignored), or all of them; answers how many changed",
    tags=TAGS,
    body=MarkReadIn,
    response=MarkedOut,
    errors=(422,),
)
def mark_notices_read(*, user, body: MarkReadIn):
    return MarkedOut(marked=service.mark_read(user, body.ids))
