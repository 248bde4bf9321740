"""Moderation forms. The rules live in the service, so the page and the API say the same."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, TextAreaField
from wtforms.validators import Optional

from marketplace.moderation.service import DETAIL_MAX, REASON_LABELS


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
