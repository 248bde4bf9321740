"""Moderation forms. The rules live in the services, so the pages and the API say the same."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectChoice, SelectField, TextAreaField
from wtforms.validators import Optional

from marketplace.moderation.appeals import NOTE_MAX as APPEAL_NOTE_MAX
from marketplace.moderation.appeals import REASON_MAX as APPEAL_REASON_MAX
from marketplace.moderation.decisions import NOTE_MAX
from marketplace.moderation.models import VIOLATIONS
from marketplace.moderation.service import DETAIL_MAX, REASON_LABELS

OUTCOME_LABELS = {
    "dismissed": _l("驳回举报：商品没有问题"),
    "confirmed": _l("确认违规：扣分并下架商品"),
    "malicious": _l("恶意举报：扣举报人的分"),
}
APPEAL_OUTCOME_LABELS = {
    "upheld": _l("维持原决定"),
    "overturned": _l("撤销原决定：返还扣分、撤销黑名单、恢复商品"),
}


class ReportForm(FlaskForm):
    reason = RadioField(
        _l("举报理由"),
        choices=[SelectChoice(code, label) for code, label in REASON_LABELS.items()],
        validate_choice=False,
        validators=[Optional()],
    )
    detail = TextAreaField(
        _l("具体说明"),
        validators=[Optional()],
        render_kw={"maxlength": DETAIL_MAX, "rows": 5},
    )


class DecideForm(FlaskForm):
    """A moderator's decision on a report; posted twice: first to see the consequences, then with `confirm`."""

    outcome = RadioField(
        _l("处理结果"),
        choices=[SelectChoice(code, label) for code, label in OUTCOME_LABELS.items()],
        validate_choice=False,
        validators=[Optional()],
    )
    violation = SelectField(
        _l("违规类型（确认违规时必选）"),
        choices=[SelectChoice("", _l("请选择"))] + [SelectChoice(code, REASON_LABELS[code]) for code in VIOLATIONS],
        validate_choice=False,
        validators=[Optional()],
    )
    note = TextAreaField(_l("处理理由"), validators=[Optional()], render_kw={"maxlength": NOTE_MAX, "rows": 4})
    confirm = HiddenField()


class AppealForm(FlaskForm):
    reason = TextAreaField(
        _l("申诉理由"), validators=[Optional()], render_kw={"maxlength": APPEAL_REASON_MAX, "rows": 6}
    )


class AppealDecisionForm(FlaskForm):
    """Uphold or overturn an appeal; posted twice like DecideForm."""

    outcome = RadioField(
        _l("申诉结果"),
        choices=[SelectChoice(code, label) for code, label in APPEAL_OUTCOME_LABELS.items()],
        validate_choice=False,
        validators=[Optional()],
    )
    note = TextAreaField(
        _l("处理理由（申诉人会看到）"), validators=[Optional()], render_kw={"maxlength": APPEAL_NOTE_MAX, "rows": 4}
    )
    confirm = HiddenField()
