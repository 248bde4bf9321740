"""Account forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length


class RegisterForm(FlaskForm):
    username = StringField(_l("用户名"), validators=[DataRequired(_l("请填写用户名")), Length(3, 32)])
    display_name = StringField(_l("昵称"), validators=[DataRequired(_l("请填写昵称")), Length(1, 40)])
    password = PasswordField(_l("密码"), validators=[DataRequired(_l("请填写密码"))])
    confirm = PasswordField(
        _l("再次输入密码"),
        validators=[DataRequired(_l("请再次输入密码")), EqualTo("password", _l("两次输入的密码不一致"))],
    )


class LoginForm(FlaskForm):
    username = StringField(_l("用户名"), validators=[DataRequired(_l("请填写用户名"))])
    password = PasswordField(_l("密码"), validators=[DataRequired(_l("请填写密码"))])
    next = HiddenField()


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("当前密码"), validators=[DataRequired(_l("请填写当前密码"))])
    new_password = PasswordField(_l("新密码"), validators=[DataRequired(_l("请填写新密码"))])
    confirm = PasswordField(
        _l("再次输入新密码"),
        validators=[DataRequired(_l("请再次输入新密码")), EqualTo("new_password", _l("两次输入的密码不一致"))],
    )


class ConfirmForm(FlaskForm):
    """An empty form: the CSRF token is what a confirmation page posts."""


class RoleForm(FlaskForm):
    role = SelectField(_l("角色"), validators=[DataRequired(_l("请选择角色"))])
