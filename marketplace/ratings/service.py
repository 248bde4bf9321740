"""Ratings: double-blind, once per party and completed order, within the rating window.

A rating is hidden from both parties and everyone else until both have rated or
the window has closed (`Rating.visible_from`). The buyer rates the seller on
description accuracy (描述相符), communication and punctuality; the seller rates the
buyer on punctuality and communication. An accuracy of 1 or 2 opens a report on the
listing with the rating as evidence. Ratings are never deleted: a moderator may fold
an abusive one (audited). Services flush, never commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from marketplace.accounts.models import User
from marketplace.audit.service import record
from marketplace.credit import service as credit
from marketplace.credit.policy import policy
from marketplace.db import db, utcnow
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.moderation.service import open_system_report
from marketplace.notices.service import notify
from marketplace.orders import service as orders
from marketplace.orders.models import Order
from marketplace.ratings.models import DIMENSIONS, Rating
from marketplace.text import clean_plain

WINDOW = timedelta(days=14)
COMMENT_MAX = 500
REPLY_MAX = 500
FOLD_REASON_MAX = 200
# An accuracy at or below this opens a "not as described" report on the listing.
REPORT_AT_ACCURACY = 2

DIMENSION_LABELS = {
    "accuracy": _l("描述相符"),
    "communication": _l("沟通"),
    "punctuality": _l("守时"),
}
ROLE_LABELS = {"buyer": _l("买家评价卖家"), "seller": _l("卖家评价买家")}


# --- who may do what ----------------------------------------------------------------------


def deadline(order: Order) -> datetime | None:
    """When the rating window of a completed order closes."""
    return order.completed_at + WINDOW if order.completed_at else None


def is_moderator(user: User | None) -> bool:
    """Active moderators fold abusive ratings."""
    return bool(user and user.status == "active" and user.has_role("moderator"))


def rating_by(order: Order, user: User) -> Rating | None:
    """The rating `user` gave on `order`, if any."""
    return db.session.scalar(sa.select(Rating).where(Rating.order_id == order.id, Rating.rater_id == user.id))


def can_rate(user: User | None, order: Order, now: datetime | None = None) -> bool:
    """Whether `user` may rate on `order` now: a party, completed, within the window, not yet rated."""
    try:
        _check_can_rate(user, order, now or utcnow())
    except (Forbidden, Conflict):
        return False
    return True


def _check_can_rate(user: User | None, order: Order, now: datetime) -> str:
    party = order.party(user)
    if party is None:
        raise Forbidden(_("只有该订单的买卖双方可以评价。"))
    if user.status != "active":
        raise Forbidden(_("该账户已停用或注销，不能评价。"))
    if order.status != "completed":
        raise Conflict(_("订单完成后才能评价。"))
    if now > deadline(order):
        raise Conflict(_("评价期（订单完成后 14 天）已结束，不能再评价。"))
    if rating_by(order, user) is not None:
        raise Conflict(_("你已经评价过这个订单，每笔订单只能评价一次。"))
    return party


# --- input --------------------------------------------------------------------------------------


def _clean_scores(role: str, scores, errors: dict[str, list[str]]) -> dict[str, int]:
    wanted = DIMENSIONS[role]
    if not isinstance(scores, dict):
        errors["scores"] = [_("请为每一项打分（1–5 分）")]
        return {}
    clean: dict[str, int] = {}
    for name in wanted:
        value = scores.get(name)
        # A form posts the score as text: only the five digits themselves are scores.
        if isinstance(value, str) and value.strip() in ("1", "2", "3", "4", "5"):
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
            errors[f"scores.{name}"] = [_("请为“%(name)s”打 1–5 分", name=DIMENSION_LABELS[name])]
        else:
            clean[name] = value
    for name in scores:
        if name not in wanted:
            errors[f"scores.{name}"] = [_("这一项不需要打分")]
    return clean


# --- rating -----------------------------------------------------------------------------------------


def rate(rater: User, order: Order, scores, comment: str | None = None) -> Rating:
    """Rate the other party of a completed order: 403 not a party, 409 twice or too late, 422 bad scores."""
    if order.party(rater) is None:
        raise Forbidden(_("只有该订单的买卖双方可以评价。"))
    # The order's row lock serialises the two parties: the second sees the first and reveals both.
    order = orders.lock(order.id)
    orders.settle(order)
    now = utcnow()
    role = _check_can_rate(rater, order, now)
    errors: dict[str, list[str]] = {}
    clean = _clean_scores(role, scores, errors)
    text = clean_plain(comment, field="comment", errors=errors, max_len=COMMENT_MAX)
    if errors:
        raise Invalid(_("评价有误，请检查标出的项目。"), errors=errors)
    other = rating_by_other(order, rater)
    rating = Rating(
        order_id=order.id,
        rater_id=rater.id,
        ratee_id=order.counterparty_id(rater),
        rater_role=role,
        comment=text,
        created_at=now,
        visible_from=now if other is not None else deadline(order),
        **clean,
    )
    try:
        with db.session.begin_nested():
            db.session.add(rating)
            db.session.flush()
    except sa.exc.IntegrityError:
        raise Conflict(_("你已经评价过这个订单，每笔订单只能评价一次。")) from None
    if other is not None:
        other.visible_from = now
        db.session.flush()
        for user_id in (order.buyer_id, order.seller_id):
            notify(user_id, "rating.revealed", subject_type="order", subject_id=order.id, order=order.id)
        # Rewards only now: a credit change before the reveal would tell how the other party rated.
        credit_revealed([other, rating])
    else:
        notify(rating.ratee_id, "rating.received", subject_type="order", subject_id=order.id, order=order.id)
    if role == "buyer" and rating.accuracy <= REPORT_AT_ACCURACY:
        _report_not_as_described(order, rating)
    return rating


def rating_by_other(order: Order, user: User) -> Rating | None:
    """The rating the other party gave on `order` (whether or not it is revealed yet)."""
    return db.session.scalar(sa.select(Rating).where(Rating.order_id == order.id, Rating.rater_id != user.id))


def _report_not_as_described(order: Order, rating: Rating) -> None:
    # Moderators read the report now; the seller sees the rating only when it is revealed.
    open_system_report(
        order.listing,
        "other",
        "rating",
        {"rating_id": rating.id, "order_id": order.id, "accuracy": rating.accuracy, "comment": rating.comment},
        detail=f"描述不符：买家对“描述相符”打了 {rating.accuracy} 分（订单 #{order.id}）",
    )


def reply(user: User, rating: Rating, text: str | None) -> Rating:
    """The rated party replies publicly, once, after the rating is revealed."""
    if user.id != rating.ratee_id:
        raise Forbidden(_("只有被评价的一方可以回复。"))
    if user.status != "active":
        raise Forbidden(_("该账户已停用或注销，不能回复。"))
    rating = _lock(rating.id)
    if not rating.is_visible():
        raise Conflict(_("评价公开后才能回复。"))
    if rating.reply is not None:
        raise Conflict(_("每条评价只能回复一次。"))
    errors: dict[str, list[str]] = {}
    body = clean_plain(text, field="reply", errors=errors, max_len=REPLY_MAX, required=_("请输入回复内容"))
    if errors:
        raise Invalid(_("回复有误，请检查标出的项目。"), errors=errors)
    rating.reply = body
    rating.replied_at = utcnow()
    db.session.flush()
    notify(rating.rater_id, "rating.replied", subject_type="order", subject_id=rating.order_id, order=rating.order_id)
    return rating


def may_moderate(user: User | None, rating: Rating) -> bool:
    """Moderators who are neither the rater nor the rated party (they would see a hidden rating of their own)."""
    return is_moderator(user) and user.id not in (rating.rater_id, rating.ratee_id)


def fold(moderator: User, rating: Rating, reason: str | None) -> Rating:
    """A moderator folds an abusive rating with a reason: shown collapsed, left out of summaries, audited."""
    if not is_moderator(moderator):
        raise Forbidden(_("只有审核员可以折叠评价。"))
    if not may_moderate(moderator, rating):
        raise Forbidden(_("不能处理与自己有关的评价。"))
    rating = _lock(rating.id)
    if rating.folded_at is not None:
        raise Conflict(_("这条评价已被折叠。"))
    errors: dict[str, list[str]] = {}
    why = clean_plain(reason, field="reason", errors=errors, max_len=FOLD_REASON_MAX, required=_("请写明折叠的原因"))
    if errors:
        raise Invalid(_("请检查标出的项目。"), errors=errors)
    rating.folded_at = utcnow()
    rating.folded_by_id = moderator.id
    rating.fold_reason = why
    db.session.flush()
    record(
        "rating.folded",
        actor=moderator,
        subject_type="rating",
        subject_id=rating.id,
        data={"order_id": rating.order_id, "rater_id": rating.rater_id, "ratee_id": rating.ratee_id, "reason": why},
    )
    # The rated party hears of it only once the rating is revealed to them anyway (double-blind).
    told = (rating.rater_id, rating.ratee_id) if rating.is_visible() else (rating.rater_id,)
    for user_id in told:
        notify(
            user_id,
            "rating.folded",
            subject_type="order",
            subject_id=rating.order_id,
            order=rating.order_id,
            reason=why,
        )
    return rating


def _lock(rating_id: int) -> Rating:
    return db.session.scalars(
        sa.select(Rating)
        .where(Rating.id == rating_id)
        .with_for_update(of=Rating)
        .execution_options(populate_existing=True)
    ).one()


# --- reading --------------------------------------------------------------------------------------------


def get(rating_id: int, viewer: User | None = None) -> Rating:
    """A rating that is revealed, or one the viewer gave; moderators see any (NotFound otherwise)."""
    rating = db.session.get(Rating, rating_id)
    if rating is None:
        raise NotFound(_("找不到该评价。"))
    if rating.is_visible() or (viewer is not None and (viewer.id == rating.rater_id or may_moderate(viewer, rating))):
        return rating
    raise NotFound(_("找不到该评价。"))


def for_order(viewer: User, order: Order) -> dict:
    """The two ratings of an order as `viewer` may see them: their own, and the other's once revealed."""
    ratings = list(db.session.scalars(sa.select(Rating).where(Rating.order_id == order.id)))
    now = utcnow()
    party = order.party(viewer)
    mine = next((r for r in ratings if r.rater_id == viewer.id), None)
    theirs = next((r for r in ratings if r.rater_id != viewer.id), None) if party else None
    by_role = {r.rater_role: r for r in ratings}
    return {
        "mine": mine,
        "theirs": theirs if theirs is not None and theirs.is_visible(now) else None,
        # Moderators are not parties: they see what everyone sees once revealed.
        "revealed": [r for r in ratings if r.is_visible(now)] if party is None else [],
        "they_rated": theirs is not None,
        "by_role": by_role if party is None else {},
        "deadline": deadline(order),
        "can_rate": party is not None and can_rate(viewer, order, now),
    }


def revealed_of(user_id: int, *, before_id: int | None = None, limit: int = 20) -> list[Rating]:
    """A page of the revealed ratings a user received, newest first (folded ones included, marked)."""
    query = sa.select(Rating).where(Rating.ratee_id == user_id, Rating.visible_from <= utcnow())
    if before_id is not None:
        query = query.where(Rating.id < before_id)
    return list(db.session.scalars(query.order_by(Rating.id.desc()).limit(limit)))


# --- credit for good ratings, once revealed ------------------------------------------------------


def is_good(rating: Rating) -> bool:
    """A rating whose scores average at least the policy's bar for a reward (4)."""
    scores = list(rating.scores.values())
    return sum(scores) / len(scores) >= policy()["rewards"]["good_rating"]["min_average"]


def credit_revealed(ratings) -> int:
    """Reward the rated party of each good, unfolded, revealed rating (once each, within the cap); returns how many."""
    paid = 0
    # Users are locked in id order, so two reveals between the same two people cannot deadlock.
    for rating in sorted(ratings, key=lambda r: r.ratee_id):
        if rating.folded_at is not None or not rating.is_visible() or not is_good(rating):
            continue
        ratee = db.session.get(User, rating.ratee_id)
        reason = f"订单 #{rating.order_id} 获得对方好评。"
        paid += credit.reward(ratee, "good_rating", source="rating", source_id=rating.id, reason=reason) is not None
    return paid


def unrewarded_revealed(now=None, limit: int = 1000) -> list[Rating]:
    """Good candidates for a reward whose window closed with one rating only (the maintenance command pays them).

    When both parties rated, the reward was decided at the reveal (paid, or refused by the
    cap): those orders are left out, so a refused reward is not paid later. Lone ratings are
    considered for one reward period after their reveal (maintenance runs hourly), so one
    the cap refused is not paid months later and refused ones never pile up.
    """
    from marketplace.credit.models import CreditEvent

    now = now or utcnow()
    other = sa.orm.aliased(Rating)
    both_rated = sa.exists().where(other.order_id == Rating.order_id, other.id != Rating.id)
    paid = sa.select(CreditEvent.source_id).where(CreditEvent.source == "rating", CreditEvent.code == "good_rating")
    return list(
        db.session.scalars(
            sa.select(Rating)
            .where(
                Rating.visible_from <= now,
                Rating.visible_from > now - timedelta(days=policy()["rewards"]["good_rating"]["period_days"]),
                Rating.folded_at.is_(None),
                Rating.id.not_in(paid),
                ~both_rated,
                # Good ones only (the average of the rater role's dimensions at the bar), in SQL.
                sa.func.coalesce(Rating.accuracy, 0) + Rating.communication + Rating.punctuality
                >= sa.case((Rating.rater_role == "buyer", 3), else_=2)
                * policy()["rewards"]["good_rating"]["min_average"],
            )
            .order_by(Rating.id)
            .limit(limit)
        )
    )
