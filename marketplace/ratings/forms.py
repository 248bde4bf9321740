"""Rating forms. The rules live in ratings.service, so the pages and the API say the same thing."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, TextAreaField
from wtforms.validators import Optional

from marketplace.ratings.service import DIMENSION_LABELS

SCORES = (1, 2, 3, 4, 5)


def score_choices() -> list[SelectChoice]:
    """1 to 5, worst to best."""
    return [SelectChoice(str(n), _l("%(n)s 分", n=n)) for n in SCORES]


def _score(name: str) -> RadioField:
    return RadioField(DIMENSION_LABELS[name], choices=score_choices, validate_choice=False)


class RatingForm(FlaskForm):
    """Every dimension; the page shows (and the view sends) only those of the rater's role."""

    accuracy = _score("accuracy")
    communication = _score("communication")
    punctuality = _score("punctuality")
    comment = TextAreaField(_l("评价内容（选填）"), validators=[Optional()])


class ReplyForm(FlaskForm):
    reply = TextAreaField(_l("你的回复"), validators=[Optional()])


class FoldForm(FlaskForm):
    reason = TextAreaField(_l("折叠原因（评价双方都会看到）"), validators=[Optional()])
