"""The message thread between the two parties of an order: plain text, one notice per thread."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from marketplace.accounts.models import User
from marketplace.db import db, utcnow
from marketplace.errors import Conflict, Forbidden, NotFound
from marketplace.notices.service import has_unread
from marketplace.orders import service
from marketplace.orders.labels import STATUS_LABELS
from marketplace.orders.models import MESSAGING, Order, OrderMessage
from marketplace.text import clean_plain

MESSAGE_MAX = 1000


def thread(user: User, order: Order) -> list[OrderMessage]:
    """The order's message thread, oldest first (parties and moderators)."""
    if not service.can_view(user, order):
        raise NotFound(_("找不到该订单。"))
    return list(
        db.session.scalars(sa.select(OrderMessage).where(OrderMessage.order_id == order.id).order_by(OrderMessage.id))
    )


def post(user: User, order: Order, body: str | None) -> OrderMessage:
    """A party writes to the other (plain text; no full phone or ID numbers)."""
    if order.party(user) is None:
        raise Forbidden(_("只有买卖双方可以在订单中发消息。"))
    if user.status != "active":
        raise Forbidden(_("该账户已停用或注销，不能发消息。"))
    if order.status not in MESSAGING:
        raise Conflict(_("订单%(status)s，不能再发消息。", status=STATUS_LABELS[order.status]))
    errors: dict[str, list[str]] = {}
    text = clean_plain(body, field="body", errors=errors, max_len=MESSAGE_MAX, required=_("请输入消息内容"))
    service.refuse(errors)
    message = OrderMessage(order_id=order.id, sender_id=user.id, body=text, created_at=utcnow())
    db.session.add(message)
    db.session.flush()
    other = order.counterparty_id(user)
    # One unread notice per thread is enough: the order page shows every message.
    if not has_unread(other, "order.message", "order", order.id):
        service.tell(other, "order.message", order)
    return message
