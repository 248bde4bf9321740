"""Notices: written by other features in the same transaction as what they announce.

The text is not stored: each kind has a message template here, rendered in the
reader's language with the notice's parameters when the notice is shown.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from marketplace.accounts.models import User
from marketplace.db import db, utcnow
from marketplace.notices.models import Notice

# kind → template; parameters: order (id), title (the listing's title), and the like.
TEXTS = {
    "order.requested": _l("有人想买你的“%(title)s”（订单 #%(order)s），请查看并决定是否接受。"),
    "order.accepted": _l("卖家接受了你对“%(title)s”的购买请求（订单 #%(order)s），成交价 ¥%(price)s，商品已为你预留。"),
    "order.completed": _l("订单 #%(order)s（“%(title)s”）已完成。请在 14 天内评价对方。"),
    "order.auto_completed": _l(
        "订单 #%(order)s（“%(title)s”）接受后 7 天未确认收货，已自动完成。请在 14 天内评价对方。"
    ),
    "order.cancelled": _l("订单 #%(order)s（“%(title)s”）已被对方取消，原因见订单页面。"),
    "order.declined": _l("“%(title)s”已经卖给了别人，你的购买请求（订单 #%(order)s）已自动关闭。"),
    "order.closed": _l("“%(title)s”已下架、售出或被移除，订单 #%(order)s 已随之关闭。"),
    "order.disputed": _l("对方对订单 #%(order)s（“%(title)s”）提出了纠纷，审核员会介入处理。"),
    "order.resolved": _l("审核员已处理订单 #%(order)s（“%(title)s”）的纠纷，结果见订单页面。"),
    "order.message": _l("订单 #%(order)s（“%(title)s”）有新消息。"),
    "rating.received": _l("对方已评价订单 #%(order)s。你评价对方后（或评价期结束后）双方都能看到评价。"),
    "rating.revealed": _l("订单 #%(order)s 的双方评价已公开。"),
    "rating.replied": _l("对方回复了你对订单 #%(order)s 的评价。"),
    "decision.confirmed": _l(
        "你的商品“%(title)s”被举报后经审核确认违规，已下架，信用分扣除 %(points)s 分。"
        "原因和证据见审核决定页面；如有异议，可在 %(days)s 天内申诉。"
    ),
    "decision.malicious": _l(
        "你对“%(title)s”的举报被认定为恶意举报，信用分扣除 %(points)s 分。"
        "原因见审核决定页面；如有异议，可在 %(days)s 天内申诉。"
    ),
    "report.confirmed": _l("你对“%(title)s”的举报已核实，商品已下架。感谢你帮助维护诚信交易。"),
    "report.dismissed": _l("你对“%(title)s”的举报经审核未发现违规，已结案。"),
    "blacklist.proposed": _l(
        "因审核决定，你的账户被提议列入黑名单，在市场监督员复核前暂停交易（不能发布、下单或报名活动）。"
        "原因见审核决定页面，你可以对该决定申诉。"
    ),
    "blacklist.confirmed": _l(
        "市场监督员已确认将你列入黑名单，至 %(ends)s 止；你的在售商品已下架，所有登录已退出。"
        "原因见审核决定页面，你可以对该决定申诉。"
    ),
    "blacklist.rejected": _l("市场监督员没有确认对你的黑名单提议，交易限制已解除。"),
    "blacklist.revoked": _l("你的黑名单记录已因申诉成立而撤销，交易限制已解除，下架的商品已恢复。"),
    "appeal.upheld": _l("你对审核决定 #%(decision)s 的申诉未被采纳，原决定维持，理由见审核决定页面。"),
    "appeal.overturned": _l("你对审核决定 #%(decision)s 的申诉成立：原决定已撤销，扣除的信用分已返还。"),
    "rating.folded": _l("你在订单 #%(order)s 中收到或给出的一条评价已被审核员折叠：%(reason)s"),
    "event.changed": _l("你报名的活动“%(title)s”修改了时间或地点，请查看活动页面。"),
    "event.cancelled": _l("你报名的活动“%(title)s”已被组织者取消：%(reason)s"),
    "event.promoted": _l("有摊主取消了报名，你已从候补名单转为“%(title)s”的正式摊主。签到码见“我的活动”。"),
    "event.no_show": _l(
        "你报名在“%(title)s”摆摊，但既没有提前 24 小时取消，也没有签到，按信用规则扣 %(points)s 分。"
        "如有正当原因，可在 %(days)s 天内申诉。"
    ),
    "event.no_show_appealed": _l("有摊主对“%(title)s”的缺席记录提出了申诉，请在活动管理页处理。"),
    "event.no_show_excused": _l("你对“%(title)s”缺席的申诉已被接受，扣分已撤销。"),
    "event.no_show_upheld": _l("你对“%(title)s”缺席的申诉未被接受，扣分维持，理由见报名页面。"),
    "swap.offered": _l("有人想用自己的商品换你的“%(title)s”，请查看并答复。"),
    "swap.accepted": _l("“%(title)s”的交换已成交，订单已完成，请在 14 天内评价对方。"),
    "swap.declined": _l("对方婉拒了你对“%(title)s”的交换请求。"),
    "swap.void": _l("你对“%(title)s”的交换请求已失效：其中的商品已经换给了别人或不再出售。"),
}


def notify(
    user_id: int, kind: str, *, subject_type: str | None = None, subject_id: int | None = None, **params
) -> Notice:
    """Add a notice for a user (flushed, committed with the caller's transaction)."""
    if kind not in TEXTS:
        raise ValueError(f"unknown notice kind {kind!r}")
    notice = Notice(
        user_id=user_id,
        kind=kind,
        params=params,
        subject_type=subject_type,
        subject_id=subject_id,
        created_at=utcnow(),
    )
    db.session.add(notice)
    db.session.flush()
    return notice


def has_unread(user_id: int, kind: str, subject_type: str, subject_id: int) -> bool:
    """Whether the user already has an unread notice of this kind about this subject (to avoid repeats)."""
    return (
        db.session.scalar(
            sa.select(Notice.id)
            .where(
                Notice.user_id == user_id,
                Notice.read_at.is_(None),
                Notice.kind == kind,
                Notice.subject_type == subject_type,
                Notice.subject_id == subject_id,
            )
            .limit(1)
        )
        is not None
    )


def text(notice: Notice) -> str:
    """The notice in the reader's language."""
    template = TEXTS.get(notice.kind)
    if template is None:
        return _("通知")
    try:
        return str(template) % notice.params
    except (KeyError, TypeError, ValueError):
        return str(template)


def unread_count(user: User) -> int:
    """How many notices the user has not read."""
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Notice).where(Notice.user_id == user.id, Notice.read_at.is_(None))
    )


def page(user: User, *, before_id: int | None = None, limit: int = 20, unread: bool = False) -> list[Notice]:
    """A page of the user's notices (only unread ones if `unread`), newest first (keyset: ids below `before_id`)."""
    query = sa.select(Notice).where(Notice.user_id == user.id)
    if unread:
        query = query.where(Notice.read_at.is_(None))
    if before_id is not None:
        query = query.where(Notice.id < before_id)
    return list(db.session.scalars(query.order_by(Notice.id.desc()).limit(limit)))


def mark_read(user: User, ids: list[int] | None = None) -> int:
    """Mark the user's notices read (all of them, or those in `ids`); returns how many changed."""
    query = sa.update(Notice).where(Notice.user_id == user.id, Notice.read_at.is_(None))
    if ids is not None:
        query = query.where(Notice.id.in_(ids))
    result = db.session.execute(query.values(read_at=utcnow()).execution_options(synchronize_session=False))
    return result.rowcount
