"""Identity API: my account, real-name verification, public profiles, the moderators' queue."""

from __future__ import annotations

from marketplace.api import endpoint, id_cursor
from marketplace.extensions import account_key, config_limit, limiter
from marketplace.identity import service
from marketplace.identity.schemas import (
    CreditDetailsOut,
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
    decorators=(limiter.limit(config_limit("VERIFICATION_RATE_LIMIT"), key_func=account_key),),
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


@endpoint(
    "/users/<int:user_id>/credit",
    summary=(
        "A user's credit score, band and ledger events (the user themself, moderators, supervisors; "
        "404 for anyone else). The ledger arrives with the credit feature: until then `events` is empty."
    ),
    tags=("identity", "credit"),
    response=CreditDetailsOut,
    errors=(404,),
)
def get_user_credit(*, user, user_id: int):
    return CreditDetailsOut.model_validate(service.credit_details(user, user_id))


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
