"""Identity API: my account, real-name verification, public profiles, the moderators' queue."""

from __future__ import annotations

from flask_babel import gettext as _

from marketplace.accounts.models import User
from marketplace.api import endpoint, id_cursor
from marketplace.credit import service as credit
from marketplace.db import db
from marketplace.errors import NotFound
from marketplace.extensions import verification_limit
from marketplace.identity import service
from marketplace.identity.schemas import (
    CreditAdjustmentIn,
    CreditDetailsOut,
    CreditEventOut,
    MeOut,
    PublicProfileOut,
    QueueItem,
    QueueOut,
    QueueQuery,
    RejectIn,
    VerificationIn,
    VerificationOut,
)


def _out(req) -> VerificationOut:
    data = service.masked(req)
    return VerificationOut(
        id=req.id,
        user_id=req.user_id,
        kind=req.kind,
        status=req.status,
        real_name=data["real_name"],
        id_number=data["id_number"],
        phone=data["phone"],
        campus=req.campus,
        submitted_at=req.submitted_at,
        decided_at=req.decided_at,
        reason=req.reason,
    )


@endpoint("/me", summary="My account: roles, verification state, credit", tags=("identity",), response=MeOut)
def get_me(*, user):
    return MeOut.model_validate(service.me(user))


@endpoint(
    "/me/verification",
    "POST",
    summary="Submit real-name verification (202 pending, 201 if decided at once)",
    tags=("identity",),
    body=VerificationIn,
    response=VerificationOut,
    status=202,
    also={201: VerificationOut},
    errors=(403, 409, 422),
    decorators=(verification_limit,),
)
def submit_verification(*, user, body: VerificationIn):
    req = service.submit(user, service.VerificationInput(**body.model_dump()))
    return _out(req), (201 if req.status == "verified" else 202)


@endpoint(
    "/users/<int:user_id>",
    summary="A user's public profile (masked)",
    tags=("identity",),
    response=PublicProfileOut,
    auth="none",
    errors=(404,),
)
def get_public_profile(*, user, user_id: int):
    return PublicProfileOut.model_validate(service.public_profile(user_id))


def _credit_event(row: dict) -> CreditEventOut:
    event = row["event"]
    return CreditEventOut(
        id=event.id,
        at=event.at,
        delta=row["counts"],
        points=event.points,
        code=event.code,
        label=str(credit.CODE_LABELS.get(event.code, event.code)),
        reason=event.reason,
        source=event.source,
        source_id=event.source_id,
        aged=row["aged"],
        overturned=row["overturned"],
    )


@endpoint(
    "/users/<int:user_id>/credit",
    summary=(
        "A user's credit score, band and every ledger event with its reason and source, newest first "
        "(the user themself, moderators, supervisors; 404 for anyone else)"
    ),
    tags=("identity", "credit"),
    response=CreditDetailsOut,
    errors=(404,),
)
def get_user_credit(*, user, user_id: int):
    details = credit.details(user, user_id)
    return CreditDetailsOut(
        score=details["score"], band=details["band"], events=[_credit_event(row) for row in details["events"]]
    )


@endpoint(
    "/users/<int:user_id>/credit/adjustments",
    "POST",
    summary="A supervisor adjusts a user's credit by hand, with a reason (audited); 201 with the ledger event",
    tags=("credit",),
    body=CreditAdjustmentIn,
    response=CreditEventOut,
    status=201,
    roles=("supervisor",),
    errors=(403, 404, 422),
)
def adjust_user_credit(*, user, user_id: int, body: CreditAdjustmentIn):
    subject = db.session.get(User, user_id)
    if subject is None:
        raise NotFound(_("找不到该用户。"))
    event = credit.adjust(user, subject, body.points, body.reason)
    return _credit_event({"event": event, "counts": event.points, "aged": False, "overturned": False})


@endpoint(
    "/moderation/verifications",
    summary="Pending verification requests, oldest first",
    tags=("moderation",),
    query=QueueQuery,
    response=QueueOut,
    roles=("moderator",),
)
def list_verifications(*, user, query: QueueQuery):
    rows = service.pending_requests(user, after_id=id_cursor(query.cursor), limit=query.limit + 1)
    page = rows[: query.limit]
    items = [
        QueueItem(
            id=r.id,
            user_id=r.user_id,
            kind=r.kind,
            submitted_at=r.submitted_at,
            real_name=r.real_name_masked,
            campus=r.campus,
        )
        for r in page
    ]
    return QueueOut(items=items, next_cursor=str(page[-1].id) if len(rows) > query.limit else None)


@endpoint(
    "/moderation/verifications/<int:verification_id>/approve",
    "POST",
    summary="Approve a verification request",
    tags=("moderation",),
    response=VerificationOut,
    roles=("moderator",),
    errors=(404, 409),
)
def approve_verification(*, user, verification_id: int):
    return _out(service.approve(user, verification_id))


@endpoint(
    "/moderation/verifications/<int:verification_id>/reject",
    "POST",
    summary="Reject a verification request with a reason",
    tags=("moderation",),
    body=RejectIn,
    response=VerificationOut,
    roles=("moderator",),
    errors=(404, 409, 422),
)
def reject_verification(*, user, verification_id: int, body: RejectIn):
    return _out(service.reject(user, verification_id, body.reason))
