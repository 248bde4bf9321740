"""Order forms. The rules live in orders.service, so the pages and the API say the same thing."""

from __future__ import annotations

import re

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


# Digits with what people put between them; a run holding 11 or more digits may be a phone or ID number.
# \d is any script's decimal digit (str patterns are Unicode): Arabic-Indic or full-width digits too.
_NUMBER_RUN = re.compile(r"\d[\d\s\-‐-―−.·•・_/()（）]*[\dXx]")


def mask_numbers(text: str | None) -> str:
    """Typed text to show again after a refusal, with long numbers starred (the rest kept as typed).

    A message refused for holding a phone or ID number goes back into the form for the
    writer to fix; the number itself is not sent back in full.
    """

    def star(match: re.Match) -> str:
        run = match.group(0)
        digits = [i for i, c in enumerate(run) if c.isdecimal() or c in "Xx"]
        if len(digits) < 11:
            return run
        hide = set(digits[3:-4])
        return "".join("*" if i in hide else c for i, c in enumerate(run))

    return _NUMBER_RUN.sub(star, text or "")
