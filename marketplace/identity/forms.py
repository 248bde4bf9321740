"""Identity forms. The rules themselves live in the service, so pages and the API say the same."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectChoice, SelectField, StringField, TelField, TextAreaField
from wtforms.validators import DataRequired, Optional

from marketplace.identity.places import CAMPUSES

KIND_CHOICES = [
    SelectChoice("resident", _l("居民")),
    SelectChoice("student", _l("在校学生")),
    SelectChoice("business", _l("商家（个体户或企业）")),
]


class VerificationForm(FlaskForm):
    kind = SelectField(_l("认证类型"), choices=KIND_CHOICES, default="resident", validate_choice=False)
    real_name = StringField(_l("真实姓名"), validators=[Optional()])
    id_number = StringField(_l("居民身份证号"), validators=[Optional()])
    phone = TelField(_l("手机号"), validators=[Optional()])
    campus = SelectField(
        _l("学校"),
        choices=[SelectChoice("", _l("请选择（仅学生填写）"))]
        + [SelectChoice(c.code, c.name) for c in CAMPUSES.values()],
        default="",
        validate_choice=False,
    )
    student_no = StringField(_l("学号"), validators=[Optional()])
    credit_code = StringField(_l("统一社会信用代码"), validators=[Optional()])

    def clear_secrets(self) -> None:
        """ID and phone numbers never go back into a page, not even the form that sent them."""
        self.id_number.data = ""
        self.phone.data = ""


class RejectForm(FlaskForm):
    reason = TextAreaField(_l("驳回理由"), validators=[DataRequired(_l("请填写驳回理由，申请人会看到它"))])


class CloseAccountForm(FlaskForm):
    password = PasswordField(_l("当前密码"), validators=[DataRequired(_l("请输入当前密码以确认是你本人"))])
    confirm = BooleanField(
        _l("我明白注销后无法恢复：实名信息将被删除，交易和信用记录以“已注销用户”的名义保留"),
        validators=[DataRequired(_l("请勾选以确认注销"))],
    )
