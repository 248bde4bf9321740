"""Order forms. The rules live in orders.service, so the pages and the API say the same thing."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, StringField, TextAreaField
from wtforms.validators import Optional

from marketplace.orders.labels import PAYMENT_LABELS


def payment_choices() -> list[SelectChoice]:
    """Cash, WeChat Pay, Alipay, other: paid face to face, never through the platform."""
    return [SelectChoice(code, label) for code, label in PAYMENT_LABELS.items()]


class RequestForm(FlaskForm):
    message = TextAreaField(_l("给卖家留言（选填）"), validators=[Optional()])
    price = StringField(_l("出价（元）"), validators=[Optional()])
    payment_method = RadioField(_l("付款方式"), choices=payment_choices, default="cash", validate_choice=False)


class AcceptForm(FlaskForm):
    price = StringField(_l("成交价（元）"), validators=[Optional()])
    payment_method = RadioField(_l("付款方式"), choices=payment_choices, default="cash", validate_choice=False)


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("原因"), validators=[Optional()])


class ResolveForm(FlaskForm):
    outcome = RadioField(
        _l("处理结果"),
        choices=[
            SelectChoice("completed", _l("交易完成：商品归买家，订单完成")),
            SelectChoice("cancelled", _l("取消订单：商品重新上架")),
        ],
        validate_choice=False,
    )
    note = TextAreaField(_l("处理意见（双方都能看到）"), validators=[Optional()])


class MessageForm(FlaskForm):
    body = TextAreaField(_l("消息"), validators=[Optional()])
