"""Ratings API: rate the other party of a completed order, read a user's revealed ratings, reply, fold.

Double-blind: a rating is hidden from the other party and everyone else until both have
rated or the 14-day window has closed; the rater alone sees it meanwhile (`visible` false).
"""

from __future__ import annotations

from flask_babel import gettext as _

from marketplace.accounts.models import User
from marketplace.api import endpoint, id_cursor
from marketplace.db import db
from marketplace.errors import NotFound
from marketplace.identity.privacy import shown_name
from marketplace.orders.models import Order
from marketplace.ratings import service
from marketplace.ratings.models import Rating
from marketplace.ratings.schemas import (
    FoldIn,
    PublicRatingOut,
    RaterOut,
    RatingIn,
    RatingOut,
    RatingPage,
    RatingQuery,
    ReplyIn,
)

TAGS = ("ratings",)


def rating_out(rating: Rating) -> RatingOut:
    """A rating as one of its order's parties sees it."""
    return RatingOut(
        id=rating.id,
        order_id=rating.order_id,
        rater_role=rating.rater_role,
        scores=rating.scores,
        comment=rating.comment,
        created_at=rating.created_at,
        visible=rating.is_visible(),
        reply=rating.reply,
        replied_at=rating.replied_at,
        folded=rating.folded_at is not None,
        fold_reason=rating.fold_reason,
    )


def public_rating_out(rating: Rating) -> PublicRatingOut:
    """A rating as it shows on the rated user's profile."""
    return PublicRatingOut(
        id=rating.id,
        order_id=rating.order_id,
        rater=RaterOut(id=rating.rater.id, display_name=shown_name(rating.rater)),
        rater_role=rating.rater_role,
        scores=rating.scores,
        comment=rating.comment,
        created_at=rating.created_at,
        visible=rating.is_visible(),
        reply=rating.reply,
        replied_at=rating.replied_at,
        folded=rating.folded_at is not None,
        fold_reason=rating.fold_reason,
    )


@endpoint(
    "/orders/<int:order_id>/ratings",
    "POST",
    summary=(
        "Rate the other party of a completed order, once, within 14 days of completion: `scores` 1–5 per "
        "dimension (the buyer: `accuracy`, `communication`, `punctuality`; the seller: `punctuality`, "
        "`communication`) and an optional `comment`. Hidden (`visible` false) until both have rated or the "
        "window closes. An accuracy of 1–2 opens a report on the listing. 403 not a party; 409 rated "
        "already, window closed or order not completed; 422 bad scores (`scores.<dimension>`)."
    ),
    tags=(*TAGS, "orders"),
    body=RatingIn,
    response=RatingOut,
    status=201,
    errors=(403, 404, 409, 422),
)
def create_rating(*, user, order_id: int, body: RatingIn):
    # The contract answers 403 (not 404) to someone who is not a party: the service says why.
    order = db.session.get(Order, order_id)
    if order is None:
        raise NotFound(_("找不到该订单。"))
    return rating_out(service.rate(user, order, body.scores, body.comment))


@endpoint(
    "/users/<int:user_id>/ratings",
    summary=(
        "The revealed ratings a user received, newest first; pages by `cursor`. `rater_role` `buyer` means "
        "the user was rated as a seller. Folded ratings are listed, flagged `folded` with the moderator's "
        "`fold_reason` (show them collapsed); they do not count in the profile's summary."
    ),
    tags=TAGS,
    query=RatingQuery,
    response=RatingPage,
    auth="none",
    errors=(404, 422),
)
def list_user_ratings(*, user, user_id: int, query: RatingQuery):
    if db.session.get(User, user_id) is None:
        raise NotFound(_("找不到该用户。"))
    rows = service.revealed_of(user_id, before_id=id_cursor(query.cursor), limit=query.limit + 1)
    page = rows[: query.limit]
    return RatingPage(
        items=[public_rating_out(r) for r in page],
        next_cursor=str(page[-1].id) if len(rows) > query.limit else None,
    )


@endpoint(
    "/ratings/<int:rating_id>/reply",
    "POST",
    summary="The rated party replies publicly to a revealed rating, once (409 before reveal or a second time)",
    tags=TAGS,
    body=ReplyIn,
    response=PublicRatingOut,
    errors=(403, 404, 409, 422),
)
def reply_to_rating(*, user, rating_id: int, body: ReplyIn):
    return public_rating_out(service.reply(user, service.get(rating_id, user), body.reply))


@endpoint(
    "/ratings/<int:rating_id>/fold",
    "POST",
    summary=(
        "A moderator (not involved) folds an abusive rating with a `reason`: shown collapsed, left out of "
        "summaries, never deleted (audited). 409 if folded already."
    ),
    tags=TAGS,
    body=FoldIn,
    response=PublicRatingOut,
    errors=(403, 404, 409, 422),
)
def fold_rating(*, user, rating_id: int, body: FoldIn):
    return public_rating_out(service.fold(user, service.get(rating_id, user), body.reason))
