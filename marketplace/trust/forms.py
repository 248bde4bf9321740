"""Black-list review forms. The rules (who may decide, when a note is required) live in trust.service."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Optional

from marketplace.trust.service import NOTE_MAX


class ConfirmEntryForm(FlaskForm):
    note = TextAreaField(_l("复核意见（选填）"), validators=[Optional()], render_kw={"maxlength": NOTE_MAX, "rows": 4})


class RejectEntryForm(FlaskForm):
    note = TextAreaField(_l("不予确认的理由"), validators=[Optional()], render_kw={"maxlength": NOTE_MAX, "rows": 4})
