"""Event forms. The rules live in events.service, swaps and settlement, so the pages and the API agree.

Times are typed in `<input type="datetime-local">` fields, in Beijing time, and handed to the
service as text (service.parse_local reads them); numbers go to the service as typed too.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import Optional

from marketplace.events.service import KIND_LABELS
from marketplace.identity.places import CAMPUSES, DISTRICTS

# The shape of a datetime-local value (what browsers send and show).
DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


def kind_choices() -> list[SelectChoice]:
    return [SelectChoice("", _l("请选择"))] + [SelectChoice(code, label) for code, label in KIND_LABELS.items()]


def district_choices() -> list[SelectChoice]:
    return [SelectChoice("", _l("请选择"))] + [SelectChoice(code, label) for code, label in DISTRICTS.items()]


def campus_choices() -> list[SelectChoice]:
    return [SelectChoice("", _l("不限学校"))] + [SelectChoice(code, c.name) for code, c in CAMPUSES.items()]


def restriction_choices() -> list[SelectChoice]:
    return [
        SelectChoice("none", _l("所有完成实名认证的用户")),
        SelectChoice("campus", _l("仅限所选学校的认证学生")),
        SelectChoice("district", _l("仅限户籍在所选区县的居民")),
    ]


def _when(label) -> StringField:
    return StringField(label, validators=[Optional()], render_kw={"type": "datetime-local"})


class EventForm(FlaskForm):
    title = StringField(_l("活动名称"), validators=[Optional()], render_kw={"maxlength": 80})
    kind = SelectField(_l("活动类型"), choices=kind_choices, default="", validate_choice=False)
    description = TextAreaField(_l("活动介绍（选填）"), validators=[Optional()])
    venue = StringField(_l("活动地点"), validators=[Optional()], render_kw={"maxlength": 120})
    district = SelectField(_l("所在区县"), choices=district_choices, default="", validate_choice=False)
    starts_at = _when(_l("开始时间（北京时间）"))
    ends_at = _when(_l("结束时间（北京时间）"))
    registration_deadline = _when(_l("报名截止时间（北京时间）"))
    stalls = StringField(
        _l("摊位数"), validators=[Optional()], default="20", render_kw={"inputmode": "numeric", "maxlength": 4}
    )
    restriction = RadioField(_l("谁可以报名"), choices=restriction_choices, default="none", validate_choice=False)
    campus = SelectField(_l("学校"), choices=campus_choices, default="", validate_choice=False)


class RegisterForm(FlaskForm):
    """Two submit buttons named `role` (stall / visitor) say which."""

    role = StringField(validators=[Optional()])


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("原因"), validators=[Optional()])


class AppealForm(FlaskForm):
    reason = TextAreaField(_l("申诉理由"), validators=[Optional()])


class DecideForm(FlaskForm):
    outcome = RadioField(
        _l("处理结果"),
        choices=[
            SelectChoice("excused", _l("申诉成立：撤销缺席扣分")),
            SelectChoice("upheld", _l("维持缺席记录")),
        ],
        validate_choice=False,
    )
    note = TextAreaField(_l("处理意见（摊主能看到）"), validators=[Optional()])


class CheckinForm(FlaskForm):
    code = StringField(
        _l("签到码"),
        validators=[Optional()],
        render_kw={
            "autocapitalize": "characters",
            "autocorrect": "off",
            "spellcheck": "false",
            "maxlength": 20,
            "enterkeyhint": "done",
        },
    )


class ListingsForm(FlaskForm):
    """Checkboxes named `listing_ids`, drawn by the template (the field holds their errors)."""

    listing_ids = SelectMultipleField(_l("我的在售商品"), choices=[], validate_choice=False)


class OfferForm(FlaskForm):
    """Checkboxes named `offer_listing_ids` (drawn by the template), and a message."""

    offer_listing_ids = SelectMultipleField(_l("拿来交换的商品"), choices=[], validate_choice=False)
    message = TextAreaField(_l("给对方留言（选填）"), validators=[Optional()])
