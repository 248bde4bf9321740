"""Listing forms. The rules live in the service, so the page and the API say the same thing."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, MultipleFileField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import Optional

from marketplace.identity.places import DISTRICTS
from marketplace.listings.models import MAX_PHOTOS


def district_choices() -> list[SelectChoice]:
    """The districts, after an empty "choose" entry."""
    return [SelectChoice("", _l("请选择"))] + [SelectChoice(code, label) for code, label in DISTRICTS.items()]


class ListingForm(FlaskForm):
    category = HiddenField()
    title = StringField(_l("标题"), validators=[Optional()])
    description = TextAreaField(_l("描述"), validators=[Optional()])
    price = StringField(_l("价格（元）"), validators=[Optional()])
    district = SelectField(_l("所在区县"), choices=district_choices, default="", validate_choice=False)
    photos = MultipleFileField(
        _l("照片（最多 %(n)s 张）", n=MAX_PHOTOS),
        validators=[Optional()],
        render_kw={"accept": "image/jpeg,image/png,image/webp,image/gif"},
    )
